#include <catch2/catch_test_macros.hpp>

#include <cmath>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/qat/binary.hpp"

TEST_CASE("binary_connect: sign, or +1 with probability (x + 1) / 2, reproducible per seed", "[qat]") {
  std::vector<float> x = {-2.0f, -0.5f, 0.0f, 0.3f, 1.5f}, y(5);
  qtl::qat::binary_connect deterministic;
  deterministic.forward(qtl::as_matrix(x), qtl::as_matrix(y));
  CHECK(y == std::vector<float>{-1, -1, 1, 1, 1});
  const std::vector<float> w(20000, 0.3f);
  std::vector<float> a(w.size()), b(w.size());
  qtl::qat::binary_connect s1(qtl::qat::binary_connect::mode::stochastic, 5), s2(qtl::qat::binary_connect::mode::stochastic, 5);
  s1.forward(qtl::as_matrix(w), qtl::as_matrix(a));
  s2.forward(qtl::as_matrix(w), qtl::as_matrix(b));
  CHECK(a == b);
  double mean = 0.0;
  for (const float v : a) mean += v / static_cast<double>(a.size());
  CHECK(std::abs(mean - 0.3) < 0.03);
  s1.forward(qtl::as_matrix(w), qtl::as_matrix(b));  // the next call draws afresh
  CHECK(a != b);
  qtl::qat::binary_connect::clip(qtl::as_matrix(x));
  CHECK(x == std::vector<float>{-1.0f, -0.5f, 0.0f, 0.3f, 1.0f});
}

TEST_CASE("abc_net's bases fit better as they grow, and a constant tensor still fits", "[qat]") {
  std::vector<float> w(512), y(512);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::sin(0.7f * static_cast<float>(i)) * 0.1f + 0.01f;
  double previous = 1e30;
  for (const int bases : {1, 2, 3, 5}) {
    qtl::qat::abc_net q(bases);
    q.forward(qtl::as_matrix(w), qtl::as_matrix(y));
    double error = 0.0;
    for (std::size_t i = 0; i < w.size(); ++i) error += (w[i] - y[i]) * (w[i] - y[i]);
    CHECK(error < previous);
    previous = error;
  }
  const std::vector<float> constant(64, 0.25f);
  std::vector<float> out(64);
  qtl::qat::abc_net three(3);
  three.forward(qtl::as_matrix(constant), qtl::as_matrix(out));
  for (const float v : out) CHECK(std::abs(v - 0.25f) < 1e-6f);
  CHECK_THROWS_AS(qtl::qat::abc_net(0), qtl::error);
  CHECK_THROWS_AS(qtl::qat::abc_net(2).backward(qtl::as_matrix(constant), qtl::as_matrix(out)), qtl::error);  // no forward yet
}

TEST_CASE("xnor scales each row by its mean |x|", "[qat]") {
  const std::vector<float> x = {1.0f, -3.0f, 0.5f, -0.5f, 2.0f, 2.0f};
  std::vector<float> y(6);
  qtl::qat::xnor::forward(qtl::matrix_view<const float>(x.data(), 2, 3), qtl::matrix_view<float>(y.data(), 2, 3));
  CHECK(y == std::vector<float>{1.5f, -1.5f, 1.5f, -1.5f, 1.5f, 1.5f});
}
