#include <qtl/scheme.hpp>
#include <qtl/format/int_format.hpp>
#include <qtl/format/ternary.hpp>

#include <catch2/catch_test_macros.hpp>
#include <cfloat>
#include <initializer_list>

namespace {
qtl::tensor_stats stats_of(std::initializer_list<float> values) {
  qtl::tensor_stats s;
  for (float v : values) s.add(v);
  return s;
}
const qtl::nearest_even nearest{};
}  // namespace

static_assert(qtl::scheme<qtl::symmetric, qtl::int8> && !qtl::scheme<qtl::symmetric, qtl::uint8>);
static_assert(qtl::scheme<qtl::affine, qtl::uint8> && qtl::scheme<qtl::affine, qtl::int4>);
static_assert(qtl::scheme<qtl::absmean, qtl::ternary> && qtl::scheme<qtl::mid_rise, qtl::int4>);
static_assert(qtl::scheme<qtl::absmax, qtl::int8> && qtl::scheme<qtl::dead_zone, qtl::int8>);

TEST_CASE("symmetric: restricted and full range", "[scheme]") {
  const auto s = stats_of({-2.54f, 1.0f});
  const auto restricted = qtl::symmetric{}.params<qtl::int8>(s);
  REQUIRE(restricted.scale == 2.54f / 127.0f);
  REQUIRE(restricted.inv_scale == 1.0f / (2.54f / 127.0f));
  REQUIRE(restricted.zero_point == 0);
  REQUIRE(qtl::symmetric{}.quantize<qtl::int8>(-2.54f, restricted, nearest, 0) == -127);
  REQUIRE(qtl::symmetric{}.quantize<qtl::int8>(-100.0f, restricted, nearest, 0) == -127);  // never -128
  const qtl::symmetric full{qtl::symmetric_range::full};
  const auto p = full.params<qtl::int8>(s);
  REQUIRE(p.scale == 2.54f / 127.5f);  // torch per_tensor_symmetric
  REQUIRE(full.quantize<qtl::int8>(-2.543f, p, nearest, 0) == -128);  // -127.6 steps
  REQUIRE(full.quantize<qtl::int8>(2.54f, p, nearest, 0) == 127);
  REQUIRE(qtl::symmetric{}.dequantize<qtl::int8>(-127, restricted) == -127.0f * restricted.scale);
}

TEST_CASE("affine: torch's per_tensor_affine parameters, hand-computed", "[scheme]") {
  // range [-1, 3]: scale 4/255; zero point qmin - round(-1 / scale) = qmin + round(63.75)
  const auto s = stats_of({-1.0f, 0.0f, 0.5f, 3.0f});
  const auto u = qtl::affine{}.params<qtl::uint8>(s);
  REQUIRE(u.scale == 4.0f / 255.0f);
  REQUIRE(u.zero_point == 64);
  const auto i = qtl::affine{}.params<qtl::int8>(s);
  REQUIRE(i.zero_point == -64);
  // A range not containing 0 is widened to include it: [2, 6] -> [0, 6], zero point = qmin.
  const auto pos = qtl::affine{}.params<qtl::uint8>(stats_of({2.0f, 6.0f}));
  REQUIRE(pos.scale == 6.0f / 255.0f);
  REQUIRE(pos.zero_point == 0);
  const auto neg = qtl::affine{}.params<qtl::uint8>(stats_of({-6.0f, -2.0f}));
  REQUIRE(neg.zero_point == 255);
  // torch's observers bound the scale below by FLT_EPSILON.
  const auto tiny = qtl::affine{FLT_EPSILON}.params<qtl::uint8>(stats_of({0.0f, 1e-9f}));
  REQUIRE(tiny.scale == FLT_EPSILON);
}

TEST_CASE("absmax: multiplier qmax / absmax, full code range", "[scheme]") {
  const auto p = qtl::absmax{}.params<qtl::int8>(stats_of({-0.3f, 2.0f}));
  REQUIRE(p.inv_scale == 127.0f / 2.0f);
  REQUIRE(p.scale == 2.0f / 127.0f);
  REQUIRE(qtl::absmax{}.quantize<qtl::int8>(2.0f, p, nearest, 0) == 127);
  REQUIRE(qtl::absmax{}.quantize<qtl::int8>(-0.3f, p, nearest, 0) == -19);  // -19.05
}

TEST_CASE("absmean: BitNet b1.58 ternary weights", "[scheme]") {
  const auto s = stats_of({0.1f, -0.4f, 0.05f, 0.25f});  // mean |w| = 0.2
  const auto p = qtl::absmean{}.params<qtl::ternary>(s);
  REQUIRE(p.scale == static_cast<float>(0.8 / 4.0));
  const qtl::absmean scheme;
  REQUIRE(scheme.quantize<qtl::ternary>(0.1f, p, nearest, 0) == 0);    // 0.5 ties to even 0
  REQUIRE(scheme.quantize<qtl::ternary>(-0.4f, p, nearest, 0) == -1);  // -2 clamps to -1
  REQUIRE(scheme.quantize<qtl::ternary>(0.25f, p, nearest, 0) == 1);
  REQUIRE(scheme.dequantize<qtl::ternary>(-1, p) == -p.scale);
  REQUIRE(qtl::absmean{1e-5f}.params<qtl::ternary>(stats_of({0.0f})).scale == 1e-5f);
}

TEST_CASE("mid_rise: no zero level, absmax on the outer level", "[scheme]") {
  const qtl::mid_rise scheme;
  const auto p = scheme.params<qtl::int4>(stats_of({-7.5f, 3.0f}));
  REQUIRE(p.scale == 1.0f);
  REQUIRE(scheme.quantize<qtl::int4>(7.5f, p, nearest, 0) == 7);
  REQUIRE(scheme.dequantize<qtl::int4>(7, p) == 7.5f);
  REQUIRE(scheme.quantize<qtl::int4>(-7.5f, p, nearest, 0) == -8);
  REQUIRE(scheme.dequantize<qtl::int4>(-8, p) == -7.5f);
  REQUIRE(scheme.quantize<qtl::int4>(0.2f, p, nearest, 0) == 0);  // -> 0.5
  REQUIRE(scheme.quantize<qtl::int4>(-0.2f, p, nearest, 0) == -1);  // -> -0.5
}

TEST_CASE("dead_zone: small values go to zero, others round as symmetric", "[scheme]") {
  const qtl::dead_zone scheme{1.5f};
  const auto p = scheme.params<qtl::int8>(stats_of({-12.7f, 12.7f}));  // scale 0.1
  REQUIRE(scheme.quantize<qtl::int8>(0.14f, p, nearest, 0) == 0);   // 1.4 steps: inside
  REQUIRE(scheme.quantize<qtl::int8>(-0.14f, p, nearest, 0) == 0);
  REQUIRE(scheme.quantize<qtl::int8>(0.16f, p, nearest, 0) == 2);   // 1.6 steps: outside
  REQUIRE(scheme.quantize<qtl::int8>(0.5f, p, nearest, 0) == 5);
}

TEST_CASE("schemes: an all-zero group has scale 0 and maps to code 0", "[scheme]") {
  const auto zero = stats_of({0.0f, 0.0f});
  const qtl::tensor_stats empty;
  for (const auto& s : {zero, empty}) {
    for (const auto p : {qtl::symmetric{}.params<qtl::int8>(s), qtl::affine{}.params<qtl::uint8>(s),
                         qtl::absmax{}.params<qtl::int8>(s), qtl::absmean{}.params<qtl::ternary>(s)}) {
      REQUIRE(p.scale == 0.0f);
      REQUIRE(p.inv_scale == 0.0f);
      REQUIRE(p.zero_point == 0);
      REQUIRE(qtl::affine{}.quantize<qtl::uint8>(0.0f, p, nearest, 0) == 0);
      REQUIRE(qtl::affine{}.dequantize<qtl::uint8>(0, p) == 0.0f);
    }
  }
}
