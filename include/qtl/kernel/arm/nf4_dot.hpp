// AArch64 NEON step of kernel/nf4_dot.hpp: the 16 scaled levels stay in four q registers
// as 64 bytes, and one tbl over all four (vqtbl4q_u8) picks each value's 4 level bytes.
// Per 4 values: their 2 code bytes are spread to the 4 bytes of each lane (tbl), the
// even values' high nibbles shifted down, masked, times 4 plus 0..3: the byte indices.
// bfloat16 activations widen by a 16-bit shift.
// Compiled only where the translation unit's flags enable the arch (kernel/arch.hpp).
#pragma once

#include "qtl/kernel/arch.hpp"
#include "qtl/kernel/nf4_dot.hpp"

#if defined(QTL_KERNEL_NEON)
#include <arm_neon.h>

#include <cstring>

namespace qtl::kernel {

template <>
struct nf4_step<neon> : nf4_simd_float<neon> {
  using table = uint8x16x4_t;  // the 16 levels times the block's absmax, as bytes
  static table scale(const float* levels, float absmax) noexcept {
    table t;
    t.val[0] = vreinterpretq_u8_f32(vmulq_n_f32(vld1q_f32(levels), absmax));
    t.val[1] = vreinterpretq_u8_f32(vmulq_n_f32(vld1q_f32(levels + 4), absmax));
    t.val[2] = vreinterpretq_u8_f32(vmulq_n_f32(vld1q_f32(levels + 8), absmax));
    t.val[3] = vreinterpretq_u8_f32(vmulq_n_f32(vld1q_f32(levels + 12), absmax));
    return t;
  }
  // Values element..element+3 (element even): bytes b0 b1; lane k holds byte k / 2, shifted
  // right by 4 for the even values (vshl by -4), its code's 4 float bytes 4c .. 4c + 3.
  static vector dequantize(const table& t, const std::uint8_t* packed, std::size_t element) noexcept {
    std::uint16_t bytes;
    std::memcpy(&bytes, packed + element / 2, sizeof bytes);
    constexpr std::uint8_t spread_index[16] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1};
    constexpr std::int8_t shift[16] = {-4, -4, -4, -4, 0, 0, 0, 0, -4, -4, -4, -4, 0, 0, 0, 0};
    constexpr std::uint8_t byte_of_float[16] = {0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3};
    const uint8x16_t spread = vqtbl1q_u8(vreinterpretq_u8_u16(vdupq_n_u16(bytes)), vld1q_u8(spread_index));
    const uint8x16_t code = vandq_u8(vshlq_u8(spread, vld1q_s8(shift)), vdupq_n_u8(0x0F));
    const uint8x16_t index = vorrq_u8(vshlq_n_u8(code, 2), vld1q_u8(byte_of_float));
    return vreinterpretq_f32_u8(vqtbl4q_u8(t, index));
  }
  using nf4_simd_float<neon>::load;
  static vector load(const bfloat16* x) noexcept {
    std::uint16_t bits[4];
    std::memcpy(bits, x, sizeof bits);
    return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(bits), 16));
  }
};

}  // namespace qtl::kernel

#endif  // QTL_KERNEL_NEON
