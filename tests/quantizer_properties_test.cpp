#include "quantizer_properties.hpp"

#include <catch2/catch_template_test_macros.hpp>
#include <catch2/catch_test_macros.hpp>
#include <random>

namespace qtl_test {

std::vector<float> sample() {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(rows * cols);
  for (auto& x : v) x = normal(rng);
  v[5] = 9.0f;     // an outlier
  v[70] = -0.0f;   // signed zero
  for (std::size_t c = 0; c < cols; ++c) v[3 * cols + c] = 0.25f * static_cast<float>(c % 9) - 1.0f;  // ties
  return v;
}

void check(const outcome& o) {
  INFO(o.name);
  REQUIRE(o.groups == o.expected_groups);
  for (std::size_t i = 0; i < o.x.size(); ++i) {
    const float v = o.x[i], y = o.back[i], s = o.scale[i];
    const float slack = 1e-5f * s + 1e-6f * std::fabs(v);  // float rounding of x * inv_scale
    INFO("element " << i << ": x " << v << " -> code " << o.codes[i] << " -> " << y << ", scale " << s);
    REQUIRE(o.codes[i] >= o.min_code[i]);
    REQUIRE(o.codes[i] <= o.max_code[i]);
    if (v < o.lo[i]) {
      REQUIRE(std::fabs(y - o.lo[i]) <= slack);  // saturates to the lowest level
    } else if (v > o.hi[i]) {
      REQUIRE(std::fabs(y - o.hi[i]) <= slack);
    } else if (std::fabs(v) < o.dead_zone * s) {
      REQUIRE(y == 0.0f);
    } else {
      REQUIRE(std::fabs(v - y) <= (o.nearest ? 0.5f * s : s) + slack);
    }
  }
  REQUIRE(o.fake == o.back);  // fake_quantize is dequantize(quantize)
  if (o.nearest) REQUIRE(o.again == o.fake);  // and, with the same params, idempotent
  for (float s : o.zero_scale) REQUIRE(s == 0.0f);
  for (float v : o.zero_back) REQUIRE(v == 0.0f);
  if (o.has_zero_code)
    for (int c : o.zero_codes) REQUIRE(c == 0);
  REQUIRE(o.empty_ok);
}

}  // namespace qtl_test

using wide_formats = qtl_test::quantizers_over<qtl::int8, qtl::uint8, qtl::int2, qtl::uint4>;
static_assert(std::tuple_size_v<wide_formats> == (6 + 1 + 6 + 1) * 3 * 3);

TEMPLATE_LIST_TEST_CASE("quantizer properties: codes in range, bounded error, saturation, idempotent fake_quantize, "
                        "zeros and empty input",
                        "[quantizer][properties]", wide_formats) {
  qtl_test::check(qtl_test::run<TestType>());
}
