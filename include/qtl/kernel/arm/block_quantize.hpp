// AArch64 NEON operations of kernel/simd_block_quantize.hpp: 32 int32 codes narrowed to
// int8 with saturation (two saturating narrows) or, as 4-bit codes, paired into bytes
// (even and odd bytes unzipped, shifted and or-ed), a float to half bits through the FP16
// conversion, ties-to-even rounding in the instruction (frintn) and IEEE division (fdiv).
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
  // fdiv: xsimd's division on NEON is a refined reciprocal estimate, not IEEE.
  QTL_FORCEINLINE static xsimd::batch<float, neon> divide(xsimd::batch<float, neon> a, xsimd::batch<float, neon> b) noexcept {
    return vdivq_f32(a, b);
  }
  QTL_FORCEINLINE static std::uint16_t to_half(float f) noexcept {
    const __fp16 h = static_cast<__fp16>(f);
    std::uint16_t bits;
    std::memcpy(&bits, &h, sizeof bits);
    return bits;
  }
  // Codes 16i .. 16i + 15 as int8 with saturation.
  QTL_FORCEINLINE static int8x16_t bytes16(const xsimd::batch<std::int32_t, neon>* q, std::size_t i) noexcept {
    const int16x8_t lo = vcombine_s16(vqmovn_s32(q[4 * i]), vqmovn_s32(q[4 * i + 1]));
    const int16x8_t hi = vcombine_s16(vqmovn_s32(q[4 * i + 2]), vqmovn_s32(q[4 * i + 3]));
    return vcombine_s8(vqmovn_s16(lo), vqmovn_s16(hi));
  }
  QTL_FORCEINLINE static void store32(const xsimd::batch<std::int32_t, neon>* q, std::int8_t* out) noexcept {
    for (std::size_t i = 0; i < 2; ++i) vst1q_s8(out + 16 * i, bytes16(q, i));
  }
  QTL_FORCEINLINE static void store_nibbles(const xsimd::batch<std::int32_t, neon>* q, std::uint8_t* out) noexcept {
    const uint8x16_t lo = vreinterpretq_u8_s8(bytes16(q, 0)), hi = vreinterpretq_u8_s8(bytes16(q, 1));
    vst1q_u8(out, vorrq_u8(vshlq_n_u8(vuzp1q_u8(lo, hi), 4), vuzp2q_u8(lo, hi)));
  }
};

}  // namespace qtl::kernel

#endif  // QTL_KERNEL_NEON
