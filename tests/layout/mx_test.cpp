#include "qtl/layout/mx.hpp"

#include <catch2/catch_test_macros.hpp>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "golden/golden.hpp"
#include "qtl/core/bit_cast.hpp"
#include "qtl/core/error.hpp"
#include "qtl/granularity.hpp"
#include "qtl/quantizer.hpp"

namespace {

bool same_float(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) || qtl::bit_cast<std::uint32_t>(a) == qtl::bit_cast<std::uint32_t>(b);
}

// Against the OCP MX v1.0 definition evaluated with ml_dtypes' saturating casts.
template <class T>
void check_against_reference(const std::string& name) {
  const auto golden = qtl::test::golden_file::load("mx.qtlg");
  const auto x = golden.get<float>(name + ".input");
  const auto want_elements = golden.get<std::uint8_t>(name + ".elements");
  const auto want_scales = golden.get<std::uint8_t>(name + ".scales");
  const auto want_values = golden.get<float>(name + ".dequantized");
  REQUIRE(qtl::mx::element_bytes<T>(x.size()) == want_elements.size());
  REQUIRE(qtl::mx::scale_count<T>(x.size()) == want_scales.size());

  std::vector<std::uint8_t> elements(want_elements.size()), scales(want_scales.size());
  qtl::mx::quantize<T>(x, elements, scales);
  CHECK(scales == want_scales);
  CHECK(elements == want_elements);

  std::vector<float> values(x.size());
  qtl::mx::dequantize<T>(elements, scales, values);
  for (std::size_t i = 0; i < values.size(); ++i) {
    INFO(name << " element " << i << " of input " << x[i]);
    CHECK(same_float(values[i], want_values[i]));
  }
}

}  // namespace

TEST_CASE("MXFP8 E4M3 is bit-exact") { check_against_reference<qtl::mx::mxfp8_e4m3>("mxfp8_e4m3"); }
TEST_CASE("MXFP8 E5M2 is bit-exact") { check_against_reference<qtl::mx::mxfp8_e5m2>("mxfp8_e5m2"); }
TEST_CASE("MXFP6 E2M3 is bit-exact") { check_against_reference<qtl::mx::mxfp6_e2m3>("mxfp6_e2m3"); }
TEST_CASE("MXFP6 E3M2 is bit-exact") { check_against_reference<qtl::mx::mxfp6_e3m2>("mxfp6_e3m2"); }
TEST_CASE("MXFP4 is bit-exact") { check_against_reference<qtl::mx::mxfp4>("mxfp4_e2m1"); }
TEST_CASE("MXINT8 is bit-exact") { check_against_reference<qtl::mx::mxint8>("mxint8"); }

TEST_CASE("MX scale selection follows the spec") {
  using qtl::mx::shared_scale;
  CHECK(shared_scale<qtl::fp4_e2m1>(6.0f) == 127);                          // 6 = 1.5 * 2^2, emax 2
  CHECK(shared_scale<qtl::fp4_e2m1>(std::nextafter(8.0f, 0.0f)) == 127);   // floor(log2) is exact
  CHECK(shared_scale<qtl::fp4_e2m1>(8.0f) == 128);
  CHECK(shared_scale<qtl::fp8_e4m3>(448.0f) == 127);
  CHECK(shared_scale<qtl::fp8_e4m3>(0.0f) == 0);
  CHECK(shared_scale<qtl::fp8_e4m3>(1e-40f) == 0);  // clamped at 2^-127
  CHECK(shared_scale<qtl::fp8_e4m3>(INFINITY) == 0xFF);
}

TEST_CASE("MX rejects bad input before writing") {
  std::vector<float> x(64, 1.0f);
  std::vector<std::uint8_t> elements(32, 0xAB), scales(2, 0xCD);
  const auto untouched = [&] {
    return elements == std::vector<std::uint8_t>(32, 0xAB) && scales == std::vector<std::uint8_t>(2, 0xCD);
  };
  CHECK_THROWS_AS(qtl::mx::quantize<qtl::mx::mxfp4>(std::span<const float>(x).first(40), elements, scales),
                  qtl::error);
  CHECK_THROWS_AS(qtl::mx::quantize<qtl::mx::mxfp4>(x, std::span(elements).first(31), scales), qtl::error);
  CHECK_THROWS_AS(qtl::mx::quantize<qtl::mx::mxfp4>(x, elements, std::span(scales).first(1)), qtl::error);
  x[40] = NAN;
  CHECK_THROWS_AS(qtl::mx::quantize<qtl::mx::mxfp4>(x, elements, scales), qtl::error);
  CHECK(untouched());
  // propagate: the block holding the NaN gets the NaN scale, the other block is normal.
  qtl::mx::quantize<qtl::mx::mxfp4>(x, elements, scales, qtl::nonfinite_policy::propagate);
  CHECK(scales[0] == 127 - 2);
  CHECK(scales[1] == 0xFF);
  std::vector<float> back(64);
  qtl::mx::dequantize<qtl::mx::mxfp4>(elements, scales, back);
  CHECK(back[0] == 1.0f);
  CHECK(std::isnan(back[33]));
}

TEST_CASE("mx_scale composes with the foundation quantizer") {
  std::vector<float> x(64);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(static_cast<float>(i)) * 3.0f;
  std::vector<std::uint8_t> elements(32), scales(2);
  qtl::mx::quantize<qtl::mx::mxfp4>(x, elements, scales);
  std::vector<float> layout(64), fake(64);
  qtl::mx::dequantize<qtl::mx::mxfp4>(elements, scales, layout);
  qtl::quantizer<qtl::fp4_e2m1, qtl::mx_scale, qtl::per_group<32>> q{qtl::mx_scale{}};
  q.fake_quantize(x, fake);
  CHECK(fake == layout);
}
