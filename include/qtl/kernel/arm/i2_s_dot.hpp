// AArch64 NEON step of kernel/i2_s_dot.hpp (the x86 I2_S layout, blocks of 128 values in
// 32 bytes): bytes 16h + m of a block hold values 32n + 16h + m in 2-bit field 3 - n, so
// each 16-byte half gives four 16-code vectors in value order. Codes 0..2 are dotted as
// they are (signed dot, -128 activations allowed), then the row's sum of activations is
// taken off once. Compiled only where the translation unit's flags enable the arch.
#pragma once

#include "qtl/kernel/arch.hpp"
#include "qtl/kernel/arm/block_dot.hpp"
#include "qtl/kernel/i2_s_dot.hpp"

#if defined(QTL_KERNEL_NEON)
#include <arm_neon.h>

namespace qtl::kernel {

template <>
struct i2_s_dot<neon> {
  static int row(const std::uint8_t* w, const std::int8_t* a, std::size_t cols, int asum) noexcept {
    using layout = bitnet::i2_s;
    static_assert(layout::block_bytes == 32);
    // One accumulator per field: the four dots of a half do not wait on each other.
    int32x4_t acc[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
    for (std::size_t b = 0; b < cols / layout::block; ++b)
      for (std::size_t h = 0; h < 2; ++h) {
        const uint8x16_t raw = vld1q_u8(w + b * layout::block_bytes + 16 * h);
        const std::int8_t* ah = a + b * layout::block + 16 * h;
        for (int n = 0; n < 4; ++n)
          acc[n] = arm::dot_s8(acc[n], vreinterpretq_s8_u8(arm::crumbs(raw, 3 - n)), arm::load16(ah + 32 * n));
      }
    return vaddvq_s32(vaddq_s32(vaddq_s32(acc[0], acc[1]), vaddq_s32(acc[2], acc[3]))) - asum;
  }
};

}  // namespace qtl::kernel

#endif  // QTL_KERNEL_NEON
