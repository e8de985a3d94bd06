#include <qtl/metrics.hpp>

#include <catch2/catch_approx.hpp>
#include <catch2/catch_test_macros.hpp>
#include <cmath>
#include <span>
#include <vector>

TEST_CASE("metrics: hand-computed values", "[metrics]") {
  const std::vector<float> x{3.0f, 4.0f, 0.0f, -1.0f};
  const std::vector<float> y{3.0f, 3.0f, 1.0f, -1.0f};
  const std::span<const float> a(x), b(y);
  // errors 0, 1, -1, 0: MSE 2/4, noise 2, signal 26
  REQUIRE(qtl::mse(a, b) == 0.5);
  REQUIRE(qtl::sqnr_db(a, b) == Catch::Approx(10.0 * std::log10(13.0)));
  REQUIRE(qtl::max_abs_error(a, b) == 1.0);
  REQUIRE(qtl::cosine_similarity(a, b) == Catch::Approx(22.0 / (std::sqrt(26.0) * std::sqrt(20.0))));
  REQUIRE(std::isinf(qtl::sqnr_db(a, a)));
  REQUIRE(qtl::cosine_similarity(a, a) == Catch::Approx(1.0));
}

TEST_CASE("metrics: shapes must agree; empty and zero tensors are defined", "[metrics]") {
  const std::vector<float> x(4), y(5);
  REQUIRE_THROWS_AS(qtl::mse(std::span<const float>(x), std::span<const float>(y)), qtl::error);
  REQUIRE(qtl::mse(std::span<const float>(), std::span<const float>()) == 0.0);
  REQUIRE(qtl::cosine_similarity(std::span<const float>(x), std::span<const float>(x)) == 1.0);
}
