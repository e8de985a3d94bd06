// The SIMD steps of kernel/block_quantize.hpp (activations: Q8_0, Q8_1, Q8_K, BitNet int8;
// weights: Q4_0, Q4_1, TQ2_0, bitsandbytes NF4 / FP4; FP8 element codes), written once
// with xsimd batches for every SIMD arch (AVX2, AVX-512, NEON); the arch headers (x86/,
// arm/block_quantize.hpp) give only what xsimd lacks: quantize_ops<Arch> (32 int32 codes
// narrowed to int8 with saturation or packed two 4-bit codes a byte, a float to its half
// bits, ties-to-even rounding, IEEE division).
// Byte for byte the scalar reference: max and |x| are order independent, and every code is
// the same IEEE product rounded the same way. Blocks the fast path would treat differently
// (all zeros, or a zero minimum: the scalar keeps the sign of a zero; a multiplier that
// overflows to Inf, where 0 * Inf is NaN) take the scalar step.
// Why the scalar code's clamps are not needed: with a finite multiplier m from the block's
// own largest magnitude a, |x * m| <= a * m < 127.0001, so no code leaves -127..127 (Q8_0,
// Q8_K) and saturation is BitNet's clamp to -128..127.
// Like the scalar code, the steps sit in a strict-FP region: a product that fed an
// addition as one fused operation would round once instead of twice.
// Why these are not compositions (kernel/simd_quantizer.hpp) with a layout step: Q8_0's
// codes as quantizer<int8, symmetric, per_group<32>, nearest_away> quantize at 0.44x the
// speed of this kernel (qtl_bench, Release -march=native, AVX-512 VNNI, 1 thread,
// 4096 x 4096: BM_composed_quantize/int8_g32_symmetric_nearest_away 3.9 GB/s against
// BM_quantize_kernel/q8_0 8.9 GB/s): a composed group carries a whole quant_params and
// takes the scheme's general params step, where a block keeps one half and one multiplier.
// Q4_0/Q4_1 scale by the signed extreme (d = max / -8), which no built-in scheme does, and
// bitsandbytes' NF4/FP4 by x * (1 / max(absmax, 1e-38)) with a division in a partial last
// block and a clamp to [-1, 1]: compositions need a scheme of their own for each. The NF4
// kernel is not slower than the composition either: 8.9 GB/s against NF4 g64's 7.2 (same
// build and machine); kernel::quantize_4bit's up-front finiteness pass, which keeps the
// outputs untouched on a NaN/Inf error, brings the whole call to 5.7.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>

#include <xsimd/xsimd.hpp>

#include "qtl/core/config.hpp"
#include "qtl/format/bnb_fp4.hpp"
#include "qtl/format/nf4.hpp"
#include "qtl/kernel/arch.hpp"
#include "qtl/kernel/block_quantize.hpp"

namespace qtl::kernel {

// Per-arch operations xsimd has no portable form of (defined in x86/, arm/block_quantize.hpp):
//   static void store32(const xsimd::batch<std::int32_t, Arch>* q, std::int8_t* out); // saturating
//   static void store_nibbles(const xsimd::batch<std::int32_t, Arch>* q, std::uint8_t* out);
//       // 32 codes 0..15 into 16 bytes, code 2j in the high nibble of byte j
//   static std::uint16_t to_half(float f);                                           // nearest even
//   static xsimd::batch<float, Arch> round_even(xsimd::batch<float, Arch> v);        // any FP mode
//   static xsimd::batch<float, Arch> divide(xsimd::batch<float, Arch> a, xsimd::batch<float, Arch> b);
//       // IEEE a / b (xsimd's NEON division is a reciprocal estimate refined twice: not exact)
template <class Arch>
struct quantize_ops;

template <class Arch>
concept simd_quantize_arch = !std::same_as<Arch, scalar>;

QTL_STRICT_FP_BEGIN

namespace block_lanes {  // lane helpers of the block quantize kernels

template <class Arch>
using floats = xsimd::batch<float, Arch>;
template <class Arch>
using ints = xsimd::batch<std::int32_t, Arch>;
// Batches per 32 values (the unit of quantize_ops::store32).
template <class Arch>
inline constexpr std::size_t per32 = 32 / floats<Arch>::size;

// Round half away from zero (std::round) of the magnitude a = |v| to int32, with the sign
// of `sign`: trunc(a + 0.49999997f). Exact for every float (a + 0.5 - 2^-25 reaches the
// next integer exactly when the fraction is >= 0.5), unlike floor(a + 0.5), which sends
// 0.49999997f to 1.
template <class Arch>
ints<Arch> round_away(floats<Arch> a, floats<Arch> sign) noexcept {
  const floats<Arch> sign_bit = sign & floats<Arch>(-0.0f);  // a + 0.49999997f > 0: or-ing the sign is copysign
  return xsimd::batch_cast<std::int32_t>((a + floats<Arch>(0x1.fffffep-2f)) | sign_bit);
}

template <class Arch>
ints<Arch> round_even(floats<Arch> v) noexcept {
  return xsimd::batch_cast<std::int32_t>(quantize_ops<Arch>::round_even(v));
}

// The largest |x| of x[0, n), n a multiple of the batch size.
template <class Arch>
float absmax(const float* x, std::size_t n) noexcept {
  floats<Arch> m(0.0f);
  for (std::size_t i = 0; i < n; i += floats<Arch>::size) m = xsimd::max(m, xsimd::abs(floats<Arch>::load_unaligned(x + i)));
  return xsimd::reduce_max(m);
}

// Q8_0 / Q8_1 codes round_away(x * id) of 32 values, id > 0.
template <class Arch>
void q8_codes(const float* x, float id, ints<Arch>* q) noexcept {
  for (std::size_t i = 0; i < per32<Arch>; ++i) {  // |x * id| = |x| * id
    const floats<Arch> v = floats<Arch>::load_unaligned(x + i * floats<Arch>::size);
    q[i] = round_away(xsimd::abs(v) * floats<Arch>(id), v);
  }
}

template <class Arch>
int sum(const ints<Arch>* q, std::size_t n) noexcept {
  ints<Arch> s = q[0];
  for (std::size_t i = 1; i < n; ++i) s += q[i];
  return xsimd::reduce_add(s);
}

// ggml's signed max of x[0, n) (the first value of largest magnitude) when it is not
// zero; 0 for an all-zero block. n a multiple of the batch size.
template <class Arch>
float signed_max(const float* x, std::size_t n) noexcept {
  floats<Arch> hi = floats<Arch>::load_unaligned(x), lo = hi;
  for (std::size_t i = floats<Arch>::size; i < n; i += floats<Arch>::size) {
    const floats<Arch> v = floats<Arch>::load_unaligned(x + i);
    hi = xsimd::max(hi, v);
    lo = xsimd::min(lo, v);
  }
  const float max = xsimd::reduce_max(hi), min = xsimd::reduce_min(lo);
  if (max != -min) return max > -min ? max : min;
  return ggml::detail::signed_absmax(x, n);  // both signs reach it (or all zero): the first wins
}

// ggml's legacy 4-bit codes of 32 values: min(trunc((x - min) * id + offset), 15), packed
// two to a byte (value j in the low nibble of byte j, value j + 16 in the high one).
template <class Arch>
void legacy_nibbles(const float* x, float min, float id, float offset, std::uint8_t* qs) noexcept {
  ints<Arch> q[per32<Arch>];
  for (std::size_t i = 0; i < per32<Arch>; ++i) {
    const floats<Arch> v = floats<Arch>::load_unaligned(x + i * floats<Arch>::size) - floats<Arch>(min);
    q[i] = xsimd::min(xsimd::batch_cast<std::int32_t>(v * floats<Arch>(id) + floats<Arch>(offset)), ints<Arch>(15));
  }
  std::int8_t codes[32];
  quantize_ops<Arch>::store32(q, codes);
  for (std::size_t j = 0; j < 16; ++j) qs[j] = static_cast<std::uint8_t>(codes[j] | codes[j + 16] << 4);
}

}  // namespace block_lanes

// Q8_0 and Q8_1: d = max|x| / 127 and id = 1 / d (the symmetric scheme's), codes
// round_away(x * id); Q8_1 adds s = d * sum of codes. `group` blocks at a time share the
// two divisions of their scales (one vector division each instead of one per block).
template <class Arch, class B>
struct q8_step {
  static constexpr std::size_t group = block_lanes::floats<Arch>::size;

  static void finish(const block_lanes::ints<Arch>* q, float d, B& b) noexcept {
    quantize_ops<Arch>::store32(q, b.qs);
    b.d = quantize_ops<Arch>::to_half(d);
    if constexpr (std::same_as<B, ggml::block_q8_1>)
      b.s = quantize_ops<Arch>::to_half(static_cast<float>(block_lanes::sum<Arch>(q, block_lanes::per32<Arch>)) * d);
  }
  static void run(const float* x, B& b) noexcept {
    const float d = block_lanes::absmax<Arch>(x, 32) / 127.0f;
    const float id = d > 0.0f ? 1.0f / d : 0.0f;
    if (!(d > 0.0f) || !std::isfinite(id)) return quantize_block(x, b);
    block_lanes::ints<Arch> q[block_lanes::per32<Arch>];
    block_lanes::q8_codes<Arch>(x, id, q);
    finish(q, d, b);
  }
  static void run_group(const float* x, B* out) noexcept {
    using floats = block_lanes::floats<Arch>;
    alignas(floats::arch_type::alignment()) float d[group], id[group];
    for (std::size_t k = 0; k < group; ++k) d[k] = block_lanes::absmax<Arch>(x + 32 * k, 32);
    const floats dv = quantize_ops<Arch>::divide(floats::load_aligned(d), floats(127.0f));
    const auto positive = dv > floats(0.0f);
    const floats idv = xsimd::select(positive, quantize_ops<Arch>::divide(floats(1.0f), dv), floats(0.0f));
    const std::uint64_t fast = (positive && xsimd::isfinite(idv)).mask();
    dv.store_aligned(d);
    idv.store_aligned(id);
    for (std::size_t k = 0; k < group; ++k) {
      if (!((fast >> k) & 1u)) {
        quantize_block(x + 32 * k, out[k]);
        continue;
      }
      block_lanes::ints<Arch> q[block_lanes::per32<Arch>];
      block_lanes::q8_codes<Arch>(x + 32 * k, id[k], q);
      finish(q, d[k], out[k]);
    }
  }
};

template <simd_quantize_arch Arch>
struct block_quantize<Arch, ggml::block_q8_0> : q8_step<Arch, ggml::block_q8_0> {};
template <simd_quantize_arch Arch>
struct block_quantize<Arch, ggml::block_q8_1> : q8_step<Arch, ggml::block_q8_1> {};

// Q8_K: codes nearest_int(iscale * x), iscale = -127 / signed max, d = 1 / iscale, and the
// sums of each 16 codes.
template <simd_quantize_arch Arch>
struct block_quantize<Arch, ggml::block_q8_k> {
  static void run(const float* x, ggml::block_q8_k& b) noexcept {
    using floats = block_lanes::floats<Arch>;
    constexpr std::size_t per16 = block_lanes::per32<Arch> / 2;
    const float max = block_lanes::signed_max<Arch>(x, ggml::qk_k);
    const float iscale = -127.f / max;
    if (max == 0.0f || !std::isfinite(iscale)) return quantize_block(x, b);
    for (std::size_t c = 0; c < ggml::qk_k / 32; ++c) {
      block_lanes::ints<Arch> q[block_lanes::per32<Arch>];
      for (std::size_t i = 0; i < block_lanes::per32<Arch>; ++i)
        q[i] = block_lanes::round_even(floats(iscale) * floats::load_unaligned(x + 32 * c + i * floats::size));
      quantize_ops<Arch>::store32(q, b.qs + 32 * c);
      b.bsums[2 * c] = static_cast<std::int16_t>(block_lanes::sum<Arch>(q, per16));
      b.bsums[2 * c + 1] = static_cast<std::int16_t>(block_lanes::sum<Arch>(q + per16, per16));
    }
    b.d = 1 / iscale;
  }
};

// Q4_0: d = (first value of largest magnitude) / -8, codes min(trunc(x * id + 8.5), 15),
// id = 1 / d (the conversion truncates, as the scalar's static_cast<int>).
template <simd_quantize_arch Arch>
struct block_quantize<Arch, ggml::block_q4_0> {
  static void run(const float* x, ggml::block_q4_0& b) noexcept {
    const float max = block_lanes::signed_max<Arch>(x, 32);
    const float d = max / -8.0f;
    const float id = ggml::detail::inverse(d);
    if (max == 0.0f || !std::isfinite(id)) return quantize_block(x, b);  // -0 scale; 0 * Inf
    block_lanes::legacy_nibbles<Arch>(x, 0.0f, id, 8.5f, b.qs);
    b.d = quantize_ops<Arch>::to_half(d);
  }
};

// Q4_1: d = (max - min) / 15, m = min, codes min(trunc((x - min) / d + 0.5), 15). A zero
// minimum takes the scalar step: which zero (+0, -0) a vector min keeps depends on order.
template <simd_quantize_arch Arch>
struct block_quantize<Arch, ggml::block_q4_1> {
  static void run(const float* x, ggml::block_q4_1& b) noexcept {
    using floats = block_lanes::floats<Arch>;
    floats hi = floats::load_unaligned(x), lo = hi;
    for (std::size_t i = floats::size; i < 32; i += floats::size) {
      hi = xsimd::max(hi, floats::load_unaligned(x + i));
      lo = xsimd::min(lo, floats::load_unaligned(x + i));
    }
    const float min = xsimd::reduce_min(lo);
    const float d = (xsimd::reduce_max(hi) - min) / 15.0f;
    const float id = ggml::detail::inverse(d);
    if (min == 0.0f || !(d > 0.0f) || !std::isfinite(d) || !std::isfinite(id)) return quantize_block(x, b);
    block_lanes::legacy_nibbles<Arch>(x, min, id, 0.5f, b.qs);
    b.m = quantize_ops<Arch>::to_half(min);
    b.d = quantize_ops<Arch>::to_half(d);
  }
};

// TQ2_0: d = max|x|, codes lround(x / d) + 1 in 0..2, value 128c + 32n + m at bits 2n of
// byte 32c + m.
template <simd_quantize_arch Arch>
struct block_quantize<Arch, ggml::block_tq2_0> {
  static void run(const float* x, ggml::block_tq2_0& b) noexcept {
    using floats = block_lanes::floats<Arch>;
    const float amax = block_lanes::absmax<Arch>(x, ggml::qk_k);
    const float id = ggml::detail::inverse(amax);
    if (!std::isfinite(id)) return quantize_block(x, b);  // 0 * Inf
    std::int8_t codes[ggml::qk_k];
    for (std::size_t c = 0; c < ggml::qk_k; c += 32) {
      block_lanes::ints<Arch> q[block_lanes::per32<Arch>];
      for (std::size_t i = 0; i < block_lanes::per32<Arch>; ++i) {
        const floats v = floats::load_unaligned(x + c + i * floats::size);
        q[i] = block_lanes::round_away(xsimd::abs(v) * floats(id), v) + block_lanes::ints<Arch>(1);
      }
      quantize_ops<Arch>::store32(q, codes + c);
    }
    for (std::size_t c = 0; c < 2; ++c)
      for (std::size_t m = 0; m < 32; ++m) {
        const std::int8_t* v = codes + 128 * c + m;
        b.qs[32 * c + m] = static_cast<std::uint8_t>(v[0] | v[32] << 2 | v[64] << 4 | v[96] << 6);
      }
    b.d = quantize_ops<Arch>::to_half(amax);
  }
};

// bitsandbytes NF4 / FP4: the block's absmax over whole vectors (order-independent), 32
// values at a time scaled by the same IEEE product or quotient as the scalar code.
template <simd_quantize_arch Arch, class Format>
struct quantize_4bit_step<Arch, Format> {
  static constexpr std::size_t width = 32;
  static float absmax(const float* x, std::size_t n) noexcept {
    const std::size_t whole = n - n % block_lanes::floats<Arch>::size;
    float amax = block_lanes::absmax<Arch>(x, whole);
    for (std::size_t j = whole; j < n; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    return amax;
  }
  static void run(const float* x, float reciprocal, float divisor, bool full, std::uint8_t* packed) noexcept {
    using floats = block_lanes::floats<Arch>;
    block_lanes::ints<Arch> q[block_lanes::per32<Arch>];
    for (std::size_t i = 0; i < block_lanes::per32<Arch>; ++i) {
      const floats v = floats::load_unaligned(x + i * floats::size);
      q[i] = Format::encode(full ? v * floats(reciprocal) : quantize_ops<Arch>::divide(v, floats(divisor)));
    }
    quantize_ops<Arch>::store_nibbles(q, packed);
  }
};

// BitNet per token: s = 127 / max|x| twice rounded, codes clamp(round_even(x * s)); the
// values past the last 32 go through the scalar element steps.
template <simd_quantize_arch Arch>
struct token_quantize<Arch> {
  static float run(const float* x, std::size_t n, std::int8_t* codes) noexcept {
    using floats = block_lanes::floats<Arch>;
    const std::size_t whole = n - n % floats::size;
    float absmax = block_lanes::absmax<Arch>(x, whole);
    for (std::size_t j = whole; j < n; ++j) absmax = std::fmax(absmax, std::fabs(x[j]));
    const float s = bitnet::activation_scale(absmax);
    const std::size_t body = n - n % 32;
    for (std::size_t c = 0; c < body; c += 32) {
      block_lanes::ints<Arch> q[block_lanes::per32<Arch>];
      for (std::size_t i = 0; i < block_lanes::per32<Arch>; ++i)
        q[i] = block_lanes::round_even(floats::load_unaligned(x + c + i * floats::size) * floats(s));
      quantize_ops<Arch>::store32(q, codes + c);
    }
    for (std::size_t j = body; j < n; ++j) codes[j] = bitnet::quantize_activation(x[j], s);
    return s;
  }
};

// Minifloat codes, F::encode's batch step (format/minifloat.hpp) for the body; the scalar
// encode does the values past the last 32.
template <simd_quantize_arch Arch, class F>
struct minifloat_step<Arch, F> {
  using ints = block_lanes::ints<Arch>;
  static void run(const float* x, std::uint8_t* out, std::size_t n, bool saturate) noexcept {
    using floats = block_lanes::floats<Arch>;
    const std::size_t body = n - n % 32;
    const auto overflow = saturate ? minifloat_overflow::saturate : minifloat_overflow::non_saturating;
    for (std::size_t c = 0; c < body; c += 32) {
      ints q[block_lanes::per32<Arch>];
      for (std::size_t i = 0; i < block_lanes::per32<Arch>; ++i)  // bytes 128..255 as int8: no saturation
        q[i] = (F::encode(floats::load_unaligned(x + c + i * floats::size), overflow) << 24) >> 24;
      quantize_ops<Arch>::store32(q, reinterpret_cast<std::int8_t*>(out + c));
    }
    for (std::size_t i = body; i < n; ++i) out[i] = F::encode(x[i], overflow);
  }
};

// IQ4_NL, llama-quantize's scale search (ggml::quantize_block, iq4_nl_search::best_scale,
// no importance: weights x^2): 16 candidate scales (the first least-squares step and the
// 15 tries), one per lane, so that each lane sums its 32 products in the scalar's order;
// the choice between them then runs as the scalar's loop over the lane sums. The nearest
// level is the scalar's bisection result without branches: the last level v is not below
// (levels rise, so a select per level), then the same float test `v - lower < upper - v`.
// A NaN v (a block whose sums overflow: d is NaN) ends at 15 as in the bisection.
template <simd_quantize_arch Arch>
struct block_quantize<Arch, ggml::block_iq4_nl> {
  using floats = block_lanes::floats<Arch>;
  static constexpr std::size_t lanes = 16;
  static constexpr std::size_t batches = lanes / floats::size;
  static_assert(lanes % floats::size == 0);

  struct nearest {
    floats index, level;
  };
  // As ggml::detail::nearest_level (v <= -127 gives 0, v >= 113 gives 15 by the same test).
  static nearest level_of(floats v) noexcept {
    const std::int8_t* values = ggml::iq4_nl_levels;
    floats index(0.0f), lower(static_cast<float>(values[0])), upper(static_cast<float>(values[1]));
    for (int i = 1; i < 15; ++i) {
      const auto below = v < floats(static_cast<float>(values[i]));  // false for NaN, as the bisection's test
      index = xsimd::select(below, index, floats(static_cast<float>(i)));
      lower = xsimd::select(below, lower, floats(static_cast<float>(values[i])));
      upper = xsimd::select(below, upper, floats(static_cast<float>(values[i + 1])));
    }
    const auto down = (v - lower) < (upper - v);
    return {xsimd::select(down, index, index + floats(1.0f)), xsimd::select(down, lower, upper)};
  }

  static void run(const float* x, ggml::block_iq4_nl& b) noexcept {
    const std::int8_t* values = ggml::iq4_nl_levels;
    const float max = block_lanes::signed_max<Arch>(x, 32);
    float d = 0.0f;
    if (std::fabs(max) >= 1e-15f) {
      alignas(floats::arch_type::alignment()) float id[lanes], sumqx[lanes], sumq2[lanes];
      id[0] = 1 / (-max / values[0]);
      for (int itry = -7; itry <= 7; ++itry) id[itry + 8] = static_cast<float>(itry + values[0]) / max;
      floats ids[batches], qx[batches], q2[batches];
      for (std::size_t k = 0; k < batches; ++k) {
        ids[k] = floats::load_aligned(id + k * floats::size);
        qx[k] = q2[k] = floats(0.0f);
      }
      for (std::size_t j = 0; j < 32; ++j) {
        const floats xj(x[j]), wj(x[j] * x[j]);
        for (std::size_t k = 0; k < batches; ++k) {
          const floats q = level_of(ids[k] * xj).level;
          qx[k] += wj * q * xj;
          q2[k] += wj * q * q;
        }
      }
      for (std::size_t k = 0; k < batches; ++k) {
        qx[k].store_aligned(sumqx + k * floats::size);
        q2[k].store_aligned(sumq2 + k * floats::size);
      }
      d = sumq2[0] > 0 ? sumqx[0] / sumq2[0] : 0.f;
      float best = d * sumqx[0];
      for (std::size_t k = 1; k < lanes; ++k)
        if (sumq2[k] > 0 && sumqx[k] * sumqx[k] > best * sumq2[k]) {
          d = sumqx[k] / sumq2[k];
          best = d * sumqx[k];
        }
    }
    b.d = quantize_ops<Arch>::to_half(d);
    const floats id(d != 0.0f ? 1 / d : 0);
    block_lanes::ints<Arch> q[block_lanes::per32<Arch>];
    for (std::size_t i = 0; i < block_lanes::per32<Arch>; ++i)
      q[i] = xsimd::batch_cast<std::int32_t>(level_of(id * floats::load_unaligned(x + i * floats::size)).index);
    std::int8_t codes[32];
    quantize_ops<Arch>::store32(q, codes);
    ggml::detail::pack_nibbles(reinterpret_cast<const std::uint8_t*>(codes), b.qs);
  }
};

QTL_STRICT_FP_END

// A float is finite when its bits without the sign are below Inf's: one integer max per
// vector (two chains) and one comparison at the end.
template <simd_quantize_arch Arch>
struct finite_scan<Arch> {
  static bool run(const float* x, std::size_t n) noexcept {
    using floats = block_lanes::floats<Arch>;
    using ints = block_lanes::ints<Arch>;
    constexpr std::size_t step = 2 * floats::size;
    const std::size_t whole = n - n % step;
    const ints magnitude(0x7fffffff);
    ints m0(0), m1(0);
    for (std::size_t i = 0; i < whole; i += step) {
      m0 = xsimd::max(m0, xsimd::bitwise_cast<std::int32_t>(floats::load_unaligned(x + i)) & magnitude);
      m1 = xsimd::max(m1, xsimd::bitwise_cast<std::int32_t>(floats::load_unaligned(x + i + floats::size)) & magnitude);
    }
    bool ok = xsimd::reduce_max(xsimd::max(m0, m1)) < 0x7f800000;
    for (std::size_t j = whole; j < n; ++j) ok = ok && std::isfinite(x[j]);
    return ok;
  }
};

}  // namespace qtl::kernel
