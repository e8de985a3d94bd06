// Properties every composition of the four policies must have, checked over the product
// formats x schemes x granularities x roundings (pairs the scheme concept rejects are
// left out). Shared by the quantizer_properties_*_test.cpp files, which split the
// product to compile in parallel.
#pragma once

#include <qtl/quantizer.hpp>

#include "policy_product.hpp"

#include <catch2/catch_tostring.hpp>
#include <cmath>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

namespace qtl_test {

using schemes = std::tuple<qtl::symmetric, qtl::affine, qtl::absmax, qtl::absmean, qtl::mid_rise, qtl::dead_zone>;
// per_channel<0> tiles like per_group<cols>; ceil and toward_zero share floor's bound and
// nearest_away nearest_even's: rounding_test.cpp covers those alone.
using granularities = std::tuple<qtl::per_tensor, qtl::per_channel<1>, qtl::per_group<16>>;
using roundings = std::tuple<qtl::nearest_even, qtl::floor, qtl::stochastic<>>;

template <class... Formats>
using quantizers_over = typename product<std::tuple<Formats...>, schemes, granularities, roundings>::type;

inline constexpr std::size_t rows = 6, cols = 64;

// Normal data with an outlier, a signed zero and a row of exact ties.
std::vector<float> sample();

// What one composition did to the sample, in plain vectors: the template part stays
// small and the checks below are compiled once.
struct outcome {
  std::string name;
  bool nearest = false;        // nearest rounding: error <= scale / 2, else < scale
  float dead_zone = 0.0f;      // threshold in steps, 0 for none
  bool has_zero_code = true;   // mid-rise has no level at 0
  std::vector<float> x, back, fake, again, scale, lo, hi;
  std::vector<int> codes, min_code, max_code;
  std::size_t groups = 0, expected_groups = 0;
  std::vector<int> zero_codes;
  std::vector<float> zero_back, zero_scale;
  bool empty_ok = false;
};

template <class Q>
outcome run() {
  using F = typename Q::format_type;
  using S = typename Q::scheme_type;
  using R = typename Q::rounding_type;
  const Q q;
  const S scheme;
  outcome o;
  o.name = Catch::Detail::stringify(F::bits) + "-bit " + typeid(Q).name();
  o.nearest = std::is_same_v<R, qtl::nearest_even> || std::is_same_v<R, qtl::nearest_away>;
  if constexpr (std::is_same_v<S, qtl::dead_zone>) o.dead_zone = scheme.threshold;
  o.has_zero_code = !std::is_same_v<S, qtl::mid_rise>;
  o.x = sample();
  const qtl::matrix_view<const float> x(o.x.data(), rows, cols);
  const auto t = q.quantize(x);
  o.groups = t.params.size();
  o.expected_groups = q.grid(rows, cols).size();
  o.back.resize(o.x.size());
  q.dequantize(t, qtl::matrix_view<float>(o.back.data(), rows, cols));
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) {
      const qtl::quant_params& p = t.params_at(r, c);
      o.codes.push_back(t.code(r, c));
      o.min_code.push_back(F::min_code);
      o.max_code.push_back(F::max_code);
      o.scale.push_back(p.scale);
      o.lo.push_back(scheme.template dequantize<F>(F::min_code, p));
      o.hi.push_back(scheme.template dequantize<F>(F::max_code, p));
    }
  o.fake.resize(o.x.size());
  q.fake_quantize(x, qtl::matrix_view<float>(o.fake.data(), rows, cols));
  o.again.resize(o.x.size());
  q.fake_quantize(qtl::matrix_view<const float>(o.fake.data(), rows, cols), std::span<const qtl::quant_params>(t.params),
                  qtl::matrix_view<float>(o.again.data(), rows, cols));

  const std::vector<float> zeros(rows * cols, 0.0f);
  const auto z = q.quantize(qtl::matrix_view<const float>(zeros.data(), rows, cols));
  o.zero_codes.assign(z.codes.begin(), z.codes.end());
  for (const auto& p : z.params) o.zero_scale.push_back(p.scale);
  o.zero_back.assign(zeros.size(), 1.0f);
  q.dequantize(z, qtl::matrix_view<float>(o.zero_back.data(), rows, cols));

  const auto e = q.quantize(qtl::matrix_view<const float>(nullptr, 0, 0));
  q.dequantize(e, qtl::matrix_view<float>(nullptr, 0, 0));
  o.empty_ok = e.codes.empty() && e.params.empty();
  return o;
}

// Asserts every property on one outcome.
void check(const outcome& o);

}  // namespace qtl_test
