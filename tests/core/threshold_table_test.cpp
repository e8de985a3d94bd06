// qtl/core/threshold_table.hpp: count_below against a count by hand, for every table size
// with repeated thresholds, on the thresholds, between and beyond them, and NaN. (The
// batch count is checked per arch with the formats that use it: kernel/simd_quantizer_cases.hpp.)
#include <catch2/catch_test_macros.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "qtl/core/threshold_table.hpp"

TEST_CASE("A threshold table counts the thresholds below a value", "[core][threshold_table]") {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> step(0, 3);  // 0: a repeated threshold
  for (std::size_t n = 0; n <= qtl::threshold_table::max_size; ++n) {
    INFO(n << " thresholds");
    std::vector<float> t(n);
    float v = -40.0f;
    for (float& x : t) x = v += 0.25f * static_cast<float>(step(rng));
    const qtl::threshold_table table(t);
    REQUIRE(table.size() == n);
    std::vector<float> probes = {-INFINITY, INFINITY, -1e30f, 1e30f, 0.0f, -0.0f};
    for (float x : t) probes.insert(probes.end(), {x, std::nextafter(x, -INFINITY), std::nextafter(x, INFINITY), x + 0.125f});
    for (float x : probes) {
      int below = 0;
      for (float b : t) below += b < x ? 1 : 0;
      REQUIRE(table.count_below(x) == below);
    }
    CHECK(table.count_below(std::nanf("")) == 0);
  }
}
