// x86 steps of kernel/nf4_dot.hpp: the 16 scaled levels stay in registers and each
// value's code picks its level with a variable permute. AVX-512: the table is one zmm,
// one vpermps per 16 values. AVX2: the table is two ymm halves, two vpermps per 8 values
// and a blend on the code's bit 3. The code bytes are broadcast (a load, no shuffle) and
// each 32-bit lane shifts its value's nibble to the bottom: the permutes read only the
// low bits of each index, so the bits above need no mask. bfloat16 activations widen by a
// 16-bit shift.
// Compiled only where the translation unit's flags enable the arch (kernel/arch.hpp).
#pragma once

#include "qtl/kernel/arch.hpp"
#include "qtl/kernel/nf4_dot.hpp"

#if defined(QTL_KERNEL_AVX2)
#include <immintrin.h>

#include <cstring>

namespace qtl::kernel {

template <>
struct nf4_step<avx2> : nf4_simd_float<avx2> {
  struct table {
    __m256 low, high;  // levels 0..7 and 8..15 times the block's absmax
  };
  static table scale(const float* levels, float absmax) noexcept {
    const __m256 a = _mm256_set1_ps(absmax);
    return {_mm256_mul_ps(_mm256_loadu_ps(levels), a), _mm256_mul_ps(_mm256_loadu_ps(levels + 8), a)};
  }
  // Values element..element+7 (element even): 4 bytes, broadcast to every lane; lane k
  // shifts its byte's nibble down (value 2i: bits 8i+4.., value 2i+1: bits 8i..).
  static vector dequantize(const table& t, const std::uint8_t* packed, std::size_t element) noexcept {
    int bytes;
    std::memcpy(&bytes, packed + element / 2, sizeof bytes);
    const __m256i code =
        _mm256_srlv_epi32(_mm256_set1_epi32(bytes), _mm256_setr_epi32(4, 0, 12, 8, 20, 16, 28, 24));
    const __m256 high_half = _mm256_castsi256_ps(_mm256_slli_epi32(code, 28));  // bit 3 into the sign
    return _mm256_blendv_ps(_mm256_permutevar8x32_ps(t.low, code), _mm256_permutevar8x32_ps(t.high, code),
                            high_half);
  }
  using nf4_simd_float<avx2>::load;
  static vector load(const bfloat16* x) noexcept {
    const __m128i bits = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(bits), 16));
  }
};

#if defined(QTL_KERNEL_AVX512_VNNI)
template <>
struct nf4_step<avx512_vnni> : nf4_simd_float<avx512_vnni> {
  using table = __m512;  // the 16 levels times the block's absmax
  static table scale(const float* levels, float absmax) noexcept {
    return _mm512_mul_ps(_mm512_loadu_ps(levels), _mm512_set1_ps(absmax));
  }
  // Values element..element+15 (element even): 8 bytes, broadcast to every 128-bit lane;
  // lane L's byte shuffle puts bytes 2L, 2L, 2L+1, 2L+1 at the bottom of its 4 dwords,
  // and the even values' dwords shift the high nibble down.
  static vector dequantize(table t, const std::uint8_t* packed, std::size_t element) noexcept {
    long long bytes;
    std::memcpy(&bytes, packed + element / 2, sizeof bytes);
    const __m512i spread = _mm512_shuffle_epi8(
        _mm512_set1_epi64(bytes), _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0));
    const __m512i code = _mm512_srlv_epi32(spread, _mm512_set1_epi64(4));  // 4, 0, 4, 0, ... as 32-bit lanes
    return _mm512_permutexvar_ps(code, t);
  }
  using nf4_simd_float<avx512_vnni>::load;
  static vector load(const bfloat16* x) noexcept {
    const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(bits), 16));
  }
};
#endif  // QTL_KERNEL_AVX512_VNNI

}  // namespace qtl::kernel

#endif  // QTL_KERNEL_AVX2
