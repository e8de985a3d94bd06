#include <qtl/observer/minmax.hpp>
#include <qtl/quantizer.hpp>

#include <catch2/catch_test_macros.hpp>
#include <limits>
#include <vector>

#include "observer/observer_cases.hpp"

TEST_CASE("minmax: accumulates over batches, per tensor and per channel", "[observer]") {
  const std::vector<float> first{1.0f, -2.0f, 0.5f, 4.0f};   // 2x2
  const std::vector<float> second{-3.0f, 0.0f, 1.0f, 1.0f};  // 2x2
  qtl::minmax<> tensor;
  qtl::minmax<qtl::per_channel<0>> rows;
  for (const auto* batch : {&first, &second}) {
    const qtl::matrix_view<const float> v(batch->data(), 2, 2);
    tensor.observe(v);
    rows.observe(v);
  }
  REQUIRE(tensor.stats().size() == 1);
  REQUIRE(tensor.stats()[0].min == -3.0f);
  REQUIRE(tensor.stats()[0].max == 4.0f);
  REQUIRE(tensor.stats()[0].count == 8);
  REQUIRE(rows.stats().size() == 2);
  REQUIRE(rows.stats()[0].min == -3.0f);
  REQUIRE(rows.stats()[0].max == 1.0f);
  REQUIRE(rows.stats()[1].min == 0.5f);
  REQUIRE(rows.stats()[1].max == 4.0f);
}

TEST_CASE("minmax: feeds a quantizer the same params as the data itself", "[observer]") {
  std::vector<float> all(8 * 16);
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<float>(i % 13) - 6.5f + 0.01f * i;
  qtl::minmax<qtl::per_channel<1>> obs;
  obs.observe(qtl::matrix_view<const float>(all.data(), 4, 16));
  obs.observe(qtl::matrix_view<const float>(all.data() + 64, 4, 16));
  const qtl::quantizer<qtl::int8, qtl::affine, qtl::per_channel<1>> q;
  REQUIRE(q.params_from(obs) == q.params(qtl::matrix_view<const float>(all.data(), 8, 16)));
}

TEST_CASE("minmax: no data, mismatched batches and NaN are errors", "[observer]") {
  qtl::minmax<qtl::per_token> obs;
  REQUIRE_THROWS_AS(obs.stats(), qtl::error);
  std::vector<float> v(6, 1.0f);
  obs.observe(qtl::matrix_view<const float>(v.data(), 2, 3));
  REQUIRE_THROWS_AS(obs.observe(qtl::matrix_view<const float>(v.data(), 3, 2)), qtl::error);
  v[4] = std::numeric_limits<float>::quiet_NaN();
  REQUIRE_THROWS_AS(obs.observe(qtl::matrix_view<const float>(v.data(), 2, 3)), qtl::error);
  qtl::minmax<> lenient(qtl::per_tensor{}, qtl::nonfinite_policy::propagate);
  lenient.observe(qtl::matrix_view<const float>(v.data(), 2, 3));
  REQUIRE(lenient.stats()[0].count == 5);
  obs.reset();
  REQUIRE_THROWS_AS(obs.stats(), qtl::error);
}

TEST_CASE("minmax: min, max and qparams equal torch.ao MinMaxObserver / PerChannelMinMaxObserver", "[observer][golden]") {
  using namespace qtl::test;
  for (const auto& name : observer_cases()) {
    INFO(name);
    const auto batches = observer_batches(name);
    qtl::minmax<> tensor;
    qtl::minmax<qtl::per_channel<0>> rows;
    for (std::size_t i = 0; i < batches.count; ++i) {
      tensor.observe(batches[i]);
      rows.observe(batches[i]);
    }
    check_range_golden<qtl::per_tensor>(name + ".minmax", tensor);
    check_range_golden<qtl::per_channel<0>>(name + ".minmax_ch", rows);
  }
}
