#include <algorithm>
#include <catch2/catch_test_macros.hpp>
#include <cmath>
#include <limits>
#include <list>
#include <qtl/metrics.hpp>
#include <qtl/observer/minmax.hpp>
#include <qtl/ptq/calibrate.hpp>
#include <qtl/quantizer.hpp>
#include <ranges>
#include <string>
#include <vector>

#include "ptq/outlier_data.hpp"

namespace {

using qtl::matrix_view;

// Four batches of 8x16 taken from one 32x16 matrix.
struct dataset {
  ptq_test::matrix all = ptq_test::with_outlier_columns(ptq_test::normal(32, 16, 1.0f, 5), {2, 9}, 6);
  [[nodiscard]] std::vector<matrix_view<const float>> batches() const {
    std::vector<matrix_view<const float>> b;
    for (std::size_t i = 0; i < 4; ++i) b.emplace_back(all.data.data() + i * 8 * 16, 8, 16);
    return b;
  }
};

// A test-only clipping observer: minmax narrowed to ratio x its range.
struct clipped_minmax {
  explicit clipped_minmax(float r) : ratio(r) {}

  qtl::minmax<> inner;
  float ratio = 1.0f;
  mutable std::vector<qtl::tensor_stats> clipped;

  void observe(matrix_view<const float> batch) { inner.observe(batch); }
  [[nodiscard]] std::span<const qtl::tensor_stats> stats() const {
    clipped.assign(inner.stats().begin(), inner.stats().end());
    for (auto& s : clipped) {
      s.min *= ratio;
      s.max *= ratio;
    }
    return clipped;
  }
};
static_assert(qtl::observer<clipped_minmax>);

}  // namespace

TEST_CASE("calibrate: minmax over a range of batches equals minmax over their concatenation", "[ptq]") {
  const dataset d;
  const qtl::int8_per_tensor_symmetric per_tensor;
  REQUIRE(qtl::ptq::calibrate(per_tensor, qtl::minmax<>{}, d.batches()) == per_tensor.params(d.all.view()));
  const qtl::quantizer<qtl::int8, qtl::affine, qtl::per_channel<1>> per_column;
  REQUIRE(qtl::ptq::calibrate(per_column, qtl::minmax<qtl::per_channel<1>>{}, d.batches()) ==
          per_column.params(d.all.view()));
}

TEST_CASE("calibrate: any input range of tensors is a dataset (lazy views, lists of vectors)", "[ptq]") {
  const dataset d;
  const qtl::int8_per_tensor_symmetric q;
  const auto expected = q.params(d.all.view());
  const auto lazy = std::views::iota(0, 4) | std::views::transform([&](int i) {
                      return matrix_view<const float>(d.all.data.data() + i * 8 * 16, 8, 16);
                    });
  REQUIRE(qtl::ptq::calibrate(q, qtl::minmax<>{}, lazy) == expected);
  std::list<std::vector<float>> rows;  // one flat vector per batch, seen as one row each
  for (std::size_t i = 0; i < 4; ++i)
    rows.emplace_back(d.all.data.begin() + i * 128, d.all.data.begin() + (i + 1) * 128);
  REQUIRE(qtl::ptq::calibrate(q, qtl::minmax<>{}, rows) == expected);
  qtl::minmax<> kept;  // an lvalue observer is left holding what it saw
  (void)qtl::ptq::calibrate(q, kept, d.batches());
  REQUIRE(kept.stats()[0].count == 32 * 16);
}

TEST_CASE("calibrate: an empty dataset, or one of empty batches, is an error", "[ptq]") {
  const qtl::int8_per_tensor_symmetric q;
  const std::vector<matrix_view<const float>> none;
  const std::vector<matrix_view<const float>> empties(3, matrix_view<const float>(nullptr, 0, 16));
  for (const auto* data : {&none, &empties}) {
    try {
      (void)qtl::ptq::calibrate(q, qtl::minmax<>{}, *data);
      FAIL("no error");
    } catch (const qtl::error& e) {
      REQUIRE(e.code() == qtl::errc::invalid_argument);
    }
  }
}

TEST_CASE("calibrate: NaN in the data follows the observer's nonfinite_policy", "[ptq]") {
  dataset d;
  const qtl::int8_per_tensor_symmetric q;
  const auto clean = q.params(d.all.view());
  d.all(5, 3) = std::numeric_limits<float>::quiet_NaN();
  d.all(20, 1) = std::numeric_limits<float>::infinity();
  try {
    (void)qtl::ptq::calibrate(q, qtl::minmax<>{}, d.batches());
    FAIL("no error");
  } catch (const qtl::error& e) {
    REQUIRE(e.code() == qtl::errc::non_finite);
  }
  // propagate: the bad values are skipped, as if absent (they were not the extremes)
  const auto p =
      qtl::ptq::calibrate(q, qtl::minmax<>(qtl::per_tensor{}, qtl::nonfinite_policy::propagate), d.batches());
  REQUIRE(p == clean);
}

TEST_CASE("calibrate_each: one observer per tensor, each as if calibrated alone", "[ptq]") {
  const dataset a, b{ptq_test::normal(32, 16, 3.0f, 9)};
  const auto ab = a.batches(), bb = b.batches();
  std::vector<std::vector<matrix_view<const float>>> batches;
  for (std::size_t i = 0; i < 4; ++i) batches.push_back({ab[i], bb[i]});
  std::vector<qtl::minmax<>> observers(2);
  const qtl::int8_per_tensor_symmetric q;
  const auto p = qtl::ptq::calibrate_each(q, std::span<qtl::minmax<>>(observers), batches);
  REQUIRE(p.size() == 2);
  REQUIRE(p[0] == q.params(a.all.view()));
  REQUIRE(p[1] == q.params(b.all.view()));
  batches[2].pop_back();
  std::vector<qtl::minmax<>> fresh(2);
  REQUIRE_THROWS_AS(qtl::ptq::calibrate_each(q, std::span<qtl::minmax<>>(fresh), batches), qtl::error);
}

TEST_CASE("calibrate_best: reports every candidate's SQNR and picks the best", "[ptq]") {
  // Uniform data in [-1, 1] and one element at 3: with int4, clipping the outlier to 1.5
  // costs less than the coarse steps minmax needs to keep it.
  ptq_test::matrix x{64, 160, std::vector<float>(64 * 160)};
  std::mt19937 rng(21);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (auto& v : x.data) v = uniform(rng);
  x(10, 10) = 3.0f;
  std::vector<matrix_view<const float>> batches;
  for (std::size_t i = 0; i < 4; ++i) batches.emplace_back(x.data.data() + i * 16 * 160, 16, 160);
  const qtl::quantizer<qtl::int4, qtl::symmetric, qtl::per_tensor> q;
  const auto report = qtl::ptq::calibrate_best(q, batches, qtl::minmax<>{},
                                               qtl::ptq::named("clip 0.5", clipped_minmax(0.5f)), clipped_minmax(0.1f));
  REQUIRE(report.candidates.size() == 3);
  REQUIRE(report.candidates[0].name == "candidate 0");
  REQUIRE(report.candidates[1].name == "clip 0.5");
  REQUIRE(report.candidates[2].name == "candidate 2");
  // Each candidate's SQNR equals qtl::sqnr_db of the whole dataset fake-quantized with its params.
  std::size_t argmax = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    std::vector<float> out(x.data.size());
    q.fake_quantize(x.view(), std::span<const qtl::quant_params>(report.candidates[i].params),
                    qtl::matrix_view<float>(out.data(), x.rows, x.cols));
    const double expected = qtl::sqnr_db(x.view(), qtl::matrix_view<const float>(out.data(), x.rows, x.cols));
    REQUIRE(std::fabs(report.candidates[i].sqnr_db - expected) < 1e-9);
    if (expected > report.candidates[argmax].sqnr_db) argmax = i;
  }
  REQUIRE(report.candidates[0].params == q.params(x.view()));
  REQUIRE(report.best == argmax);
  REQUIRE(report.winner().name == "clip 0.5");
  REQUIRE(report.gain_db() > 3.0);
  REQUIRE(report.baseline_sqnr_db() == report.candidates[0].sqnr_db);
}
