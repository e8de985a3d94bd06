// AArch64 NEON operations of kernel/simd_block_quantize.hpp: 32 int32 codes narrowed to
// int8 with saturation (two saturating narrows), a float to half bits through the FP16
// conversion, and ties-to-even rounding in the instruction (frintn).
// Compiled only where the translation unit's flags enable the arch (kernel/arch.hpp).
#pragma once

#include "qtl/kernel/arch.hpp"
#include "qtl/kernel/simd_block_quantize.hpp"

#if defined(QTL_KERNEL_NEON)
#include <arm_neon.h>

#include <cstring>

namespace qtl::kernel {

template <>
struct quantize_ops<neon> {
  QTL_FORCEINLINE static xsimd::batch<float, neon> round_even(xsimd::batch<float, neon> v) noexcept { return vrndnq_f32(v); }
  QTL_FORCEINLINE static std::uint16_t to_half(float f) noexcept {
    const __fp16 h = static_cast<__fp16>(f);
    std::uint16_t bits;
    std::memcpy(&bits, &h, sizeof bits);
    return bits;
  }
  QTL_FORCEINLINE static void store32(const xsimd::batch<std::int32_t, neon>* q, std::int8_t* out) noexcept {
    for (std::size_t i = 0; i < 2; ++i) {
      const int16x8_t lo = vcombine_s16(vqmovn_s32(q[4 * i]), vqmovn_s32(q[4 * i + 1]));
      const int16x8_t hi = vcombine_s16(vqmovn_s32(q[4 * i + 2]), vqmovn_s32(q[4 * i + 3]));
      vst1q_s8(out + 16 * i, vcombine_s8(vqmovn_s16(lo), vqmovn_s16(hi)));
    }
  }
};

}  // namespace qtl::kernel

#endif  // QTL_KERNEL_NEON
