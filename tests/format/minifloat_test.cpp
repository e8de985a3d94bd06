#include "qtl/format/minifloat.hpp"

#include <catch2/catch_test_macros.hpp>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "golden/golden.hpp"
#include "qtl/core/bit_cast.hpp"
#include "qtl/core/error.hpp"
#include "qtl/format/e8m0.hpp"

namespace {

using qtl::minifloat_overflow;

bool same_float(float a, float b) { return (std::isnan(a) && std::isnan(b)) || qtl::bit_cast<std::uint32_t>(a) == qtl::bit_cast<std::uint32_t>(b); }

// Against ml_dtypes: the value of every code, and the cast of ties, their neighbours,
// random values, overflow and specials, saturating (clamp, then cast) and not.
template <class F>
void check_against_ml_dtypes(const std::string& name) {
  const auto golden = qtl::test::golden_file::load("minifloat.qtlg");
  const auto decoded = golden.get<float>(name + ".decode");
  REQUIRE(decoded.size() == static_cast<std::size_t>(F::levels));
  for (int code = 0; code < F::levels; ++code) {
    INFO(name << " code " << code);
    CHECK(same_float(F::decode(code), decoded[static_cast<std::size_t>(code)]));
  }
  const auto input = golden.get<float>(name + ".input");
  const auto non_saturating = golden.get<std::uint8_t>(name + ".non_saturating");
  const auto saturate = golden.get<std::uint8_t>(name + ".saturate");
  REQUIRE(input.size() > 500);
  for (std::size_t i = 0; i < input.size(); ++i) {
    INFO(name << " input " << input[i] << " (#" << i << ")");
    CHECK(int(F::encode(input[i], minifloat_overflow::non_saturating)) == int(non_saturating[i]));
    CHECK(int(F::encode(input[i], minifloat_overflow::saturate)) == int(saturate[i]));
  }
}

}  // namespace

TEST_CASE("fp8 e4m3 matches ml_dtypes float8_e4m3fn") { check_against_ml_dtypes<qtl::fp8_e4m3>("fp8_e4m3"); }
TEST_CASE("fp8 e5m2 matches ml_dtypes float8_e5m2") { check_against_ml_dtypes<qtl::fp8_e5m2>("fp8_e5m2"); }
TEST_CASE("fp6 e2m3 matches ml_dtypes float6_e2m3fn") { check_against_ml_dtypes<qtl::fp6_e2m3>("fp6_e2m3"); }
TEST_CASE("fp6 e3m2 matches ml_dtypes float6_e3m2fn") { check_against_ml_dtypes<qtl::fp6_e3m2>("fp6_e3m2"); }
TEST_CASE("fp4 e2m1 matches ml_dtypes float4_e2m1fn") { check_against_ml_dtypes<qtl::fp4_e2m1>("fp4_e2m1"); }

TEST_CASE("e8m0 matches ml_dtypes float8_e8m0fnu") {
  const auto golden = qtl::test::golden_file::load("minifloat.qtlg");
  const auto decoded = golden.get<float>("e8m0.decode");
  for (int code = 0; code < 256; ++code) {
    INFO("code " << code);
    CHECK(same_float(qtl::e8m0::decode(code), decoded[static_cast<std::size_t>(code)]));
  }
  const auto input = golden.get<float>("e8m0.input");
  const auto encoded = golden.get<std::uint8_t>("e8m0.encode");
  for (std::size_t i = 0; i < input.size(); ++i) {
    INFO("input " << input[i]);
    CHECK(int(qtl::e8m0::encode(input[i])) == int(encoded[i]));
  }
  CHECK(qtl::e8m0::encode(-1.0f) == 0xFF);
  CHECK(qtl::e8m0::encode(NAN) == 0xFF);
}

// Float32 subnormal inputs round to the nearer of 2^-127 (code 0) and 2^-126 (code 1),
// the tie 1.5 * 2^-127 going up: ml_dtypes 0.7.0. (0.6.0 sent everything above 2^-127 to
// code 1, so the first three rows were 1 there.)
TEST_CASE("e8m0 rounds float32 subnormals to the nearest power of two") {
  const float tie = 1.5f * 0x1p-127f;
  const struct { float input; int code; } cases[] = {
      {std::nextafter(tie, 0.0f), 0}, {1.2f * 0x1p-127f, 0}, {1.4f * 0x1p-127f, 0}, {tie, 1},
      {0x1p-127f, 0}, {1.49f * 0x1p-126f, 1}, {1.51f * 0x1p-126f, 2}, {3e-39f, 0}, {1e-45f, 0},
      {std::nextafter(0x1p-127f, 0.0f), 0}, {std::nextafter(tie, 1.0f), 1}, {std::nextafter(0x1p-126f, 0.0f), 1}};
  for (const auto& c : cases) {
    INFO("input " << c.input << " (bits 0x" << std::hex << qtl::bit_cast<std::uint32_t>(c.input) << ")");
    CHECK(int(qtl::e8m0::encode(c.input)) == c.code);
  }
}

TEST_CASE("minifloat specials and overflow options") {
  using qtl::fp8_e4m3;
  using qtl::fp8_e5m2;
  CHECK(fp8_e4m3::encode(INFINITY) == 0x7f);  // no Inf: NaN
  CHECK(fp8_e4m3::encode(-INFINITY, minifloat_overflow::saturate) == 0xfe);
  CHECK(fp8_e4m3::encode(1000.0f, minifloat_overflow::saturate) == 0x7e);
  CHECK(fp8_e5m2::encode(1e6f) == 0x7c);  // Inf
  CHECK(fp8_e5m2::encode(1e6f, minifloat_overflow::saturate) == 0x7b);
  CHECK(fp8_e5m2::encode(NAN) == 0x7e);
  CHECK(std::isnan(fp8_e5m2::decode(0x7d)));
  CHECK(std::isinf(fp8_e5m2::decode(0xfc)));
  // NaN has no code in FP6/FP4: it becomes +0 (ml_dtypes gives -0), Inf saturates.
  CHECK(qtl::fp4_e2m1::encode(NAN) == 0x0);
  CHECK(qtl::fp4_e2m1::encode(-INFINITY) == 0xf);
  CHECK(qtl::fp6_e3m2::encode(INFINITY, minifloat_overflow::non_saturating) == 0x1f);
  // Signed zero and the smallest subnormals.
  CHECK(fp8_e4m3::encode(-0.0f) == 0x80);
  CHECK(fp8_e4m3::decode(0x01) == 0x1p-9f);
  CHECK(fp8_e4m3::encode(0x1p-10f) == 0x00);                  // tie between 0 and 2^-9: even
  CHECK(fp8_e4m3::encode(std::nextafter(0x1p-10f, 1.0f)) == 0x01);
  CHECK(fp8_e5m2::decode(0x01) == 0x1p-16f);
}

TEST_CASE("minifloat arrays: overflow as an error, NaN policy, sizes") {
  const std::vector<float> x = {1.0f, -2.5f, 464.0f, 0.0f};
  std::vector<std::uint8_t> codes(4, 0xAA);
  qtl::minifloat_encode<qtl::fp8_e4m3>(x, codes, minifloat_overflow::error);  // 464 rounds to 448: fine
  CHECK(codes[2] == 0x7e);
  std::vector<float> back(4);
  qtl::minifloat_decode<qtl::fp8_e4m3>(codes, back);
  CHECK(back == std::vector<float>{1.0f, -2.5f, 448.0f, 0.0f});

  std::vector<std::uint8_t> fresh(4, 0xAA);
  const auto untouched = fresh;
  const std::vector<float> big = {1.0f, 7.0f};  // FP4: 7 rounds past 6
  CHECK_THROWS_AS(qtl::minifloat_encode<qtl::fp4_e2m1>(big, fresh, minifloat_overflow::error), qtl::error);
  qtl::minifloat_encode<qtl::fp4_e2m1>(std::vector<float>{6.9f}, fresh, minifloat_overflow::error);
  CHECK(fresh[0] == 0x7);
  fresh = untouched;
  const std::vector<float> nan = {1.0f, NAN};
  CHECK_THROWS_AS(qtl::minifloat_encode<qtl::fp8_e5m2>(nan, fresh), qtl::error);
  CHECK_THROWS_AS(qtl::minifloat_encode<qtl::fp8_e5m2>(x, std::span(fresh).first(3)), qtl::error);
  CHECK(fresh == untouched);
  qtl::minifloat_encode<qtl::fp8_e5m2>(nan, fresh, minifloat_overflow::non_saturating, qtl::nonfinite_policy::propagate);
  CHECK(fresh[1] == 0x7e);
}
