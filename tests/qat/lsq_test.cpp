#include <catch2/catch_test_macros.hpp>

#include <algorithm>
#include <cmath>
#include <utility>
#include <limits>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/qat/lsq.hpp"

namespace {

std::vector<float> ramp(std::size_t n, float scale) {
  std::vector<float> x(n);
  for (std::size_t i = 0; i < n; ++i) x[i] = scale * std::sin(0.37f * static_cast<float>(i) + 0.1f);
  return x;
}

// ½ Σ (y - x)²: the reconstruction loss of fake-quantizing x, and its gradient dy = y - x.
float reconstruction(const qtl::qat::lsq& q, const std::vector<float>& x, std::vector<float>& dy) {
  std::vector<float> y(x.size());
  q.forward(qtl::as_matrix(x), qtl::as_matrix(y));
  float loss = 0.0f;
  for (std::size_t i = 0; i < x.size(); ++i) dy[i] = y[i] - x[i], loss += 0.5f * dy[i] * dy[i];
  return loss;
}

}  // namespace

TEST_CASE("lsq's step moves toward the step that reconstructs best", "[qat]") {
  const std::vector<float> x = ramp(512, 1.0f);
  std::vector<float> dy(x.size()), dx(x.size());
  // Far too small (all clipped) and far too large (all zero), each with a learning rate that suits it.
  for (const auto& [start, rate] : {std::pair{0.01f, 1e-3f}, std::pair{5.0f, 0.5f}}) {
    auto q = qtl::qat::lsq::signed_bits(4, start);
    const float before = reconstruction(q, x, dy);
    const auto g = q.backward(qtl::as_matrix(x), qtl::as_matrix(dy), qtl::as_matrix(dx));
    CHECK((start < 0.1f ? g.step < 0.0f : g.step > 0.0f));
    for (int step = 0; step < 200; ++step) {
      const auto grads = q.backward(qtl::as_matrix(x), qtl::as_matrix(dy), qtl::as_matrix(dx));
      q.set(q.step() - rate * grads.step);
      reconstruction(q, x, dy);
    }
    CHECK(reconstruction(q, x, dy) < 0.5f * before);
  }
}

TEST_CASE("lsq+ initialisations cover the data", "[qat]") {
  std::vector<float> x = ramp(256, 2.0f);
  for (float& v : x) v = v + 1.0f;  // [-1, 3]
  auto q = qtl::qat::lsq::unsigned_bits(4, 1.0f);
  q.initialize_min_max(qtl::as_matrix(x));
  const auto [lo, hi] = std::minmax_element(x.begin(), x.end());
  CHECK(q.offset() == *lo);
  CHECK(std::abs(q.step() - (*hi - *lo) / 15.0f) < 1e-6f);
  std::vector<float> y(x.size());
  q.forward(qtl::as_matrix(x), qtl::as_matrix(y));
  for (std::size_t i = 0; i < x.size(); ++i) CHECK(std::abs(y[i] - x[i]) <= 0.5f * q.step() + 1e-6f);
  auto w = qtl::qat::lsq::signed_bits(4, 1.0f);
  w.initialize_moments(qtl::as_matrix(x));
  CHECK(w.step() > 0.0f);
  CHECK(std::abs(qtl::qat::lsq::initial_step(qtl::as_matrix(x), 7) - 2.0f * 1.0f / std::sqrt(7.0f)) < 0.5f);
}

TEST_CASE("lsq refuses bad steps, empty batches and non-finite gradients", "[qat]") {
  using qtl::qat::lsq;
  CHECK_THROWS_AS(lsq::signed_bits(4, 0.0f), qtl::error);
  CHECK_THROWS_AS(lsq::signed_bits(4, -0.1f), qtl::error);
  CHECK_THROWS_AS(lsq::signed_bits(0, 0.1f), qtl::error);
  CHECK_THROWS_AS(lsq(3, 3, 0.1f), qtl::error);
  auto q = lsq::signed_bits(4, 0.1f);
  CHECK_THROWS_AS(q.set(std::numeric_limits<float>::infinity()), qtl::error);
  CHECK(q.step() == 0.1f);  // a refused update leaves the step as it was
  std::vector<float> x(8, 0.5f), dy(8, 1.0f), dx(8), none;
  CHECK_THROWS_AS(q.forward(qtl::as_matrix(none), qtl::as_matrix(none)), qtl::error);
  CHECK_THROWS_AS(lsq::initial_step(qtl::as_matrix(none), 7), qtl::error);
  dy[3] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_AS(q.backward(qtl::as_matrix(x), qtl::as_matrix(dy), qtl::as_matrix(dx)), qtl::error);
  std::vector<float> short_dx(7);
  CHECK_THROWS_AS(q.backward(qtl::as_matrix(x), qtl::as_matrix(std::vector<float>(8, 1.0f)), qtl::as_matrix(short_dx)), qtl::error);
}
