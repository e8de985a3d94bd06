#include <catch2/catch_test_macros.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/qat/dorefa.hpp"

TEST_CASE("dorefa weights take 2^k values from -1 to 1", "[qat]") {
  std::vector<float> x(300), y(300);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.13f * static_cast<float>(i)) * 2.0f;
  qtl::qat::dorefa_weights(2).forward(qtl::as_matrix(x), qtl::as_matrix(y));
  for (const float v : y) {
    const float level = (v + 1.0f) * 1.5f;  // 2 bits: -1, -1/3, 1/3, 1
    CHECK(std::abs(level - std::round(level)) < 1e-5f);
    CHECK(std::abs(v) <= 1.0f);
  }
  CHECK_THROWS_AS(qtl::qat::dorefa_weights(2).forward(qtl::as_matrix(std::vector<float>(4, 0.0f)), qtl::as_matrix(y)), qtl::error);
  CHECK_THROWS_AS(qtl::qat::dorefa_weights(0), qtl::error);
}

TEST_CASE("dorefa's gradient quantizer is deterministic per seed and unbiased", "[qat]") {
  const std::vector<float> g = {0.3f, -0.7f, 1e-3f, 0.05f, -1.0f, 0.52f};
  std::vector<float> a(6), b(6), mean(6, 0.0f);
  qtl::qat::dorefa_gradients(2, 7).quantize(qtl::as_matrix(g), qtl::as_matrix(a));
  qtl::qat::dorefa_gradients(2, 7).quantize(qtl::as_matrix(g), qtl::as_matrix(b));
  CHECK(a == b);
  qtl::qat::dorefa_gradients(2, 8).quantize(qtl::as_matrix(g), qtl::as_matrix(b));
  CHECK(a != b);
  constexpr int draws = 4000;
  for (int seed = 0; seed < draws; ++seed) {
    qtl::qat::dorefa_gradients(2, static_cast<std::uint64_t>(seed)).quantize(qtl::as_matrix(g), qtl::as_matrix(a));
    for (std::size_t i = 0; i < g.size(); ++i) mean[i] += a[i] / draws;
  }
  for (std::size_t i = 0; i < g.size(); ++i) CHECK(std::abs(mean[i] - g[i]) < 0.03f);
  std::vector<float> zero(6, 0.0f), out(6, 1.0f);
  qtl::qat::dorefa_gradients(4).quantize(qtl::as_matrix(zero), qtl::as_matrix(out));
  CHECK(out == zero);
  std::vector<float> bad = g;
  bad[1] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_AS(qtl::qat::dorefa_gradients(4).quantize(qtl::as_matrix(bad), qtl::as_matrix(out)), qtl::error);
}
