#include <qtl/metrics.hpp>
#include <qtl/quantizer.hpp>

#include <catch2/catch_template_test_macros.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <array>
#include <cmath>
#include <limits>
#include <span>
#include <vector>

using Catch::Matchers::ContainsSubstring;

static_assert(std::is_same_v<qtl::int4_g128_symmetric, qtl::quantizer<qtl::int4, qtl::symmetric, qtl::per_group<128>>>);
static_assert(std::is_same_v<qtl::ternary_absmean::format_type, qtl::ternary>);
static_assert(std::is_same_v<qtl::int8_per_channel_affine::granularity_type, qtl::per_channel<0>>);

TEST_CASE("quantizer: torch-style per-tensor affine, hand-computed", "[quantizer]") {
  // scale 4/255, zero point 64 (quint8) / -64 (qint8); x / scale = 63.75 x
  const std::vector<float> x{-1.0f, 0.0f, 0.5f, 3.0f};
  const qtl::uint8_per_tensor_affine u;
  const auto t = u.quantize(std::span<const float>(x));
  REQUIRE(t.params[0].scale == 4.0f / 255.0f);
  REQUIRE(t.params[0].zero_point == 64);
  REQUIRE(t.codes == std::vector<std::uint8_t>{0, 64, 96, 255});  // -63.75 -> -64, 31.875 -> 32, 191.25 -> 191
  std::vector<float> back(x.size());
  u.dequantize(t, std::span<float>(back));
  REQUIRE(back[0] == -64.0f * (4.0f / 255.0f));
  REQUIRE(back[2] == 32.0f * (4.0f / 255.0f));
  REQUIRE(back[3] == 191.0f * (4.0f / 255.0f));

  const qtl::int8_per_tensor_affine i;
  const auto s = i.quantize(std::span<const float>(x));
  REQUIRE(s.params[0].zero_point == -64);
  REQUIRE(s.codes == std::vector<std::int8_t>{-128, -64, -32, 127});
}

TEST_CASE("quantizer: per-channel, per-group and per-token params follow their groups", "[quantizer]") {
  // 2 rows x 4 cols: row 0 spans +-1, row 1 spans +-8
  const std::vector<float> x{1.0f, -1.0f, 0.5f, 0.25f, 8.0f, -2.0f, 4.0f, -8.0f};
  const qtl::matrix_view<const float> m(x.data(), 2, 4);
  const auto rows = qtl::int8_per_channel_symmetric{}.params(m);
  REQUIRE(rows.size() == 2);
  REQUIRE(rows[0].scale == 1.0f / 127.0f);
  REQUIRE(rows[1].scale == 8.0f / 127.0f);
  const auto cols = qtl::quantizer<qtl::int8, qtl::symmetric, qtl::per_channel<1>>{}.params(m);
  REQUIRE(cols.size() == 4);
  REQUIRE(cols[3].scale == 8.0f / 127.0f);
  REQUIRE(cols[2].scale == 4.0f / 127.0f);
  const qtl::quantizer<qtl::int8, qtl::symmetric, qtl::per_group<>> groups(qtl::symmetric{}, qtl::per_group<>{2});
  const auto g = groups.params(m);
  REQUIRE(g.size() == 4);
  REQUIRE(g[1].scale == 0.5f / 127.0f);
  REQUIRE(g[2].scale == 8.0f / 127.0f);
  const auto tokens = qtl::int8_per_token_absmax{}.quantize(m);
  REQUIRE(tokens.params[1].inv_scale == 127.0f / 8.0f);
  REQUIRE(tokens.code(1, 3) == -127);
  REQUIRE(tokens.code(0, 2) == 64);  // 63.5 ties to even
}

TEST_CASE("quantizer: half and bfloat16 tensors in and out", "[quantizer]") {
  std::vector<qtl::half> h;
  std::vector<qtl::bfloat16> b;
  std::vector<float> f;
  for (int i = 0; i < 64; ++i) {
    const float v = std::cos(0.3f * static_cast<float>(i)) * 3.0f;
    h.emplace_back(v);
    b.emplace_back(v);
    f.push_back(static_cast<float>(h.back()));
  }
  const qtl::int4_g32_symmetric q;
  const auto from_half = q.quantize(std::span<const qtl::half>(h));
  REQUIRE(from_half.codes == q.quantize(std::span<const float>(f)).codes);
  std::vector<qtl::bfloat16> out(64);
  q.dequantize(from_half, std::span<qtl::bfloat16>(out));
  std::vector<float> expected(64);
  q.dequantize(from_half, std::span<float>(expected));
  for (int i = 0; i < 64; ++i) REQUIRE(out[i].bits == qtl::bfloat16(expected[i]).bits);
  REQUIRE_NOTHROW(q.quantize(std::span<const qtl::bfloat16>(b)));
}

TEST_CASE("quantizer: NaN and Inf follow the nonfinite policy", "[quantizer]") {
  std::vector<float> x{0.5f, -1.0f, std::numeric_limits<float>::quiet_NaN(), 2.0f,
                       std::numeric_limits<float>::infinity(), -3.0f};
  const qtl::int8_per_tensor_symmetric strict;
  REQUIRE_THROWS_WITH(strict.quantize(std::span<const float>(x)),
                      ContainsSubstring("element 2") && ContainsSubstring("NaN"));
  std::vector<float> out(x.size());
  REQUIRE_THROWS_AS(strict.fake_quantize(std::span<const float>(x), std::span<float>(out)), qtl::error);
  const auto p = strict.params(std::span<const float>(x).first(2));
  REQUIRE_THROWS_WITH(strict.fake_quantize(std::span<const float>(x).subspan(4), std::span<const qtl::quant_params>(p),
                                           std::span<float>(out).first(2)),
                      ContainsSubstring("element 0") && ContainsSubstring("Inf"));

  const qtl::int8_per_tensor_symmetric lenient(qtl::symmetric{}, qtl::per_tensor{}, qtl::nearest_even{},
                                               qtl::nonfinite_policy::propagate);
  const auto t = lenient.quantize(std::span<const float>(x));
  REQUIRE(t.params[0].scale == 3.0f / 127.0f);  // statistics skip NaN and Inf
  REQUIRE(t.codes[2] == 0);                     // NaN quantizes like 0
  REQUIRE(t.codes[4] == 127);                   // Inf saturates
  lenient.fake_quantize(std::span<const float>(x), std::span<float>(out));
  REQUIRE(std::isnan(out[2]));
  REQUIRE(out[4] == std::numeric_limits<float>::infinity());
  REQUIRE(out[5] == -127.0f * (3.0f / 127.0f));
}

TEST_CASE("quantizer: shape, group and parameter errors", "[quantizer]") {
  std::vector<float> x(100, 1.0f);
  const qtl::int4_g32_symmetric q;
  REQUIRE_THROWS_WITH(q.quantize(std::span<const float>(x)), ContainsSubstring("32") && ContainsSubstring("100"));
  const qtl::int8_per_tensor_symmetric s;
  const auto t = s.quantize(std::span<const float>(x));
  std::vector<float> small(99);
  REQUIRE_THROWS_AS(s.dequantize(t, std::span<float>(small)), qtl::error);
  std::vector<std::int8_t> codes(100);
  REQUIRE_THROWS_AS(s.quantize_into(std::span<const float>(x), std::span<const qtl::quant_params>(), std::span(codes)),
                    qtl::error);  // no params
  const qtl::quant_params negative{-1.0f, -1.0f, 0};
  REQUIRE_THROWS_AS(s.quantize_into(std::span<const float>(x), std::span(&negative, 1), std::span(codes)), qtl::error);
  const qtl::quant_params bad_zero_point{1.0f, 1.0f, 300};
  REQUIRE_THROWS_AS(s.quantize(std::span<const float>(x), {bad_zero_point}), qtl::error);
  // a code outside the format (e.g. from a corrupt buffer) is refused on dequantize
  const qtl::quantizer<qtl::int4, qtl::symmetric, qtl::per_tensor> four;
  std::vector<std::int8_t> wide{1, 2, 100};
  const auto p4 = four.params(std::span<const float>(x).first(3));
  std::vector<float> out(3);
  REQUIRE_THROWS_WITH(four.dequantize(std::span<const std::int8_t>(wide), std::span<const qtl::quant_params>(p4),
                                      std::span<float>(out)),
                      ContainsSubstring("code 100"));
}

TEST_CASE("quantizer: stochastic rounding is unbiased over seeds and reproducible", "[quantizer]") {
  std::vector<float> x(64);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(static_cast<float>(i)) * 2.0f;
  x[0] = 2.0f;  // fix absmax
  std::vector<double> mean(x.size(), 0.0);
  std::vector<float> out(x.size());
  constexpr int seeds = 4000;
  for (int seed = 0; seed < seeds; ++seed) {
    const qtl::quantizer<qtl::int4, qtl::symmetric, qtl::per_tensor, qtl::stochastic<>> q(
        qtl::symmetric{}, qtl::per_tensor{}, qtl::stochastic<>{static_cast<std::uint64_t>(seed)});
    q.fake_quantize(std::span<const float>(x), std::span<float>(out));
    for (std::size_t i = 0; i < x.size(); ++i) mean[i] += out[i] / seeds;
  }
  const double step = 2.0 / 7.0;  // standard error <= step / (2 sqrt(seeds))
  for (std::size_t i = 0; i < x.size(); ++i) REQUIRE(std::fabs(mean[i] - x[i]) < 5.0 * step / (2.0 * std::sqrt(seeds)));
  const qtl::quantizer<qtl::int4, qtl::symmetric, qtl::per_tensor, qtl::stochastic<>> a, b;
  REQUIRE(a.quantize(std::span<const float>(x)).codes == b.quantize(std::span<const float>(x)).codes);
}

TEST_CASE("quantizer: strided input views", "[quantizer]") {
  std::vector<float> storage(3 * 10, 100.0f);  // padding columns hold 100
  for (std::size_t r = 0; r < 3; ++r)
    for (std::size_t c = 0; c < 8; ++c) storage[r * 10 + c] = static_cast<float>(c) - 3.5f;
  const qtl::matrix_view<const float> strided(storage.data(), 3, 8, 10);
  const auto t = qtl::int8_per_tensor_symmetric{}.quantize(strided);
  REQUIRE(t.params[0].scale == 3.5f / 127.0f);  // the padding never enters
  REQUIRE(t.code(2, 7) == 127);
  REQUIRE(t.code(1, 0) == -127);
  REQUIRE(t.code(0, 4) == 18);  // 0.5 / (3.5 / 127) = 18.14
}

TEST_CASE("quantizer: std::vector and std::array work as one-row tensors, in and out", "[quantizer]") {
  const std::vector<float> x{0.5f, -1.0f, 0.25f, 2.0f};
  const qtl::int8_per_tensor_symmetric q;
  const auto t = q.quantize(x);
  REQUIRE(t.codes == q.quantize(std::span<const float>(x)).codes);
  std::vector<float> out(x.size());
  q.dequantize(t, out);
  std::array<float, 4> fake{};
  q.fake_quantize(x, fake);
  for (std::size_t i = 0; i < x.size(); ++i) REQUIRE(out[i] == fake[i]);
  std::vector<std::int8_t> codes(x.size());
  q.quantize_into(x, q.params(x), codes);
  REQUIRE(codes == t.codes);
  REQUIRE(qtl::sqnr_db(x, out) > 40.0);
  REQUIRE(q.params(q.statistics(x)) == t.params);  // a vector of stats is not a tensor
}
