// compressed-tensors' integer round-to-nearest (llm-compressor's RTN, what vLLM loads as
// "pack-quantized" / "int-quantized"), as a scheme: every quantizer<int_format<B, true>,
// compressed_tensors::rtn, G> computes the same scales, zero points and codes as
// compressed-tensors' calculate_qparams and quantize in float32, and runs on the composed
// SIMD kernels like any other scheme (the `qtl` tool's int8/int4 formats use it).
//   range = qmax - qmin (2^B - 1), lo = min(0, group min), hi = max(0, group max)
//   symmetric:  s = max(hi, -lo) / (range / 2), zero point 0
//   asymmetric: s = (hi - lo) / range, zero point = round_half_even(clamp(qmin - lo / s))
//   a zero scale becomes FLT_EPSILON (after the zero point is taken)
//   code = round(clamp(x / s + zero point, qmin, qmax)); value = (code - zero point) * s
// Unlike qtl's symmetric/affine (x times 1/s, rounded, then the zero point added), the
// division and the addition come before the rounding, as compressed-tensors does them.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "qtl/core/concepts.hpp"
#include "qtl/core/config.hpp"
#include "qtl/core/quant_params.hpp"
#include "qtl/core/simd.hpp"
#include "qtl/core/tensor_stats.hpp"
#include "qtl/format/int_format.hpp"
#include "qtl/granularity.hpp"
#include "qtl/quantizer.hpp"
#include "qtl/scheme.hpp"

namespace qtl::compressed_tensors {

struct rtn {
  static constexpr bool needs_abs_sum = false;
  static constexpr bool mid_tread = true;  // value = (code - zero_point) * scale
  bool asymmetric = false;

  template <signed_format F>
  quant_params params(const tensor_stats& s) const noexcept {
    constexpr float qmin = F::min_code, qmax = F::max_code, range = qmax - qmin;
    const float lo = std::min(0.0f, s.min), hi = std::max(0.0f, s.max);
    float scale = asymmetric ? (hi - lo) / range : std::max(hi, -lo) / (range / 2);
    const float zp = asymmetric && scale > 0 ? std::nearbyint(qtl::detail::clamp(qmin - lo / scale, qmin, qmax)) : 0.0f;
    if (scale == 0) scale = std::numeric_limits<float>::epsilon();
    return {scale, 1.0f / scale, static_cast<std::int32_t>(zp)};
  }
  template <signed_format F, class Rounding>
  QTL_HOST_DEVICE int quantize(float x, const quant_params& p, const Rounding& round, std::uint64_t index) const noexcept {
    const float v = qtl::detail::clamp(x / p.scale + static_cast<float>(p.zero_point), F::min_code, F::max_code);
    return static_cast<int>(round(v, index));
  }
  template <signed_format F>
  QTL_HOST_DEVICE float dequantize(int code, const quant_params& p) const noexcept {
    return qtl::detail::mid_tread_dequantize<F>(code, p);
  }
#if QTL_HAS_SIMD
  template <signed_format F, class A, class Rounding>
  simd::ints<A> quantize(simd::floats<A> x, const quant_params& p, const Rounding& round, std::uint64_t first) const noexcept {
    using floats = simd::floats<A>;
    const floats v = xsimd::min(xsimd::max(x / floats(p.scale) + floats(static_cast<float>(p.zero_point)),
                                           floats(static_cast<float>(F::min_code))),
                                floats(static_cast<float>(F::max_code)));
    return xsimd::batch_cast<std::int32_t>(simd::round(round, v, first));
  }
  template <signed_format F, class A>
  simd::floats<A> dequantize(simd::ints<A> code, const quant_params& p) const noexcept {
    return qtl::detail::mid_tread_dequantize<F>(code, p);
  }
#endif
};

// B-bit codes (-2^(B-1)..2^(B-1)-1) in groups of a row's consecutive values, as
// compressed-tensors' "group" strategy (a group of the whole row: its "channel" strategy).
template <int Bits>
using int_quantizer = quantizer<int_format<Bits, true>, rtn, per_group<>>;

template <int Bits>
int_quantizer<Bits> make_int_quantizer(std::size_t group, bool asymmetric) {
  return int_quantizer<Bits>(rtn{asymmetric}, per_group<>{group});
}

}  // namespace qtl::compressed_tensors
