// AArch64 NEON steps of kernel/dequantize_step.hpp: bytes become 16 int8 codes in value
// order, sign-extended into int32 batches of 4 lanes; the float part is
// kernel/dequantize_lanes.hpp's, shared with x86. IQ4_NL looks its int8 levels up with
// one tbl, NF4/FP4 their 16 float levels with a tbl over the levels' 64 bytes.
// Compiled only where the translation unit's flags enable the arch (kernel/arch.hpp).
#pragma once

#include "qtl/core/config.hpp"
#include "qtl/kernel/arch.hpp"
#include "qtl/kernel/arm/block_dot.hpp"
#include "qtl/kernel/dequantize_lanes.hpp"
#include "qtl/kernel/dequantize_step.hpp"

#if defined(QTL_KERNEL_NEON)
#include <arm_neon.h>

#include <array>

namespace qtl::kernel {

namespace arm {

using lanes = dequantize_lanes<neon>;

// The 16 int8 codes of `codes`, sign-extended into int32 batches in value order:
// f(batch, index of its first value).
template <class F>
QTL_FORCEINLINE void for_each_int32(int8x16_t codes, F&& f) noexcept {
  const int16x8_t low = vmovl_s8(vget_low_s8(codes)), high = vmovl_high_s8(codes);
  f(lanes::ints(vmovl_s16(vget_low_s16(low))), 0);
  f(lanes::ints(vmovl_high_s16(low)), 4);
  f(lanes::ints(vmovl_s16(vget_low_s16(high))), 8);
  f(lanes::ints(vmovl_high_s16(high)), 12);
}

// y[0, 16) = float(code) * scale... (the scale, or Q4_1's d and m).
template <class... Scale>
QTL_FORCEINLINE void scaled_codes(int8x16_t codes, float* y, Scale... scale) noexcept {
  for_each_int32(codes, [&](lanes::ints q, std::size_t k) { lanes::scaled(y + k, q, scale...); });
}

// The 2-bit field at `shift` of 16 bytes, as a ternary value code - 1 (TQ2_0, I2_S).
QTL_FORCEINLINE int8x16_t ternary_codes(uint8x16_t raw, int shift) noexcept {
  const uint8x16_t q = vandq_u8(vshlq_u8(raw, vdupq_n_s8(static_cast<std::int8_t>(-shift))), vdupq_n_u8(3));
  return minus(q, 1);
}

// levels[idx] for indices 0..15 in int32 lanes: a byte table lookup of bytes 4 idx + 0..3.
QTL_FORCEINLINE lanes::floats lookup16(lanes::ints idx, const uint8x16x4_t& levels) noexcept {
  const uint8x16_t first = vreinterpretq_u8_u32(vmulq_n_u32(vreinterpretq_u32_s32(idx), 0x04040404u));
  const uint8x16_t bytes = vaddq_u8(first, vreinterpretq_u8_u32(vdupq_n_u32(0x03020100u)));
  return vreinterpretq_f32_u8(vqtbl4q_u8(levels, bytes));
}

}  // namespace arm

template <>
struct dequantize_block_step<neon, ggml::block_q8_0> {
  QTL_FORCEINLINE static void run(const ggml::block_q8_0& b, float* y) noexcept {
    const float d = arm::half_to_float(b.d);
    arm::scaled_codes(vld1q_s8(b.qs), y, d);
    arm::scaled_codes(vld1q_s8(b.qs + 16), y + 16, d);
  }
};

template <>
struct dequantize_block_step<neon, ggml::block_q4_0> {
  QTL_FORCEINLINE static void run(const ggml::block_q4_0& b, float* y) noexcept {
    const uint8x16_t raw = vld1q_u8(b.qs);  // values 0..15 the low nibbles, 16..31 the high
    const float d = arm::half_to_float(b.d);
    arm::scaled_codes(arm::minus(vandq_u8(raw, vdupq_n_u8(0x0F)), 8), y, d);
    arm::scaled_codes(arm::minus(vshrq_n_u8(raw, 4), 8), y + 16, d);
  }
};

template <>
struct dequantize_block_step<neon, ggml::block_q4_1> {
  QTL_FORCEINLINE static void run(const ggml::block_q4_1& b, float* y) noexcept {
    const uint8x16_t raw = vld1q_u8(b.qs);
    const float d = arm::half_to_float(b.d), m = arm::half_to_float(b.m);
    arm::scaled_codes(vreinterpretq_s8_u8(vandq_u8(raw, vdupq_n_u8(0x0F))), y, d, m);
    arm::scaled_codes(vreinterpretq_s8_u8(vshrq_n_u8(raw, 4)), y + 16, d, m);
  }
};

template <>
struct dequantize_block_step<neon, ggml::block_iq4_nl> {
  QTL_FORCEINLINE static void run(const ggml::block_iq4_nl& b, float* y) noexcept {
    const int8x16_t levels = vld1q_s8(ggml::iq4_nl_levels);
    const uint8x16_t raw = vld1q_u8(b.qs);
    const float d = arm::half_to_float(b.d);
    arm::scaled_codes(vqtbl1q_s8(levels, vandq_u8(raw, vdupq_n_u8(0x0F))), y, d);
    arm::scaled_codes(vqtbl1q_s8(levels, vshrq_n_u8(raw, 4)), y + 16, d);
  }
};

template <>
struct dequantize_block_step<neon, ggml::block_tq2_0> {
  QTL_FORCEINLINE static void run(const ggml::block_tq2_0& b, float* y) noexcept {
    const float d = arm::half_to_float(b.d);
    for (std::size_t c = 0; c < 2; ++c)
      for (std::size_t h = 0; h < 2; ++h) {  // bytes 32c + 16h + m hold values 128c + 32n + 16h + m
        const uint8x16_t raw = vld1q_u8(b.qs + 32 * c + 16 * h);
        for (int n = 0; n < 4; ++n) arm::scaled_codes(arm::ternary_codes(raw, 2 * n), y + 128 * c + 32 * n + 16 * h, d);
      }
  }
};

template <>
struct i2_s_block_step<neon> {
  QTL_FORCEINLINE static void run(const std::uint8_t* bytes, float scale, float* y) noexcept {
    for (std::size_t h = 0; h < 2; ++h) {  // byte 16h + m holds values 32n + 16h + m at bits 6 - 2n
      const uint8x16_t raw = vld1q_u8(bytes + 16 * h);
      for (int n = 0; n < 4; ++n) arm::scaled_codes(arm::ternary_codes(raw, 6 - 2 * n), y + 32 * n + 16 * h, scale);
    }
  }
};

template <class Format>
struct dequantize_4bit_step<neon, Format> {
  static constexpr std::size_t width = 32;
  static constexpr std::array<float, 16> levels = levels_of<Format>();
  QTL_FORCEINLINE static void run(const std::uint8_t* packed, float absmax, float* y) noexcept {
    const auto* table_bytes = reinterpret_cast<const std::uint8_t*>(levels.data());
    const uint8x16x4_t table = {{vld1q_u8(table_bytes), vld1q_u8(table_bytes + 16), vld1q_u8(table_bytes + 32),
                                 vld1q_u8(table_bytes + 48)}};
    const uint8x16_t raw = vld1q_u8(packed);  // the first value of a byte in its high nibble
    const uint8x16_t high = vshrq_n_u8(raw, 4), low = vandq_u8(raw, vdupq_n_u8(0x0F));
    const uint8x16_t codes[2] = {vzip1q_u8(high, low), vzip2q_u8(high, low)};
    for (std::size_t h = 0; h < 2; ++h)
      arm::for_each_int32(vreinterpretq_s8_u8(codes[h]), [&](arm::lanes::ints idx, std::size_t k) {
        arm::lanes::scaled(y + 16 * h + k, arm::lookup16(idx, table), absmax);
      });
  }
};

template <minifloat_format F>
struct minifloat_decode_step<neon, F> {
  static constexpr std::size_t width = 16;
  QTL_FORCEINLINE static void run(const std::uint8_t* codes, float* y) noexcept {
    // Sign-extending the bytes keeps bits 0..7 (all that decode reads).
    arm::for_each_int32(vreinterpretq_s8_u8(vld1q_u8(codes)), [&](arm::lanes::ints c, std::size_t k) {
      arm::lanes::template decode<F>(xsimd::bitwise_cast<std::uint32_t>(c)).store_unaligned(y + k);
    });
  }
};

}  // namespace qtl::kernel

#endif  // QTL_KERNEL_NEON
