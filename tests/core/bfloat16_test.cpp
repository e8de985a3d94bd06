#include <qtl/core/bfloat16.hpp>

#include <catch2/catch_test_macros.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>

namespace {
float float_of(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Independent oracle: of the two bfloat16 neighbours of f, the nearer one in exact
// (double) arithmetic, the one with an even last bit on a tie.
std::uint16_t nearest_bfloat16(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  const auto down = static_cast<std::uint16_t>(u >> 16);
  const auto up = static_cast<std::uint16_t>(down + 1);
  const double lo = static_cast<double>(float_of(static_cast<std::uint32_t>(down) << 16));
  // The upper neighbour of the largest finite value is Inf; use its would-be value.
  const double hi = (up & 0x7fff) == 0x7f80 ? std::ldexp(std::copysign(1.0, f), 128)
                                            : static_cast<double>(float_of(static_cast<std::uint32_t>(up) << 16));
  const double x = static_cast<double>(f);
  const double d_lo = std::fabs(x - lo), d_hi = std::fabs(x - hi);
  if (d_lo < d_hi) return down;
  if (d_hi < d_lo) return up;
  return (down & 1) ? up : down;
}
}  // namespace

static_assert(qtl::float_to_bfloat16_bits(1.0f) == 0x3f80);
static_assert(qtl::float_to_bfloat16_bits(1.0f + 0x1p-8f) == 0x3f80);   // tie: even
static_assert(qtl::float_to_bfloat16_bits(1.0f + 0x3p-8f) == 0x3f82);   // tie: even (up)
static_assert(qtl::float_to_bfloat16_bits(0x1.fep127f) == 0x7f7f);
static_assert(qtl::float_to_bfloat16_bits(0x1.ffp127f) == 0x7f80);      // tie above max: Inf
static_assert(qtl::float_to_bfloat16_bits(-std::numeric_limits<float>::infinity()) == 0xff80);
static_assert(qtl::float_to_bfloat16_bits(std::numeric_limits<float>::denorm_min()) == 0x0000);
static_assert(qtl::bfloat16_bits_to_float(0x4049) == 3.140625f);

TEST_CASE("bfloat16: rounds every sampled float to the nearest, ties to even", "[bfloat16]") {
  std::mt19937 rng(11);
  for (int i = 0; i < 1 << 21; ++i) {
    std::uint32_t u = static_cast<std::uint32_t>(rng());
    if (i % 4 == 0) u = (u & 0xffff0000u) | 0x8000u;  // exact ties
    const float f = float_of(u);
    if (std::isnan(f) || std::isinf(f)) continue;
    REQUIRE(qtl::float_to_bfloat16_bits(f) == nearest_bfloat16(f));
  }
}

TEST_CASE("bfloat16: NaN stays NaN, every bfloat16 round-trips", "[bfloat16]") {
  for (std::uint32_t b = 0; b < 0x10000; ++b) {
    const auto h = static_cast<std::uint16_t>(b);
    const float f = qtl::bfloat16_bits_to_float(h);
    if (std::isnan(f))
      REQUIRE(std::isnan(qtl::bfloat16_bits_to_float(qtl::float_to_bfloat16_bits(f))));
    else
      REQUIRE(qtl::float_to_bfloat16_bits(f) == h);
  }
  // A NaN whose payload lives only in the low 16 bits must not become Inf.
  REQUIRE(std::isnan(qtl::bfloat16_bits_to_float(qtl::float_to_bfloat16_bits(float_of(0x7f800001u)))));
  REQUIRE(static_cast<float>(qtl::bfloat16(2.5f)) == 2.5f);
}
