#include <catch2/catch_test_macros.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/qat/inq.hpp"

TEST_CASE("inq freezes the largest weights first, to powers of two, and stops their gradient", "[qat]") {
  std::vector<float> w(100);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = 0.01f * static_cast<float>(i) * (i % 3 ? 1.0f : -1.0f);
  const std::vector<float> original = w;
  qtl::qat::inq q(4);
  CHECK(q.quantize_portion(qtl::as_matrix(w), 0.25) == 25);
  CHECK(q.largest_exponent() == 0);  // max |w| = 0.99: 3/4 <= 0.99 < 3/2
  CHECK(q.smallest_exponent() == -3);
  for (std::size_t i = 0; i < w.size(); ++i) {
    CHECK(static_cast<bool>(q.frozen()[i]) == (i >= 75));
    if (q.frozen()[i]) {
      const float a = std::abs(w[i]);
      CHECK((a == 0.0f || std::exp2(std::round(std::log2(a))) == a));
      CHECK(std::signbit(w[i]) == std::signbit(original[i]));
    } else {
      CHECK(w[i] == original[i]);
    }
  }
  std::vector<float> dy(100, 1.0f), dx(100);
  q.backward(qtl::as_matrix(dy), qtl::as_matrix(dx));
  for (std::size_t i = 0; i < w.size(); ++i) CHECK(dx[i] == (i >= 75 ? 0.0f : 1.0f));
  CHECK(q.quantize_portion(qtl::as_matrix(w), 1.0) == 75);
  CHECK(q.power_of_two(0.05f) == 0.0f);     // below 2^-4
  CHECK(q.power_of_two(0.07f) == 0.125f);   // the smallest level from half of it
  CHECK(q.power_of_two(-0.3f) == -0.25f);
  CHECK(q.power_of_two(0.38f) == 0.5f);     // 3/4 of 0.5
}

TEST_CASE("inq's errors", "[qat]") {
  std::vector<float> w(16, 0.5f);
  qtl::qat::inq q(5);
  CHECK_THROWS_AS(qtl::qat::inq(1), qtl::error);
  CHECK_THROWS_AS(q.quantize_portion(qtl::as_matrix(w), 1.5), qtl::error);
  q.quantize_portion(qtl::as_matrix(w), 0.5);
  CHECK_THROWS_AS(q.quantize_portion(qtl::as_matrix(w), 0.25), qtl::error);  // portions never decrease
  std::vector<float> other(8, 0.5f);
  CHECK_THROWS_AS(q.quantize_portion(qtl::as_matrix(other), 0.75), qtl::error);
  std::vector<float> zeros(4, 0.0f), nan(4, std::numeric_limits<float>::quiet_NaN());
  CHECK_THROWS_AS(qtl::qat::inq(5).quantize_portion(qtl::as_matrix(zeros), 0.5), qtl::error);
  CHECK_THROWS_AS(qtl::qat::inq(5).quantize_portion(qtl::as_matrix(nan), 0.5), qtl::error);
}
