#include <algorithm>
#include <catch2/catch_test_macros.hpp>
#include <cfloat>
#include <cmath>
#include <limits>
#include <qtl/metrics.hpp>
#include <qtl/observer/minmax.hpp>
#include <qtl/ptq/linear_reference.hpp>
#include <qtl/ptq/quantized_linear.hpp>
#include <qtl/quantizer.hpp>
#include <vector>

#include "ptq/outlier_data.hpp"

namespace {

using qtl::matrix_view;
using qtl::ptq::ptq_config;
using qtl::ptq::ptq_mode;
using qtl::ptq::quantized_linear;

ptq_test::matrix run(const quantized_linear& layer, const ptq_test::matrix& x) {
  ptq_test::matrix y{x.rows, layer.out_features(), std::vector<float>(x.rows * layer.out_features())};
  layer.forward(x.view(), y.view());
  return y;
}

ptq_test::matrix reference(const ptq_test::matrix& x, matrix_view<const float> w) {
  ptq_test::matrix y{x.rows, w.rows(), std::vector<float>(x.rows * w.rows())};
  qtl::ptq::linear_reference(x.view(), w, y.view());
  return y;
}

double sqnr(const ptq_test::matrix& ref, const ptq_test::matrix& y) { return qtl::sqnr_db(ref.view(), y.view()); }

template <class F>
void require_error(qtl::errc code, F&& f) {
  try {
    f();
    FAIL("no error");
  } catch (const qtl::error& e) {
    REQUIRE(e.code() == code);
  }
}

}  // namespace

TEST_CASE("quantized_linear: dynamic per-token beats static per-tensor on tokens of varying scale", "[ptq]") {
  const auto w = ptq_test::small_weights();
  const auto x = ptq_test::with_row_scales(ptq_test::normal(16, 1024, 1.0f, 31), 32);
  const auto ref = reference(x, w.view());
  quantized_linear stat(w.view(), {.mode = ptq_mode::static_activations});
  stat.calibrate(std::vector{x.view()});
  const quantized_linear dyn(w.view(), {.mode = ptq_mode::dynamic_activations});
  const auto ys = run(stat, x), yd = run(dyn, x);
  REQUIRE(sqnr(ref, yd) > sqnr(ref, ys));
  // Per token, the small tokens get their own steps: the worst token gains the most.
  double worst_static = std::numeric_limits<double>::infinity(), worst_dynamic = worst_static;
  for (std::size_t m = 0; m < x.rows; ++m) {
    const auto row = [&](const ptq_test::matrix& y) {
      return matrix_view<const float>(&y.data[m * y.cols], 1, y.cols);
    };
    worst_static = std::min(worst_static, qtl::sqnr_db(row(ref), row(ys)));
    worst_dynamic = std::min(worst_dynamic, qtl::sqnr_db(row(ref), row(yd)));
  }
  REQUIRE(worst_dynamic >= worst_static + 20.0);
}

TEST_CASE("quantized_linear: dynamic per-tensor equals static calibrated on the same input", "[ptq]") {
  const auto w = ptq_test::small_weights();
  const auto x = ptq_test::outlier_activations();
  quantized_linear stat(w.view(), {.mode = ptq_mode::static_activations});
  stat.calibrate(std::vector{x.view()});
  const quantized_linear dyn(
      w.view(), {.mode = ptq_mode::dynamic_activations, .activations = qtl::ptq::activation_scale::per_tensor});
  REQUIRE(run(stat, x).data == run(dyn, x).data);
  REQUIRE(stat.activation_params() == qtl::int8_per_tensor_symmetric{}.params(x.view())[0]);
}

TEST_CASE("quantized_linear: the int8 product equals the float product of the dequantized operands", "[ptq]") {
  const auto w = ptq_test::small_weights();
  const auto x = ptq_test::outlier_activations();
  const quantized_linear layer(w.view(), {});
  const auto y = run(layer, x);
  // The operands it multiplies: x fake-quantized per token, W per output channel.
  ptq_test::matrix xq{x.rows, x.cols, std::vector<float>(x.data.size())};
  qtl::quantizer<qtl::int8, qtl::symmetric, qtl::per_token>{}.fake_quantize(x.view(), xq.view());
  ptq_test::matrix wq{w.rows, w.cols, std::vector<float>(w.data.size())};
  qtl::int8_per_channel_symmetric{}.fake_quantize(w.view(), wq.view());
  REQUIRE(std::vector<float>(layer.dequantized_weights().data(), layer.dequantized_weights().data() + w.data.size()) ==
          wq.data);
  const auto exact = ptq_test::exact_linear(xq, wq);
  for (std::size_t m = 0; m < x.rows; ++m)
    for (std::size_t n = 0; n < w.rows; ++n) {
      // int32 sum exact; then acc * (sx * sw): 3 roundings, plus one per operand's dequantization
      double magnitude = 0.0;
      for (std::size_t k = 0; k < x.cols; ++k) magnitude += std::fabs(double(xq(m, k)) * wq(n, k));
      REQUIRE(std::fabs(y(m, n) - exact[m * w.rows + n]) <= 6 * FLT_EPSILON * magnitude);
    }
}

TEST_CASE("quantized_linear: weight-only forward takes any token count and strided views", "[ptq]") {
  const auto w = ptq_test::small_weights();
  const auto x = ptq_test::normal(19, w.cols, 1.0f, 7);  // two full passes of 8 tokens and a tail of 3
  const quantized_linear layer(w.view(), {.mode = ptq_mode::weight_only, .weight_bits = 4, .weight_group = 64});
  const auto y = run(layer, x);
  const std::size_t xs = w.cols + 3, ys = w.rows + 2;
  std::vector<float> xp(x.rows * xs, std::nanf("")), yp(x.rows * ys, -1.0f);
  for (std::size_t m = 0; m < x.rows; ++m) std::copy_n(&x.data[m * x.cols], x.cols, &xp[m * xs]);
  layer.forward(matrix_view<const float>(xp.data(), x.rows, w.cols, xs), matrix_view<float>(yp.data(), x.rows, w.rows, ys));
  for (std::size_t m = 0; m < x.rows; ++m) {
    for (std::size_t n = 0; n < w.rows; ++n) REQUIRE(yp[m * ys + n] == y(m, n));
    REQUIRE(yp[m * ys + w.rows] == -1.0f);  // the padding between rows is not written
    REQUIRE(yp[m * ys + w.rows + 1] == -1.0f);
  }
  // each token's row is the same as alone, up to the float sums' order
  const auto one = run(layer, ptq_test::matrix{1, x.cols, std::vector<float>(x.data.end() - x.cols, x.data.end())});
  for (std::size_t n = 0; n < w.rows; ++n)
    REQUIRE(std::fabs(one(0, n) - y(x.rows - 1, n)) <= 1e-4f * (1.0f + std::fabs(one(0, n))));
}

TEST_CASE("quantized_linear: weight-only error is the weight quantization's alone", "[ptq]") {
  const auto w = ptq_test::small_weights();
  const auto x = ptq_test::outlier_activations();
  const auto ref = reference(x, w.view());
  double previous = std::numeric_limits<double>::infinity();
  for (const auto& [bits, group] :
       {std::pair{8, std::size_t{0}}, std::pair{4, std::size_t{32}}, std::pair{4, std::size_t{0}}}) {
    const quantized_linear layer(w.view(), {.mode = ptq_mode::weight_only, .weight_bits = bits, .weight_group = group});
    ptq_test::matrix wq{w.rows, w.cols, std::vector<float>(w.data.size())};
    if (bits == 8)
      qtl::int8_per_channel_symmetric{}.fake_quantize(w.view(), wq.view());
    else if (group == 32)
      qtl::int4_g32_symmetric{}.fake_quantize(w.view(), wq.view());
    else
      qtl::quantizer<qtl::int4, qtl::symmetric, qtl::per_channel<0>>{}.fake_quantize(w.view(), wq.view());
    // The weights the layer multiplies by are the quantizer's, bit for bit.
    const auto dq = layer.dequantized_weights();
    for (std::size_t n = 0; n < w.rows; ++n)
      for (std::size_t k = 0; k < w.cols; ++k) REQUIRE(dq(n, k) == wq(n, k));
    // x exact, only W quantized: y is x·Wqᵀ up to float sums. The composed GEMV adds the
    // stored bits (code + 2^(bits-1), below 2^bits) times x per group, then takes the zero
    // point's term away: its sums run over magnitudes up to (|code| + 2^bits) x scale.
    const auto y = run(layer, x);
    const auto exact = ptq_test::exact_linear(x, wq);
    const float max_code = bits == 8 ? 127.0f : 7.0f;
    for (std::size_t n = 0; n < w.rows; ++n) {
      float row_max = 0.0f;  // max_code x the largest scale of the row
      for (std::size_t k = 0; k < w.cols; ++k) row_max = std::max(row_max, std::fabs(wq(n, k)));
      const double bias = std::ldexp(1.0, bits) * row_max / max_code * (1 + 1e-6);
      for (std::size_t m = 0; m < x.rows; ++m) {
        double magnitude = 0.0;
        for (std::size_t k = 0; k < x.cols; ++k) magnitude += (std::fabs(wq(n, k)) + bias) * std::fabs(x(m, k));
        REQUIRE(std::fabs(y(m, n) - exact[m * w.rows + n]) <= (x.cols + 4) * FLT_EPSILON * magnitude);
      }
    }
    // and its error is x·(Wq - W)ᵀ
    ptq_test::matrix dw = wq;
    for (std::size_t i = 0; i < dw.data.size(); ++i) dw.data[i] -= w.data[i];
    const auto err = ptq_test::exact_linear(x, dw);
    double num = 0.0, den = 0.0;
    for (std::size_t i = 0; i < y.data.size(); ++i) {
      const double d = (static_cast<double>(y.data[i]) - ref.data[i]) - err[i];
      num += d * d;
      den += err[i] * err[i];
    }
    REQUIRE(std::sqrt(num / den) < 1e-3);
    const double s = sqnr(ref, y);
    REQUIRE(s < previous);  // int8 > int4 g32 > int4 per channel
    previous = s;
  }
}

TEST_CASE("quantized_linear: the clip ratio narrows the calibrated and the dynamic range", "[ptq]") {
  const auto w = ptq_test::small_weights();
  const auto x = ptq_test::outlier_activations();
  quantized_linear full(w.view(), {.mode = ptq_mode::static_activations});
  quantized_linear half(w.view(), {.mode = ptq_mode::static_activations, .clip_ratio = 0.5f});
  full.calibrate(std::vector{x.view()});
  half.calibrate(std::vector{x.view()});
  REQUIRE(half.activation_params()->scale == full.activation_params()->scale * 0.5f);
  // dynamic with clip 0.5 equals static with the same params on that input
  const quantized_linear dyn(w.view(), {.mode = ptq_mode::dynamic_activations,
                                        .activations = qtl::ptq::activation_scale::per_tensor,
                                        .clip_ratio = 0.5f});
  REQUIRE(run(dyn, x).data == run(half, x).data);
  const qtl::quant_params p = qtl::ptq::clipped(*full.activation_params(), 0.25f);
  REQUIRE(p.scale == full.activation_params()->scale * 0.25f);
  REQUIRE(p.inv_scale == 1.0f / p.scale);
  for (float bad : {0.0f, -0.5f, 1.5f, std::numeric_limits<float>::quiet_NaN()}) {
    require_error(qtl::errc::invalid_argument, [&] { quantized_linear(w.view(), {.clip_ratio = bad}); });
    require_error(qtl::errc::invalid_argument, [&] { (void)qtl::ptq::clipped(p, bad); });
  }
}

TEST_CASE("quantized_linear: bad configurations and inputs are errors", "[ptq]") {
  const auto w = ptq_test::normal(8, 16, 0.1f, 1);
  auto x = ptq_test::normal(2, 16, 1.0f, 2);
  std::vector<float> y(2 * 8);
  const matrix_view<float> yv(y.data(), 2, 8);
  require_error(qtl::errc::unsupported, [&] { quantized_linear(w.view(), {.weight_bits = 3}); });
  require_error(qtl::errc::unsupported, [&] { quantized_linear(w.view(), {.weight_bits = 4}); });
  require_error(qtl::errc::unsupported, [&] { quantized_linear(w.view(), {.weight_group = 8}); });
  require_error(qtl::errc::group_size, [&] {
    quantized_linear(w.view(), {.mode = ptq_mode::weight_only, .weight_bits = 4, .weight_group = 5});
  });
  quantized_linear stat(w.view(), {.mode = ptq_mode::static_activations});
  require_error(qtl::errc::invalid_argument, [&] { stat.forward(x.view(), yv); });  // not calibrated
  require_error(qtl::errc::invalid_argument, [&] { stat.calibrate(std::vector<matrix_view<const float>>{}); });
  require_error(qtl::errc::shape_mismatch,
                [&] { stat.calibrate(std::vector{x.view()}, qtl::minmax<qtl::per_token>{}); });
  stat.calibrate(std::vector{x.view()});
  require_error(qtl::errc::shape_mismatch, [&] { stat.forward(x.view(), matrix_view<float>(y.data(), 2, 7)); });
  require_error(qtl::errc::shape_mismatch, [&] { stat.forward(w.view(), yv); });
  x(1, 3) = std::numeric_limits<float>::quiet_NaN();
  const quantized_linear dyn(w.view());
  require_error(qtl::errc::non_finite, [&] { dyn.forward(x.view(), yv); });
  require_error(qtl::errc::non_finite, [&] { stat.calibrate(std::vector{x.view()}); });
}
