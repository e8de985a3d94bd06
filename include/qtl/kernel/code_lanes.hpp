// Codes between int32 lanes and bytes, the two moves xsimd has no portable fast form of:
//   store(q, out): 32 int32 codes (32 / lanes batches) to 32 bytes, each the low byte of
//                  its lane (so a signed code lands as its two's complement byte);
//   load(in):      one batch of int32 lanes from as many bytes, zero-extended.
// x86: AVX2 masks, two unsigned packs and a lane fix-up; AVX-512 vpmovdb / vpmovzxbd.
// NEON: two narrowing moves / two widening moves. Compiled only where the translation
// unit's flags enable the arch (kernel/arch.hpp).
#pragma once

#include <cstddef>
#include <cstdint>

#include "qtl/core/config.hpp"
#include "qtl/kernel/arch.hpp"

#if defined(QTL_KERNEL_AVX2)
#include <immintrin.h>
#endif
#if defined(QTL_KERNEL_NEON)
#include <arm_neon.h>
#endif

namespace qtl::kernel {

template <class Arch>
struct code_lanes;

#if defined(QTL_KERNEL_AVX2)
template <>
struct code_lanes<avx2> {
  using ints = xsimd::batch<std::int32_t, avx2>;
  QTL_FORCEINLINE static void store(const ints* q, std::uint8_t* out) noexcept {
    const __m256i low = _mm256_set1_epi32(0xff);
    const __m256i w0 = _mm256_packus_epi32(_mm256_and_si256(q[0], low), _mm256_and_si256(q[1], low));
    const __m256i w1 = _mm256_packus_epi32(_mm256_and_si256(q[2], low), _mm256_and_si256(q[3], low));
    // packs work within 128-bit lanes: one permute puts the 4-byte groups in order.
    const __m256i b = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(w0, w1), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), b);
  }
  QTL_FORCEINLINE static ints load(const std::uint8_t* in) noexcept {
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(in)));
  }
};
#endif

#if defined(QTL_KERNEL_AVX512_VNNI)
template <>
struct code_lanes<avx512_vnni> {
  using ints = xsimd::batch<std::int32_t, avx512_vnni>;
  QTL_FORCEINLINE static void store(const ints* q, std::uint8_t* out) noexcept {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm512_cvtepi32_epi8(q[0]));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 16), _mm512_cvtepi32_epi8(q[1]));
  }
  QTL_FORCEINLINE static ints load(const std::uint8_t* in) noexcept {
    return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in)));
  }
};
#endif

#if defined(QTL_KERNEL_NEON)
template <>
struct code_lanes<neon> {
  using ints = xsimd::batch<std::int32_t, neon>;
  QTL_FORCEINLINE static void store(const ints* q, std::uint8_t* out) noexcept {
    for (std::size_t h = 0; h < 2; ++h) {
      const uint16x8_t lo = vcombine_u16(vmovn_u32(vreinterpretq_u32_s32(q[4 * h])), vmovn_u32(vreinterpretq_u32_s32(q[4 * h + 1])));
      const uint16x8_t hi = vcombine_u16(vmovn_u32(vreinterpretq_u32_s32(q[4 * h + 2])), vmovn_u32(vreinterpretq_u32_s32(q[4 * h + 3])));
      vst1q_u8(out + 16 * h, vcombine_u8(vmovn_u16(lo), vmovn_u16(hi)));
    }
  }
  QTL_FORCEINLINE static ints load(const std::uint8_t* in) noexcept {
    std::uint32_t word;
    __builtin_memcpy(&word, in, sizeof word);
    const uint16x8_t wide = vmovl_u8(vcreate_u8(word));
    return vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(wide)));
  }
};
#endif

}  // namespace qtl::kernel
