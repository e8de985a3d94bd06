#include <catch2/catch_test_macros.hpp>

#include <cmath>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/qat/ternary.hpp"

TEST_CASE("twn: threshold 0.7 mean|x| and the mean of what survives it", "[qat]") {
  const std::vector<float> x = {0.1f, -0.1f, 1.0f, -2.0f, 0.4f, 0.0f};  // mean|x| = 0.6, Δ = 0.42
  std::vector<float> y(6);
  qtl::qat::twn q;
  q.forward(qtl::as_matrix(x), qtl::as_matrix(y));
  CHECK(std::abs(q.threshold() - 0.42f) < 1e-6f);
  CHECK(std::abs(q.scale() - 1.5f) < 1e-6f);
  const float a = q.scale();
  CHECK(y == std::vector<float>{0, 0, a, -a, 0, 0});
}

TEST_CASE("ttq's scales descend toward the weights they stand for", "[qat]") {
  std::vector<float> x(256), y(256), dy(256), dx(256);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.31f * static_cast<float>(i)) * (i % 2 ? 0.5f : 1.5f);
  qtl::qat::ttq q(3.0f, 0.1f);
  const auto loss = [&] {
    q.forward(qtl::as_matrix(x), qtl::as_matrix(y));
    float l = 0.0f;
    for (std::size_t i = 0; i < x.size(); ++i) dy[i] = (y[i] - x[i]) / 256.0f, l += 0.5f * (y[i] - x[i]) * (y[i] - x[i]);
    return l;
  };
  const float before = loss();
  auto g = q.backward(qtl::as_matrix(x), qtl::as_matrix(dy), qtl::as_matrix(dx));
  CHECK(g.positive > 0.0f);  // Wp = 3 is too large
  CHECK(g.negative < 0.0f);  // Wn = 0.1 too small
  for (int step = 0; step < 50; ++step) {
    q.set_scales(q.positive() - 2.0f * g.positive, q.negative() - 2.0f * g.negative);
    loss();
    g = q.backward(qtl::as_matrix(x), qtl::as_matrix(dy), qtl::as_matrix(dx));
  }
  CHECK(loss() < 0.5f * before);
  CHECK_THROWS_AS(q.set_scales(0.0f, 1.0f), qtl::error);
  CHECK_THROWS_AS(qtl::qat::ttq(1.0f, 1.0f, 1.5f), qtl::error);
}
