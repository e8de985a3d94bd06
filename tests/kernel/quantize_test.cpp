#include "qtl/kernel/quantize.hpp"

#include <catch2/catch_template_test_macros.hpp>
#include <catch2/catch_test_macros.hpp>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/kernel/dispatch.hpp"
#include "kernel/gemv_reference.hpp"
#include "kernel/quantize_cases.hpp"

namespace kernel = qtl::kernel;
namespace ggml = qtl::ggml;

using qtl::test::edge_blocks;
using qtl::test::random_floats;

namespace {

template <class B>
std::vector<std::uint8_t> bytes_of(const std::vector<B>& v) {
  std::vector<std::uint8_t> out(v.size() * sizeof(B));
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

// The scalar quantizer's blocks (layout/ggml/) and each arch's, byte for byte; x starts
// `offset` floats into its buffer (unaligned for any offset not a multiple of the vector).
template <class B>
void check_all_archs(const std::vector<float>& values, std::size_t row_length = 0) {
  for (std::size_t offset : {0u, 1u, 3u}) {
    std::vector<float> buffer(values.size() + offset);
    std::copy(values.begin(), values.end(), buffer.begin() + static_cast<std::ptrdiff_t>(offset));
    const std::span<const float> x(buffer.data() + offset, values.size());
    std::vector<B> want(values.size() / B::elements);
    ggml::quantize<B>(x, std::span<B>(want), row_length);
    for (const auto arch : kernel::usable_archs()) {
      INFO("arch " << kernel::arch_name(arch) << ", offset " << offset);
      std::vector<B> got(want.size());
      std::memset(got.data(), 0xA5, got.size() * sizeof(B));
      kernel::quantize<B>(kernel::kernels_for(arch), x, std::span<B>(got), row_length);
      const auto g = bytes_of(got), w = bytes_of(want);
      for (std::size_t i = 0; i < g.size(); ++i) {
        INFO("byte " << i << " of block " << i / sizeof(B));
        REQUIRE(static_cast<int>(g[i]) == static_cast<int>(w[i]));
      }
    }
  }
}

}  // namespace

TEMPLATE_TEST_CASE("Blocks of every arch equal the scalar quantizer's bytes", "[kernel][quantize]",
                   ggml::block_q8_0, ggml::block_q8_1, ggml::block_q8_k, ggml::block_q4_0, ggml::block_q4_1,
                   ggml::block_tq2_0) {
  using B = TestType;
  SECTION("random rows") {
    check_all_archs<B>(random_floats(4096 * 3, 11), 4096);
    check_all_archs<B>(random_floats(B::elements, 12));
  }
  SECTION("edge cases") { check_all_archs<B>(edge_blocks<B>()); }
  SECTION("many random scales") { check_all_archs<B>(qtl::test::scaled_blocks<B>(random_floats(B::elements * 200, 5), 3)); }
}

TEST_CASE("Activation codes at ties and just below them", "[kernel][quantize]") {
  for (const auto arch : kernel::usable_archs()) {
    INFO("arch " << kernel::arch_name(arch));
    const auto k = kernel::kernels_for(arch);
    // Q8_0: largest magnitude 127, so d = 1 and codes are round half away of x.
    std::vector<float> x(32, 0.0f);
    x[0] = 127.0f, x[1] = 0.49999997f, x[2] = 0.5f, x[3] = -0.5f, x[4] = 2.5f, x[5] = -2.5f, x[6] = 1.4999999f;
    ggml::block_q8_0 b{};
    kernel::quantize<ggml::block_q8_0>(k, x, std::span(&b, 1));
    CHECK(b.qs[0] == 127);
    CHECK(b.qs[1] == 0);
    CHECK(b.qs[2] == 1);
    CHECK(b.qs[3] == -1);
    CHECK(b.qs[4] == 3);
    CHECK(b.qs[5] == -3);
    CHECK(b.qs[6] == 1);
    CHECK(b.d == 0x3C00);  // 1.0
    // Q8_K: signed max -127, so iscale = 1 and codes are round half even of x.
    std::vector<float> y(256, 0.0f);
    y[0] = -127.0f, y[1] = 2.5f, y[2] = 3.5f, y[3] = -2.5f, y[4] = 0.49999997f, y[5] = 127.0f;
    ggml::block_q8_k c{};
    kernel::quantize<ggml::block_q8_k>(k, y, std::span(&c, 1));
    CHECK(c.qs[0] == -127);
    CHECK(c.qs[1] == 2);
    CHECK(c.qs[2] == 4);
    CHECK(c.qs[3] == -2);
    CHECK(c.qs[4] == 0);
    CHECK(c.qs[5] == 127);
    CHECK(c.bsums[0] == -127 + 2 + 4 - 2 + 127);
    CHECK(c.d == 1.0f);
    // Q4_0: signed max -8, so d = 1 and codes are min(trunc(x + 8.5), 15).
    std::vector<float> z(32, 0.0f);
    z[0] = -8.0f, z[1] = -0.5f, z[2] = -0.50000048f, z[3] = 7.0f, z[4] = 8.0f, z[5] = -7.5f, z[6] = -7.50000048f;
    ggml::block_q4_0 f{};
    kernel::quantize<ggml::block_q4_0>(k, z, std::span(&f, 1));
    const int want[7] = {0, 8, 7, 15, 15, 1, 0};
    for (int j = 0; j < 7; ++j) CHECK(ggml::detail::nibble(f.qs, static_cast<std::size_t>(j)) == want[j]);
    CHECK(f.d == 0x3C00);
  }
}

TEST_CASE("BitNet per-token activations of every arch equal the scalar quantizer's", "[kernel][quantize]") {
  const std::size_t lengths[] = {1, 7, 15, 16, 31, 32, 33, 100, 257, 2560, 4096 + 5};
  for (const std::size_t cols : lengths) {
    for (const std::size_t rows : {1u, 3u}) {
      const std::size_t stride = cols + 3;  // strided rows, unaligned starts
      std::vector<float> x = random_floats(rows * stride, static_cast<unsigned>(cols));
      if (cols > 2) x[1] = 0.0f;
      const auto view = qtl::matrix_view<const float>(x.data(), rows, cols, stride);
      std::vector<std::int8_t> want(rows * cols);
      std::vector<float> want_scales(rows);
      qtl::bitnet::quantize_activations(view, qtl::matrix_view<std::int8_t>(want.data(), rows, cols), want_scales);
      for (const auto arch : kernel::usable_archs()) {
        INFO("arch " << kernel::arch_name(arch) << ", " << rows << " x " << cols);
        std::vector<std::int8_t> got(rows * (cols + 1), 0x55);
        std::vector<float> scales(rows);
        kernel::quantize_activations(kernel::kernels_for(arch), view,
                                     qtl::matrix_view<std::int8_t>(got.data(), rows, cols, cols + 1), scales);
        for (std::size_t r = 0; r < rows; ++r) {
          CHECK(std::memcmp(&scales[r], &want_scales[r], sizeof(float)) == 0);
          for (std::size_t c = 0; c < cols; ++c) REQUIRE(static_cast<int>(got[r * (cols + 1) + c]) == want[r * cols + c]);
          CHECK(got[r * (cols + 1) + cols] == 0x55);  // the gap between strided rows is untouched
        }
      }
    }
  }
  SECTION("ties, small and large maxima") {
    // max 127: s = 1, ties to even; max below the 1e-5 clamp; huge values; all zeros.
    std::vector<float> x(3 * 64 + 64, 0.0f);
    for (std::size_t j = 0; j < 64; ++j) x[j] = j == 0 ? -127.0f : static_cast<float>(static_cast<int>(j) - 32) + 0.5f;
    for (std::size_t j = 64; j < 128; ++j) x[j] = static_cast<float>(j) * 1e-8f;
    for (std::size_t j = 128; j < 192; ++j) x[j] = (j % 2 ? 1.0f : -1.0f) * 3.0e38f / static_cast<float>(j);
    for (const auto arch : kernel::usable_archs()) {
      INFO("arch " << kernel::arch_name(arch));
      const auto view = qtl::matrix_view<const float>(x.data(), 4, 64);
      std::vector<std::int8_t> want(256), got(256);
      std::vector<float> ws(4), gs(4);
      qtl::bitnet::quantize_activations(view, qtl::matrix_view<std::int8_t>(want.data(), 4, 64), ws);
      kernel::quantize_activations(kernel::kernels_for(arch), view, qtl::matrix_view<std::int8_t>(got.data(), 4, 64), gs);
      CHECK(got == want);
      CHECK(std::memcmp(gs.data(), ws.data(), 4 * sizeof(float)) == 0);
      CHECK(gs[0] == 1.0f);
      CHECK(got[1] == -30);  // -30.5 to even
      CHECK(got[2] == -30);  // -29.5 to even
      CHECK(got[3] == -28);
    }
  }
}

TEST_CASE("Quantize refuses NaN, Inf and bad sizes before writing", "[kernel][quantize]") {
  for (const auto arch : kernel::usable_archs()) {
    INFO("arch " << kernel::arch_name(arch));
    const auto k = kernel::kernels_for(arch);
    for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity()}) {
      for (const std::size_t at : {0u, 31u, 255u, 300u, 511u}) {
        std::vector<float> x = random_floats(512, 2);
        x[at] = bad;
        std::vector<ggml::block_q8_0> out(16);
        std::memset(out.data(), 0x5A, out.size() * sizeof(out[0]));
        const auto before = bytes_of(out);
        try {
          kernel::quantize<ggml::block_q8_0>(k, x, std::span(out), 256);
          FAIL("no error");
        } catch (const qtl::error& e) {
          CHECK(e.code() == qtl::errc::non_finite);
          const std::string where = "element " + std::to_string(at) + " (row " + std::to_string(at / 256) + ", col " +
                                    std::to_string(at % 256) + ")";
          CHECK(std::string(e.what()).find(where) != std::string::npos);
        }
        CHECK(bytes_of(out) == before);
        std::vector<ggml::block_q8_k> outk(2);
        CHECK_THROWS_AS(kernel::quantize<ggml::block_q8_k>(k, x, std::span(outk)), qtl::error);
        std::vector<std::int8_t> codes(512, 7);
        std::vector<float> scales(2, 9.0f);
        CHECK_THROWS_AS(kernel::quantize_activations(k, qtl::matrix_view<const float>(x.data(), 2, 256),
                                                     qtl::matrix_view<std::int8_t>(codes.data(), 2, 256), scales),
                        qtl::error);
        CHECK(codes == std::vector<std::int8_t>(512, 7));
        CHECK(scales == std::vector<float>(2, 9.0f));
      }
    }
    const std::vector<float> x(96, 1.0f);
    std::vector<ggml::block_q8_0> out(3);
    try {
      kernel::quantize<ggml::block_q8_0>(k, std::span(x).first(80), std::span(out));
      FAIL("no error");
    } catch (const qtl::error& e) {
      CHECK(e.code() == qtl::errc::group_size);
    }
    try {
      kernel::quantize<ggml::block_q8_0>(k, x, std::span(out).first(2));
      FAIL("no error");
    } catch (const qtl::error& e) {
      CHECK(e.code() == qtl::errc::shape_mismatch);
    }
    std::vector<ggml::block_q8_k> outk(1);
    CHECK_THROWS_AS(kernel::quantize<ggml::block_q8_k>(k, x, std::span(outk)), qtl::error);
    std::vector<std::int8_t> codes(96);
    std::vector<float> scales(1);
    CHECK_THROWS_AS(kernel::quantize_activations(k, qtl::matrix_view<const float>(x.data(), 2, 48),
                                                 qtl::matrix_view<std::int8_t>(codes.data(), 2, 48), scales),
                    qtl::error);
    CHECK_THROWS_AS(kernel::quantize_activations(k, qtl::matrix_view<const float>(x.data(), 0, 48),
                                                 qtl::matrix_view<std::int8_t>(codes.data(), 0, 48), scales),
                    qtl::error);
  }
}

TEMPLATE_TEST_CASE("FP8 codes of every arch equal the scalar encoder's", "[kernel][quantize]", qtl::fp8_e4m3,
                   qtl::fp8_e5m2) {
  using F = TestType;
  // Every float near every code (each code's value, the midpoints to its neighbours and one
  // float either side of them), beyond the largest value, subnormals, zeros; random values.
  std::vector<float> x;
  for (int c = 0; c < 256; ++c) {
    const float v = F::decode(c);
    if (!std::isfinite(v)) continue;
    const float next = F::decode(c + 1 < 256 ? c + 1 : c);
    const float mid = std::isfinite(next) ? v + (next - v) / 2 : v;
    for (const float y : {v, mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e30f), std::nextafter(v, 0.0f)})
      x.push_back(y), x.push_back(-y);
  }
  for (const float y : {1e6f, 3e38f, 1e-38f, 1e-40f, 1e-45f, 0.0f, -0.0f, 464.0f, 465.0f, 61439.0f, 61440.0f})
    x.push_back(y), x.push_back(-y);
  const auto r = random_floats(1000, 9);
  for (std::size_t i = 0; i < r.size(); ++i) x.push_back(r[i] * std::pow(2.0f, static_cast<float>(i % 40) - 20.0f));
  const std::vector<float> specials = {std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                                       std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::quiet_NaN()};
  for (const auto overflow : {qtl::minifloat_overflow::saturate, qtl::minifloat_overflow::non_saturating}) {
    std::vector<float> with_specials = x;
    for (std::size_t i = 0; i < 40; ++i) with_specials.push_back(specials[i % 4]);  // a whole vector of them
    for (const auto* values : {&x, &with_specials}) {
      const auto policy = values == &x ? qtl::nonfinite_policy::error : qtl::nonfinite_policy::propagate;
      std::vector<std::uint8_t> want(values->size());
      qtl::minifloat_encode<F>(*values, want, overflow, policy);
      for (const auto arch : kernel::usable_archs()) {
        INFO("arch " << kernel::arch_name(arch));
        std::vector<std::uint8_t> got(values->size(), 0xEE);
        kernel::minifloat_encode<F>(kernel::kernels_for(arch), *values, got, overflow, policy);
        for (std::size_t i = 0; i < got.size(); ++i) {
          INFO("value " << (*values)[i] << " at " << i);
          REQUIRE(static_cast<int>(got[i]) == static_cast<int>(want[i]));
        }
      }
    }
  }
  for (const auto arch : kernel::usable_archs()) {  // the scalar errors, before any write
    const auto k = kernel::kernels_for(arch);
    std::vector<std::uint8_t> codes(x.size(), 0xEE);
    std::vector<float> bad = x;
    bad[37] = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_AS(kernel::minifloat_encode<F>(k, bad, codes), qtl::error);
    CHECK_THROWS_AS(kernel::minifloat_encode<F>(k, x, codes, qtl::minifloat_overflow::error), qtl::error);
    CHECK_THROWS_AS(kernel::minifloat_encode<F>(k, x, std::span(codes).first(3)), qtl::error);
    CHECK(codes == std::vector<std::uint8_t>(x.size(), 0xEE));
  }
}
