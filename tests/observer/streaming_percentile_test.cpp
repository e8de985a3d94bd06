#include <qtl/observer/percentile.hpp>
#include <qtl/observer/streaming_percentile.hpp>

#include <catch2/catch_test_macros.hpp>
#include <cmath>
#include <limits>
#include <vector>

#include "observer/observer_cases.hpp"

using qtl::matrix_view;

TEST_CASE("streaming_percentile: within one bin width of the exact percentile, range growing", "[observer]") {
  constexpr std::size_t rows = 16, cols = 256;
  for (const float percent : {99.99f, 99.9f, 99.0f, 90.0f, 50.0f, 100.0f}) {
    INFO(percent);
    qtl::percentile<qtl::per_channel<0>> exact(percent);
    qtl::streaming_percentile<qtl::per_channel<0>> streaming(percent, {}, 512);
    for (unsigned seed = 0; seed < 8; ++seed) {  // each batch's spread grows: the bins double
      const auto x = qtl::test::student_t(rows * cols, 100 + seed, 0.05f * static_cast<float>(seed + 1));
      exact.observe(matrix_view<const float>(x.data(), rows, cols));
      streaming.observe(matrix_view<const float>(x.data(), rows, cols));
    }
    const auto want = exact.stats();
    const auto got = streaming.stats();
    for (std::size_t r = 0; r < rows; ++r) {
      const double bound = streaming.bin_width(r);
      CHECK(std::fabs(static_cast<double>(got[r].min) - want[r].min) <= bound);
      CHECK(std::fabs(static_cast<double>(got[r].max) - want[r].max) <= bound);
      CHECK(got[r].count == want[r].count);
    }
  }
}

TEST_CASE("streaming_percentile: bad arguments, no data, NaN and a failed batch", "[observer]") {
  for (const float bad : {0.0f, 100.01f, -5.0f, std::numeric_limits<float>::infinity()})
    REQUIRE_THROWS_AS(qtl::streaming_percentile<>(bad), qtl::error);
  REQUIRE_THROWS_AS(qtl::streaming_percentile<>(99.0f, {}, 3), qtl::error);
  qtl::streaming_percentile<> obs(100.0f);
  REQUIRE_THROWS_AS(obs.stats(), qtl::error);
  std::vector<float> v{1.0f, 2.0f, 3.0f, 4.0f};
  obs.observe(matrix_view<const float>(v.data(), 2, 2));
  std::vector<float> bad{100.0f, std::numeric_limits<float>::quiet_NaN(), 100.0f, 100.0f};
  REQUIRE_THROWS_AS(obs.observe(matrix_view<const float>(bad.data(), 2, 2)), qtl::error);
  REQUIRE_NOTHROW(obs.observe(matrix_view<const float>(v.data(), 1, 3)));  // per tensor: any shape
  CHECK(obs.stats()[0].max == 4.0f);
  qtl::streaming_percentile<> lenient(100.0f, {}, 2048, qtl::nonfinite_policy::propagate);
  lenient.observe(matrix_view<const float>(bad.data(), 2, 2));
  CHECK(lenient.stats()[0].max == 100.0f);
  CHECK(lenient.stats()[0].count == 3);
}
