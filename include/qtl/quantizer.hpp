// qtl::quantizer<Format, Scheme, Granularity, Rounding>: composes the four policies into
// the scalar reference path (the oracle every SIMD and CUDA kernel is tested against).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "qtl/core/concepts.hpp"
#include "qtl/core/error.hpp"
#include "qtl/core/nonfinite_policy.hpp"
#include "qtl/core/quant_params.hpp"
#include "qtl/core/tensor_stats.hpp"
#include "qtl/core/view.hpp"
#include "qtl/format/int_format.hpp"
#include "qtl/format/ternary.hpp"
#include "qtl/granularity.hpp"
#include "qtl/observer/accumulate_statistics.hpp"
#include "qtl/quantized_tensor.hpp"
#include "qtl/rounding.hpp"
#include "qtl/scheme.hpp"

namespace qtl {

namespace detail {

// One valid quant_params per group: finite, non-negative scale, zero point among the codes.
inline void check_params(std::span<const quant_params> p, std::size_t groups, int min_code, int max_code) {
  if (p.size() != groups)
    throw error(errc::shape_mismatch, "expected " + std::to_string(groups) + " quant_params (one per group), got " +
                                          std::to_string(p.size()));
  for (std::size_t i = 0; i < p.size(); ++i) {
    const quant_params& q = p[i];
    if (!(q.scale >= 0.0f) || !std::isfinite(q.scale) || !std::isfinite(q.inv_scale) || q.zero_point < min_code ||
        q.zero_point > max_code)
      throw error(errc::invalid_argument, "quant_params of group " + std::to_string(i) + " (scale " +
                                              std::to_string(q.scale) + ", zero point " + std::to_string(q.zero_point) +
                                              ") are invalid for this format");
  }
}

}  // namespace detail

template <format F, scheme<F> S, granularity G, rounding R = nearest_even>
class quantizer {
 public:
  using format_type = F;
  using scheme_type = S;
  using granularity_type = G;
  using rounding_type = R;
  using code_type = typename F::code_type;

  constexpr quantizer() = default;
  constexpr explicit quantizer(S scheme, G granularity = G{}, R round = R{},
                               nonfinite_policy nonfinite = nonfinite_policy::error)
      : scheme_(scheme), granularity_(granularity), round_(round), nonfinite_(nonfinite) {
    // A scheme with run-time state (codebook/lut_codebook.hpp) says whether it fits F.
    if constexpr (requires { scheme_.template check_format<F>(); }) scheme_.template check_format<F>();
  }

  [[nodiscard]] constexpr const S& scheme_policy() const noexcept { return scheme_; }
  [[nodiscard]] constexpr const G& granularity_policy() const noexcept { return granularity_; }
  [[nodiscard]] constexpr const R& rounding_policy() const noexcept { return round_; }
  [[nodiscard]] constexpr nonfinite_policy nonfinite() const noexcept { return nonfinite_; }

  // How this quantizer's groups tile a rows x cols tensor (throws if they do not).
  [[nodiscard]] group_grid grid(std::size_t rows, std::size_t cols) const { return make_grid(granularity_, rows, cols); }

  // Statistics of each group of x, in grid order.
  template <element_tensor X>
  [[nodiscard]] std::vector<tensor_stats> statistics(const X& x) const {
    const auto m = as_matrix(x);
    const group_grid g = grid(m.rows(), m.cols());
    std::vector<tensor_stats> stats(g.size());
    accumulate_statistics(g, m, nonfinite_, std::span<tensor_stats>(stats));
    return stats;
  }

  // Parameters from statistics (one per group), from data, or from an observer.
  [[nodiscard]] std::vector<quant_params> params(std::span<const tensor_stats> stats) const {
    std::vector<quant_params> p;
    p.reserve(stats.size());
    for (const tensor_stats& s : stats) p.push_back(scheme_.template params<F>(s));
    return p;
  }
  template <element_tensor X>
  [[nodiscard]] std::vector<quant_params> params(const X& x) const {
    return params(std::span<const tensor_stats>(statistics(x)));
  }
  template <observer O>
  [[nodiscard]] std::vector<quant_params> params_from(const O& obs) const {
    return params(std::span<const tensor_stats>(obs.stats()));
  }

  // Quantize with parameters computed from x itself.
  template <element_tensor X>
  [[nodiscard]] quantized_tensor<F> quantize(const X& x) const {
    return quantize(x, params(x));
  }

  // Quantize with given parameters (from params(), an observer, or a file).
  template <element_tensor X>
  [[nodiscard]] quantized_tensor<F> quantize(const X& x, std::vector<quant_params> p) const {
    const auto m = as_matrix(x);
    quantized_tensor<F> q{m.rows(), m.cols(), grid(m.rows(), m.cols()), std::vector<code_type>(m.size()), std::move(p)};
    quantize_into(m, q.params, matrix_view<code_type>(q.codes.data(), m.rows(), m.cols()));
    return q;
  }

  // Quantize into a caller's code buffer of x's shape.
  template <element_tensor X, code_tensor Codes>
  void quantize_into(const X& x, std::span<const quant_params> p, Codes&& codes) const {
    transform(x, p, codes, "quantize: input vs codes",
              [&](auto v, std::size_t r, std::size_t c, std::size_t cols, const quant_params& q) {
                return quantize_one(static_cast<float>(v), q, r, c, cols);
              });
  }

  // Dequantize a quantized tensor, or codes with their parameters, into out.
  template <element_tensor Out>
  void dequantize(const quantized_tensor<F>& q, Out&& out) const {
    dequantize(q.code_view(), std::span<const quant_params>(q.params), out);
  }
  template <code_tensor Codes, element_tensor Out>
  void dequantize(const Codes& codes, std::span<const quant_params> p, Out&& out) const {
    transform(codes, p, out, "dequantize: codes vs output",
              [&](auto code, std::size_t r, std::size_t c, std::size_t cols, const quant_params& q) {
                if (code < F::min_code || code > F::max_code)
                  throw error(errc::out_of_range, "dequantize: code " + std::to_string(code) + " at " +
                                                      detail::where(r, c, cols) + " is outside " +
                                                      std::to_string(F::min_code) + ".." + std::to_string(F::max_code));
                return scheme_.template dequantize<F>(static_cast<int>(code), q);
              });
  }

  // Quantize then dequantize, in float, with parameters from x (the QAT forward pass).
  template <element_tensor X, element_tensor Out>
  void fake_quantize(const X& x, Out&& out) const {
    fake_quantize(x, std::span<const quant_params>(params(x)), out);
  }

  // Quantize then dequantize with given parameters; non-finite inputs pass through when
  // the policy is propagate.
  template <element_tensor X, element_tensor Out>
  void fake_quantize(const X& x, std::span<const quant_params> p, Out&& out) const {
    transform(x, p, out, "fake_quantize: input vs output",
              [&](auto value, std::size_t r, std::size_t c, std::size_t cols, const quant_params& q) {
                const float v = static_cast<float>(value);
                return detail::check_finite(v, nonfinite_, r, c, cols)
                           ? scheme_.template dequantize<F>(quantize_one(v, q, r, c, cols), q)
                           : v;
              });
  }

 private:
  int quantize_one(float v, const quant_params& p, std::size_t r, std::size_t c, std::size_t cols) const {
    if (!detail::check_finite(v, nonfinite_, r, c, cols))
      v = std::isnan(v) ? 0.0f : std::copysign(std::numeric_limits<float>::max(), v);
    return scheme_.template quantize<F>(v, p, round_, static_cast<std::uint64_t>(r * cols + c));
  }

  // out(r, c) = step(in(r, c), r, c, cols, params of its group), after checking that the
  // shapes agree and p has one valid entry per group: the walk every entry point shares.
  template <viewable In, viewable Out, class Step>
  void transform(const In& input, std::span<const quant_params> p, Out&& output, const char* what,
                 Step&& step) const {
    const auto in = as_matrix(input);
    const auto out = as_matrix(output);
    require_same_shape(in, out, what);
    const group_grid g = grid(in.rows(), in.cols());
    detail::check_params(p, g.size(), F::min_code, F::max_code);
    using T = view_value_t<Out>;
    g.for_each([&](std::size_t r, std::size_t c, std::size_t group) {
      out(r, c) = static_cast<T>(step(in(r, c), r, c, in.cols(), p[group]));
    });
  }

  [[no_unique_address]] S scheme_{};
  [[no_unique_address]] G granularity_{};
  [[no_unique_address]] R round_{};
  nonfinite_policy nonfinite_ = nonfinite_policy::error;
};

// The common compositions, named.
using int8_per_tensor_symmetric = quantizer<int8, symmetric, per_tensor>;
using int8_per_tensor_affine = quantizer<int8, affine, per_tensor>;
using uint8_per_tensor_affine = quantizer<uint8, affine, per_tensor>;
using int8_per_channel_symmetric = quantizer<int8, symmetric, per_channel<0>>;
using int8_per_channel_affine = quantizer<int8, affine, per_channel<0>>;
using int8_per_token_absmax = quantizer<int8, absmax, per_token>;
template <std::size_t G>
using int4_group_symmetric = quantizer<int4, symmetric, per_group<G>>;
template <std::size_t G>
using int4_group_affine = quantizer<uint4, affine, per_group<G>>;
using int4_g32_symmetric = int4_group_symmetric<32>;
using int4_g64_symmetric = int4_group_symmetric<64>;
using int4_g128_symmetric = int4_group_symmetric<128>;
using int4_g32_affine = int4_group_affine<32>;
using int4_g64_affine = int4_group_affine<64>;
using int4_g128_affine = int4_group_affine<128>;
using ternary_absmean = quantizer<ternary, absmean, per_tensor>;

}  // namespace qtl
