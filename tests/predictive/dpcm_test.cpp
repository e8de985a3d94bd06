// qtl/predictive/dpcm.hpp and least_squares_predictor.hpp: the decoder reproduces the
// encoder's reconstruction exactly, in one call or continued; the error stays within half
// a step wherever no code clips; the least-squares predictor solves the normal equations
// (checked against Cramer's rule) and predicts better than the fixed ones; rows are
// independent streams; bad coders, states, codes and samples refused.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_floating_point.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "error_code.hpp"
#include "qtl/core/error.hpp"
#include "qtl/predictive/dpcm.hpp"
#include "qtl/predictive/least_squares_predictor.hpp"

namespace {

using Catch::Matchers::WithinAbs;

// A second-order autoregressive signal: a damped resonance driven by noise.
std::vector<float> resonance(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0.0, 1.0);
  std::vector<float> x(n);
  double a = 0, b = 0;
  for (auto& v : x) {
    const double c = 1.6 * a - 0.8 * b + noise(rng);
    b = a, a = c;
    v = static_cast<float>(c);
  }
  return x;
}

// Open-loop prediction error energy of predictor p on x.
double residual_energy(std::span<const float> x, const std::vector<double>& p) {
  double e = 0;
  for (std::size_t n = p.size(); n < x.size(); ++n) {
    double pred = 0;
    for (std::size_t k = 0; k < p.size(); ++k) pred += p[k] * x[n - 1 - k];
    e += (x[n] - pred) * (x[n] - pred);
  }
  return e;
}

}  // namespace

TEST_CASE("DPCM: the decoder rebuilds the encoder's reconstruction, within half a step", "[predictive][dpcm]") {
  const auto x = resonance(4000, 1);
  for (const auto& predictor : {std::vector<double>{1.0}, std::vector<double>{2.0, -1.0}, std::vector<double>{1.6, -0.8}}) {
    const qtl::dpcm::coder coder{predictor, 0.05, 8};
    qtl::dpcm::state encoder, decoder;
    const auto codes = qtl::dpcm::encode(x, coder, encoder);
    const auto y = qtl::dpcm::decode(codes, coder, decoder);
    CHECK(encoder.history == decoder.history);
    std::size_t clipped = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (codes[i] == coder.min_code() || codes[i] == coder.max_code()) {
        ++clipped;
        continue;
      }
      REQUIRE(std::abs(double{x[i]} - y[i]) <= coder.step / 2 * (1 + 1e-6) + 1e-6);
    }
    INFO("predictor order " << predictor.size() << ": " << clipped << " clipped codes");
    if (predictor.size() == 2 && predictor[0] == 1.6) CHECK(clipped == 0);  // the process's own predictor
    // Continued over two calls: the same codes and reconstruction.
    qtl::dpcm::state carried;
    auto first = qtl::dpcm::encode(std::span(x).first(1234), coder, carried);
    const auto second = qtl::dpcm::encode(std::span(x).subspan(1234), coder, carried);
    first.insert(first.end(), second.begin(), second.end());
    CHECK(first == codes);
    CHECK(carried.history == encoder.history);
  }
  // Delta coding of integers with step 1 is lossless while the differences fit.
  const std::vector<float> ints = {0, 3, 7, 2, -5, -5, 60, 100, 90};
  qtl::dpcm::state s, t;
  const qtl::dpcm::coder delta{{1.0}, 1.0, 8};
  CHECK(qtl::dpcm::decode(qtl::dpcm::encode(ints, delta, s), delta, t) == ints);
}

TEST_CASE("DPCM: a clipped code is caught up by the following ones", "[predictive][dpcm]") {
  // A step the 4-bit code cannot follow in one sample: the reconstruction climbs at the
  // largest code per sample and then tracks again.
  std::vector<float> x(40, 0.0f);
  for (std::size_t i = 10; i < x.size(); ++i) x[i] = 3.0f;
  const qtl::dpcm::coder coder{{1.0}, 0.1, 4};
  qtl::dpcm::state s;
  const auto codes = qtl::dpcm::encode(x, coder, s);
  qtl::dpcm::state d;
  const auto y = qtl::dpcm::decode(codes, coder, d);
  CHECK(codes[10] == 7);
  CHECK_THAT(y[10], WithinAbs(0.7, 1e-6));
  CHECK_THAT(y.back(), WithinAbs(3.0, 0.05));
}

TEST_CASE("DPCM least-squares predictor", "[predictive][dpcm]") {
  const auto x = resonance(20000, 2);
  const auto a = qtl::dpcm::fit_predictor(x, 2);
  REQUIRE(a.size() == 2);
  // The normal equations of order 2, solved by Cramer's rule in long double.
  long double r11 = 0, r12 = 0, r22 = 0, c1 = 0, c2 = 0;
  for (std::size_t n = 2; n < x.size(); ++n) {
    const long double u = x[n - 1], v = x[n - 2], t = x[n];
    r11 += u * u, r12 += u * v, r22 += v * v, c1 += t * u, c2 += t * v;
  }
  const long double det = r11 * r22 - r12 * r12;
  CHECK_THAT(a[0], WithinAbs(static_cast<double>((c1 * r22 - r12 * c2) / det), 1e-9));
  CHECK_THAT(a[1], WithinAbs(static_cast<double>((r11 * c2 - r12 * c1) / det), 1e-9));
  CHECK_THAT(a[0], WithinAbs(1.6, 0.02));  // and the process's own coefficients
  CHECK_THAT(a[1], WithinAbs(-0.8, 0.02));
  // It predicts better than the fixed predictors, and a higher order no worse.
  CHECK(residual_energy(x, a) < residual_energy(x, {1.0}));
  CHECK(residual_energy(x, a) < residual_energy(x, {2.0, -1.0}));
  CHECK(residual_energy(x, qtl::dpcm::fit_predictor(x, 6)) <= residual_energy(x, a) * (1 + 1e-12));

  CHECK(qtl::test::error_code_of([&] { (void)qtl::dpcm::fit_predictor(x, 0); }) == qtl::errc::invalid_argument);
  CHECK(qtl::test::error_code_of([&] { (void)qtl::dpcm::fit_predictor(std::span(x).first(4), 2); }) == qtl::errc::invalid_argument);
  CHECK(qtl::test::error_code_of([&] { (void)qtl::dpcm::fit_predictor(std::vector<float>(100, 0.0f), 2); }) ==
        qtl::errc::invalid_argument);  // nothing to determine the coefficients
  auto bad = x;
  bad[5] = NAN;
  CHECK(qtl::test::error_code_of([&] { (void)qtl::dpcm::fit_predictor(bad, 2); }) == qtl::errc::non_finite);
}

TEST_CASE("DPCM along rows: each row its own stream", "[predictive][dpcm]") {
  const auto x = resonance(3 * 500, 3);
  const qtl::dpcm::coder coder{{1.6, -0.8}, 0.1, 6};
  const auto codes = qtl::dpcm::encode_rows(qtl::matrix_view<const float>(x.data(), 3, 500), coder);
  REQUIRE(codes.size() == x.size());
  for (std::size_t r = 0; r < 3; ++r) {
    qtl::dpcm::state s;
    const auto row = qtl::dpcm::encode(std::span(x).subspan(r * 500, 500), coder, s);
    CHECK(std::equal(row.begin(), row.end(), codes.begin() + static_cast<std::ptrdiff_t>(r * 500)));
  }
  const auto y = qtl::dpcm::decode_rows(codes, 3, 500, coder);
  qtl::dpcm::state s;
  const auto row1 = qtl::dpcm::decode(std::span(codes).subspan(500, 500), coder, s);
  CHECK(std::equal(row1.begin(), row1.end(), y.begin() + 500));
  CHECK(qtl::test::error_code_of([&] { (void)qtl::dpcm::decode_rows(codes, 3, 499, coder); }) == qtl::errc::shape_mismatch);
}

TEST_CASE("DPCM refuses bad coders, states, codes and samples", "[predictive][dpcm][errors]") {
  const std::vector<float> x = {1, 2, 3};
  qtl::dpcm::state s;
  CHECK(qtl::test::error_code_of([&] { (void)qtl::dpcm::encode(x, {{}, 1.0, 8}, s); }) == qtl::errc::invalid_argument);
  CHECK(qtl::test::error_code_of([&] { (void)qtl::dpcm::encode(x, {{1.0}, 0.0, 8}, s); }) == qtl::errc::invalid_argument);
  CHECK(qtl::test::error_code_of([&] { (void)qtl::dpcm::encode(x, {{1.0}, NAN, 8}, s); }) == qtl::errc::invalid_argument);
  CHECK(qtl::test::error_code_of([&] { (void)qtl::dpcm::encode(x, {{1.0}, 1.0, 1}, s); }) == qtl::errc::invalid_argument);
  CHECK(qtl::test::error_code_of([&] { (void)qtl::dpcm::encode(x, {{1.0}, 1.0, 9}, s); }) == qtl::errc::invalid_argument);
  CHECK(qtl::test::error_code_of([&] { (void)qtl::dpcm::encode(x, {{INFINITY}, 1.0, 8}, s); }) == qtl::errc::non_finite);
  // A non-finite sample: nothing coded, the state untouched.
  qtl::dpcm::state kept{{0.25}};
  CHECK(qtl::test::error_code_of([&] { (void)qtl::dpcm::encode(std::vector<float>{1, NAN}, {{1.0}, 1.0, 8}, kept); }) ==
        qtl::errc::non_finite);
  CHECK(kept.history == std::vector<double>{0.25});
  CHECK(qtl::test::error_code_of([&] { (void)qtl::dpcm::encode(x, {{1.0, 0.5}, 1.0, 8}, kept); }) == qtl::errc::shape_mismatch);
  qtl::dpcm::state d;
  CHECK(qtl::test::error_code_of([&] { (void)qtl::dpcm::decode(std::vector<std::int8_t>{0, 8}, {{1.0}, 1.0, 4}, d); }) ==
        qtl::errc::out_of_range);
  CHECK(qtl::test::error_code_of([&] { (void)qtl::dpcm::decode(std::vector<std::int8_t>{-9}, {{1.0}, 1.0, 4}, d); }) ==
        qtl::errc::out_of_range);
}
