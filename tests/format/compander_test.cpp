// qtl/format/compander.hpp: μ-law and A-law levels against their curves in double, the
// encoder's cells (rounding in the compressed domain), and the relative accuracy a
// quantizer over them keeps across three decades where a uniform int8 does not.
#include <catch2/catch_test_macros.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "qtl/format/compander.hpp"
#include "qtl/format/int_format.hpp"
#include "qtl/quantizer.hpp"
#include "qtl/scheme.hpp"

namespace {

template <class F>
void check_format() {
  using curve = typename F::curve_type;
  for (double a = 0.0; a <= 1.0; a += 1.0 / 4096) {
    CHECK(std::fabs(curve::expand(curve::compress(a)) - a) <= 1e-12);
  }
  CHECK(F::decode(0) == 0.0f);
  CHECK(F::decode(F::top) == 1.0f);
  float largest = 0.0f;  // the stated largest magnitude is the levels' (the codebook scheme's scale)
  for (int k = F::min_code; k <= F::max_code; ++k) largest = std::max(largest, std::fabs(F::decode(k)));
  CHECK(qtl::detail::largest_level<F>() == largest);
  for (int k = F::min_code; k <= F::max_code; ++k) {
    INFO("code " << k);
    const double exact = std::copysign(curve::expand(std::abs(k) / static_cast<double>(F::top)), k);
    if (k != 0 && std::abs(k) != F::top) CHECK(F::decode(k) == static_cast<float>(exact));
    CHECK(F::decode(k) == -F::decode(-k));
    if (k < F::max_code) CHECK(F::decode(k) < F::decode(k + 1));
    CHECK(F::encode(F::decode(k)) == k);
  }
  // Cell k ends at expand((k + 1/2) / K): that value stays in k, the next float goes up.
  for (int k = 0; k < F::top; ++k) {
    const auto boundary = static_cast<float>(curve::expand((k + 0.5) / F::top));
    INFO("boundary " << k);
    CHECK(F::encode(boundary) == k);
    CHECK(F::encode(std::nextafter(boundary, 2.0f)) == k + 1);
    CHECK(F::encode(-std::nextafter(boundary, 2.0f)) == -(k + 1));
  }
  CHECK(F::encode(1.5f) == F::top);
  CHECK(F::encode(-std::numeric_limits<float>::infinity()) == F::min_code);
  CHECK(F::encode(std::numeric_limits<float>::quiet_NaN()) == 0);
}

// The largest error relative to the value over values from 1e-3 to 1 of the group's absmax.
template <class Q>
double worst_relative_error(double from) {
  std::vector<float> x;
  for (double v = from; v <= 1.0; v *= 1.01) x.push_back(static_cast<float>(v));
  x.push_back(1.0f);
  const Q q;
  const qtl::matrix_view<const float> view(x.data(), 1, x.size());
  const auto t = q.quantize(view);
  std::vector<float> y(x.size());
  q.dequantize(t, qtl::matrix_view<float>(y.data(), 1, y.size()));
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::fabs(double(y[i]) - x[i]) / x[i]);
  return worst;
}

}  // namespace

TEST_CASE("mu-law compander levels, cells and encoder", "[format][compander]") {
  check_format<qtl::mu_law<8>>();
  check_format<qtl::mu_law<4>>();
  check_format<qtl::compander<6, qtl::mu_law_curve<100>>>();
}

TEST_CASE("A-law compander levels, cells and encoder", "[format][compander]") {
  check_format<qtl::a_law<8>>();
  check_format<qtl::a_law<5>>();
}

TEST_CASE("An 8-bit mu-law quantizer keeps relative error over three decades", "[format][compander]") {
  // μ = 255, K = 127: a cell's half-width relative to its value is about
  // ln(256) / (2K) · (1 + 1/(μ|x|)), 3 % at |x| = 0.01, 6 % at 0.003.
  const double mu = worst_relative_error<qtl::quantizer<qtl::mu_law<8>, qtl::codebook, qtl::per_tensor>>(0.01);
  const double uniform = worst_relative_error<qtl::quantizer<qtl::int8, qtl::symmetric, qtl::per_tensor>>(0.01);
  CHECK(mu < 0.035);
  CHECK(uniform > 0.3);  // half a step of 1/127 is 39 % of 0.01
  CHECK(worst_relative_error<qtl::quantizer<qtl::a_law<8>, qtl::codebook, qtl::per_tensor>>(0.01) < 0.035);
}
