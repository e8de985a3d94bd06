// AArch64 NEON step of kernel/group_dot.hpp. A row group's chunk j (32 bytes; 4-bit
// types: nibble half j / 4) is two 16-byte registers, rows 0..3 and 4..7, each 32-bit lane one row's values
// 4j..4j+3; with the activation's values 4j..4j+3 in every lane, one dot-of-4 per register
// (sdot, or widening products pairwise-added where dotprod is not compiled in) puts 4
// rows' integer sums in 4 lanes. One FMA per block column and register then adds them,
// times each row's scale, into the row's float lane: integer sums are exact; each row's
// float chain is the scalar path's order with one rounding per block fewer. Codes are
// signed int8 (Q8_0's, nibble - 8, IQ4_NL's levels by tbl): the signed dot needs no offset.
// Compiled only where the translation unit's flags enable the arch (kernel/arch.hpp).
#pragma once

#include "qtl/kernel/arch.hpp"
#include "qtl/kernel/arm/block_dot.hpp"
#include "qtl/kernel/group_dot.hpp"

#if defined(QTL_KERNEL_NEON)
#include <arm_neon.h>

#include <cstring>

namespace qtl::kernel {

namespace arm {
inline namespace QTL_KERNEL_ISA {  // see kernel/arch.hpp

// acc lane i += the dot of lane i's 4 int8 pairs, exactly.
inline int32x4_t dot4(int32x4_t acc, int8x16_t w, int8x16_t a) noexcept {
#if defined(__ARM_FEATURE_DOTPROD)
  return vdotq_s32(acc, w, a);
#else
  // Products pairwise-added give lanes of 2 pairs (rows 0, 0, 1, 1 and 2, 2, 3, 3): one
  // more pairwise add gathers each row's 4.
  const int32x4_t low = vpaddlq_s16(vmull_s8(vget_low_s8(w), vget_low_s8(a)));
  const int32x4_t high = vpaddlq_s16(vmull_high_s8(w, a));
  return vaddq_s32(acc, vpaddq_s32(low, high));
#endif
}

// Activation values 4j..4j+3 in every 32-bit lane.
inline int8x16_t activation_word(const ggml::block_q8_0& a, std::size_t j) noexcept {
  std::int32_t word;
  std::memcpy(&word, a.qs + 4 * j, sizeof word);
  return vreinterpretq_s8_s32(vdupq_n_s32(word));
}

}  // namespace QTL_KERNEL_ISA
}  // namespace arm

template <groupable B>
struct group_dot<neon, B> {
  using acc_type = float32x4x2_t;  // rows 0..3, 4..7

  struct decoded {
    int8x16_t codes[8][2];  // chunk j, rows 4h..4h+3: values 4j..4j+3
    float32x4_t d[2];
  };

  static acc_type zero() noexcept { return {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)}; }

  static decoded decode(const row_group<B>& g) noexcept {
    decoded out;
    for (std::size_t c = 0; c < row_group<B>::chunks; ++c)
      for (std::size_t h = 0; h < 2; ++h) {
        const uint8x16_t raw = vld1q_u8(g.qs + 32 * c + 16 * h);
        if constexpr (std::same_as<B, ggml::block_q8_0>) {
          out.codes[c][h] = vreinterpretq_s8_u8(raw);
        } else {
          out.codes[c][h] = map(vandq_u8(raw, vdupq_n_u8(0x0F)));
          out.codes[c + 4][h] = map(vshrq_n_u8(raw, 4));
        }
      }
    for (std::size_t h = 0; h < 2; ++h) out.d[h] = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(g.d + 4 * h)));
    return out;
  }

  static void accumulate(acc_type& acc, const decoded& w, const ggml::block_q8_0& a, std::int32_t) noexcept {
    const float32x4_t d_a = vdupq_n_f32(arm::half_to_float(a.d));
    for (std::size_t h = 0; h < 2; ++h) {
      int32x4_t even = vdupq_n_s32(0), odd = vdupq_n_s32(0);
      for (std::size_t j = 0; j < 8; j += 2) {
        even = arm::dot4(even, w.codes[j][h], arm::activation_word(a, j));
        odd = arm::dot4(odd, w.codes[j + 1][h], arm::activation_word(a, j + 1));
      }
      acc.val[h] = vfmaq_f32(acc.val[h], vmulq_f32(w.d[h], d_a), vcvtq_f32_s32(vaddq_s32(even, odd)));
    }
  }

  static void finish(acc_type acc, float* out) noexcept {
    vst1q_f32(out, acc.val[0]);
    vst1q_f32(out + 4, acc.val[1]);
  }

 private:
  static int8x16_t map(uint8x16_t nibbles) noexcept {  // 4-bit types' codes
    if constexpr (std::same_as<B, ggml::block_q4_0>) return arm::minus(nibbles, 8);
    else return vqtbl1q_s8(vld1q_s8(ggml::iq4_nl_levels), nibbles);
  }
};

}  // namespace qtl::kernel

#endif  // QTL_KERNEL_NEON
