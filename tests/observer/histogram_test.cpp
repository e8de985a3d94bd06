#include <qtl/observer/histogram.hpp>
#include <qtl/observer/minmax.hpp>
#include <qtl/quantizer.hpp>

#include <catch2/catch_test_macros.hpp>
#include <limits>
#include <string>
#include <vector>

#include "observer/observer_cases.hpp"

using qtl::matrix_view;

TEST_CASE("histogram: histogram, range growth, search and qparams equal torch.ao HistogramObserver",
          "[observer][golden]") {
  using namespace qtl::test;
  const auto& g = observer_golden();
  const torch_quantizers<qtl::per_tensor> q;
  for (const auto& name : observer_cases()) {
    const auto batches = observer_batches(name);
    qtl::histogram<qtl::uint8> obs_affine;
    qtl::histogram<qtl::int8> obs_symmetric;
    for (std::size_t i = 0; i < batches.count; ++i) {
      const std::string key = name + ".hist." + std::to_string(i);
      INFO(key);
      obs_affine.observe(batches[i]);
      obs_symmetric.observe(batches[i]);
      const auto& h = obs_affine.group(0);
      const auto range = g.get<float>(key + ".range");
      CHECK(bits_of(h.min) == bits_of(range[0]));
      CHECK(bits_of(h.max) == bits_of(range[1]));
      CHECK(h.counts == g.get<float>(key + ".counts"));  // counts are multiples of 1/16: exact
      const auto search = g.get<float>(key + ".search");
      const auto stats = obs_affine.stats();
      CHECK(bits_of(stats[0].min) == bits_of(search[0]));
      CHECK(bits_of(stats[0].max) == bits_of(search[1]));
      const auto p = q.affine_u8.params_from(obs_affine);
      CHECK(bits_of(p[0].scale) == bits_of(g.get<float>(key + ".affine.scale")[0]));
      CHECK(p[0].zero_point == g.get<std::int32_t>(key + ".affine.zero_point")[0]);
      CHECK(bits_of(q.symmetric_s8.params_from(obs_symmetric)[0].scale) ==
            bits_of(g.get<float>(key + ".symmetric.scale")[0]));
    }
  }
}

TEST_CASE("histogram: per channel is one torch histogram per group", "[observer]") {
  const auto batches = qtl::test::observer_batches("grow");
  qtl::histogram<qtl::uint8, qtl::per_channel<0>> rows;
  for (std::size_t i = 0; i < batches.count; ++i) rows.observe(batches[i]);
  for (std::size_t r = 0; r < batches.rows; ++r) {
    qtl::histogram<qtl::uint8> one;
    for (std::size_t i = 0; i < batches.count; ++i) one.observe(matrix_view<const float>(&batches[i](r, 0), 1, batches.cols));
    CHECK(rows.group(r).counts == one.group(0).counts);
    CHECK(rows.stats()[r].min == one.stats()[0].min);
    CHECK(rows.stats()[r].max == one.stats()[0].max);
  }
}

TEST_CASE("histogram: no data, NaN, Inf and a failed batch", "[observer]") {
  qtl::histogram<> obs;
  REQUIRE_THROWS_AS(obs.stats(), qtl::error);
  REQUIRE_THROWS_AS(qtl::histogram<>(qtl::per_tensor{}, 0), qtl::error);
  std::vector<float> v{1.0f, -2.0f, 3.0f, 0.5f};
  obs.observe(matrix_view<const float>(v.data(), 2, 2));
  const auto before = obs.group(0);
  std::vector<float> bad{100.0f, std::numeric_limits<float>::quiet_NaN(), -100.0f, 0.0f};
  REQUIRE_THROWS_AS(obs.observe(matrix_view<const float>(bad.data(), 2, 2)), qtl::error);
  CHECK(obs.group(0).counts == before.counts);
  CHECK(obs.group(0).max == 3.0f);
  qtl::histogram<> lenient(qtl::per_tensor{}, 2048, qtl::nonfinite_policy::propagate);
  lenient.observe(matrix_view<const float>(bad.data(), 2, 2));
  CHECK(lenient.group(0).max == 100.0f);  // the NaN is skipped, as torch skips Inf
  float total = 0.0f;
  for (const float c : lenient.group(0).counts) total += c;
  CHECK(total == 3.0f);
}

TEST_CASE("histogram: linspace_at equals torch.linspace in float32", "[observer][golden]") {
  const auto& g = qtl::test::observer_golden();
  for (const std::string key : {"linspace.0", "linspace.1", "linspace.2"}) {
    INFO(key);
    const auto args = g.get<float>(key + ".args");
    const auto want = g.get<float>(key);
    const auto steps = static_cast<std::size_t>(args[2]);
    REQUIRE(want.size() == steps);
    const float step = (args[1] - args[0]) / static_cast<float>(steps - 1);
    std::size_t differ = 0;
    for (std::size_t i = 0; i < steps; ++i)
      differ += qtl::test::bits_of(qtl::detail::linspace_at(args[0], args[1], steps, step, i)) != qtl::test::bits_of(want[i]);
    CHECK(differ == 0);
  }
}
