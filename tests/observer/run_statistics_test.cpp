#include <qtl/observer/accumulate_statistics.hpp>
#include <qtl/observer/minmax.hpp>
#include <qtl/observer/run_statistics.hpp>
#include <qtl/quantizer.hpp>

#include <bit>
#include <catch2/catch_test_macros.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <random>
#include <span>
#include <vector>

namespace {

// Bit-equal statistics (min -0 and +0 differ, as they do for a scheme that reads the sign).
bool same(const qtl::tensor_stats& a, const qtl::tensor_stats& b) {
  return std::bit_cast<std::uint32_t>(a.min) == std::bit_cast<std::uint32_t>(b.min) &&
         std::bit_cast<std::uint32_t>(a.max) == std::bit_cast<std::uint32_t>(b.max) &&
         std::bit_cast<std::uint64_t>(a.abs_sum) == std::bit_cast<std::uint64_t>(b.abs_sum) && a.count == b.count;
}

std::vector<float> random_values(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> exponent(-30, 30);
  std::vector<float> v(n);
  for (float& x : v) x = std::ldexp(normal(rng), exponent(rng));  // magnitudes far apart: order shows
  return v;
}

// abs_sum as the header defines it, written out: partial k % 8 in double, pairwise at the end.
double defined_abs_sum(std::span<const float> x) {
  double p[8] = {};
  for (std::size_t k = 0; k < x.size(); ++k) p[k % 8] += std::fabs(static_cast<double>(x[k]));
  return ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
}

qtl::tensor_stats scalar_step(std::span<const float> x) {
  return qtl::run_statistics(x.data(), x.size(), qtl::nonfinite_policy::error, 0, 0, x.size());
}

template <class A>
void check_batch_form() {
  for (const std::size_t n : {1u, 3u, 7u, 8u, 9u, 15u, 16u, 17u, 31u, 33u, 100u, 2047u, 2048u, 2049u, 5000u}) {
    const std::vector<float> x = random_values(n, static_cast<unsigned>(n));
    const qtl::tensor_stats s = scalar_step(x);
    REQUIRE(s.abs_sum == defined_abs_sum(x));
    REQUIRE(s.count == n);
    qtl::tensor_stats b, no_sum;
    REQUIRE(qtl::batch_run_statistics<A>(x.data(), n, b));
    REQUIRE(same(b, s));
    REQUIRE(qtl::batch_run_statistics<A, false>(x.data(), n, no_sum));
    REQUIRE(no_sum.abs_sum == 0.0);
    REQUIRE(no_sum.min == s.min);
    REQUIRE(no_sum.max == s.max);
  }
}

template <class A>
void check_zeros_and_nonfinite() {
  // The first zero a run meets is the one min/max keep, also when it is an extreme.
  for (const bool negative_first : {false, true}) {
    for (const float other : {2.5f, -2.5f}) {
      std::vector<float> x(37, 0.0f);
      for (std::size_t i = 0; i < x.size(); ++i) x[i] = (i % 2 == 0) == negative_first ? -0.0f : 0.0f;
      x[20] = other;
      qtl::tensor_stats b;
      REQUIRE(qtl::batch_run_statistics<A>(x.data(), x.size(), b));
      REQUIRE(same(b, scalar_step(x)));
      REQUIRE(std::signbit(other > 0 ? b.min : b.max) == negative_first);
    }
  }
  std::vector<float> x = random_values(70, 7);
  for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                          -std::numeric_limits<float>::infinity()}) {
    for (const std::size_t at : {0u, 5u, 64u, 69u}) {
      std::vector<float> y = x;
      y[at] = bad;
      qtl::tensor_stats b;
      REQUIRE_FALSE(qtl::batch_run_statistics<A>(y.data(), y.size(), b));
    }
  }
}

template <class A>
void check_accumulate() {
  const std::size_t rows = 6, cols = 96;
  std::vector<float> x = random_values(rows * cols, 11);
  x[3 * cols + 40] = std::numeric_limits<float>::quiet_NaN();  // skipped under propagate
  x[5 * cols + 2] = -std::numeric_limits<float>::infinity();
  const qtl::matrix_view<const float> m(x.data(), rows, cols);
  for (const qtl::group_grid g : {qtl::make_grid(qtl::per_group<32>{}, rows, cols), qtl::make_grid(qtl::per_tensor{}, rows, cols),
                                  qtl::make_grid(qtl::per_channel<1>{}, rows, cols)}) {
    std::vector<qtl::tensor_stats> scalar(g.size()), batch(g.size());
    qtl::accumulate_statistics(g, m, qtl::nonfinite_policy::propagate, std::span(scalar));
    qtl::accumulate_statistics<A>(g, m, qtl::nonfinite_policy::propagate, std::span(batch));
    for (std::size_t i = 0; i < g.size(); ++i) REQUIRE(same(batch[i], scalar[i]));
    REQUIRE_THROWS_AS(qtl::accumulate_statistics<A>(g, m, qtl::nonfinite_policy::error, std::span(batch)), qtl::error);
  }
}

template <class A>
void check_arch() {
  check_batch_form<A>();
  check_zeros_and_nonfinite<A>();
  check_accumulate<A>();
}

}  // namespace

TEST_CASE("run_statistics: the batch form equals the scalar step, bit for bit", "[observer][simd]") {
  check_arch<xsimd::default_arch>();
#if defined(__x86_64__)
  check_arch<xsimd::sse2>();  // 4 lanes where the build's arch has more
#endif
}

TEST_CASE("run_statistics: skips or refuses non-finite values and names the element", "[observer]") {
  const std::vector<float> x{1.0f, std::numeric_limits<float>::quiet_NaN(), -3.0f};
  const qtl::tensor_stats s = qtl::run_statistics(x.data(), x.size(), qtl::nonfinite_policy::propagate, 0, 0, 3);
  REQUIRE(s.count == 2);
  REQUIRE(s.min == -3.0f);
  REQUIRE(s.max == 1.0f);
  REQUIRE(s.abs_sum == 4.0);
  try {
    static_cast<void>(qtl::run_statistics(x.data(), x.size(), qtl::nonfinite_policy::error, 2, 4, 10));
    FAIL("no error");
  } catch (const qtl::error& e) {
    REQUIRE(e.code() == qtl::errc::non_finite);
    REQUIRE(std::string(e.what()).find("element 25 (row 2, col 5)") != std::string::npos);
  }
}

TEST_CASE("run_statistics: observers run the batch form and agree with the quantizer's scalar step",
          "[observer][simd]") {
  const std::size_t rows = 8, cols = 256;
  const std::vector<float> x = random_values(rows * cols, 3);
  const qtl::matrix_view<const float> m(x.data(), rows, cols);
  qtl::minmax<qtl::per_group<64>> obs{qtl::per_group<64>{}};
  obs.observe(m);
  const qtl::quantizer<qtl::int4, qtl::absmean, qtl::per_group<64>> q;
  const std::vector<qtl::tensor_stats> scalar = q.statistics(m);
  REQUIRE(obs.stats().size() == scalar.size());
  for (std::size_t i = 0; i < scalar.size(); ++i) REQUIRE(same(obs.stats()[i], scalar[i]));
}
