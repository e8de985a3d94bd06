#include <qtl/observer/doubling_histogram.hpp>

#include <catch2/catch_test_macros.hpp>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "observer/observer_cases.hpp"

TEST_CASE("doubling_histogram: counts stay exact while the range doubles both ways", "[observer]") {
  std::vector<float> all;
  qtl::doubling_histogram h(64);
  for (unsigned seed = 0; seed < 6; ++seed) {
    const auto batch = qtl::test::student_t(500, seed, 0.1f * static_cast<float>(1u << seed));
    const auto [lo, hi] = std::minmax_element(batch.begin(), batch.end());
    h.cover(*lo, *hi);
    for (const float v : batch) h.add(v);
    all.insert(all.end(), batch.begin(), batch.end());
  }
  REQUIRE(h.total() == all.size());
  const auto [lo, hi] = std::minmax_element(all.begin(), all.end());
  CHECK(h.lower() <= *lo);
  CHECK(h.upper() >= *hi);
  std::vector<std::uint64_t> direct(h.bins(), 0);
  for (const float v : all) {
    const auto k = static_cast<std::size_t>(std::floor((static_cast<double>(v) - h.lower()) / h.width()));
    ++direct[std::min(k, h.bins() - 1)];
  }
  CHECK(std::vector<std::uint64_t>(h.counts().begin(), h.counts().end()) == direct);
  // every order statistic's estimate is within one bin of the true one
  std::sort(all.begin(), all.end());
  for (std::size_t k = 0; k < all.size(); k += 37)
    CHECK(std::fabs(h.order_statistic(k) - static_cast<double>(all[k])) <= h.width());
}

TEST_CASE("doubling_histogram: bad bin counts", "[observer]") {
  REQUIRE_THROWS_AS(qtl::doubling_histogram(0), qtl::error);
  REQUIRE_THROWS_AS(qtl::doubling_histogram(7), qtl::error);
}
