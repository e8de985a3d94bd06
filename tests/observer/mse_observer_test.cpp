#include <qtl/observer/minmax.hpp>
#include <qtl/observer/mse_observer.hpp>
#include <qtl/quantizer.hpp>

#include <catch2/catch_test_macros.hpp>
#include <limits>
#include <vector>

#include "observer/observer_cases.hpp"

using qtl::matrix_view;
using qtl::test::sqnr_with;

TEST_CASE("mse_observer: beats minmax on Student-t data in int8 and int4", "[observer]") {
  for (const unsigned seed : {1u, 2u, 3u}) {
    INFO(seed);
    const auto x = qtl::test::student_t(64 * 512, seed);
    const matrix_view<const float> m(x.data(), 64, 512);
    const qtl::quantizer<qtl::int8, qtl::symmetric, qtl::per_tensor> q8;
    const qtl::quantizer<qtl::int4, qtl::symmetric, qtl::per_tensor> q4;
    // measured: int8 +0.4..0.7 dB, int4 +6.7..7.3 dB
    CHECK(sqnr_with(q8, qtl::mse_observer<qtl::int8>(), m) > sqnr_with(q8, qtl::minmax<>(), m) + 0.3);
    CHECK(sqnr_with(q4, qtl::mse_observer<qtl::int4>(), m) > sqnr_with(q4, qtl::minmax<>(), m) + 3.0);
  }
}

TEST_CASE("mse_observer: never worse than minmax on the data it saw (ratio 1 is a candidate)", "[observer]") {
  for (const unsigned seed : {4u, 5u}) {
    const auto x = qtl::test::outlier_channels(32, 256, seed);
    const matrix_view<const float> m(x.data(), 32, 256);
    const qtl::quantizer<qtl::uint4, qtl::affine, qtl::per_channel<1>> affine_cols;
    const qtl::quantizer<qtl::int4, qtl::symmetric, qtl::per_channel<0>> rows;
    CHECK(sqnr_with(affine_cols, qtl::mse_observer<qtl::uint4, qtl::affine, qtl::per_channel<1>>(), m) >=
          sqnr_with(affine_cols, qtl::minmax<qtl::per_channel<1>>(), m));
    CHECK(sqnr_with(rows, qtl::mse_observer<qtl::int4, qtl::symmetric, qtl::per_channel<0>>(), m) >=
          sqnr_with(rows, qtl::minmax<qtl::per_channel<0>>(), m));
    const qtl::int4_g32_symmetric groups;
    CHECK(sqnr_with(groups, qtl::mse_observer<qtl::int4, qtl::symmetric, qtl::per_group<32>>(), m) >=
          sqnr_with(groups, qtl::minmax<qtl::per_group<32>>(), m));
  }
}

TEST_CASE("mse_observer: clips one outlier at least as well as the best candidate worked by hand", "[observer]") {
  // 1000 values of +-1 and one 20, int4 symmetric (codes -7..7). Minmax (scale 20/7) rounds
  // every +-1 to 0: squared error 1000. Ratio 0.35 (a grid point) gives scale 1: the +-1
  // stay, 20 clips to 7: error 13^2 = 169. The search must do at least that well.
  std::vector<float> x(1001);
  for (std::size_t i = 0; i < 1000; ++i) x[i] = i % 2 ? 1.0f : -1.0f;
  x[1000] = 20.0f;
  qtl::mse_observer<qtl::int4> obs(qtl::symmetric{}, qtl::per_tensor{}, qtl::clip_search{99, 0.01f});  // 1, 0.99, ..
  obs.observe(matrix_view<const float>(x.data(), 1, x.size()));
  const qtl::quantizer<qtl::int4, qtl::symmetric, qtl::per_tensor> q;
  auto sse = [&](const std::vector<qtl::quant_params>& p) {
    std::vector<float> out(x.size());
    q.fake_quantize(x, std::span<const qtl::quant_params>(p), out);
    double e = 0.0;
    for (std::size_t i = 0; i < x.size(); ++i) e += (x[i] - out[i]) * static_cast<double>(x[i] - out[i]);
    return e;
  };
  qtl::minmax<> mm;
  mm.observe(matrix_view<const float>(x.data(), 1, x.size()));
  CHECK(sse(q.params_from(mm)) == 1000.0);
  CHECK(sse(q.params_from(obs)) <= 169.01);
  CHECK(obs.stats()[0].max < 20.0f);
}

TEST_CASE("mse_observer: bad search, no data, NaN and a failed batch", "[observer]") {
  REQUIRE_THROWS_AS(qtl::mse_observer<qtl::int8>(qtl::symmetric{}, qtl::per_tensor{}, qtl::clip_search{0, 0.5f}), qtl::error);
  REQUIRE_THROWS_AS(qtl::mse_observer<qtl::int8>(qtl::symmetric{}, qtl::per_tensor{}, qtl::clip_search{10, 0.0f}), qtl::error);
  REQUIRE_THROWS_AS(qtl::mse_observer<qtl::int8>(qtl::symmetric{}, qtl::per_tensor{}, qtl::clip_search{10, 1.5f}), qtl::error);
  qtl::mse_observer<qtl::int8, qtl::symmetric, qtl::per_channel<0>> obs;
  REQUIRE_THROWS_AS(obs.stats(), qtl::error);
  std::vector<float> v{1.0f, 2.0f, 3.0f, 4.0f};
  obs.observe(matrix_view<const float>(v.data(), 2, 2));
  std::vector<float> bad{100.0f, 1.0f, std::numeric_limits<float>::infinity(), 0.0f};
  REQUIRE_THROWS_AS(obs.observe(matrix_view<const float>(bad.data(), 2, 2)), qtl::error);
  REQUIRE_THROWS_AS(obs.observe(matrix_view<const float>(v.data(), 4, 1)), qtl::error);
  CHECK(obs.stats()[0].count == 2);
  CHECK(obs.stats()[1].max == 4.0f);  // two values: the full range quantizes them best
}

TEST_CASE("mse_observer: beats minmax on LLM-style outlier channels in int8 and int4", "[observer]") {
  const qtl::quantizer<qtl::int8, qtl::symmetric, qtl::per_tensor> q8;
  const qtl::quantizer<qtl::int4, qtl::symmetric, qtl::per_channel<1>> q4_cols;
  for (const unsigned seed : {1u, 2u, 3u}) {
    INFO(seed);
    const auto o = qtl::test::outlier_channels(64, 512, seed);
    const matrix_view<const float> m(o.data(), 64, 512);
    // measured: int8 per tensor +0.6..0.7 dB, int4 per channel (column) +0.3..0.7 dB
    CHECK(sqnr_with(q8, qtl::mse_observer<qtl::int8>(), m) > sqnr_with(q8, qtl::minmax<>(), m) + 0.3);
    CHECK(sqnr_with(q4_cols, qtl::mse_observer<qtl::int4, qtl::symmetric, qtl::per_channel<1>>(), m) >
          sqnr_with(q4_cols, qtl::minmax<qtl::per_channel<1>>(), m) + 0.2);
  }
}
