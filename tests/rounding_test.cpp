#include <qtl/rounding.hpp>

#include <catch2/catch_test_macros.hpp>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace {
struct row {
  float v, even, away, down, up, trunc;
};
// clang-format off
const std::vector<row> table{
  //   v          even   away   floor  ceil   trunc
  {  0.5f,         0.f,   1.f,   0.f,   1.f,   0.f},
  {  1.5f,         2.f,   2.f,   1.f,   2.f,   1.f},
  {  2.5f,         2.f,   3.f,   2.f,   3.f,   2.f},
  { -0.5f,        -0.f,  -1.f,  -1.f,  -0.f,  -0.f},
  { -1.5f,        -2.f,  -2.f,  -2.f,  -1.f,  -1.f},
  { -2.5f,        -2.f,  -3.f,  -3.f,  -2.f,  -2.f},
  {  0.49999997f,  0.f,   0.f,   0.f,   1.f,   0.f},  // x + 0.5 would round up in float
  {  2.7f,         3.f,   3.f,   2.f,   3.f,   2.f},
  { -2.7f,        -3.f,  -3.f,  -3.f,  -2.f,  -2.f},
  {  8388609.f, 8388609.f, 8388609.f, 8388609.f, 8388609.f, 8388609.f},  // 2^23 + 1: integral
  {  0.0f,         0.f,   0.f,   0.f,   0.f,   0.f},
};
// clang-format on
}  // namespace

TEST_CASE("rounding: deterministic policies on ties and edges", "[rounding]") {
  for (const row& r : table) {
    INFO("v = " << r.v);
    CHECK(qtl::nearest_even{}(r.v, 0) == r.even);
    CHECK(qtl::nearest_away{}(r.v, 0) == r.away);
    CHECK(qtl::floor{}(r.v, 0) == r.down);
    CHECK(qtl::ceil{}(r.v, 0) == r.up);
    CHECK(qtl::toward_zero{}(r.v, 0) == r.trunc);
  }
}

TEST_CASE("rounding: stochastic is reproducible per index and seed", "[rounding]") {
  const qtl::stochastic<> a{42}, b{42}, c{43};
  int differ = 0;
  for (std::uint64_t i = 0; i < 1000; ++i) {
    REQUIRE(a(0.5f, i) == b(0.5f, i));  // same seed, same index: same draw, in any order
    differ += a(0.5f, i) != c(0.5f, i);
    const float r = a(3.3f, i);
    REQUIRE((r == 3.0f || r == 4.0f));
  }
  REQUIRE(differ > 300);  // another seed is another stream
  REQUIRE(a(2.0f, 5) == 2.0f);  // integers stay put
  REQUIRE(a(-1.25f, 9) <= -1.0f);
  REQUIRE(a(-1.25f, 9) >= -2.0f);
}

TEST_CASE("rounding: stochastic is unbiased", "[rounding]") {
  // Mean of N draws of v must be v within 5 standard errors sqrt(f (1 - f) / N).
  constexpr int n = 200000;
  const qtl::stochastic<> round{2024};
  for (float v : {0.1f, 0.25f, 0.5f, 0.9f, -1.7f, 6.03f}) {
    double sum = 0.0;
    for (std::uint64_t i = 0; i < n; ++i) sum += round(v, i);
    const double f = v - std::floor(v);
    const double tolerance = 5.0 * std::sqrt(f * (1.0 - f) / n);
    INFO("v = " << v);
    REQUIRE(std::fabs(sum / n - v) <= tolerance);
  }
}

TEST_CASE("rounding: splitmix64 is a counter-based generator", "[rounding]") {
  static_assert(qtl::counter_based_generator<qtl::splitmix64>);
  // Reference output of SplitMix64 seeded with 0: its first value is mix(0x9e3779b97f4a7c15).
  REQUIRE(qtl::splitmix64::bits(0, 0) == 0xe220a8397b1dcdafull);
  REQUIRE(qtl::splitmix64::bits(0, 1) == 0x6e789e6aa1b965f4ull);
}

TEST_CASE("rounding: the portable ties-to-even fallback agrees with nearest_even", "[rounding]") {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> wide(-1e6f, 1e6f);
  for (int i = 0; i < 100000; ++i) {
    const float v = i % 2 ? wide(rng) : static_cast<float>(i / 2 - 25000) * 0.5f;  // half-integers: ties
    REQUIRE(qtl::detail::round_half_even_portable(v) == qtl::nearest_even{}(v, 0));
  }
  for (const row& r : table) REQUIRE(qtl::detail::round_half_even_portable(r.v) == r.even);
}
