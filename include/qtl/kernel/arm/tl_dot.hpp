// AArch64 NEON step of kernel/tl_dot.hpp (tl_simd_tile): 16 rows per register, a group's
// 16 table bytes looked up with one vqtbl1q_u8 (the whole register is one table), the
// rows' int16 sums zipped back into row order and widened into int32.
// Compiled only where the translation unit's flags enable the arch (kernel/arch.hpp).
#pragma once

#include "qtl/kernel/arch.hpp"
#include "qtl/kernel/tl_dot.hpp"

#if defined(QTL_KERNEL_NEON)
#include <arm_neon.h>

namespace qtl::kernel {

namespace arm {

struct tl_step {
  using u8 = xsimd::batch<std::uint8_t, neon>;
  using u16 = xsimd::batch<std::uint16_t, neon>;
  static constexpr std::size_t rows = 16;

  static u8 table(const std::uint8_t* p) noexcept { return vld1q_u8(p); }
  static u8 lookup(u8 table, u8 index) noexcept { return vqtbl1q_u8(table, index); }
  static void widen_add(u16 even, u16 odd, std::int32_t* sums) noexcept {
    const int16x8_t in_order[2] = {vreinterpretq_s16_u16(vzip1q_u16(even, odd)),
                                   vreinterpretq_s16_u16(vzip2q_u16(even, odd))};  // rows 0-7, 8-15
    for (int k = 0; k < 2; ++k) {
      int32_t* s = sums + 8 * k;
      vst1q_s32(s, vaddq_s32(vld1q_s32(s), vmovl_s16(vget_low_s16(in_order[k]))));
      vst1q_s32(s + 4, vaddq_s32(vld1q_s32(s + 4), vmovl_high_s16(in_order[k])));
    }
  }
};

}  // namespace arm

template <>
struct tl_dot<neon> : tl_simd_tile<arm::tl_step> {};

}  // namespace qtl::kernel

#endif  // QTL_KERNEL_NEON
