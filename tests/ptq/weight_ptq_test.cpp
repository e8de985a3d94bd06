// qtl::ptq::quantize_weights: each method's weights and errors as the algorithm alone
// gives them; the low-rank and bias corrections lower the error, and the reported error
// equals the output error measured directly (with the bias shift); AdaRound refuses a
// codebook format.
#include "qtl/ptq/weight_ptq.hpp"

#include <catch2/catch_test_macros.hpp>
#include <cmath>
#include <vector>

#include "qtl/format/int_format.hpp"
#include "qtl/format/nf4.hpp"
#include "qtl/scheme.hpp"
#include "synthetic_layer.hpp"

using namespace qtl_test;
using qtl::ptq::weight_method;

namespace {

// Mean over tokens of |x·(W - Ŵ)ᵀ - shift|².
double direct_error(const layer& l, const qtl::ptq::quantized_weights& q) {
  double sum = 0.0;
  for (std::size_t t = 0; t < l.tokens; ++t)
    for (std::size_t o = 0; o < l.out; ++o) {
      double y = q.bias_shift.empty() ? 0.0 : -double(q.bias_shift[o]);
      for (std::size_t c = 0; c < l.in; ++c)
        y += double(l.x[t * l.in + c]) * (double(l.w[o * l.in + c]) - q.weights[o * l.in + c]);
      sum += y * y;
    }
  return sum / static_cast<double>(l.tokens);
}

}  // namespace

TEST_CASE("quantize_weights runs each method and reports its errors", "[ptq][weight_ptq]") {
  layer l = correlated(384, 64, 24, 31);
  for (auto& v : l.x) v += 0.3f;  // a mean for bias correction to remove
  const auto in = inputs_of(l);
  const matrix_view<const float> w(l.w.data(), l.out, l.in);
  const auto rtn = qtl::ptq::quantize_weights<qtl::int4>(w, in, {.method = weight_method::rtn, .group_size = 32}, qtl::symmetric{});
  CHECK(rtn.error == rtn.rtn_error);
  CHECK(std::abs(direct_error(l, rtn) - rtn.error) <= 1e-6 * rtn.error);
  const auto g = qtl::ptq::gptq<qtl::int4>(w, in.hessian(), {.group_size = 32, .act_order = true}, qtl::symmetric{});
  const auto gptq = qtl::ptq::quantize_weights<qtl::int4>(w, in, {.method = weight_method::gptq, .group_size = 32}, qtl::symmetric{});
  CHECK(gptq.weights == g.dequantized);
  CHECK(gptq.rtn_error == rtn.rtn_error);
  for (const auto method : {weight_method::gptq, weight_method::awq, weight_method::adaround}) {
    const auto q = qtl::ptq::quantize_weights<qtl::int4>(w, in, {.method = method, .group_size = 32}, qtl::symmetric{});
    CAPTURE(qtl::ptq::name(method), q.error, q.rtn_error, q.note);
    CHECK(q.error < q.rtn_error);
    CHECK(std::abs(direct_error(l, q) - q.error) <= 1e-4 * q.error);
    // The codes and parameters to store give back the weights the layer computes with.
    REQUIRE(q.codes.size() == w.size());
    REQUIRE(q.params.size() == l.out * q.groups);
    std::size_t mismatched = 0;
    for (std::size_t o = 0; o < l.out; ++o)
      for (std::size_t c = 0; c < l.in; ++c) {
        float v = qtl::symmetric{}.dequantize<qtl::int4>(q.codes[o * l.in + c], q.params[o * q.groups + q.group_of[c]]);
        if (!q.input_scales.empty()) v /= q.input_scales[c];
        mismatched += v != q.weights[o * l.in + c];
      }
    CHECK(mismatched == 0);
  }
  CHECK(rtn.codes.size() == w.size());
  CHECK(rtn.group_of[33] == 1);
  const auto corrected = qtl::ptq::quantize_weights<qtl::int4>(
      w, in, {.method = weight_method::rtn, .group_size = 32, .low_rank = 8, .bias_correction = true}, qtl::symmetric{});
  CAPTURE(corrected.error, corrected.method_error);
  CHECK(corrected.bias_shift.size() == l.out);
  CHECK(corrected.method_error == rtn.error);
  CHECK(corrected.error < 0.8 * rtn.error);
  CHECK(std::abs(direct_error(l, corrected) - corrected.error) <= 1e-4 * corrected.error);
}

TEST_CASE("quantize_weights' AWQ with its scales fixed at 1 stores codes of W itself", "[ptq][weight_ptq]") {
  const layer l = correlated(256, 64, 8, 33);
  const auto in = inputs_of(l);
  const matrix_view<const float> w(l.w.data(), l.out, l.in);
  qtl::ptq::weight_ptq_config cfg{.method = weight_method::awq, .group_size = 32};
  cfg.awq.search_scales = false;
  const auto q = qtl::ptq::quantize_weights<qtl::int4>(w, in, cfg, qtl::symmetric{});
  CHECK(q.input_scales.empty());
  CHECK(q.note == "alpha 0.000000");
  CHECK(q.error < q.rtn_error);  // the clipping alone
}

TEST_CASE("quantize_weights refuses AdaRound on a codebook format and mismatched inputs", "[ptq][weight_ptq]") {
  const layer l = correlated(128, 64, 8, 32);
  const auto in = inputs_of(l);
  const matrix_view<const float> w(l.w.data(), l.out, l.in);
  CHECK_THROWS_AS(qtl::ptq::quantize_weights<qtl::nf4>(w, in, {.method = weight_method::adaround, .group_size = 64}, qtl::codebook{}),
                  qtl::error);
  CHECK(qtl::ptq::quantize_weights<qtl::nf4>(w, in, {.method = weight_method::gptq, .group_size = 64}, qtl::codebook{}).error > 0.0);
  CHECK_THROWS_AS(qtl::ptq::quantize_weights<qtl::int4>(w, qtl::ptq::layer_inputs(32), {}, qtl::symmetric{}), qtl::error);
}
