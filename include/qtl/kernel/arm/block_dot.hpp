// AArch64 NEON steps of kernel/block_dot.hpp. The block's int8 products are summed in 4
// int32 lanes (sdot where the flags enable dotprod, else widening s8 x s8 -> s16 products
// pairwise-added into s32), then converted and added, times the block's scale, into 4
// float lanes with one FMA: integer sums are exact, only the float accumulation order
// differs from the scalar path.
// Compiled only where the translation unit's flags enable the arch (kernel/arch.hpp).
#pragma once

#include "qtl/kernel/arch.hpp"
#include "qtl/kernel/block_dot.hpp"

#if defined(QTL_KERNEL_NEON)
#include <arm_neon.h>

#include <cstring>

namespace qtl::kernel {

namespace arm {

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

// Codes 0..m as signed values code - offset (0..m fits int8 as is).
inline int8x16_t minus(uint8x16_t codes, std::int8_t offset) noexcept {
  return vsubq_s8(vreinterpretq_s8_u8(codes), vdupq_n_s8(offset));
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
  static acc_type merge(acc_type x, acc_type y) noexcept { return vaddq_f32(x, y); }
  static float finish(acc_type acc) noexcept { return vaddvq_f32(acc); }
};

}  // namespace arm

template <>
struct block_dot<neon, ggml::block_q8_0, ggml::block_q8_0> : arm::float_lanes {
  static void accumulate(acc_type& acc, const ggml::block_q8_0& w, const ggml::block_q8_0& a) noexcept {
    int32x4_t isum = arm::dot_s8(vdupq_n_s32(0), arm::load16(w.qs), arm::load16(a.qs));
    isum = arm::dot_s8(isum, arm::load16(w.qs + 16), arm::load16(a.qs + 16));
    add(acc, isum, arm::half_to_float(w.d) * arm::half_to_float(a.d));
  }
};

template <>
struct block_dot<neon, ggml::block_q4_0, ggml::block_q8_0> : arm::float_lanes {
  // Values 0..15 are the low nibbles, 16..31 the high ones.
  static void accumulate(acc_type& acc, const ggml::block_q4_0& w, const ggml::block_q8_0& a) noexcept {
    const uint8x16_t raw = vld1q_u8(w.qs);
    int32x4_t isum = arm::dot_s8(vdupq_n_s32(0), arm::minus(vandq_u8(raw, vdupq_n_u8(0x0F)), 8), arm::load16(a.qs));
    isum = arm::dot_s8(isum, arm::minus(vshrq_n_u8(raw, 4), 8), arm::load16(a.qs + 16));
    add(acc, isum, arm::half_to_float(w.d) * arm::half_to_float(a.d));
  }
};

template <>
struct block_dot<neon, ggml::block_tq2_0, ggml::block_q8_k> : arm::float_lanes {
  // Codes 0..2 become -1..1 before the dot (a signed dot needs no bsums correction).
  static void accumulate(acc_type& acc, const ggml::block_tq2_0& w, const ggml::block_q8_k& a) noexcept {
    int32x4_t isum = vdupq_n_s32(0);
    const uint8x16_t three = vdupq_n_u8(3);
    for (std::size_t c = 0; c < 2; ++c)
      for (std::size_t h = 0; h < 2; ++h) {  // bytes 32c + 16h + m hold values 128c + 32n + 16h + m
        const uint8x16_t raw = vld1q_u8(w.qs + 32 * c + 16 * h);
        const std::int8_t* an = a.qs + 128 * c + 16 * h;
        for (int n = 0; n < 4; ++n) {  // a right shift by 2n (vshrq_n wants a constant)
          const uint8x16_t q = vandq_u8(vshlq_u8(raw, vdupq_n_s8(static_cast<std::int8_t>(-2 * n))), three);
          isum = arm::dot_s8(isum, arm::minus(q, 1), arm::load16(an + 32 * n));
        }
      }
    add(acc, isum, a.d * arm::half_to_float(w.d));
  }
};

}  // namespace qtl::kernel

#endif  // QTL_KERNEL_NEON
