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
#include "qtl/kernel/for_each_index.hpp"
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

// The 4 activation values at p in every 32-bit lane.
inline int8x16_t activation_word(const std::int8_t* p) noexcept {
  std::int32_t word;
  std::memcpy(&word, p, sizeof word);
  return vreinterpretq_s8_s32(vdupq_n_s32(word));
}

}  // namespace QTL_KERNEL_ISA
}  // namespace arm

template <groupable_32 B>
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
        even = arm::dot4(even, w.codes[j][h], arm::activation_word(a.qs + 4 * j));
        odd = arm::dot4(odd, w.codes[j + 1][h], arm::activation_word(a.qs + 4 * j + 4));
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

// Q4_K: each chunk's two registers (rows 0..3, 4..7) split into nibbles (codes 0..15 fit
// int8), dotted with the broadcast activation words into sub-block j's lanes; then times
// each row's 6-bit scale (mul) and the mins times the activation's sub-block sums (mla by
// scalar), both exact in int32; each row's two terms into its float lane.
template <>
struct group_dot<neon, ggml::block_q4_k> {
  using acc_type = float32x4x2_t;  // rows 0..3, 4..7
  using group = row_group<ggml::block_q4_k>;

  static acc_type zero() noexcept { return {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)}; }
  static const group& decode(const group& g) noexcept { return g; }

  static void accumulate(acc_type& acc, const group& g, const ggml::block_q8_k& a, std::int32_t) noexcept {
    int32x4_t sub[8][2];
    for (auto& j : sub) j[0] = j[1] = vdupq_n_s32(0);
    for_each_index<4>([&](auto k) QTL_LAMBDA_FORCEINLINE {
      for_each_index<8>([&](auto c) QTL_LAMBDA_FORCEINLINE {
        for (std::size_t h = 0; h < 2; ++h) {
          const uint8x16_t raw = vld1q_u8(g.qs + 32 * (8 * k + c) + 16 * h);
          const std::int8_t* values = a.qs + 64 * k + 4 * c;
          sub[2 * k][h] = arm::dot4(sub[2 * k][h], vreinterpretq_s8_u8(vandq_u8(raw, vdupq_n_u8(0x0F))),
                                    arm::activation_word(values));
          sub[2 * k + 1][h] =
              arm::dot4(sub[2 * k + 1][h], vreinterpretq_s8_u8(vshrq_n_u8(raw, 4)), arm::activation_word(values + 32));
        }
      });
    });
    int32x4_t isum[2] = {vdupq_n_s32(0), vdupq_n_s32(0)}, min_sum[2] = {vdupq_n_s32(0), vdupq_n_s32(0)};
    for (std::size_t j = 0; j < 8; ++j) {
      const uint16x8_t sc = vmovl_u8(vld1_u8(g.scales + 8 * j));
      isum[0] = vmlaq_s32(isum[0], sub[j][0], vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(sc))));
      isum[1] = vmlaq_s32(isum[1], sub[j][1], vreinterpretq_s32_u32(vmovl_high_u16(sc)));
    }
    for (std::size_t p = 0; p < 4; ++p) {  // mins[16p + 2r + h]: sub-block 2p + h of row r
      const uint8x8x2_t m = vld2_u8(g.mins + 16 * p);
      for (std::size_t h = 0; h < 2; ++h) {
        const int sub_sum = a.bsums[4 * p + 2 * h] + a.bsums[4 * p + 2 * h + 1];
        const uint16x8_t mh = vmovl_u8(m.val[h]);
        min_sum[0] = vmlaq_n_s32(min_sum[0], vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(mh))), sub_sum);
        min_sum[1] = vmlaq_n_s32(min_sum[1], vreinterpretq_s32_u32(vmovl_high_u16(mh)), sub_sum);
      }
    }
    const float32x4_t d_a = vdupq_n_f32(a.d);
    for (std::size_t h = 0; h < 2; ++h) {
      const float32x4_t d = vmulq_f32(vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(g.d + 4 * h))), d_a);
      const float32x4_t dmin = vmulq_f32(vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(g.dmin + 4 * h))), d_a);
      acc.val[h] = vaddq_f32(acc.val[h], vmlsq_f32(vmulq_f32(d, vcvtq_f32_s32(isum[h])), dmin,
                                                   vcvtq_f32_s32(min_sum[h])));
    }
  }

  static void finish(acc_type acc, float* out) noexcept {
    vst1q_f32(out, acc.val[0]);
    vst1q_f32(out + 4, acc.val[1]);
  }
};

}  // namespace qtl::kernel

#endif  // QTL_KERNEL_NEON
