#include <catch2/catch_test_macros.hpp>
#include <cfloat>
#include <cmath>
#include <limits>
#include <qtl/metrics.hpp>
#include <qtl/observer/minmax.hpp>
#include <qtl/ptq/linear_reference.hpp>
#include <qtl/ptq/quantized_linear.hpp>
#include <qtl/ptq/smooth_quant.hpp>
#include <vector>

#include "ptq/outlier_data.hpp"

namespace {

using qtl::matrix_view;

// max |x| of every column.
std::vector<float> column_absmax(const ptq_test::matrix& x) {
  qtl::minmax<qtl::per_channel<1>> obs;
  obs.observe(x.view());
  return qtl::ptq::channel_absmax(obs);
}

// Every element of y within k-term float-sum error of the exact x·wᵀ, for both products
// plus the two roundings of x / s and w * s: (2 k + 2) eps sum |x w| (Higham's bound).
void require_same_product(const ptq_test::matrix& y, const std::vector<double>& exact, const ptq_test::matrix& x,
                          const ptq_test::matrix& w) {
  for (std::size_t m = 0; m < y.rows; ++m)
    for (std::size_t n = 0; n < y.cols; ++n) {
      double magnitude = 0.0;
      for (std::size_t k = 0; k < x.cols; ++k) magnitude += std::fabs(static_cast<double>(x(m, k)) * w(n, k));
      REQUIRE(std::fabs(y(m, n) - exact[m * y.cols + n]) <= (2.0 * x.cols + 2.0) * FLT_EPSILON * magnitude);
    }
}

ptq_test::matrix product(const ptq_test::matrix& x, const ptq_test::matrix& w) {
  ptq_test::matrix y{x.rows, w.rows, std::vector<float>(x.rows * w.rows)};
  qtl::ptq::linear_reference(x.view(), w.view(), y.view());
  return y;
}

}  // namespace

TEST_CASE("smoothing_scales: SmoothQuant's formula and clamps", "[ptq]") {
  // Column maxima over both weights: 1, 0.25, 2 and 0 (clamped to 1e-5).
  const std::vector<float> w1{1.0f, -0.25f, 0.5f, 0.0f, 0.5f, 0.125f, -2.0f, 0.0f};  // 2x4
  const std::vector<float> w2{-0.75f, 0.0f, 1.0f, 0.0f};                             // 1x4
  const std::vector<matrix_view<const float>> ws{{w1.data(), 2, 4}, {w2.data(), 1, 4}};
  const std::vector<float> act{4.0f, 1.0f, 0.0f, 9.0f};
  const auto s = qtl::ptq::smoothing_scales(act, ws, 0.5f);
  const std::vector<double> expected{2.0, 2.0, 1e-5 /* 0 clamped */, 3.0 / std::sqrt(1e-5)};
  for (std::size_t j = 0; j < 4; ++j) REQUIRE(std::fabs(s[j] - expected[j]) <= 1e-6 * expected[j]);
  const auto a1 = qtl::ptq::smoothing_scales(act, ws, 1.0f);  // s = max|X|, floored
  REQUIRE(a1 == std::vector<float>{4.0f, 1.0f, 1e-5f, 9.0f});
  const auto a0 = qtl::ptq::smoothing_scales(act, ws, 0.0f);  // s = 1 / max|W|
  REQUIRE(a0[0] == 1.0f);
  REQUIRE(a0[1] == 4.0f);
  REQUIRE(a0[2] == 0.5f);
  REQUIRE(std::fabs(a0[3] - 1e5) <= 1.0);
}

TEST_CASE("smooth_quant: x times W transposed is unchanged by the smoothing scales, within float error", "[ptq]") {
  const auto x = ptq_test::outlier_activations();
  const auto w = ptq_test::small_weights();
  const auto exact = ptq_test::exact_linear(x, w);
  const auto s = qtl::ptq::smoothing_scales(column_absmax(x), w.view());
  auto xs = x;
  auto ws = w;
  qtl::ptq::divide_columns(xs.view(), s);
  qtl::ptq::scale_weight_columns(ws.view(), s);
  require_same_product(product(xs, ws), exact, x, w);
  // The smoothed activations' columns now have max |X_j| = sqrt(max|X_j| max|W_j|).
  const auto after = column_absmax(xs);
  const auto before = column_absmax(x);
  for (std::size_t j : ptq_test::planted_columns) REQUIRE(after[j] < before[j] / 4);
}

TEST_CASE("smooth_quant: folding into a LayerNorm or the previous linear gives the same output", "[ptq]") {
  const std::size_t d = 64, k = 32, n = 16;
  const auto z = ptq_test::normal(8, d, 1.0f, 41);
  auto prev = ptq_test::normal(k, d, 0.3f, 42);  // the linear producing X, with a bias
  std::vector<float> bias(k);
  for (std::size_t j = 0; j < k; ++j) bias[j] = 0.1f * static_cast<float>(j);
  for (std::size_t c = 0; c < d; ++c) prev(7, c) *= 40.0f;  // X channel 7 is an outlier
  const auto w = ptq_test::normal(n, k, 0.05f, 43);
  const auto forward = [&](const ptq_test::matrix& p, const std::vector<float>& b, const ptq_test::matrix& wn) {
    auto x = product(z, p);
    for (std::size_t r = 0; r < x.rows; ++r)
      for (std::size_t j = 0; j < k; ++j) x(r, j) += b[j];
    return std::pair{x, product(x, wn)};
  };
  const auto [x, y] = forward(prev, bias, w);
  const auto s = qtl::ptq::smoothing_scales(column_absmax(x), w.view(), 0.5f);
  auto prev_s = prev;
  auto bias_s = bias;
  auto w_s = w;
  qtl::ptq::fold_into_linear(prev_s.view(), bias_s, s);
  qtl::ptq::scale_weight_columns(w_s.view(), s);
  const auto [x_s, y_s] = forward(prev_s, bias_s, w_s);
  require_same_product(y_s, ptq_test::exact_linear(x, w), x, w);
  for (std::size_t r = 0; r < x.rows; ++r)  // X' = X / s, within both d-term sums' error
    for (std::size_t j = 0; j < k; ++j) {
      double magnitude = std::fabs(bias[j]);
      for (std::size_t c = 0; c < d; ++c) magnitude += std::fabs(static_cast<double>(z(r, c)) * prev(j, c));
      REQUIRE(std::fabs(static_cast<double>(x_s(r, j)) * s[j] - x(r, j)) <= (2.0 * d + 6.0) * FLT_EPSILON * magnitude);
    }

  // LayerNorm producing X from rows of z' (k features): gamma and beta / s give X / s.
  const auto zk = ptq_test::with_outlier_columns(ptq_test::normal(8, k, 1.0f, 44), {3, 17}, 45);
  std::vector<float> gamma(k), beta(k);
  for (std::size_t j = 0; j < k; ++j) {
    gamma[j] = j == 3 || j == 17 ? 30.0f : 1.0f + 0.01f * static_cast<float>(j);  // outlier channels
    beta[j] = 0.05f * static_cast<float>(j);
  }
  const auto layer_norm = [&](const std::vector<float>& g, const std::vector<float>& b) {
    ptq_test::matrix out{zk.rows, k, std::vector<float>(zk.rows * k)};
    for (std::size_t r = 0; r < zk.rows; ++r) {
      double mean = 0.0, var = 0.0;
      for (std::size_t j = 0; j < k; ++j) mean += zk(r, j) / static_cast<double>(k);
      for (std::size_t j = 0; j < k; ++j) var += (zk(r, j) - mean) * (zk(r, j) - mean) / static_cast<double>(k);
      for (std::size_t j = 0; j < k; ++j)
        out(r, j) = static_cast<float>((zk(r, j) - mean) / std::sqrt(var + 1e-5)) * g[j] + b[j];
    }
    return out;
  };
  const auto xn = layer_norm(gamma, beta);
  const auto sn = qtl::ptq::smoothing_scales(column_absmax(xn), w.view(), 0.5f);
  auto gamma_s = gamma;
  auto beta_s = beta;
  qtl::ptq::fold_into_norm(gamma_s, beta_s, sn);
  auto wn = w;
  qtl::ptq::scale_weight_columns(wn.view(), sn);
  const auto xn_s = layer_norm(gamma_s, beta_s);
  require_same_product(product(xn_s, wn), ptq_test::exact_linear(xn, w), xn, w);
  std::vector<float> rms_gamma(k, 2.0f);  // RMSNorm: no beta
  qtl::ptq::fold_into_norm(rms_gamma, {}, sn);
  REQUIRE(rms_gamma[7] == 2.0f / sn[7]);
}

TEST_CASE("smooth_quant: improves the int8 SQNR of the product on outlier data", "[ptq]") {
  const auto x = ptq_test::outlier_activations();
  const auto w = ptq_test::small_weights();
  const auto ref = product(x, w);
  const auto s = qtl::ptq::smoothing_scales(column_absmax(x), w.view());
  auto xs = x;
  auto ws = w;
  qtl::ptq::divide_columns(xs.view(), s);
  qtl::ptq::scale_weight_columns(ws.view(), s);
  for (const auto mode : {qtl::ptq::ptq_mode::static_activations, qtl::ptq::ptq_mode::dynamic_activations}) {
    const auto sqnr = [&](const ptq_test::matrix& xi, const ptq_test::matrix& wi) {
      qtl::ptq::quantized_linear layer(wi.view(), {.mode = mode});
      if (mode == qtl::ptq::ptq_mode::static_activations) layer.calibrate(std::vector{xi.view()});
      ptq_test::matrix y{xi.rows, wi.rows, std::vector<float>(xi.rows * wi.rows)};
      layer.forward(xi.view(), y.view());
      return qtl::sqnr_db(ref.view(), y.view());
    };
    const double plain = sqnr(x, w), smoothed = sqnr(xs, ws);
    REQUIRE(smoothed >= plain + 10.0);  // measured: +17 dB static per tensor, +13.5 dB dynamic per token
  }
}

TEST_CASE("smooth_quant: bad alpha, sizes and values are errors", "[ptq]") {
  const auto w = ptq_test::normal(4, 8, 0.1f, 1);
  const std::vector<float> act(8, 1.0f);
  for (float alpha : {-0.1f, 1.1f, std::numeric_limits<float>::quiet_NaN()})
    REQUIRE_THROWS_AS(qtl::ptq::smoothing_scales(act, w.view(), alpha), qtl::error);
  REQUIRE_THROWS_AS(qtl::ptq::smoothing_scales(std::vector<float>(7, 1.0f), w.view()), qtl::error);
  auto bad = act;
  bad[2] = -1.0f;
  REQUIRE_THROWS_AS(qtl::ptq::smoothing_scales(bad, w.view()), qtl::error);
  bad[2] = std::numeric_limits<float>::infinity();
  REQUIRE_THROWS_AS(qtl::ptq::smoothing_scales(bad, w.view()), qtl::error);
  auto wn = w;
  wn(1, 1) = std::numeric_limits<float>::quiet_NaN();
  REQUIRE_THROWS_AS(qtl::ptq::smoothing_scales(act, wn.view()), qtl::error);
  auto wm = w;
  REQUIRE_THROWS_AS(qtl::ptq::scale_weight_columns(wm.view(), std::vector<float>(7, 1.0f)), qtl::error);
  std::vector<float> gamma(8), beta(7);
  REQUIRE_THROWS_AS(qtl::ptq::fold_into_norm(gamma, beta, act), qtl::error);
  std::vector<float> bias(3);
  REQUIRE_THROWS_AS(qtl::ptq::fold_into_linear(wm.view(), bias, std::vector<float>(4, 1.0f)), qtl::error);
}
