// AArch64 NEON steps of kernel/block_dot.hpp. The block's int8 products are summed in 4
// int32 lanes (sdot where the flags enable dotprod, else widening s8 x s8 -> s16 products
// pairwise-added into s32), then converted and added, times the block's scale, into 4
// float lanes with one FMA: integer sums are exact, only the float accumulation order
// differs from the scalar path. 4-bit codes (Q4_0, Q4_1, IQ4_NL) are unpacked from one
// 16-byte load (Q5_0, Q5_1: and their fifth bits from qh) and go through the same
// 32-pair dot as Q8_0.
// Compiled only where the translation unit's flags enable the arch (kernel/arch.hpp).
#pragma once

#include "qtl/kernel/arch.hpp"
#include "qtl/kernel/block_dot.hpp"

#if defined(QTL_KERNEL_NEON)
#include <arm_neon.h>

#include <cstring>

namespace qtl::kernel {

namespace arm {
inline namespace QTL_KERNEL_ISA {  // see kernel/arch.hpp

// acc += w . a for 16 int8 pairs, in 4 int32 lanes. Any int8 codes, -128 included: both
// ways keep every product and partial sum exact.
inline int32x4_t dot_s8(int32x4_t acc, int8x16_t w, int8x16_t a) noexcept {
#if defined(__ARM_FEATURE_DOTPROD)
  return vdotq_s32(acc, w, a);
#else
  acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(w), vget_low_s8(a)));
  return vpadalq_s16(acc, vmull_high_s8(w, a));
#endif
}

inline int8x16_t load16(const std::int8_t* p) noexcept { return vld1q_s8(p); }

// 32 codes (values 0..15, then 16..31) times a block's 32 int8 activations, in 4 int32 lanes.
inline int32x4_t dot32(int8x16x2_t w, const std::int8_t* a) noexcept {
  return dot_s8(dot_s8(vdupq_n_s32(0), w.val[0], load16(a)), w.val[1], load16(a + 16));
}

// Codes 0..m as signed values code - offset (0..m fits int8 as is).
inline int8x16_t minus(uint8x16_t codes, std::int8_t offset) noexcept {
  return vsubq_s8(vreinterpretq_s8_u8(codes), vdupq_n_s8(offset));
}

// Codes 0..127 as the same values, signed.
inline int8x16x2_t as_signed(uint8x16x2_t codes) noexcept {
  return {vreinterpretq_s8_u8(codes.val[0]), vreinterpretq_s8_u8(codes.val[1])};
}

// The 4-bit blocks' 16 bytes as 32 codes 0..15 in value order (low nibbles, then high).
inline uint8x16x2_t nibbles(const std::uint8_t* qs) noexcept {
  const uint8x16_t raw = vld1q_u8(qs);
  return {vandq_u8(raw, vdupq_n_u8(0x0F)), vshrq_n_u8(raw, 4)};
}

// Q5's 5-bit codes 0..31 in value order: the nibbles, and bit j of qh as value j's bit 4
// (qh's byte j / 8 spread to bytes 8j..8j+7 by tbl, each byte's own bit tested).
inline uint8x16x2_t q5_codes(const std::uint8_t* qs, const std::uint8_t* qh) noexcept {
  static constexpr std::uint8_t spread[2][16] = {{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1},
                                                 {2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3}};
  static constexpr std::uint8_t bit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
  std::uint32_t bits;
  std::memcpy(&bits, qh, sizeof bits);
  const uint8x16_t bytes = vreinterpretq_u8_u32(vdupq_n_u32(bits));
  uint8x16x2_t codes = nibbles(qs);
  for (std::size_t h = 0; h < 2; ++h) {
    const uint8x16_t set = vtstq_u8(vqtbl1q_u8(bytes, vld1q_u8(spread[h])), vld1q_u8(bit));
    codes.val[h] = vorrq_u8(codes.val[h], vandq_u8(set, vdupq_n_u8(0x10)));
  }
  return codes;
}

// Q4_0's codes as signed values: nibble - 8.
inline int8x16x2_t q4_0_codes(const std::uint8_t* qs) noexcept {
  const uint8x16x2_t n = nibbles(qs);
  return {minus(n.val[0], 8), minus(n.val[1], 8)};
}

// IQ4_NL's codes through its 16 levels: one table lookup (tbl) per 16 nibbles.
inline int8x16x2_t iq4_nl_codes(const std::uint8_t* qs) noexcept {
  const int8x16_t levels = vld1q_s8(ggml::iq4_nl_levels);
  const uint8x16x2_t n = nibbles(qs);
  return {vqtbl1q_s8(levels, n.val[0]), vqtbl1q_s8(levels, n.val[1])};
}

// 2-bit field f (bits 2f + 1..2f) of each byte: codes 0..3. vshrq_n wants a constant shift,
// so a variable one goes left by -2f.
inline uint8x16_t crumbs(uint8x16_t raw, int f) noexcept {
  return vandq_u8(vshlq_u8(raw, vdupq_n_s8(static_cast<std::int8_t>(-2 * f))), vdupq_n_u8(3));
}

// The K-quants' 16 codes of values i..i+15 (i a multiple of 16), unsigned, in value order.
inline uint8x16_t bits_of(const std::uint8_t* p, std::size_t shift, std::uint8_t mask) noexcept {  // (p[l] >> shift) & mask
  return vandq_u8(vshlq_u8(vld1q_u8(p), vdupq_n_s8(static_cast<std::int8_t>(-static_cast<int>(shift)))),
                  vdupq_n_u8(mask));
}
inline uint8x16_t k_codes16(const ggml::block_q2_k& w, std::size_t i) noexcept {
  return bits_of(w.qs + 32 * (i / 128) + i % 32, 2 * (i % 128 / 32), 0x03);
}
inline uint8x16_t k_codes16(const ggml::block_q3_k& w, std::size_t i) noexcept {
  return vorrq_u8(bits_of(w.qs + 32 * (i / 128) + i % 32, 2 * (i % 128 / 32), 0x03),
                  vshlq_n_u8(bits_of(w.hmask + i % 32, i / 32, 0x01), 2));
}
inline uint8x16_t k_codes16(const ggml::block_q4_k& w, std::size_t i) noexcept {
  return bits_of(w.qs + 32 * (i / 64) + i % 32, 4 * (i / 32 % 2), 0x0F);
}
inline uint8x16_t k_codes16(const ggml::block_q5_k& w, std::size_t i) noexcept {
  return vorrq_u8(bits_of(w.qs + 32 * (i / 64) + i % 32, 4 * (i / 32 % 2), 0x0F),
                  vshlq_n_u8(bits_of(w.qh + i % 32, i / 32, 0x01), 4));
}
inline uint8x16_t k_codes16(const ggml::block_q6_k& w, std::size_t i) noexcept {  // value 128h + 32k + l
  const std::size_t h = i / 128, k = i % 128 / 32, l = i % 32;
  return vorrq_u8(bits_of(w.ql + 64 * h + 32 * (k % 2) + l, 4 * (k / 2), 0x0F),
                  vshlq_n_u8(bits_of(w.qh + 32 * h + l, 2 * k, 0x03), 4));
}

// Half scales through the FP16 conversion every AArch64 CPU has: exact, like the scalar
// path's, and far cheaper than its software conversion.
inline float half_to_float(std::uint16_t bits) noexcept {
  __fp16 h;
  std::memcpy(&h, &bits, sizeof h);
  return h;
}

// Shared by every pair: 4 float lanes, one FMA per block.
struct float_lanes {
  using acc_type = float32x4_t;
  static acc_type zero() noexcept { return vdupq_n_f32(0.0f); }
  static void add(acc_type& acc, int32x4_t isum, float scale) noexcept {
    acc = vfmaq_f32(acc, vcvtq_f32_s32(isum), vdupq_n_f32(scale));
  }
  // A block's offset (Q4_1's m_w * s_a) rides in lane 0 of the addend, off the acc chain.
  static void add(acc_type& acc, int32x4_t isum, float scale, float offset) noexcept {
    acc = vaddq_f32(acc, vfmaq_f32(vsetq_lane_f32(offset, vdupq_n_f32(0.0f), 0), vcvtq_f32_s32(isum),
                                   vdupq_n_f32(scale)));
  }
  static acc_type merge(acc_type x, acc_type y) noexcept { return vaddq_f32(x, y); }
  static float finish(acc_type acc) noexcept { return vaddvq_f32(acc); }
};

}  // namespace QTL_KERNEL_ISA
}  // namespace arm

// The 32-code pairs share one step: decode gives the block's codes as int8 (any values:
// the signed dot needs no trick) and its scale (and Q4_1's min); only the decoding is per
// type. The small-batch GEMM decodes each weight block once for all its activation rows.
template <class W, class A>
struct codes_block_dot : arm::float_lanes {
  struct decoded {
    int8x16x2_t codes;
    float d, m;
  };
  static decoded decode(const W& w) noexcept {
    const float d = arm::half_to_float(w.d);
    if constexpr (std::same_as<W, ggml::block_q8_0>) return {vld1q_s8_x2(w.qs), d, 0.0f};
    else if constexpr (std::same_as<W, ggml::block_q4_0>) return {arm::q4_0_codes(w.qs), d, 0.0f};
    else if constexpr (std::same_as<W, ggml::block_iq4_nl>) return {arm::iq4_nl_codes(w.qs), d, 0.0f};
    else if constexpr (std::same_as<W, ggml::block_q5_0>) {
      const uint8x16x2_t c = arm::q5_codes(w.qs, w.qh);
      return {{arm::minus(c.val[0], 16), arm::minus(c.val[1], 16)}, d, 0.0f};
    } else if constexpr (std::same_as<W, ggml::block_q5_1>)
      return {arm::as_signed(arm::q5_codes(w.qs, w.qh)), d, arm::half_to_float(w.m)};  // codes 0..31
    else return {arm::as_signed(arm::nibbles(w.qs)), d, arm::half_to_float(w.m)};  // Q4_1: codes 0..15
  }
  static void accumulate(acc_type& acc, const decoded& w, const A& a) noexcept {
    if constexpr (offset_pair<W, A>)
      add(acc, arm::dot32(w.codes, a.qs), w.d * arm::half_to_float(a.d), w.m * arm::half_to_float(a.s));
    else add(acc, arm::dot32(w.codes, a.qs), w.d * arm::half_to_float(a.d));
  }
};

template <>
struct block_dot<neon, ggml::block_q8_0, ggml::block_q8_0> : codes_block_dot<ggml::block_q8_0, ggml::block_q8_0> {};
template <>
struct block_dot<neon, ggml::block_q4_0, ggml::block_q8_0> : codes_block_dot<ggml::block_q4_0, ggml::block_q8_0> {};
template <>
struct block_dot<neon, ggml::block_q4_1, ggml::block_q8_1> : codes_block_dot<ggml::block_q4_1, ggml::block_q8_1> {};
template <>
struct block_dot<neon, ggml::block_iq4_nl, ggml::block_q8_0> : codes_block_dot<ggml::block_iq4_nl, ggml::block_q8_0> {};
template <>
struct block_dot<neon, ggml::block_q5_0, ggml::block_q8_0> : codes_block_dot<ggml::block_q5_0, ggml::block_q8_0> {};
template <>
struct block_dot<neon, ggml::block_q5_1, ggml::block_q8_1> : codes_block_dot<ggml::block_q5_1, ggml::block_q8_1> {};

template <>
struct block_dot<neon, ggml::block_tq2_0, ggml::block_q8_k> : arm::float_lanes {
  // Codes 0..2 become -1..1 before the dot (a signed dot needs no bsums correction).
  static void accumulate(acc_type& acc, const ggml::block_tq2_0& w, const ggml::block_q8_k& a) noexcept {
    int32x4_t isum = vdupq_n_s32(0);
    for (std::size_t c = 0; c < 2; ++c)
      for (std::size_t h = 0; h < 2; ++h) {  // bytes 32c + 16h + m hold values 128c + 32n + 16h + m
        const uint8x16_t raw = vld1q_u8(w.qs + 32 * c + 16 * h);
        const std::int8_t* an = a.qs + 128 * c + 16 * h;
        for (int n = 0; n < 4; ++n) isum = arm::dot_s8(isum, arm::minus(arm::crumbs(raw, n), 1), arm::load16(an + 32 * n));
      }
    add(acc, isum, a.d * arm::half_to_float(w.d));
  }
};

template <ggml::k_quant W>
struct block_dot<neon, W, ggml::block_q8_k> : arm::float_lanes {
  // Per sub-block j: its codes less the offset (signed, they fit int8) dotted with the
  // activations 16 at a time, times sc_j into the int32 lanes (mla by scalar); the mins'
  // sum from Q8_K's bsums (one widening multiply per 8 groups), its term in lane 0 of the
  // addend (as Q4_1's).
  using traits = ggml::k_quant_traits<W>;
  static void accumulate(acc_type& acc, const W& w, const ggml::block_q8_k& a) noexcept {
    constexpr std::size_t S = traits::sub_block;
    int32x4_t isum = vdupq_n_s32(0);
    for (std::size_t j = 0; j < ggml::qk_k / S; ++j) {
      int32x4_t sub = vdupq_n_s32(0);
      for (std::size_t p = S * j; p < S * (j + 1); p += 16)
        sub = arm::dot_s8(sub, arm::minus(arm::k_codes16(w, p), traits::offset), arm::load16(a.qs + p));
      isum = vmlaq_n_s32(isum, sub, ggml::sub_scale(w, j));
    }
    const float d = arm::half_to_float(w.d);
    if constexpr (traits::has_min) {
      std::int16_t mins[16];  // sub-block j's min at each of its 16-value groups
      for (std::size_t g = 0; g < 16; ++g) mins[g] = static_cast<std::int16_t>(ggml::sub_min(w, g * 16 / S));
      const int16x8_t m0 = vld1q_s16(mins), m1 = vld1q_s16(mins + 8);
      const int16x8_t s0 = vld1q_s16(a.bsums), s1 = vld1q_s16(a.bsums + 8);
      const int min_sum = vaddvq_s32(vmlal_high_s16(vmull_s16(vget_low_s16(s0), vget_low_s16(m0)), s0, m0)) +
                          vaddvq_s32(vmlal_high_s16(vmull_s16(vget_low_s16(s1), vget_low_s16(m1)), s1, m1));
      add(acc, isum, a.d * d, -(arm::half_to_float(w.dmin) * a.d) * static_cast<float>(min_sum));
    } else {
      add(acc, isum, a.d * d);
    }
  }
};

}  // namespace qtl::kernel

#endif  // QTL_KERNEL_NEON
