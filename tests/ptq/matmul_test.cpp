#include <catch2/catch_test_macros.hpp>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <qtl/ptq/linear_reference.hpp>
#include <qtl/ptq/matmul.hpp>
#include <random>
#include <vector>

#include "ptq/outlier_data.hpp"

TEST_CASE("linear_reference: x times w transposed, within float accumulation error", "[ptq]") {
  const auto x = ptq_test::normal(5, 37, 1.0f, 1);
  const auto w = ptq_test::normal(7, 37, 0.5f, 2);
  std::vector<float> y(5 * 7);
  qtl::ptq::linear_reference(x.view(), w.view(), qtl::matrix_view<float>(y.data(), 5, 7));
  const auto exact = ptq_test::exact_linear(x, w);
  for (std::size_t m = 0; m < 5; ++m)
    for (std::size_t n = 0; n < 7; ++n) {
      double magnitude = 0.0;  // |error| <= k * eps * sum |x w| for any summation order
      for (std::size_t k = 0; k < 37; ++k) magnitude += std::fabs(static_cast<double>(x(m, k)) * w(n, k));
      REQUIRE(std::fabs(y[m * 7 + n] - exact[m * 7 + n]) <= 37 * FLT_EPSILON * magnitude);
    }
}

TEST_CASE("linear_reference: strided views are read by their row stride", "[ptq]") {
  const std::vector<float> x{1, 2, 99, 3, 4, 99};  // 2x2 with row stride 3
  const std::vector<float> w{1, 0, 0, 1, 1, 1};    // 3x2
  std::vector<float> y(6);
  qtl::ptq::linear_reference(qtl::matrix_view<const float>(x.data(), 2, 2, 3),
                             qtl::matrix_view<const float>(w.data(), 3, 2), qtl::matrix_view<float>(y.data(), 2, 3));
  REQUIRE(y == std::vector<float>{1, 2, 3, 3, 4, 7});
}

TEST_CASE("matmul_s8: int32 sums equal the exact integer products", "[ptq]") {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> code(-128, 127);
  const std::size_t m = 7, n = 4, k = 1000;  // a block of four tokens and three alone
  std::vector<std::int8_t> a(m * k), b(n * k);
  for (auto& v : a) v = static_cast<std::int8_t>(code(rng));
  for (auto& v : b) v = static_cast<std::int8_t>(code(rng));
  a[0] = -128;
  b[0] = -128;
  std::vector<std::int32_t> acc(m * n);
  qtl::ptq::matmul_s8({a.data(), m, k}, {b.data(), n, k}, {acc.data(), m, n});
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      long long s = 0;
      for (std::size_t t = 0; t < k; ++t) s += static_cast<long long>(a[i * k + t]) * b[j * k + t];
      REQUIRE(acc[i * n + j] == s);
    }
}

TEST_CASE("matmul_s8: shape mismatches and reductions that could overflow are errors", "[ptq]") {
  std::vector<std::int8_t> a(2 * 3), b(2 * 4);
  std::vector<std::int32_t> acc(4);
  REQUIRE_THROWS_AS(qtl::ptq::matmul_s8({a.data(), 2, 3}, {b.data(), 2, 4}, {acc.data(), 2, 2}), qtl::error);
  const std::size_t k = qtl::ptq::max_int8_reduction + 1;
  std::vector<std::int8_t> big(k);
  std::int32_t one = 0;
  try {
    qtl::ptq::matmul_s8({big.data(), 1, k}, {big.data(), 1, k}, {&one, 1, 1});
    FAIL("no error");
  } catch (const qtl::error& e) {
    REQUIRE(e.code() == qtl::errc::invalid_argument);
  }
}

TEST_CASE("rescale_accumulators: acc times row scale times column scale times factor", "[ptq]") {
  const std::vector<std::int32_t> acc{2, -3, 5, 7};
  const std::vector<float> rows{0.5f, 2.0f}, cols{1.0f, 4.0f};
  std::vector<float> y(4);
  qtl::ptq::rescale_accumulators({acc.data(), 2, 2}, rows, cols, 0.25f, {y.data(), 2, 2});
  REQUIRE(y == std::vector<float>{0.25f, -1.5f, 2.5f, 14.0f});
  REQUIRE_THROWS_AS(
      qtl::ptq::rescale_accumulators({acc.data(), 2, 2}, cols, std::vector<float>(3), 1.0f, {y.data(), 2, 2}),
      qtl::error);
}
