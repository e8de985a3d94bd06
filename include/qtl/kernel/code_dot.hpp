// The integer step of the composed int8 GEMV (kernel/composed_gemv.hpp): 32 weight codes
// (as stored: code - min_code, "bits") times 32 int8 activations, added into int32 lanes.
//   nibbles(acc, packed, x): 16 bytes of sequential 4-bit codes (code 2j in the low
//       nibble of byte j); x holds the 32 activations evens first (x0, x2, .., x30, x1,
//       x3, .., x31), the order the nibbles come out of a register in.
//   nibbles64(acc, packed, x): the same for 32 bytes (64 codes), x evens first per 64
//       (x0, x2, .., x62, x1, .., x63): one 32-byte load, both nibbles of every byte.
//   bytes(acc, bits, x):     32 codes of at most 7 bits, one byte each, x in order.
//   biased(acc, bits, x):    32 8-bit codes, one byte each, each taken as bits - 128 (so
//       that it fits int8; the caller adds 128 x the activations' sum).
//   scaled(f, acc, s): f += float(acc) * s lane by lane (a group's integer lanes, times
//       its scale, into float lanes); total(f): the float lanes' sum.
// Activations are -127..127 (symmetric restricted int8): every product and int16 pair sum
// of the x86 u8 x s8 step stays exact. The primary template is the scalar reference; AVX2,
// AVX-512 VNNI and NEON specialize it where the translation unit's flags enable them.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "qtl/core/config.hpp"
#include "qtl/kernel/arch.hpp"
#include "qtl/kernel/arm/block_dot.hpp"  // arm::dot_s8, nibbles, as_signed
#include "qtl/kernel/x86/block_dot.hpp"  // x86::dot_u8s8, nibbles, load32

namespace qtl::kernel {

template <class Arch>
struct code_dot {
  using acc_type = std::int32_t;
  static constexpr acc_type zero() noexcept { return 0; }
  static void nibbles(acc_type& acc, const std::uint8_t* packed, const std::int8_t* x) noexcept {
    for (std::size_t j = 0; j < 16; ++j) acc += (packed[j] & 0x0F) * x[j] + (packed[j] >> 4) * x[16 + j];
  }
  static void nibbles64(acc_type& acc, const std::uint8_t* packed, const std::int8_t* x) noexcept {
    for (std::size_t j = 0; j < 32; ++j) acc += (packed[j] & 0x0F) * x[j] + (packed[j] >> 4) * x[32 + j];
  }
  static void bytes(acc_type& acc, const std::uint8_t* bits, const std::int8_t* x) noexcept {
    for (std::size_t j = 0; j < 32; ++j) acc += bits[j] * x[j];
  }
  static void biased(acc_type& acc, const std::uint8_t* bits, const std::int8_t* x) noexcept {
    for (std::size_t j = 0; j < 32; ++j) acc += (bits[j] - 128) * x[j];
  }
  using float_type = float;
  static constexpr float_type fzero() noexcept { return 0.0f; }
  static void scaled(float_type& f, acc_type acc, float s) noexcept { f = std::fma(static_cast<float>(acc), s, f); }
  static constexpr float total(float_type f) noexcept { return f; }
};

#if defined(QTL_KERNEL_AVX2)
// u8 x s8 products, 4 adjacent ones summed per int32 lane (x86::dot_u8s8: AVX2 maddubs +
// madd; VNNI one dpbusd). A template over the arch: each arch's objects keep their own copy.
template <class Arch>
struct x86_code_dot {
  using acc_type = __m256i;
  QTL_FORCEINLINE static acc_type zero() noexcept { return _mm256_setzero_si256(); }
  QTL_FORCEINLINE static void nibbles(acc_type& acc, const std::uint8_t* packed, const std::int8_t* x) noexcept {
    acc = x86::dot_u8s8<Arch>(acc, x86::nibbles(packed), x86::load32(x));
  }
  QTL_FORCEINLINE static void nibbles64(acc_type& acc, const std::uint8_t* packed, const std::int8_t* x) noexcept {
    const __m256i raw = x86::load32(packed), low4 = _mm256_set1_epi8(0x0F);
    const __m256i lo = _mm256_and_si256(raw, low4), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4);
#if defined(QTL_KERNEL_AVX512_VNNI)
    if constexpr (std::is_same_v<Arch, avx512_vnni>) {
      acc = _mm256_dpbusd_epi32(_mm256_dpbusd_epi32(acc, lo, x86::load32(x)), hi, x86::load32(x + 32));
      return;
    }
#endif
    // Two maddubs added in int16 (|each| <= 2 * 15 * 127, the sum fits), one madd.
    const __m256i pairs = _mm256_add_epi16(_mm256_maddubs_epi16(lo, x86::load32(x)),
                                           _mm256_maddubs_epi16(hi, x86::load32(x + 32)));
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
  }
  QTL_FORCEINLINE static void bytes(acc_type& acc, const std::uint8_t* bits, const std::int8_t* x) noexcept {
    acc = x86::dot_u8s8<Arch>(acc, x86::load32(bits), x86::load32(x));
  }
  QTL_FORCEINLINE static void biased(acc_type& acc, const std::uint8_t* bits, const std::int8_t* x) noexcept {
    // w = bits - 128 as int8; |w| (128 reads as unsigned 128) times x with w's sign.
    const __m256i w = _mm256_xor_si256(x86::load32(bits), _mm256_set1_epi8(static_cast<char>(0x80)));
    acc = x86::dot_u8s8<Arch>(acc, _mm256_sign_epi8(w, w), _mm256_sign_epi8(x86::load32(x), w));
  }
  using float_type = __m256;
  QTL_FORCEINLINE static float_type fzero() noexcept { return _mm256_setzero_ps(); }
  QTL_FORCEINLINE static void scaled(float_type& f, acc_type acc, float s) noexcept {
    f = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc), _mm256_set1_ps(s), f);
  }
  QTL_FORCEINLINE static float total(float_type f) noexcept {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(f), _mm256_extractf128_ps(f, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
  }
};

template <>
struct code_dot<avx2> : x86_code_dot<avx2> {};
#if defined(QTL_KERNEL_AVX512_VNNI)
template <>
struct code_dot<avx512_vnni> : x86_code_dot<avx512_vnni> {};
#endif
#endif

#if defined(QTL_KERNEL_NEON)
// arm::dot_s8: sdot where compiled in, else widening products and pairwise adds; exact
// for any int8 pair.
template <>
struct code_dot<neon> {
  using acc_type = int32x4_t;
  QTL_FORCEINLINE static acc_type zero() noexcept { return vdupq_n_s32(0); }
  QTL_FORCEINLINE static void nibbles(acc_type& acc, const std::uint8_t* packed, const std::int8_t* x) noexcept {
    const int8x16x2_t codes = arm::as_signed(arm::nibbles(packed));
    acc = arm::dot_s8(arm::dot_s8(acc, codes.val[0], vld1q_s8(x)), codes.val[1], vld1q_s8(x + 16));
  }
  QTL_FORCEINLINE static void nibbles64(acc_type& acc, const std::uint8_t* packed, const std::int8_t* x) noexcept {
    const int8x16x2_t first = arm::as_signed(arm::nibbles(packed)), second = arm::as_signed(arm::nibbles(packed + 16));
    acc = arm::dot_s8(arm::dot_s8(acc, first.val[0], vld1q_s8(x)), second.val[0], vld1q_s8(x + 16));
    acc = arm::dot_s8(arm::dot_s8(acc, first.val[1], vld1q_s8(x + 32)), second.val[1], vld1q_s8(x + 48));
  }
  QTL_FORCEINLINE static void bytes(acc_type& acc, const std::uint8_t* bits, const std::int8_t* x) noexcept {
    acc = arm::dot_s8(acc, vreinterpretq_s8_u8(vld1q_u8(bits)), vld1q_s8(x));
    acc = arm::dot_s8(acc, vreinterpretq_s8_u8(vld1q_u8(bits + 16)), vld1q_s8(x + 16));
  }
  QTL_FORCEINLINE static void biased(acc_type& acc, const std::uint8_t* bits, const std::int8_t* x) noexcept {
    const uint8x16_t flip = vdupq_n_u8(0x80);
    acc = arm::dot_s8(acc, vreinterpretq_s8_u8(veorq_u8(vld1q_u8(bits), flip)), vld1q_s8(x));
    acc = arm::dot_s8(acc, vreinterpretq_s8_u8(veorq_u8(vld1q_u8(bits + 16), flip)), vld1q_s8(x + 16));
  }
  using float_type = float32x4_t;
  QTL_FORCEINLINE static float_type fzero() noexcept { return vdupq_n_f32(0.0f); }
  QTL_FORCEINLINE static void scaled(float_type& f, acc_type acc, float s) noexcept {
    f = vfmaq_n_f32(f, vcvtq_f32_s32(acc), s);
  }
  QTL_FORCEINLINE static float total(float_type f) noexcept { return vaddvq_f32(f); }
};
#endif

}  // namespace qtl::kernel
