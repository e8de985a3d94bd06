#include <qtl/observer/moving_average_minmax.hpp>
#include <qtl/quantizer.hpp>

#include <catch2/catch_test_macros.hpp>
#include <limits>
#include <string>
#include <vector>

#include "observer/observer_cases.hpp"

using qtl::matrix_view;

TEST_CASE("moving_average_minmax: first batch sets the range, later ones move it by c", "[observer]") {
  const std::vector<float> first{-1.0f, 3.0f}, second{-5.0f, 7.0f};
  qtl::moving_average_minmax<> obs(0.5f);
  obs.observe(matrix_view<const float>(first.data(), 1, 2));
  REQUIRE(obs.stats()[0].min == -1.0f);
  REQUIRE(obs.stats()[0].max == 3.0f);
  obs.observe(matrix_view<const float>(second.data(), 1, 2));
  REQUIRE(obs.stats()[0].min == -3.0f);  // -1 + 0.5 (-5 + 1)
  REQUIRE(obs.stats()[0].max == 5.0f);
  REQUIRE(obs.stats()[0].count == 4);
}

TEST_CASE("moving_average_minmax: range and qparams equal torch.ao MovingAverage[PerChannel]MinMaxObserver",
          "[observer][golden]") {
  using namespace qtl::test;
  const auto& g = observer_golden();
  for (const auto& name : observer_cases()) {
    INFO(name);
    const auto batches = observer_batches(name);
    const float c = g.get<float>(name + ".moving.constant").at(0);
    qtl::moving_average_minmax<> tensor(c);
    qtl::moving_average_minmax<qtl::per_channel<0>> rows(c);
    for (std::size_t i = 0; i < batches.count; ++i) {
      tensor.observe(batches[i]);
      rows.observe(batches[i]);
    }
    check_range_golden<qtl::per_tensor>(name + ".moving", tensor);
    check_range_golden<qtl::per_channel<0>>(name + ".moving_ch", rows);
  }
}

TEST_CASE("moving_average_minmax: bad constant, no data, NaN and a failed batch", "[observer]") {
  REQUIRE_THROWS_AS(qtl::moving_average_minmax<>(0.0f), qtl::error);
  REQUIRE_THROWS_AS(qtl::moving_average_minmax<>(1.5f), qtl::error);
  REQUIRE_THROWS_AS(qtl::moving_average_minmax<>(std::numeric_limits<float>::quiet_NaN()), qtl::error);
  qtl::moving_average_minmax<qtl::per_channel<0>> obs(0.5f);
  REQUIRE_THROWS_AS(obs.stats(), qtl::error);
  std::vector<float> v{1.0f, 2.0f, 3.0f, 4.0f};
  obs.observe(matrix_view<const float>(v.data(), 2, 2));
  std::vector<float> bad{100.0f, std::numeric_limits<float>::infinity(), -100.0f, 0.0f};
  REQUIRE_THROWS_AS(obs.observe(matrix_view<const float>(bad.data(), 2, 2)), qtl::error);
  REQUIRE_THROWS_AS(obs.observe(matrix_view<const float>(v.data(), 1, 4)), qtl::error);
  REQUIRE(obs.stats()[0].max == 2.0f);  // unchanged by the failed batches
  REQUIRE(obs.stats()[1].min == 3.0f);
  qtl::moving_average_minmax<> lenient(0.5f, qtl::per_tensor{}, qtl::nonfinite_policy::propagate);
  lenient.observe(matrix_view<const float>(v.data(), 2, 2));
  lenient.observe(matrix_view<const float>(bad.data(), 2, 2));
  REQUIRE(lenient.stats()[0].max == 52.0f);  // 4 + 0.5 (100 - 4): the Inf is skipped
  REQUIRE(lenient.stats()[0].min == -49.5f);  // 1 + 0.5 (-100 - 1)
}
