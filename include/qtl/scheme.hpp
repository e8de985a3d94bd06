// Scheme policies: how a group's real range maps onto a Format's codes (scale, zero
// point) and back. Statistics (observer) -> Scheme -> quant_params -> quantizer.
// Each built-in scheme has batch steps next to its scalar ones (quantize a batch of
// floats, dequantize a batch of codes), the same operations in the same order, and says
// whether its params read the group's sum of magnitudes (needs_abs_sum), the one
// statistic a SIMD kernel cannot gather in the scalar order, and whether it dequantizes
// as (decode(code) - zero_point) * scale (mid_tread: the integer GEMV's weights).
#pragma once

#include <cstdint>
#include <limits>

#include "qtl/core/concepts.hpp"
#include "qtl/core/config.hpp"
#include "qtl/core/quant_params.hpp"
#include "qtl/core/simd.hpp"
#include "qtl/core/tensor_stats.hpp"
#include "qtl/rounding.hpp"

namespace qtl {

namespace detail {

QTL_HOST_DEVICE constexpr float clamp(float v, float lo, float hi) noexcept { return v < lo ? lo : (v > hi ? hi : v); }

// Params for scale s with the quantize multiplier 1/s; an all-zero group keeps s = 0 and
// multiplies by 0, so it quantizes to the zero point and dequantizes to exact zeros.
constexpr quant_params from_scale(float scale, std::int32_t zero_point = 0) noexcept {
  return {scale, scale > 0.0f ? 1.0f / scale : 0.0f, zero_point};
}

// Mid-tread mapping shared by every uniform scheme: code = clamp(round(x / s) + zp) over
// [lo, hi], value = (decode(code) - zp) * s. Zero is a level.
template <class Rounding>
QTL_HOST_DEVICE int mid_tread_quantize(float x, const quant_params& p, const Rounding& round, std::uint64_t index,
                                       int lo, int hi) noexcept {
  const float v = clamp(round(x * p.inv_scale, index), static_cast<float>(lo - p.zero_point),
                        static_cast<float>(hi - p.zero_point));
  return static_cast<int>(v) + p.zero_point;
}

template <format F>
QTL_HOST_DEVICE float mid_tread_dequantize(int code, const quant_params& p) noexcept {
  return (F::decode(code) - static_cast<float>(p.zero_point)) * p.scale;
}

#if QTL_HAS_SIMD
template <class A, class Rounding>
simd::ints<A> mid_tread_quantize(simd::floats<A> x, const quant_params& p, const Rounding& round, std::uint64_t first,
                                 int lo, int hi) noexcept {
  using floats = simd::floats<A>;
  const floats v = simd::round(round, x * floats(p.inv_scale), first);
  const floats clamped = xsimd::min(xsimd::max(v, floats(static_cast<float>(lo - p.zero_point))),
                                    floats(static_cast<float>(hi - p.zero_point)));
  return xsimd::batch_cast<std::int32_t>(clamped) + simd::ints<A>(p.zero_point);
}

template <format F, class A>
simd::floats<A> mid_tread_dequantize(simd::ints<A> code, const quant_params& p) noexcept {
  using floats = simd::floats<A>;
  return (simd::decode<F, A>(code) - floats(static_cast<float>(p.zero_point))) * floats(p.scale);
}
#endif

// The code mapping of the schemes that use every code of the format (affine, absmax,
// absmean): they differ only in how they choose the params.
struct full_range_mapping {
  static constexpr bool mid_tread = true;  // value = (decode(code) - zero_point) * scale
  template <format F, class Rounding>
  QTL_HOST_DEVICE int quantize(float x, const quant_params& p, const Rounding& round, std::uint64_t index) const noexcept {
    return mid_tread_quantize(x, p, round, index, F::min_code, F::max_code);
  }
  template <format F>
  QTL_HOST_DEVICE float dequantize(int code, const quant_params& p) const noexcept {
    return mid_tread_dequantize<F>(code, p);
  }
#if QTL_HAS_SIMD
  template <format F, class A, class Rounding>
  simd::ints<A> quantize(simd::floats<A> x, const quant_params& p, const Rounding& round, std::uint64_t first) const noexcept {
    return mid_tread_quantize(x, p, round, first, F::min_code, F::max_code);
  }
  template <format F, class A>
  simd::floats<A> dequantize(simd::ints<A> code, const quant_params& p) const noexcept {
    return mid_tread_dequantize<F>(code, p);
  }
#endif
};

}  // namespace detail

// Which codes a symmetric scheme uses. restricted: -qmax..qmax (-127..127 for int8), so
// the range is symmetric and -128 never appears; full: all codes, with torch's
// per_tensor_symmetric scale absmax / ((qmax - qmin) / 2) (absmax / 127.5 for int8).
enum class symmetric_range { restricted, full };

// Zero point 0, scale from the group's largest magnitude.
struct symmetric {
  static constexpr bool needs_abs_sum = false;
  static constexpr bool mid_tread = true;
  symmetric_range range = symmetric_range::restricted;
  float min_scale = 0.0f;  // lower bound of the scale; torch's observers use FLT_EPSILON

  template <signed_format F>
  constexpr quant_params params(const tensor_stats& s) const noexcept {
    const float steps = range == symmetric_range::restricted
                            ? static_cast<float>(F::max_code)
                            : static_cast<float>(F::max_code - F::min_code) / 2.0f;
    const float scale = s.absmax() / steps;
    return detail::from_scale(scale < min_scale ? min_scale : scale);
  }
  template <signed_format F, class Rounding>
  QTL_HOST_DEVICE int quantize(float x, const quant_params& p, const Rounding& round, std::uint64_t index) const noexcept {
    return detail::mid_tread_quantize(x, p, round, index, lowest<F>(), F::max_code);
  }
  template <signed_format F>
  QTL_HOST_DEVICE float dequantize(int code, const quant_params& p) const noexcept {
    return detail::mid_tread_dequantize<F>(code, p);
  }
#if QTL_HAS_SIMD
  template <signed_format F, class A, class Rounding>
  simd::ints<A> quantize(simd::floats<A> x, const quant_params& p, const Rounding& round, std::uint64_t first) const noexcept {
    return detail::mid_tread_quantize(x, p, round, first, lowest<F>(), F::max_code);
  }
  template <signed_format F, class A>
  simd::floats<A> dequantize(simd::ints<A> code, const quant_params& p) const noexcept {
    return detail::mid_tread_dequantize<F>(code, p);
  }
#endif

 private:
  template <signed_format F>
  QTL_HOST_DEVICE constexpr int lowest() const noexcept {
    return range == symmetric_range::restricted ? -F::max_code : F::min_code;
  }
};

// Scale and integer zero point from the group's range widened to include 0, torch's
// per_tensor_affine: s = (max - min) / (qmax - qmin), zp = qmin - round(min / s) clamped.
struct affine : detail::full_range_mapping {
  static constexpr bool needs_abs_sum = false;
  float min_scale = 0.0f;  // lower bound of the scale; torch's observers use FLT_EPSILON

  constexpr affine() = default;
  constexpr explicit affine(float lowest_scale) noexcept : min_scale(lowest_scale) {}

  template <format F>
  constexpr quant_params params(const tensor_stats& s) const noexcept {
    const float lo = s.empty() || s.min > 0.0f ? 0.0f : s.min;
    const float hi = s.empty() || s.max < 0.0f ? 0.0f : s.max;
    float scale = (hi - lo) / static_cast<float>(F::max_code - F::min_code);
    if (scale < min_scale) scale = min_scale;
    if (scale == 0.0f) return detail::from_scale(0.0f);  // 0 is a code of every format
    const float zp = static_cast<float>(F::min_code) - nearest_even{}(lo / scale);
    return detail::from_scale(scale, static_cast<std::int32_t>(detail::clamp(zp, F::min_code, F::max_code)));
  }
};

// LLM.int8 / BitNet activation style: the multiplier qmax / absmax is computed directly
// (not as 1 / scale), codes use the format's full range (-128..127 for int8).
struct absmax : detail::full_range_mapping {
  static constexpr bool needs_abs_sum = false;
  template <signed_format F>
  constexpr quant_params params(const tensor_stats& s) const noexcept {
    const float a = s.absmax();
    if (a == 0.0f) return {};
    return {a / static_cast<float>(F::max_code), static_cast<float>(F::max_code) / a, 0};
  }
};

// BitNet b1.58 weights: scale = mean |W| (clamped below by min_scale; BitNet uses 1e-5),
// codes = clamp(round(W / scale)) over the format's range ({-1, 0, 1} for ternary).
struct absmean : detail::full_range_mapping {
  static constexpr bool needs_abs_sum = true;
  float min_scale = 0.0f;

  constexpr absmean() = default;
  constexpr explicit absmean(float lowest_scale) noexcept : min_scale(lowest_scale) {}

  template <signed_format F>
  constexpr quant_params params(const tensor_stats& s) const noexcept {
    const float m = s.absmean();
    return detail::from_scale(m < min_scale ? min_scale : m);
  }
};

// Mid-rise: no level at zero; code q stands for (q + 1/2) * scale, so a signed b-bit
// format covers +-(2^(b-1) - 1/2) steps and absmax lands on the outermost level.
struct mid_rise {
  static constexpr bool needs_abs_sum = false;

  template <signed_format F>
  constexpr quant_params params(const tensor_stats& s) const noexcept {
    return detail::from_scale(s.absmax() / (static_cast<float>(F::max_code) + 0.5f));
  }
  template <signed_format F, class Rounding>
  QTL_HOST_DEVICE int quantize(float x, const quant_params& p, const Rounding& round, std::uint64_t index) const noexcept {
    const float v = round(detail::rounded_product(x, p.inv_scale) - 0.5f, index);
    return static_cast<int>(detail::clamp(v, static_cast<float>(F::min_code), static_cast<float>(F::max_code)));
  }
  template <signed_format F>
  QTL_HOST_DEVICE float dequantize(int code, const quant_params& p) const noexcept {
    return (F::decode(code) + 0.5f) * p.scale;
  }
#if QTL_HAS_SIMD
  template <signed_format F, class A, class Rounding>
  simd::ints<A> quantize(simd::floats<A> x, const quant_params& p, const Rounding& round, std::uint64_t first) const noexcept {
    using floats = simd::floats<A>;
    const floats v = simd::round(round, simd::rounded_product(x, floats(p.inv_scale)) - floats(0.5f), first);
    return xsimd::batch_cast<std::int32_t>(
        xsimd::min(xsimd::max(v, floats(static_cast<float>(F::min_code))), floats(static_cast<float>(F::max_code))));
  }
  template <signed_format F, class A>
  simd::floats<A> dequantize(simd::ints<A> code, const quant_params& p) const noexcept {
    using floats = simd::floats<A>;
    return (simd::decode<F, A>(code) + floats(0.5f)) * floats(p.scale);
  }
#endif
};

// Symmetric with a dead zone: |x| < threshold steps maps to 0 (threshold 0.5 is plain
// mid-tread rounding); elsewhere as symmetric. Sparsifies small weights.
struct dead_zone {
  static constexpr bool needs_abs_sum = false;
  static constexpr bool mid_tread = true;
  float threshold = 1.0f;  // in steps of the scale
  symmetric_range range = symmetric_range::restricted;

  template <signed_format F>
  constexpr quant_params params(const tensor_stats& s) const noexcept {
    return symmetric{range}.template params<F>(s);
  }
  template <signed_format F, class Rounding>
  QTL_HOST_DEVICE int quantize(float x, const quant_params& p, const Rounding& round, std::uint64_t index) const noexcept {
    // Compared in real units, as dequantize computes levels: a level on the threshold
    // re-quantizes to itself.
    const float zone = threshold * p.scale;
    if (x < zone && x > -zone) return 0;
    return symmetric{range}.template quantize<F>(x, p, round, index);
  }
  template <signed_format F>
  QTL_HOST_DEVICE float dequantize(int code, const quant_params& p) const noexcept {
    return detail::mid_tread_dequantize<F>(code, p);
  }
#if QTL_HAS_SIMD
  template <signed_format F, class A, class Rounding>
  simd::ints<A> quantize(simd::floats<A> x, const quant_params& p, const Rounding& round, std::uint64_t first) const noexcept {
    const simd::floats<A> zone(threshold * p.scale);
    const auto inside = (x < zone) & (x > -zone);
    return xsimd::select(xsimd::batch_bool_cast<std::int32_t>(inside), simd::ints<A>(0),
                         symmetric{range}.template quantize<F>(x, p, round, first));
  }
  template <signed_format F, class A>
  simd::floats<A> dequantize(simd::ints<A> code, const quant_params& p) const noexcept {
    return detail::mid_tread_dequantize<F>(code, p);
  }
#endif
};

namespace detail {

// The largest finite magnitude among F's levels (1 for NF4 and bitsandbytes' FP4, 448 for
// FP8 E4M3). A format whose decode is not constexpr may state it as F::max_magnitude,
// which spares a search of every level on each group's params.
template <format F>
constexpr float largest_level() noexcept {
  if constexpr (requires { F::max_magnitude; }) {
    return F::max_magnitude;
  } else {
    float top = 0.0f;
    for (int code = F::min_code; code <= F::max_code; ++code) {
      const float v = F::decode(code);
      const float a = v < 0.0f ? -v : v;
      if (a <= std::numeric_limits<float>::max() && a > top) top = a;  // NaN and Inf fail the first test
    }
    return top;
  }
}

}  // namespace detail

// Nearest level of a codebook format (NF4, bitsandbytes' FP4, the minifloats, a dynamic
// map, a user's table with an encode()): x / s goes to F::encode, which picks the level and
// breaks ties as the format defines, so the Rounding policy has no say. s = absmax / the
// largest level: a group's largest magnitude lands on the outermost level, and x / s is
// computed as x * (1 / s), as bitsandbytes does. quantizer<nf4, codebook, per_group<64>>
// gives bitsandbytes' quantize_4bit(quant_type="nf4") codes and absmax for rows whose
// length is a multiple of 64 (layout/bitsandbytes.hpp has the whole layout).
struct codebook {
  static constexpr bool needs_abs_sum = false;

  template <encodable_format F>
  constexpr quant_params params(const tensor_stats& s) const noexcept {
    return detail::from_scale(s.absmax() / detail::largest_level<F>());
  }
  template <encodable_format F, class Rounding>
  QTL_HOST_DEVICE int quantize(float x, const quant_params& p, const Rounding&, std::uint64_t) const noexcept {
    return F::encode(x * p.inv_scale);
  }
  template <encodable_format F>
  QTL_HOST_DEVICE float dequantize(int code, const quant_params& p) const noexcept {
    return F::decode(code) * p.scale;
  }
#if QTL_HAS_SIMD
  template <encodable_format F, class A, class Rounding>
  simd::ints<A> quantize(simd::floats<A> x, const quant_params& p, const Rounding&, std::uint64_t) const noexcept {
    return simd::encode<F, A>(x * simd::floats<A>(p.inv_scale));
  }
  template <encodable_format F, class A>
  simd::floats<A> dequantize(simd::ints<A> code, const quant_params& p) const noexcept {
    return simd::decode<F, A>(code) * simd::floats<A>(p.scale);
  }
#endif
};

}  // namespace qtl
