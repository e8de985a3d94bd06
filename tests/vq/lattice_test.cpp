// qtl/vq/lattice.hpp: nearest points of Z^n, D_n and E8 against a search of every lattice
// point around the input; the cells' normalized second moments against Conway and
// Sloane's values; codes round-trip through lattice_quantizer; bad input refused.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_floating_point.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <type_traits>
#include <vector>

#include "error_code.hpp"
#include "qtl/core/error.hpp"
#include "qtl/vq/lattice.hpp"

namespace {

using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;

template <std::size_t N>
double squared_distance(const std::array<double, N>& a, const std::array<double, N>& b) {
  double d = 0;
  for (std::size_t i = 0; i < N; ++i) d += (a[i] - b[i]) * (a[i] - b[i]);
  return d;
}

// Membership by definition: integer coordinates (D_n: with an even sum); E8 also takes
// all-half-integer points with an even sum.
template <class L, std::size_t N>
bool is_point(const std::array<double, N>& p) {
  const bool whole = std::all_of(p.begin(), p.end(), [](double v) { return v == std::floor(v); });
  const bool half = std::all_of(p.begin(), p.end(), [](double v) { return v - 0.5 == std::floor(v - 0.5); });
  double sum = 0;
  for (const double v : p) sum += v;
  const bool even = std::fmod(std::fabs(sum), 2.0) == 0.0;
  if constexpr (std::is_same_v<L, qtl::vq::lattice_e8>) return (whole || half) && even;
  else if constexpr (L::volume == 2) return whole && even;
  else return whole;
}

// The smallest distance from x to any lattice point whose coordinates lie within 1 of x's
// rounded ones (and, for E8, of x - 1/2's rounded ones plus 1/2): the nearest is among them.
template <class L, std::size_t N>
double brute_force(const std::array<double, N>& x) {
  double best = std::numeric_limits<double>::infinity();
  for (const double offset : {0.0, 0.5}) {
    if (offset != 0 && L::denominator == 1) break;
    std::size_t total = 1;
    for (std::size_t i = 0; i < N; ++i) total *= 3;
    for (std::size_t n = 0; n < total; ++n) {
      std::array<double, N> p{};
      std::size_t digits = n;
      for (std::size_t i = 0; i < N; ++i, digits /= 3)
        p[i] = std::nearbyint(x[i] - offset) + offset + static_cast<double>(digits % 3) - 1.0;
      if (is_point<L>(p)) best = std::min(best, squared_distance(x, p));
    }
  }
  return best;
}

template <class L>
void check_nearest(std::size_t samples) {
  constexpr std::size_t n = L::dimension;
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> uniform(-6.0, 6.0);
  for (std::size_t s = 0; s < samples; ++s) {
    std::array<double, n> x{};
    for (double& v : x) v = s % 4 == 0 ? std::round(uniform(rng) * 2) / 2 : uniform(rng);  // half-integers: ties
    const auto p = L::nearest(x);
    REQUIRE(is_point<L>(p));
    REQUIRE_THAT(squared_distance(x, p), WithinAbs(brute_force<L>(x), 1e-12));
    REQUIRE(L::nearest(p) == p);  // a lattice point is its own nearest point
  }
}

// G = E|x - Q(x)|^2 / (n V^(2/n)) over x uniform on a large box (a whole number of periods).
template <class L>
double normalized_second_moment(std::size_t samples) {
  constexpr std::size_t n = L::dimension;
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<double> uniform(0.0, 8.0);
  double sum = 0;
  for (std::size_t s = 0; s < samples; ++s) {
    std::array<double, n> x{};
    for (double& v : x) v = uniform(rng);
    sum += squared_distance(x, L::nearest(x));
  }
  return sum / static_cast<double>(samples) / (n * std::pow(L::volume, 2.0 / n));
}

}  // namespace

TEST_CASE("lattice nearest points equal a search of the points around the input", "[vq][lattice]") {
  check_nearest<qtl::vq::lattice_z<3>>(500);
  check_nearest<qtl::vq::lattice_d<2>>(500);
  check_nearest<qtl::vq::lattice_d<4>>(500);
  check_nearest<qtl::vq::lattice_d<5>>(300);
  check_nearest<qtl::vq::lattice_e8>(150);
}

TEST_CASE("lattice cells have Conway and Sloane's normalized second moments", "[vq][lattice]") {
  // Conway and Sloane, Sphere Packings, Lattices and Groups, table 2.3: Z 1/12, D4 0.0766032,
  // E8 0.0716821 (D3 0.0787451).
  CHECK_THAT(normalized_second_moment<qtl::vq::lattice_z<4>>(100000), WithinRel(1.0 / 12, 0.01));
  CHECK_THAT(normalized_second_moment<qtl::vq::lattice_d<3>>(100000), WithinRel(0.0787451, 0.01));
  CHECK_THAT(normalized_second_moment<qtl::vq::lattice_d<4>>(100000), WithinRel(0.0766032, 0.01));
  CHECK_THAT(normalized_second_moment<qtl::vq::lattice_e8>(100000), WithinRel(0.0716821, 0.01));
}

TEST_CASE("lattice_quantizer codes scaled nearest points as int8", "[vq][lattice]") {
  const qtl::vq::lattice_quantizer<qtl::vq::lattice_e8> e8(0.25f);
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> x(5 * 16), back(x.size());
  for (float& v : x) v = normal(rng);
  std::vector<std::int8_t> codes(x.size());
  e8.encode({x.data(), 5, 16}, codes);
  e8.decode(codes, {back.data(), 5, 16});
  for (std::size_t b = 0; b < x.size(); b += 8) {
    std::array<double, 8> block{};
    for (std::size_t i = 0; i < 8; ++i) block[i] = static_cast<double>(x[b + i]) / 0.25;
    const auto p = qtl::vq::lattice_e8::nearest(block);
    for (std::size_t i = 0; i < 8; ++i) {
      REQUIRE(codes[b + i] == static_cast<std::int8_t>(p[i] * 2));
      REQUIRE(back[b + i] == static_cast<float>(p[i] * 0.25));
    }
  }
  // At one scale E8 codes with less error than Z^8 does at the same density of points.
  const qtl::vq::lattice_quantizer<qtl::vq::lattice_z<8>> z8(0.25f);
  std::vector<std::int8_t> z_codes(x.size());
  std::vector<float> z_back(x.size());
  z8.encode({x.data(), 5, 16}, z_codes);
  z8.decode(z_codes, {z_back.data(), 5, 16});
  double e8_error = 0, z8_error = 0;
  for (std::size_t i = 0; i < x.size(); ++i)
    e8_error += (x[i] - back[i]) * (x[i] - back[i]), z8_error += (x[i] - z_back[i]) * (x[i] - z_back[i]);
  CHECK(e8_error < z8_error);
}

TEST_CASE("lattice_quantizer refuses bad input and writes nothing", "[vq][lattice][errors]") {
  using qtl::test::error_code_of;
  CHECK(error_code_of([] { qtl::vq::lattice_quantizer<qtl::vq::lattice_d<4>>(0.0f); }) == qtl::errc::invalid_argument);
  CHECK(error_code_of([] { qtl::vq::lattice_quantizer<qtl::vq::lattice_d<4>>(NAN); }) == qtl::errc::invalid_argument);
  const qtl::vq::lattice_quantizer<qtl::vq::lattice_d<4>> d4(0.5f);
  std::vector<float> x(2 * 8, 1.0f);
  std::vector<std::int8_t> codes(x.size(), 7);
  CHECK(error_code_of([&] { d4.encode({x.data(), 2, 6}, std::span(codes).first(12)); }) == qtl::errc::invalid_argument);
  CHECK(error_code_of([&] { d4.encode({x.data(), 2, 8}, std::span(codes).first(15)); }) == qtl::errc::shape_mismatch);
  x[11] = NAN;
  CHECK(error_code_of([&] { d4.encode({x.data(), 2, 8}, codes); }) == qtl::errc::non_finite);
  x[11] = 64.0f;  // 128 steps of 0.5: past int8
  CHECK(error_code_of([&] { d4.encode({x.data(), 2, 8}, codes); }) == qtl::errc::out_of_range);
  CHECK(std::all_of(codes.begin(), codes.end(), [](std::int8_t c) { return c == 7; }));
  std::vector<float> out(16);
  CHECK(error_code_of([&] { d4.decode(codes, {out.data(), 2, 4}); }) == qtl::errc::shape_mismatch);
}
