// Codes between int32 lanes and bytes, the two moves xsimd has no portable fast form of:
//   store(q, out): 32 int32 codes (32 / lanes batches) to 32 bytes, each the low byte of
//                  its lane (so a signed code lands as its two's complement byte);
//   store_nibbles(q, out): 32 codes 0..15 to 16 bytes, code 2j in the low nibble of
//                  byte j (sequential 4-bit packing);
//   load(in):      one batch of int32 lanes from as many bytes, zero-extended;
//   load_nibbles(in): one batch of int32 lanes from half as many bytes, 4 bits each, low
//                  nibble first (AVX2, AVX-512, NEON: a broadcast word and per-lane shifts).
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
// byte 2j + 16 * byte 2j + 1 in int16 lanes (one maddubs), narrowed to 16 bytes. A
// template over the arch: each arch's objects keep their own copy.
template <class Arch>
QTL_FORCEINLINE void x86_store_nibbles(__m256i bytes, std::uint8_t* out) noexcept {
  const __m256i pairs = _mm256_maddubs_epi16(bytes, _mm256_set1_epi16(0x1001));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out),
                   _mm_packus_epi16(_mm256_castsi256_si128(pairs), _mm256_extracti128_si256(pairs, 1)));
}

template <>
struct code_lanes<avx2> {
  using ints = xsimd::batch<std::int32_t, avx2>;
  QTL_FORCEINLINE static __m256i bytes(const ints* q) noexcept {
    const __m256i low = _mm256_set1_epi32(0xff);
    const __m256i w0 = _mm256_packus_epi32(_mm256_and_si256(q[0], low), _mm256_and_si256(q[1], low));
    const __m256i w1 = _mm256_packus_epi32(_mm256_and_si256(q[2], low), _mm256_and_si256(q[3], low));
    // packs work within 128-bit lanes: one permute puts the 4-byte groups in order.
    return _mm256_permutevar8x32_epi32(_mm256_packus_epi16(w0, w1), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  }
  QTL_FORCEINLINE static void store(const ints* q, std::uint8_t* out) noexcept {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), bytes(q));
  }
  QTL_FORCEINLINE static void store_nibbles(const ints* q, std::uint8_t* out) noexcept {
    x86_store_nibbles<avx2>(bytes(q), out);
  }
  QTL_FORCEINLINE static ints load(const std::uint8_t* in) noexcept {
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(in)));
  }
  QTL_FORCEINLINE static ints load_nibbles(const std::uint8_t* in) noexcept {
    std::uint32_t word;
    __builtin_memcpy(&word, in, sizeof word);
    const __m256i shifted = _mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(word)),
                                              _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28));
    return _mm256_and_si256(shifted, _mm256_set1_epi32(15));
  }
};
#endif

#if defined(QTL_KERNEL_AVX512_VNNI)
template <>
struct code_lanes<avx512_vnni> {
  using ints = xsimd::batch<std::int32_t, avx512_vnni>;
  QTL_FORCEINLINE static __m256i bytes(const ints* q) noexcept {
    return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm512_cvtepi32_epi8(q[0])), _mm512_cvtepi32_epi8(q[1]), 1);
  }
  QTL_FORCEINLINE static void store(const ints* q, std::uint8_t* out) noexcept {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), bytes(q));
  }
  QTL_FORCEINLINE static void store_nibbles(const ints* q, std::uint8_t* out) noexcept {
    x86_store_nibbles<avx512_vnni>(bytes(q), out);
  }
  QTL_FORCEINLINE static ints load(const std::uint8_t* in) noexcept {
    return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in)));
  }
  QTL_FORCEINLINE static ints load_nibbles(const std::uint8_t* in) noexcept {
    std::uint64_t word;
    __builtin_memcpy(&word, in, sizeof word);
    const __m512i words = _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1),
                                                   _mm512_set1_epi64(static_cast<long long>(word)));
    const __m512i shifted =
        _mm512_srlv_epi32(words, _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28));
    return _mm512_and_si512(shifted, _mm512_set1_epi32(15));
  }
};
#endif

#if defined(QTL_KERNEL_NEON)
template <>
struct code_lanes<neon> {
  using ints = xsimd::batch<std::int32_t, neon>;
  // Codes 16h .. 16h + 15 as bytes.
  QTL_FORCEINLINE static uint8x16_t bytes16(const ints* q, std::size_t h) noexcept {
    const uint16x8_t lo = vcombine_u16(vmovn_u32(vreinterpretq_u32_s32(q[4 * h])), vmovn_u32(vreinterpretq_u32_s32(q[4 * h + 1])));
    const uint16x8_t hi = vcombine_u16(vmovn_u32(vreinterpretq_u32_s32(q[4 * h + 2])), vmovn_u32(vreinterpretq_u32_s32(q[4 * h + 3])));
    return vcombine_u8(vmovn_u16(lo), vmovn_u16(hi));
  }
  QTL_FORCEINLINE static void store(const ints* q, std::uint8_t* out) noexcept {
    vst1q_u8(out, bytes16(q, 0));
    vst1q_u8(out + 16, bytes16(q, 1));
  }
  QTL_FORCEINLINE static void store_nibbles(const ints* q, std::uint8_t* out) noexcept {
    const uint8x16_t lo = bytes16(q, 0), hi = bytes16(q, 1);
    vst1q_u8(out, vorrq_u8(vuzp1q_u8(lo, hi), vshlq_n_u8(vuzp2q_u8(lo, hi), 4)));
  }
  QTL_FORCEINLINE static ints load(const std::uint8_t* in) noexcept {
    std::uint32_t word;
    __builtin_memcpy(&word, in, sizeof word);
    const uint16x8_t wide = vmovl_u8(vcreate_u8(word));
    return vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(wide)));
  }
  QTL_FORCEINLINE static ints load_nibbles(const std::uint8_t* in) noexcept {
    std::uint16_t half;
    __builtin_memcpy(&half, in, sizeof half);
    const int32x4_t shifts = {0, -4, -8, -12};
    return vreinterpretq_s32_u32(vandq_u32(vshlq_u32(vdupq_n_u32(half), shifts), vdupq_n_u32(15)));
  }
};
#endif

}  // namespace qtl::kernel
