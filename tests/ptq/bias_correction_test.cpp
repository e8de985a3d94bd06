// qtl::ptq bias correction: the corrected bias cancels the quantized layer's mean output
// shift on its calibration inputs; the Gaussian expectations of ReLU and GELU match
// sampling; the analytic input mean of a GELU layer matches the empirical one; bad input.
#include "qtl/ptq/bias_correction.hpp"

#include <catch2/catch_test_macros.hpp>
#include <cmath>
#include <random>
#include <vector>

#include "qtl/format/int_format.hpp"
#include "qtl/quantizer.hpp"
#include "qtl/scheme.hpp"
#include "synthetic_layer.hpp"

using namespace qtl_test;

namespace {

// Mean over tokens of x·(q)ᵀ + bias per output.
std::vector<double> mean_output(const layer& l, const std::vector<float>& w, const std::vector<float>& bias) {
  std::vector<double> out(l.out, 0.0);
  for (std::size_t t = 0; t < l.tokens; ++t)
    for (std::size_t o = 0; o < l.out; ++o) {
      double y = bias.empty() ? 0.0 : bias[o];
      for (std::size_t c = 0; c < l.in; ++c) y += double(l.x[t * l.in + c]) * w[o * l.in + c];
      out[o] += y / static_cast<double>(l.tokens);
    }
  return out;
}

double gelu(double z) { return 0.5 * z * std::erfc(-z / std::sqrt(2.0)); }

}  // namespace

TEST_CASE("corrected bias removes the mean output shift of quantized weights", "[ptq][bias_correction]") {
  layer l = correlated(400, 64, 24, 21);
  for (std::size_t t = 0; t < l.tokens; ++t)
    for (std::size_t c = 0; c < l.in; ++c) l.x[t * l.in + c] += 0.5f + 0.1f * float(c % 7);  // a nonzero mean
  std::vector<float> bias(l.out), q(l.w.size());
  for (std::size_t o = 0; o < l.out; ++o) bias[o] = 0.01f * float(o);
  qtl::quantizer<qtl::int_format<3, true>, qtl::symmetric, qtl::per_channel<0>>().fake_quantize(
      matrix_view<const float>(l.w.data(), l.out, l.in), matrix_view<float>(q.data(), l.out, l.in));
  const auto corrected = qtl::ptq::corrected_bias(matrix_view<const float>(l.w.data(), l.out, l.in),
                                                  matrix_view<const float>(q.data(), l.out, l.in), bias, inputs_of(l));
  const auto exact = mean_output(l, l.w, bias), shifted = mean_output(l, q, bias), fixed = mean_output(l, q, corrected);
  double before = 0.0, after = 0.0;
  for (std::size_t o = 0; o < l.out; ++o) {
    before = std::max(before, std::abs(shifted[o] - exact[o]));
    after = std::max(after, std::abs(fixed[o] - exact[o]));
  }
  CAPTURE(before, after);
  CHECK(before > 1e-3);
  CHECK(after < 1e-5);
}

TEST_CASE("expected ReLU and GELU of a Gaussian match sampling", "[ptq][bias_correction]") {
  std::mt19937 rng(4);
  std::normal_distribution<double> normal;
  for (const double mean : {-1.5, 0.0, 0.7}) {
    for (const double stddev : {0.3, 1.0, 2.5}) {
      double relu = 0.0, g = 0.0;
      constexpr int samples = 200000;
      for (int i = 0; i < samples; ++i) {
        const double z = mean + stddev * normal(rng);
        relu += std::max(z, 0.0) / samples, g += gelu(z) / samples;
      }
      CAPTURE(mean, stddev);
      CHECK(std::abs(qtl::ptq::expected_activation(mean, stddev, qtl::ptq::activation::relu) - relu) < 0.01 * (1 + stddev));
      CHECK(std::abs(qtl::ptq::expected_activation(mean, stddev, qtl::ptq::activation::gelu) - g) < 0.01 * (1 + stddev));
    }
  }
  CHECK(qtl::ptq::expected_activation(0.8, 0.0, qtl::ptq::activation::relu) == 0.8);
  CHECK(qtl::ptq::expected_activation(-0.8, 0.0, qtl::ptq::activation::relu) == 0.0);
  CHECK(std::abs(qtl::ptq::expected_activation(0.8, 0.0, qtl::ptq::activation::gelu) - gelu(0.8)) < 1e-12);
}

TEST_CASE("analytic input mean after a GELU layer matches the measured one", "[ptq][bias_correction]") {
  // y Gaussian with correlated features, z = W·y + b exactly Gaussian: E[GELU(z)] analytic vs measured.
  const std::size_t tokens = 20000, in = 16, hidden = 12;
  std::mt19937 rng(9);
  std::normal_distribution<float> normal;
  std::vector<float> y(tokens * in), w(hidden * in), b(hidden);
  for (auto& v : w) v = 0.3f * normal(rng);
  for (auto& v : b) v = 0.5f * normal(rng);
  for (std::size_t t = 0; t < tokens; ++t) {
    const float shared = normal(rng);
    for (std::size_t c = 0; c < in; ++c) y[t * in + c] = 0.2f * float(c % 3) + 0.8f * shared + normal(rng);
  }
  qtl::ptq::layer_inputs stats(in);
  stats.add(matrix_view<const float>(y.data(), tokens, in));
  const Eigen::VectorXd analytic =
      qtl::ptq::expected_input(matrix_view<const float>(w.data(), hidden, in), b, stats, qtl::ptq::activation::gelu);
  for (std::size_t h = 0; h < hidden; ++h) {
    double measured = 0.0;
    for (std::size_t t = 0; t < tokens; ++t) {
      double z = b[h];
      for (std::size_t c = 0; c < in; ++c) z += double(w[h * in + c]) * y[t * in + c];
      measured += gelu(z) / tokens;
    }
    CAPTURE(h);
    CHECK(std::abs(analytic(static_cast<Eigen::Index>(h)) - measured) < 0.02);
  }
}

TEST_CASE("bias correction refuses bad input", "[ptq][bias_correction]") {
  std::vector<float> w(32, 0.5f), q(32, 0.25f), bias(4, 0.0f);
  const matrix_view<const float> wv(w.data(), 4, 8), qv(q.data(), 4, 8);
  CHECK_THROWS_AS(qtl::ptq::corrected_bias(wv, qv, bias, Eigen::VectorXd::Zero(7)), qtl::error);
  CHECK_THROWS_AS(qtl::ptq::corrected_bias(wv, matrix_view<const float>(q.data(), 8, 4), bias, Eigen::VectorXd::Zero(8)),
                  qtl::error);
  CHECK_THROWS_AS(qtl::ptq::corrected_bias(wv, qv, std::span<const float>(bias.data(), 3), Eigen::VectorXd::Zero(8)),
                  qtl::error);
  CHECK_THROWS_AS(qtl::ptq::corrected_bias(wv, qv, bias, Eigen::VectorXd::Constant(8, NAN)), qtl::error);
  CHECK_THROWS_AS(qtl::ptq::corrected_bias(wv, qv, bias, qtl::ptq::layer_inputs(8)), qtl::error);  // no tokens
  CHECK(qtl::ptq::corrected_bias(wv, qv, {}, Eigen::VectorXd::Ones(8)) == std::vector<float>(4, 2.0f));
  CHECK_THROWS_AS(qtl::ptq::expected_input(wv, bias, qtl::ptq::layer_inputs(6), qtl::ptq::activation::relu), qtl::error);
}
