// qtl/format/pow2.hpp: the levels, the nearest-level encoder against a search over every
// level on a sweep of float32 bit patterns, and a quantizer over it. The batch steps are
// checked against these by the composed SIMD path's cases (kernel/simd_quantizer_cases.hpp).
#include <catch2/catch_test_macros.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "qtl/format/pow2.hpp"
#include "qtl/quantizer.hpp"
#include "qtl/scheme.hpp"

namespace {

// The nearest level by a search over all of them (an exact tie: the larger magnitude);
// beyond 1 the largest level of that sign.
template <class F>
int nearest(float x) {
  if (std::fabs(x) >= 1.0f) return x > 0 ? F::max_code : F::min_code;
  int best = 0;
  for (int k = F::min_code; k <= F::max_code; ++k) {
    const double d = std::fabs(static_cast<double>(x) - F::decode(k)), b = std::fabs(static_cast<double>(x) - F::decode(best));
    if (d < b || (d == b && std::fabs(F::decode(k)) > std::fabs(F::decode(best)))) best = k;
  }
  return best;
}

template <int Bits>
void check_pow2() {
  using F = qtl::pow2<Bits>;
  INFO("pow2<" << Bits << ">");
  for (int k = F::min_code; k <= F::max_code; ++k) {
    const float expected = k == 0 ? 0.0f : std::copysign(std::ldexp(1.0f, std::abs(k) - F::top), static_cast<float>(k));
    CHECK(std::bit_cast<std::uint32_t>(F::decode(k)) == std::bit_cast<std::uint32_t>(expected));
    CHECK(F::encode(F::decode(k)) == k);
  }
  std::size_t wrong = 0, nan_wrong = 0;
  for (std::uint64_t b = 0; b < (std::uint64_t{1} << 32); b += 65521) {
    const float x = std::bit_cast<float>(static_cast<std::uint32_t>(b));
    const int code = F::encode(x);
    if (x != x) nan_wrong += code != 0;
    else wrong += code != nearest<F>(x);
  }
  CHECK(wrong == 0);
  CHECK(nan_wrong == 0);
  // Midpoints: 1.5 · 2^e goes up, the float below it down; 2^-K is the smallest level's.
  if constexpr (F::top >= 3) {  // with fewer levels 0.75 lies in the smallest level's cell
    CHECK(F::encode(0.75f) == F::top);
    CHECK(F::encode(std::nextafter(0.75f, 0.0f)) == F::top - 1);
  }
  CHECK(F::encode(std::ldexp(1.0f, -F::top)) == 1);
  CHECK(F::encode(std::nextafter(std::ldexp(1.0f, -F::top), 0.0f)) == 0);
  CHECK(F::encode(-std::numeric_limits<float>::infinity()) == F::min_code);
}

}  // namespace

TEST_CASE("pow2 levels are signed powers of two and encode takes the nearest", "[format][pow2]") {
  check_pow2<2>();
  check_pow2<4>();
  check_pow2<7>();
}

TEST_CASE("pow2 in a quantizer: a group's absmax is level 1, every value a power of two of it", "[format][pow2]") {
  using q4 = qtl::quantizer<qtl::pow2<4>, qtl::codebook, qtl::per_group<8>>;
  const std::vector<float> x = {0.8f, -0.2f, 0.1f, 0.0f, 0.05f, -0.4f, 0.26f, 0.013f};
  const auto t = q4{}.quantize(qtl::matrix_view<const float>(x.data(), 1, x.size()));
  std::vector<float> y(x.size());
  q4{}.dequantize(t, qtl::matrix_view<float>(y.data(), 1, y.size()));
  // scale 0.8: 0.8, -0.2, 0.1, 0, 0.05, -0.4, 0.2 (0.26 / 0.8 = 0.325 < 0.375), 0.0125
  const std::vector<float> expected = {0.8f, -0.2f, 0.1f, 0.0f, 0.05f, -0.4f, 0.2f, 0.0125f};
  for (std::size_t i = 0; i < x.size(); ++i) CHECK(y[i] == expected[i]);
}
