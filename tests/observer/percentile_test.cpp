#include <qtl/observer/minmax.hpp>
#include <qtl/observer/percentile.hpp>
#include <qtl/quantizer.hpp>

#include <catch2/catch_test_macros.hpp>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "observer/observer_cases.hpp"

using qtl::matrix_view;

TEST_CASE("percentile: quantiles equal torch.quantile over all batches, per tensor and per row", "[observer][golden]") {
  using namespace qtl::test;
  const auto& g = observer_golden();
  for (const auto& name : observer_cases()) {
    const auto batches = observer_batches(name);
    for (const float percent : {99.9f, 90.0f, 100.0f}) {
      char key[64];
      std::snprintf(key, sizeof key, "%s.percentile.%g", name.c_str(), static_cast<double>(percent));
      INFO(key);
      qtl::percentile<> tensor(percent);
      qtl::percentile<qtl::per_channel<0>> rows(percent);
      for (std::size_t i = 0; i < batches.count; ++i) {
        tensor.observe(batches[i]);
        rows.observe(batches[i]);
      }
      const auto want = g.get<float>(std::string(key) + ".tensor");
      CHECK(bits_of(tensor.stats()[0].min) == bits_of(want[0]));
      CHECK(bits_of(tensor.stats()[0].max) == bits_of(want[1]));
      const auto want_rows = g.get<float>(std::string(key) + ".rows");
      const auto s = rows.stats();
      REQUIRE(s.size() * 2 == want_rows.size());
      for (std::size_t r = 0; r < s.size(); ++r) {
        CHECK(bits_of(s[r].min) == bits_of(want_rows[2 * r]));
        CHECK(bits_of(s[r].max) == bits_of(want_rows[2 * r + 1]));
      }
    }
  }
}

TEST_CASE("percentile: 100 is minmax; the clipped range feeds a quantizer", "[observer]") {
  const auto x = qtl::test::student_t(4096, 7);
  const matrix_view<const float> m(x.data(), 64, 64);
  qtl::percentile<qtl::per_channel<0>> all(100.0f);
  qtl::minmax<qtl::per_channel<0>> mm;
  all.observe(m);
  mm.observe(m);
  const qtl::int8_per_channel_affine q;
  CHECK(q.params_from(all) == q.params_from(mm));
  qtl::percentile<> clip(99.0f);
  qtl::minmax<> whole;
  clip.observe(m);
  whole.observe(m);
  CHECK(clip.stats()[0].max < whole.stats()[0].max);
  CHECK(clip.stats()[0].min > whole.stats()[0].min);
  CHECK(clip.stats()[0].count == 4096);
}

TEST_CASE("percentile: bad percentages, no data, NaN and a failed batch", "[observer]") {
  for (const float bad : {0.0f, -1.0f, 100.5f, std::numeric_limits<float>::quiet_NaN()})
    REQUIRE_THROWS_AS(qtl::percentile<>(bad), qtl::error);
  qtl::percentile<> obs(50.0f);
  REQUIRE_THROWS_AS(obs.stats(), qtl::error);
  std::vector<float> v{1.0f, 2.0f, 3.0f, 4.0f};
  obs.observe(matrix_view<const float>(v.data(), 2, 2));
  std::vector<float> bad{100.0f, std::numeric_limits<float>::quiet_NaN(), 100.0f, 100.0f};
  REQUIRE_THROWS_AS(obs.observe(matrix_view<const float>(bad.data(), 2, 2)), qtl::error);
  CHECK(obs.stats()[0].max == 2.5f);  // the median of 1..4, unchanged
  qtl::percentile<> lenient(50.0f, qtl::per_tensor{}, qtl::nonfinite_policy::propagate);
  lenient.observe(matrix_view<const float>(bad.data(), 2, 2));
  CHECK(lenient.stats()[0].max == 100.0f);
  CHECK(lenient.stats()[0].count == 3);
}

TEST_CASE("percentile: beats minmax in int4 on Student-t data and on outlier channels", "[observer]") {
  const qtl::quantizer<qtl::int4, qtl::symmetric, qtl::per_tensor> q4;
  for (const unsigned seed : {1u, 2u, 3u}) {
    INFO(seed);
    const auto t = qtl::test::student_t(64 * 512, seed);
    const matrix_view<const float> mt(t.data(), 64, 512);
    // measured +6.3..7.2 dB
    CHECK(qtl::test::sqnr_with(q4, qtl::percentile<>(99.9f), mt) > qtl::test::sqnr_with(q4, qtl::minmax<>(), mt) + 3.0);
    const auto o = qtl::test::outlier_channels(64, 512, seed);
    const matrix_view<const float> mo(o.data(), 64, 512);
    // measured +0.10..0.34 dB: the outlier channels carry most of the energy
    CHECK(qtl::test::sqnr_with(q4, qtl::percentile<>(99.99f), mo) > qtl::test::sqnr_with(q4, qtl::minmax<>(), mo));
  }
}
