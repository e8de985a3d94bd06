// qtl::ptq::equalize: a ReLU pair computes the same function after equalization (a GELU
// pair does not), both
// layers' channel ranges become equal, per-tensor quantization of the pair loses less,
// a dead channel is left alone, bad input.
#include "qtl/ptq/cross_layer_equalization.hpp"

#include <catch2/catch_test_macros.hpp>
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "qtl/format/int_format.hpp"
#include "qtl/quantizer.hpp"
#include "qtl/scheme.hpp"

namespace {

using qtl::matrix_view;

struct pair {
  std::size_t in = 24, hidden = 32, out = 16;
  std::vector<float> w1, b1, w2;
};

// Hidden channels whose scales span two decades, as after batch-norm folding.
pair unbalanced(unsigned seed) {
  pair p;
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  p.w1.resize(p.hidden * p.in), p.b1.resize(p.hidden), p.w2.resize(p.out * p.hidden);
  for (std::size_t h = 0; h < p.hidden; ++h) {
    const float scale = std::pow(10.0f, -1.0f + 2.0f * float(h) / float(p.hidden - 1));
    for (std::size_t c = 0; c < p.in; ++c) p.w1[h * p.in + c] = scale * normal(rng);
    p.b1[h] = scale * 0.1f * normal(rng);
  }
  for (auto& v : p.w2) v = 0.2f * normal(rng);
  return p;
}

double relu(double z) { return std::max(z, 0.0); }
double gelu(double z) { return 0.5 * z * (1.0 + std::erf(z / std::sqrt(2.0))); }

// y = W2·act(W1·x + b1) for each row of x.
std::vector<double> forward(const pair& p, const std::vector<float>& w1, const std::vector<float>& b1,
                            const std::vector<float>& w2, const std::vector<float>& x, double (*act)(double) = relu) {
  const std::size_t tokens = x.size() / p.in;
  std::vector<double> y(tokens * p.out, 0.0), a(p.hidden);
  for (std::size_t t = 0; t < tokens; ++t) {
    for (std::size_t h = 0; h < p.hidden; ++h) {
      double z = b1[h];
      for (std::size_t c = 0; c < p.in; ++c) z += double(w1[h * p.in + c]) * x[t * p.in + c];
      a[h] = act(z);
    }
    for (std::size_t o = 0; o < p.out; ++o)
      for (std::size_t h = 0; h < p.hidden; ++h) y[t * p.out + o] += double(w2[o * p.hidden + h]) * a[h];
  }
  return y;
}

std::vector<float> per_tensor_int8(const std::vector<float>& w, std::size_t rows, std::size_t cols) {
  std::vector<float> q(w.size());
  qtl::quantizer<qtl::int8, qtl::symmetric, qtl::per_tensor>().fake_quantize(matrix_view<const float>(w.data(), rows, cols),
                                                                               matrix_view<float>(q.data(), rows, cols));
  return q;
}

double squared_distance(const std::vector<double>& a, const std::vector<double>& b) {
  double sum = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) sum += (a[i] - b[i]) * (a[i] - b[i]);
  return sum;
}

}  // namespace

TEST_CASE("cross-layer equalization keeps a ReLU pair's function and equalizes the ranges", "[ptq][cle]") {
  const pair p = unbalanced(2);
  std::mt19937 rng(8);
  std::normal_distribution<float> normal;
  std::vector<float> x(200 * p.in);
  for (auto& v : x) v = normal(rng);
  pair e = p;
  const auto s = qtl::ptq::equalize(matrix_view<float>(e.w1.data(), p.hidden, p.in), e.b1,
                                    matrix_view<float>(e.w2.data(), p.out, p.hidden));
  REQUIRE(s.size() == p.hidden);
  const auto before = forward(p, p.w1, p.b1, p.w2, x), after = forward(p, e.w1, e.b1, e.w2, x);
  for (std::size_t i = 0; i < before.size(); ++i) REQUIRE(std::abs(after[i] - before[i]) <= 1e-5 * (1.0 + std::abs(before[i])));
  for (std::size_t h = 0; h < p.hidden; ++h) {
    float r1 = 0.0f, r2 = 0.0f;
    for (std::size_t c = 0; c < p.in; ++c) r1 = std::max(r1, std::abs(e.w1[h * p.in + c]));
    for (std::size_t o = 0; o < p.out; ++o) r2 = std::max(r2, std::abs(e.w2[o * p.hidden + h]));
    REQUIRE(std::abs(r1 - r2) <= 1e-5f * r1);
  }
  // Per-tensor int8 of both layers: the equalized pair's output error is smaller.
  const auto q_before = forward(p, per_tensor_int8(p.w1, p.hidden, p.in), p.b1, per_tensor_int8(p.w2, p.out, p.hidden), x);
  const auto q_after = forward(p, per_tensor_int8(e.w1, p.hidden, p.in), e.b1, per_tensor_int8(e.w2, p.out, p.hidden), x);
  CAPTURE(squared_distance(q_before, before), squared_distance(q_after, before));
  CHECK(squared_distance(q_after, before) < 0.5 * squared_distance(q_before, before));
  // GELU is not positively homogeneous: the same equalization changes a GELU pair's
  // function in float, by far more than rounding (the caveat in docs/ptq.md).
  const auto gelu_before = forward(p, p.w1, p.b1, p.w2, x, gelu), gelu_after = forward(p, e.w1, e.b1, e.w2, x, gelu);
  double worst = 0.0;
  for (std::size_t i = 0; i < gelu_before.size(); ++i)
    worst = std::max(worst, std::abs(gelu_after[i] - gelu_before[i]) / (1.0 + std::abs(gelu_before[i])));
  CAPTURE(worst);
  CHECK(worst > 1e-3);
}

TEST_CASE("cross-layer equalization leaves dead channels and refuses bad input", "[ptq][cle]") {
  pair p = unbalanced(3);
  for (std::size_t c = 0; c < p.in; ++c) p.w1[5 * p.in + c] = 0.0f;
  const auto s = qtl::ptq::equalize(matrix_view<float>(p.w1.data(), p.hidden, p.in), p.b1,
                                    matrix_view<float>(p.w2.data(), p.out, p.hidden));
  CHECK(s[5] == 1.0f);
  CHECK_THROWS_AS(qtl::ptq::equalize(matrix_view<float>(p.w1.data(), p.hidden, p.in), p.b1,
                                     matrix_view<float>(p.w2.data(), p.hidden, p.out)),
                  qtl::error);
  CHECK_THROWS_AS(qtl::ptq::equalize(matrix_view<float>(p.w1.data(), p.hidden, p.in), std::span<float>(p.b1.data(), 3),
                                     matrix_view<float>(p.w2.data(), p.out, p.hidden)),
                  qtl::error);
  p.w2[7] = NAN;
  CHECK_THROWS_AS(qtl::ptq::equalize(matrix_view<float>(p.w1.data(), p.hidden, p.in), p.b1,
                                     matrix_view<float>(p.w2.data(), p.out, p.hidden)),
                  qtl::error);
}
