#include <qtl/core/half.hpp>

#include <catch2/catch_test_macros.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>

namespace {
std::uint32_t bits_of(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float float_of(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
}  // namespace

// Known values, checked at compile time.
static_assert(qtl::float_to_half_bits(1.0f) == 0x3c00);
static_assert(qtl::float_to_half_bits(-2.0f) == 0xc000);
static_assert(qtl::float_to_half_bits(65504.0f) == 0x7bff);     // largest finite
static_assert(qtl::float_to_half_bits(65519.996f) == 0x7bff);   // just under the tie
static_assert(qtl::float_to_half_bits(65520.0f) == 0x7c00);     // tie rounds to even: Inf
static_assert(qtl::float_to_half_bits(0x1p-24f) == 0x0001);     // smallest subnormal
static_assert(qtl::float_to_half_bits(0x1p-25f) == 0x0000);     // tie with zero: even
static_assert(qtl::float_to_half_bits(0x1.000002p-25f) == 0x0001);
static_assert(qtl::float_to_half_bits(0x1.8p-24f) == 0x0002);   // 1.5 units: tie to even 2
static_assert(qtl::float_to_half_bits(0x1p-14f) == 0x0400);     // smallest normal
static_assert(qtl::float_to_half_bits(0x1.ff8p-15f) == 0x03ff); // largest subnormal
static_assert(qtl::float_to_half_bits(-0.0f) == 0x8000);
static_assert(qtl::float_to_half_bits(1.0f + 0x1p-11f) == 0x3c00);            // tie: even
static_assert(qtl::float_to_half_bits(1.0f + 0x1p-11f + 0x1p-23f) == 0x3c01);  // above the tie
static_assert(qtl::float_to_half_bits(1.0f + 0x3p-11f) == 0x3c02);            // tie: even (up)
static_assert(qtl::half_bits_to_float(0x0001) == 0x1p-24f);
static_assert(qtl::half_bits_to_float(0x7bff) == 65504.0f);
static_assert(qtl::half_bits_to_float(0x3555) == 0x1.554p-2f);
static_assert(qtl::float_to_half_bits(std::numeric_limits<float>::infinity()) == 0x7c00);

TEST_CASE("half: every binary16 value survives a trip through float", "[half]") {
  for (std::uint32_t b = 0; b < 0x10000; ++b) {
    const auto h = static_cast<std::uint16_t>(b);
    const float f = qtl::half_bits_to_float(h);
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0) {
      REQUIRE(std::isnan(f));
      REQUIRE((qtl::float_to_half_bits(f) & 0x7e00) == 0x7e00);  // still a (quiet) NaN
      REQUIRE((qtl::float_to_half_bits(f) & 0x8000) == (h & 0x8000));
    } else {
      REQUIRE(qtl::float_to_half_bits(f) == h);
    }
  }
}

#if defined(__FLT16_MAX__)
// The compiler's own _Float16 conversion (hardware or libgcc) is the oracle.
TEST_CASE("half: float to half matches the compiler's _Float16 conversion", "[half]") {
  auto oracle = [](float f) {
    const _Float16 h = static_cast<_Float16>(f);
    std::uint16_t u;
    std::memcpy(&u, &h, 2);
    return u;
  };
  // Every exponent, with mantissas around every rounding boundary, then random bits.
  for (std::uint32_t sign = 0; sign < 2; ++sign)
    for (std::uint32_t exponent = 0; exponent < 255; ++exponent)
      for (std::uint32_t low : {0x0u, 0x1u, 0xfffu, 0x1000u, 0x1001u, 0x1fffu, 0x2000u, 0x3000u, 0x7fffu})
        for (std::uint32_t high = 0; high < 64; ++high) {
          const std::uint32_t mantissa = ((high * 0x1fffu) << 7 | low) & 0x7fffffu;
          const float f = float_of(sign << 31 | exponent << 23 | mantissa);
          REQUIRE(qtl::float_to_half_bits(f) == oracle(f));
        }
  std::mt19937 rng(7);
  for (int i = 0; i < 1 << 20; ++i) {
    const float f = float_of(static_cast<std::uint32_t>(rng()));
    if (std::isnan(f)) continue;
    REQUIRE(qtl::float_to_half_bits(f) == oracle(f));
  }
}

TEST_CASE("half: half to float matches the compiler's _Float16 conversion", "[half]") {
  for (std::uint32_t b = 0; b < 0x10000; ++b) {
    const auto u = static_cast<std::uint16_t>(b);
    _Float16 h;
    std::memcpy(&h, &u, 2);
    const float expected = static_cast<float>(h);
    const float got = qtl::half_bits_to_float(u);
    if (std::isnan(expected))
      REQUIRE(std::isnan(got));
    else
      REQUIRE(bits_of(got) == bits_of(expected));
  }
}
#endif

TEST_CASE("half: value type converts both ways", "[half]") {
  const qtl::half h(0.1f);
  REQUIRE(h.bits == 0x2e66);
  REQUIRE(static_cast<float>(h) == 0x1.998p-4f);
  REQUIRE(qtl::half::from_bits(0x3c00) == qtl::half(1.0f));
  REQUIRE(std::isnan(static_cast<float>(qtl::half(std::numeric_limits<float>::quiet_NaN()))));
}
