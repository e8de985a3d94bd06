// x86 operations of kernel/simd_block_quantize.hpp for AVX2 and AVX-512: 32 int32 codes
// narrowed to int8 with saturation (AVX2: two packs and a lane fix-up; AVX-512: vpmovsdb)
// or, as 4-bit codes, paired into bytes (one maddubs by 16 and 1, one pack),
// a float to half bits through F16C, and rounding with the mode in the instruction.
// Compiled only where the translation unit's flags enable the arch (kernel/arch.hpp).
#pragma once

#include "qtl/kernel/arch.hpp"
#include "qtl/kernel/simd_block_quantize.hpp"
#include "qtl/kernel/x86/block_dot.hpp"

#if defined(QTL_KERNEL_AVX2)
#include <immintrin.h>

namespace qtl::kernel {

namespace x86 {

// Nearest even in the instruction (xsimd's nearbyint), F16C's conversion: both ignore MXCSR.
// The stores take the arch's bytes32 (32 int32 codes as int8 with saturation, in order).
template <class Arch>
struct quantize_ops_common {
  QTL_FORCEINLINE static xsimd::batch<float, Arch> round_even(xsimd::batch<float, Arch> v) noexcept { return xsimd::nearbyint(v); }
  QTL_FORCEINLINE static xsimd::batch<float, Arch> divide(xsimd::batch<float, Arch> a, xsimd::batch<float, Arch> b) noexcept {
    return a / b;  // divps: IEEE
  }
  QTL_FORCEINLINE static std::uint16_t to_half(float f) noexcept {
    return static_cast<std::uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  QTL_FORCEINLINE static void store32(const xsimd::batch<std::int32_t, Arch>* q, std::int8_t* out) noexcept {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), quantize_ops<Arch>::bytes32(q));
  }
  // 16 * code 2j + code 2j + 1 in int16 lanes, then narrowed: 16 bytes.
  QTL_FORCEINLINE static void store_nibbles(const xsimd::batch<std::int32_t, Arch>* q, std::uint8_t* out) noexcept {
    const __m256i pairs = _mm256_maddubs_epi16(quantize_ops<Arch>::bytes32(q), _mm256_set1_epi16(0x0110));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out),
                     _mm_packus_epi16(_mm256_castsi256_si128(pairs), _mm256_extracti128_si256(pairs, 1)));
  }
};

}  // namespace x86

template <>
struct quantize_ops<avx2> : x86::quantize_ops_common<avx2> {
  QTL_FORCEINLINE static __m256i bytes32(const xsimd::batch<std::int32_t, avx2>* q) noexcept {
    // packs work within 128-bit lanes: the bytes come out as 4-byte groups q0 q1 q2 q3 (low
    // halves) then q0 q1 q2 q3 (high halves); one permute puts them in order.
    const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
    return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  }
};

#if defined(QTL_KERNEL_AVX512_VNNI)
template <>
struct quantize_ops<avx512_vnni> : x86::quantize_ops_common<avx512_vnni> {
  QTL_FORCEINLINE static __m256i bytes32(const xsimd::batch<std::int32_t, avx512_vnni>* q) noexcept {
    return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm512_cvtsepi32_epi8(q[0])), _mm512_cvtsepi32_epi8(q[1]), 1);
  }
};
#endif

}  // namespace qtl::kernel

#endif  // QTL_KERNEL_AVX2
