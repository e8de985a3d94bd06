// qtl/codebook/lloyd_max.hpp: the Gaussian designs against Max (1960)'s table of optimal
// quantizers, the Laplace designs against Paez and Glisson (1972); data designs against
// the two optimality conditions checked by brute force, the exact optimum of small
// problems, weights against repeated values, and bad input.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_floating_point.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <vector>

#include "qtl/codebook/lloyd_max.hpp"
#include "error_code.hpp"
#include "qtl/core/error.hpp"

namespace {

namespace lm = qtl::lloyd_max;
using Catch::Matchers::WithinAbs;

// The positive half of a symmetric table (levels, then thresholds above zero).
struct published {
  std::size_t levels;
  std::vector<double> outputs;
  std::vector<double> thresholds;
  double distortion;
};

void check_design(const lm::result& r, const published& t) {
  INFO(t.levels << " levels");
  REQUIRE(r.converged);
  REQUIRE(r.levels.size() == t.levels);
  const std::size_t half = t.levels / 2;
  for (std::size_t i = 0; i < half; ++i) {
    CHECK_THAT(r.levels[half + i], WithinAbs(t.outputs[i], 1e-4));
    CHECK_THAT(r.levels[half - 1 - i], WithinAbs(-t.outputs[i], 1e-4));  // symmetric
  }
  CHECK_THAT(r.thresholds[half - 1], WithinAbs(0.0, 1e-9));
  for (std::size_t i = 0; i < t.thresholds.size(); ++i) CHECK_THAT(r.thresholds[half + i], WithinAbs(t.thresholds[i], 1e-4));
  CHECK_THAT(r.distortion, WithinAbs(t.distortion, 1e-4));
}

// Mean squared error of `levels` on weighted points, each at its nearest level.
double brute_distortion(const std::vector<double>& x, const std::vector<double>& w, const std::vector<double>& levels) {
  double total = 0, mass = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    double best = std::numeric_limits<double>::infinity();
    for (const double y : levels) best = std::min(best, (x[i] - y) * (x[i] - y));
    total += w[i] * best;
    mass += w[i];
  }
  return total / mass;
}

}  // namespace

TEST_CASE("Lloyd-Max on a Gaussian reproduces Max's table", "[codebook][lloyd_max]") {
  // Max, "Quantizing for minimum distortion", IRE Trans. Inf. Theory 6 (1960), table I,
  // to four decimals.
  const published tables[] = {
      {2, {0.7979}, {}, 0.3634},
      {4, {0.4528, 1.5104}, {0.9816}, 0.1175},
      {8, {0.2451, 0.7560, 1.3439, 2.1519}, {0.5006, 1.0500, 1.7479}, 0.03454},
      {16,
       {0.1284, 0.3881, 0.6568, 0.9424, 1.2562, 1.6180, 2.0690, 2.7326},
       {0.2582, 0.5224, 0.7996, 1.0993, 1.4371, 1.8435, 2.4008},
       0.009497},
  };
  for (const auto& t : tables) check_design(lm::design(lm::gaussian{}, t.levels), t);
}

TEST_CASE("Lloyd-Max on a unit-variance Laplace density reproduces Paez and Glisson", "[codebook][lloyd_max]") {
  // Paez and Glisson, "Minimum mean-squared-error quantization in speech PCM and DPCM
  // systems", IEEE Trans. Commun. 20 (1972): levels and thresholds; the distortion from
  // the signal-to-noise ratios usually quoted with them (3.01, 7.54, 12.64 dB).
  const published tables[] = {
      {2, {0.7071}, {}, 0.5},
      {4, {0.4198, 1.8340}, {1.1269}, 0.1762},
      {8, {0.2334, 0.8330, 1.6725, 3.0867}, {0.5332, 1.2528, 2.3796}, 0.05445},
  };
  for (const auto& t : tables) check_design(lm::design(lm::laplace{}, t.levels), t);
}

TEST_CASE("The densities' moments agree with numerical integration", "[codebook][lloyd_max]") {
  // Simpson's rule on the pdfs, over cells inside, across and beyond zero.
  const auto simpson_piece = [](auto f, double a, double b) {
    const int n = 20000;
    const double h = (b - a) / n;
    double s = f(a) + f(b);
    for (int i = 1; i < n; ++i) s += f(a + i * h) * (i % 2 ? 4 : 2);
    return s * h / 3;
  };
  const auto simpson = [&](auto f, double a, double b) {  // split at the Laplace density's kink
    return a < 0 && b > 0 ? simpson_piece(f, a, 0.0) + simpson_piece(f, 0.0, b) : simpson_piece(f, a, b);
  };
  const auto gauss = [](double x) { return std::exp(-x * x / 2) / std::sqrt(2 * 3.14159265358979323846); };
  const auto lap = [](double x) { return std::exp(-std::sqrt(2.0) * std::abs(x)) / std::sqrt(2.0); };
  for (const auto& [a, b] : {std::pair{-0.7, 1.9}, std::pair{0.3, 2.2}, std::pair{-3.1, -0.2}, std::pair{2.0, 6.0}}) {
    INFO(a << ".." << b);
    const auto g = lm::gaussian::moments(a, b);
    const auto l = lm::laplace::moments(a, b);
    for (int k = 0; k < 3; ++k) {
      const auto moment = [k](auto pdf) { return [=](double x) { return std::pow(x, k) * pdf(x); }; };
      CHECK_THAT(g[static_cast<std::size_t>(k)], WithinAbs(simpson(moment(gauss), a, b), 1e-10));
      CHECK_THAT(l[static_cast<std::size_t>(k)], WithinAbs(simpson(moment(lap), a, b), 1e-10));
    }
  }
  const double inf = std::numeric_limits<double>::infinity();
  for (const auto m : {lm::gaussian::moments(-inf, inf), lm::laplace::moments(-inf, inf)}) {
    CHECK_THAT(m[0], WithinAbs(1.0, 1e-15));
    CHECK_THAT(m[1], WithinAbs(0.0, 1e-15));
    CHECK_THAT(m[2], WithinAbs(1.0, 1e-15));
  }
}

TEST_CASE("Lloyd-Max on data ends at a fixed point of both optimality conditions", "[codebook][lloyd_max]") {
  std::mt19937 rng(7);
  std::gamma_distribution<float> skewed(2.0f, 1.5f);
  std::uniform_real_distribution<float> weight(0.0f, 3.0f);
  std::vector<float> x(5000), w(5000);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = skewed(rng), w[i] = i % 10 == 0 ? 0.0f : weight(rng);
  for (const std::size_t levels : {2u, 5u, 16u, 64u}) {
    INFO(levels << " levels");
    const auto r = lm::fit(x, w, levels);
    REQUIRE(r.converged);
    REQUIRE(std::is_sorted(r.levels.begin(), r.levels.end()));
    // Each level is the weighted mean of the values nearest to it (brute force).
    std::vector<double> mass(levels, 0), sum(levels, 0);
    double total = 0, weight_sum = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      std::size_t best = 0;
      for (std::size_t j = 1; j < levels; ++j)
        if (std::abs(x[i] - r.levels[j]) < std::abs(x[i] - r.levels[best])) best = j;
      mass[best] += w[i], sum[best] += double{w[i]} * x[i];
      total += double{w[i]} * (x[i] - r.levels[best]) * (x[i] - r.levels[best]);
      weight_sum += w[i];
    }
    for (std::size_t j = 0; j < levels; ++j)
      if (mass[j] > 0) CHECK_THAT(r.levels[j], WithinAbs(sum[j] / mass[j], 1e-9 * (1 + std::abs(r.levels[j]))));
    CHECK_THAT(r.distortion, WithinAbs(total / weight_sum, 1e-9));
    // The codebook of the result encodes to the nearest level.
    const auto book = r.codebook();
    for (std::size_t i = 0; i < 200; ++i) {
      const float y = book.decode(book.encode(x[i]));
      for (const float level : book.levels()) CHECK(std::abs(x[i] - y) <= std::abs(x[i] - level));
    }
  }
}

TEST_CASE("Lloyd-Max on data: weights act as repeated values; few levels reach the optimum", "[codebook][lloyd_max]") {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(300), w(300), repeated;
  for (std::size_t i = 0; i < x.size(); ++i) {
    x[i] = normal(rng);
    w[i] = static_cast<float>(1 + i % 4);
    repeated.insert(repeated.end(), static_cast<std::size_t>(w[i]), x[i]);
  }
  const auto weighted = lm::fit(x, w, 6), plain = lm::fit(repeated, 6);
  CHECK(weighted.levels == plain.levels);
  CHECK(weighted.iterations == plain.iterations);

  // Three well-separated clusters: the exact optimum, found by trying every split of the
  // sorted values into three runs.
  std::vector<float> clusters;
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 40; ++i) clusters.push_back(static_cast<float>(10 * c) + normal(rng));
  std::vector<double> sorted(clusters.begin(), clusters.end()), ones(sorted.size(), 1.0);
  std::sort(sorted.begin(), sorted.end());
  const auto mean = [&](std::size_t a, std::size_t b) {
    double s = 0;
    for (std::size_t i = a; i < b; ++i) s += sorted[i];
    return s / static_cast<double>(b - a);
  };
  double optimum = std::numeric_limits<double>::infinity();
  for (std::size_t i = 1; i < sorted.size(); ++i)
    for (std::size_t j = i + 1; j < sorted.size(); ++j)
      optimum = std::min(optimum, brute_distortion(sorted, ones, {mean(0, i), mean(i, j), mean(j, sorted.size())}));
  CHECK_THAT(lm::fit(clusters, 3).distortion, WithinAbs(optimum, 1e-12));

  // As many levels as distinct values: the values themselves, no error.
  const std::vector<float> four = {3, 1, 2, 2, 4, 1};
  const auto exact = lm::fit(four, 4);
  CHECK(exact.levels == std::vector<double>{1, 2, 3, 4});
  CHECK(exact.distortion == 0);

  // A large Gaussian sample comes near the density's design (all levels can drift together
  // a little: the distortion barely changes along that direction), and fits the sample
  // better than the density's levels do.
  std::vector<float> big(200000);
  for (auto& v : big) v = normal(rng);
  const auto from_data = lm::fit(big, 8), from_density = lm::design(lm::gaussian{}, 8);
  for (std::size_t i = 0; i < 8; ++i) CHECK_THAT(from_data.levels[i], WithinAbs(from_density.levels[i], 0.05));
  const std::vector<double> big_sorted(big.begin(), big.end()), big_ones(big.size(), 1.0);
  CHECK_THAT(from_data.distortion, WithinAbs(brute_distortion(big_sorted, big_ones, from_data.levels), 1e-12));
  CHECK(from_data.distortion < brute_distortion(big_sorted, big_ones, from_density.levels));
  CHECK(lm::fit(big, 8).levels == from_data.levels);  // deterministic
}

TEST_CASE("Lloyd-Max refuses bad input", "[codebook][lloyd_max][errors]") {
  const std::vector<float> x = {1, 2, 3, 4};
  CHECK(qtl::test::error_code_of([&] { (void)lm::fit(x, 5); }) == qtl::errc::invalid_argument);  // more levels than values
  CHECK(qtl::test::error_code_of([&] { (void)lm::fit(x, 1); }) == qtl::errc::invalid_argument);
  CHECK(qtl::test::error_code_of([&] { (void)lm::fit(x, 257); }) == qtl::errc::invalid_argument);
  CHECK(qtl::test::error_code_of([&] { (void)lm::design(lm::gaussian{}, 300); }) == qtl::errc::invalid_argument);
  CHECK(qtl::test::error_code_of([&] { (void)lm::fit(std::vector<float>{1, 2, NAN, 4}, 2); }) == qtl::errc::non_finite);
  CHECK(qtl::test::error_code_of([&] { (void)lm::fit(x, std::vector<float>{1, 1, 1}, 2); }) == qtl::errc::shape_mismatch);
  CHECK(qtl::test::error_code_of([&] { (void)lm::fit(x, std::vector<float>{1, -1, 1, 1}, 2); }) == qtl::errc::invalid_argument);
  CHECK(qtl::test::error_code_of([&] { (void)lm::fit(x, std::vector<float>{1, 0, 0, 0}, 2); }) == qtl::errc::invalid_argument);
  CHECK(qtl::test::error_code_of([&] { (void)lm::fit(std::vector<float>{}, 2); }) == qtl::errc::invalid_argument);
}
