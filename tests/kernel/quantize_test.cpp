#include "qtl/kernel/quantize.hpp"

#include <catch2/catch_template_test_macros.hpp>
#include <catch2/catch_test_macros.hpp>
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
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
                   ggml::block_tq2_0, ggml::block_iq4_nl) {
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

namespace {

namespace bnb = qtl::bnb;

std::vector<std::uint32_t> bits_of(const std::vector<float>& v) {
  std::vector<std::uint32_t> out;
  for (const float f : v) out.push_back(std::bit_cast<std::uint32_t>(f));
  return out;
}

// bnb::quantize_4bit and each arch's kernel::quantize_4bit: the same packed bytes and the
// same absmax bits, for NF4 and FP4, x at offsets 0, 1 and 3 floats into its buffer.
void check_4bit_all_archs(const std::vector<float>& values, std::int64_t blocksize,
                          qtl::nonfinite_policy nonfinite = qtl::nonfinite_policy::error) {
  const std::size_t n = values.size();
  for (const auto type : {bnb::quant_type::nf4, bnb::quant_type::fp4}) {
    for (std::size_t offset : {0u, 1u, 3u}) {
      std::vector<float> buffer(n + offset);
      std::copy(values.begin(), values.end(), buffer.begin() + static_cast<std::ptrdiff_t>(offset));
      const std::span<const float> x(buffer.data() + offset, n);
      std::vector<std::uint8_t> want(bnb::packed_4bit_size(n));
      std::vector<float> want_absmax(bnb::block_count(n, blocksize));
      bnb::quantize_4bit(x, type, blocksize, std::span(want), std::span(want_absmax), nonfinite);
      for (const auto arch : kernel::usable_archs()) {
        INFO("arch " << kernel::arch_name(arch) << ", " << (type == bnb::quant_type::nf4 ? "nf4" : "fp4")
                     << ", block size " << blocksize << ", n " << n << ", offset " << offset);
        std::vector<std::uint8_t> got(want.size(), 0xA5);
        std::vector<float> got_absmax(want_absmax.size(), -7.0f);
        kernel::quantize_4bit(kernel::kernels_for(arch), x, type, blocksize, std::span(got), std::span(got_absmax),
                              nonfinite);
        for (std::size_t i = 0; i < got.size(); ++i) {
          INFO("byte " << i << " (values " << 2 * i << ", " << 2 * i + 1 << ")");
          REQUIRE(static_cast<int>(got[i]) == static_cast<int>(want[i]));
        }
        REQUIRE(bits_of(got_absmax) == bits_of(want_absmax));
      }
    }
  }
}

}  // namespace

TEST_CASE("bitsandbytes 4-bit codes of every arch equal bnb::quantize_4bit", "[kernel][quantize][bnb]") {
  SECTION("random values, block sizes 64 .. 4096, whole and partial last blocks") {
    for (const std::int64_t bs : {64, 128, 256, 512, 1024, 2048, 4096}) {
      const auto b = static_cast<std::size_t>(bs);
      for (const std::size_t n : {3 * b, 2 * b + b / 2, 2 * b + 33, b + 1, b - 1})
        check_4bit_all_archs(random_floats(n, static_cast<unsigned>(n + b)), bs);
    }
  }
  SECTION("odd and small block sizes: bytes straddle blocks") {
    for (const std::int64_t bs : {1, 2, 3, 7, 31, 32, 33, 63, 65, 100, 127, 255, 257})
      for (const std::size_t n : {std::size_t{1}, std::size_t{2}, std::size_t{31}, std::size_t{64}, std::size_t{1001},
                                  std::size_t{2048}})
        check_4bit_all_archs(random_floats(n, static_cast<unsigned>(bs) * 7 + static_cast<unsigned>(n)), bs);
  }
  SECTION("ties exactly on the midpoints, in full blocks and a partial last one") {
    for (const float a : {1.0f, 2.0f, 0.25f, 3.0f, 1e-20f, 7e30f}) {
      std::vector<float> x = qtl::test::bnb_tie_values(a);
      const std::size_t block = x.size();
      for (std::size_t i = 0; i < 2 * block + 40; ++i) x.push_back(x[i % block]);  // two more full blocks, then part
      check_4bit_all_archs(x, static_cast<std::int64_t>(block));
      check_4bit_all_archs(x, 64);
    }
  }
  SECTION("zeros, tiny and huge values") {
    using lim = std::numeric_limits<float>;
    std::vector<float> x;
    const auto block = [&](auto value_of) {
      for (std::size_t j = 0; j < 64; ++j) x.push_back(value_of(j));
    };
    block([](std::size_t) { return 0.0f; });
    block([](std::size_t j) { return j % 3 ? -0.0f : 0.0f; });
    block([](std::size_t j) { return j == 9 ? 1e-40f : 0.0f; });                 // absmax below 1e-38
    block([](std::size_t j) { return j % 2 ? 1e-38f : -0.9e-38f; });             // at the clamp
    block([](std::size_t j) { return j % 2 ? lim::denorm_min() : -lim::denorm_min(); });
    block([](std::size_t j) { return j % 2 ? lim::max() : -lim::max() * (static_cast<float>(j) / 64.0f); });
    block([](std::size_t j) { return 3e38f * std::sin(static_cast<float>(j)); });
    block([](std::size_t j) { return 1e-30f * std::cos(static_cast<float>(j)); });
    for (const std::size_t tail : {0u, 1u, 5u, 40u, 63u}) {  // whole blocks, then a partial block of zeros
      std::vector<float> y = x;
      y.resize(x.size() + tail, 0.0f);
      check_4bit_all_archs(y, 64);
      check_4bit_all_archs(y, 128);
    }
    check_4bit_all_archs(std::vector<float>(100, 0.0f), 64);
    check_4bit_all_archs(std::vector<float>(5, -0.0f), 64);
    check_4bit_all_archs(std::vector<float>(7, 1e-40f), 4);
  }
  SECTION("NaN and Inf under nonfinite_policy::propagate") {
    std::vector<float> x = random_floats(1000, 4);
    x[3] = std::numeric_limits<float>::quiet_NaN();
    x[100] = std::numeric_limits<float>::infinity();
    x[101] = -std::numeric_limits<float>::infinity();
    x[999] = std::numeric_limits<float>::quiet_NaN();
    check_4bit_all_archs(x, 64, qtl::nonfinite_policy::propagate);
    check_4bit_all_archs(x, 33, qtl::nonfinite_policy::propagate);
  }
  SECTION("empty input") { check_4bit_all_archs({}, 64); }
}

TEST_CASE("kernel::quantize_4bit refuses NaN, Inf and bad sizes before writing", "[kernel][quantize][bnb]") {
  for (const auto arch : kernel::usable_archs()) {
    INFO("arch " << kernel::arch_name(arch));
    const auto k = kernel::kernels_for(arch);
    for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity()})
      for (const std::size_t at : {0u, 63u, 300u, 499u}) {
        std::vector<float> x = random_floats(500, 2);
        x[at] = bad;
        std::vector<std::uint8_t> packed(250, 0x5A);
        std::vector<float> absmax(8, 9.0f);
        try {
          kernel::quantize_4bit(k, x, bnb::quant_type::nf4, 64, std::span(packed), std::span(absmax));
          FAIL("no error");
        } catch (const qtl::error& e) {
          CHECK(e.code() == qtl::errc::non_finite);
          CHECK(std::string(e.what()).find("element " + std::to_string(at)) != std::string::npos);
        }
        CHECK(packed == std::vector<std::uint8_t>(250, 0x5A));
        CHECK(absmax == std::vector<float>(8, 9.0f));
      }
    const std::vector<float> x(129, 1.0f);
    std::vector<std::uint8_t> packed(65);
    std::vector<float> absmax(3);
    const auto code_of = [&](auto call) {
      try {
        call();
      } catch (const qtl::error& e) {
        return e.code();
      }
      FAIL("no error");
      return qtl::errc{};
    };
    CHECK(code_of([&] { kernel::quantize_4bit(k, x, bnb::quant_type::fp4, 0, std::span(packed), std::span(absmax)); }) ==
          qtl::errc::invalid_argument);
    CHECK(code_of([&] {
            kernel::quantize_4bit(k, x, bnb::quant_type::fp4, 64, std::span(packed).first(64), std::span(absmax));
          }) == qtl::errc::shape_mismatch);
    CHECK(code_of([&] {
            kernel::quantize_4bit(k, x, bnb::quant_type::fp4, 64, std::span(packed), std::span(absmax).first(2));
          }) == qtl::errc::shape_mismatch);
  }
}

TEST_CASE("IQ4_NL at the levels' midpoints, outliers and the 1e-15 threshold equals the scalar search",
          "[kernel][quantize]") {
  // With a largest value of 127 the first candidate's multiplier is 1, with -127 the middle
  // try's, so id * x lands exactly on the midpoints between levels (the scalar's tie rule),
  // a float either side, on the levels themselves and beyond the outer ones.
  const std::int8_t* levels = ggml::iq4_nl_levels;
  std::vector<float> probes;
  for (int i = 0; i < 15; ++i) {
    const float mid = (static_cast<float>(levels[i]) + static_cast<float>(levels[i + 1])) / 2;
    probes.insert(probes.end(), {mid, std::nextafter(mid, -200.0f), std::nextafter(mid, 200.0f), static_cast<float>(levels[i])});
  }
  probes.insert(probes.end(), {113.0f, 120.0f, -127.0f, -126.5f});
  std::vector<float> x;
  for (const float first : {127.0f, -127.0f}) {
    for (std::size_t start = 0; start < probes.size(); start += 31) {
      x.push_back(first);
      for (std::size_t j = 0; j < 31; ++j) x.push_back(probes[(start + j) % probes.size()]);
    }
    for (const float mid : {7.0f, -16.0f, 101.0f}) {  // all on one midpoint: the tie decides the scale
      x.push_back(first);
      for (std::size_t j = 0; j < 31; ++j) x.push_back(mid);
    }
  }
  std::mt19937 rng(4);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  for (const float outlier : {50.0f, -1e4f, 1e20f}) {  // one value far beyond the rest
    for (std::size_t j = 0; j < 32; ++j) x.push_back(j == 17 ? outlier : unit(rng));
  }
  for (const float max : {1e-15f, std::nextafter(1e-15f, 0.0f), -1e-15f, 2e-15f})  // the scalar's zero-scale test
    for (std::size_t j = 0; j < 32; ++j) x.push_back(j == 9 ? max : unit(rng) * 1e-16f);
  for (std::size_t j = 0; j < 32; ++j) x.push_back(static_cast<float>(j % 4) - 1.5f);  // few distinct values
  check_all_archs<ggml::block_iq4_nl>(x);
  // The rule those blocks pin down: a value halfway between two levels takes the upper one.
  CHECK(ggml::detail::nearest_level(-115.5f) == 1);
  CHECK(ggml::detail::nearest_level(7.0f) == 9);
  CHECK(ggml::detail::nearest_level(std::nextafter(7.0f, 0.0f)) == 8);
}

TEST_CASE("I2_S packing of every arch equals bitnet::pack_i2_s", "[kernel][quantize][i2_s]") {
  using L = qtl::bitnet::i2_s;
  std::mt19937 rng(21);
  std::uniform_int_distribution<int> code(-1, 1);
  const std::pair<std::size_t, std::size_t> shapes[] = {{1, 128}, {3, 256}, {7, 640}, {16, 4096}};
  for (const auto& [rows, cols] : shapes) {
    for (const std::size_t offset : {0u, 1u}) {  // strided rows, unaligned starts
      const std::size_t stride = cols + offset;
      std::vector<std::int8_t> buffer(rows * stride + offset, 0);
      for (auto& c : buffer) c = static_cast<std::int8_t>(code(rng));
      if (rows > 1) std::fill_n(buffer.begin() + static_cast<std::ptrdiff_t>(offset + stride), cols, std::int8_t{-1});
      if (rows > 2) std::fill_n(buffer.begin() + static_cast<std::ptrdiff_t>(offset + 2 * stride), cols, std::int8_t{1});
      const qtl::matrix_view<const std::int8_t> codes(buffer.data() + offset, rows, cols, stride);
      std::vector<std::uint8_t> want(L::bytes(rows, cols) + 3, 0xEE);
      qtl::bitnet::pack_i2_s(codes, -0.75f, std::span(want));
      for (const auto arch : kernel::usable_archs()) {
        INFO("arch " << kernel::arch_name(arch) << ", " << rows << " x " << cols << ", offset " << offset);
        std::vector<std::uint8_t> got(want.size(), 0x77);
        kernel::pack_i2_s(kernel::kernels_for(arch), codes, -0.75f, std::span(got));
        REQUIRE(std::equal(got.begin(), got.end() - 3, want.begin()));
        CHECK(got[got.size() - 1] == 0x77);  // past the tensor: untouched
      }
    }
  }
  // Known bytes: codes -1, 0, 1, 0 in the four planes give 0b00'01'10'01.
  std::vector<std::int8_t> c(128, 0);
  for (std::size_t j = 0; j < 32; ++j) c[j] = -1, c[64 + j] = 1;
  for (const auto arch : kernel::usable_archs()) {
    std::vector<std::uint8_t> out(L::bytes(1, 128));
    kernel::pack_i2_s(kernel::kernels_for(arch), qtl::matrix_view<const std::int8_t>(c.data(), 1, 128), 2.0f, out);
    CHECK(out[0] == 0x19);
    CHECK(out[31] == 0x19);
    CHECK(qtl::bitnet::i2_s_scale(out, 1, 128) == 2.0f);
  }
}

TEST_CASE("I2_S packing refuses non-ternary codes and bad shapes before writing", "[kernel][quantize][i2_s]") {
  for (const auto arch : kernel::usable_archs()) {
    INFO("arch " << kernel::arch_name(arch));
    const auto k = kernel::kernels_for(arch);
    for (const std::int8_t bad : {std::int8_t{2}, std::int8_t{-2}, std::int8_t{-128}, std::int8_t{127}}) {
      for (const std::size_t at : {0u, 63u, 127u, 200u, 383u}) {
        std::vector<std::int8_t> c(384, 1);
        c[at] = bad;
        std::vector<std::uint8_t> out(qtl::bitnet::i2_s::bytes(3, 128), 0x5A);
        try {
          kernel::pack_i2_s(k, qtl::matrix_view<const std::int8_t>(c.data(), 3, 128), 1.0f, out);
          FAIL("no error");
        } catch (const qtl::error& e) {
          CHECK(e.code() == qtl::errc::out_of_range);
          const std::string where = "(" + std::to_string(at / 128) + ", " + std::to_string(at % 128) + ")";
          CHECK(std::string(e.what()).find(where) != std::string::npos);
        }
        CHECK(out == std::vector<std::uint8_t>(out.size(), 0x5A));
      }
    }
    std::vector<std::int8_t> c(256, 0);
    std::vector<std::uint8_t> out(qtl::bitnet::i2_s::bytes(1, 256));
    CHECK_THROWS_AS(kernel::pack_i2_s(k, qtl::matrix_view<const std::int8_t>(c.data(), 2, 96), 1.0f, out), qtl::error);
    CHECK_THROWS_AS(kernel::pack_i2_s(k, qtl::matrix_view<const std::int8_t>(c.data(), 1, 256), 1.0f,
                                      std::span(out).first(out.size() - 1)),
                    qtl::error);
  }
}

TEST_CASE("Ternary weight codes of every arch equal bitnet::quantize_weights", "[kernel][quantize][i2_s]") {
  const std::pair<std::size_t, std::size_t> shapes[] = {{1, 1}, {1, 31}, {3, 33}, {5, 100}, {64, 257}};
  for (const auto& [rows, cols] : shapes) {
    std::vector<float> w = random_floats(rows * (cols + 2), static_cast<unsigned>(cols));
    const qtl::matrix_view<const float> view(w.data() + 1, rows, cols, cols + 2);
    std::vector<std::int8_t> want(rows * cols);
    const auto ws = qtl::bitnet::quantize_weights(view, qtl::matrix_view<std::int8_t>(want.data(), rows, cols));
    for (const auto arch : kernel::usable_archs()) {
      INFO("arch " << kernel::arch_name(arch) << ", " << rows << " x " << cols);
      std::vector<std::int8_t> got(rows * cols, 0x55);
      const auto gs = kernel::quantize_weights(kernel::kernels_for(arch), view,
                                               qtl::matrix_view<std::int8_t>(got.data(), rows, cols));
      CHECK(gs.s == ws.s);
      CHECK(gs.scale == ws.scale);
      REQUIRE(got == want);
    }
  }
  SECTION("ties, zeros and outliers") {
    // Mean |w| 1 (s = 1): w * s = +-0.5 and +-1.5 are ties (to 0 and +-2 -> clamped), 0.5
    // plus or minus one float, -0, and one huge value (its code clamps).
    std::vector<float> w = {0.5f, -0.5f, 1.5f, -1.5f, std::nextafter(0.5f, 1.0f), std::nextafter(0.5f, 0.0f),
                            -std::nextafter(0.5f, 1.0f), -0.0f, 0.0f, 2.5f, -2.5f, 1.0f, -1.0f};
    while (w.size() < 64) w.push_back(static_cast<float>(w.size() % 3) * 0.25f - 0.25f);
    float sum = 0.0f;
    for (const float v : w) sum += std::fabs(v);
    w.push_back(65.0f - sum);  // |w| sums to 65 over 65 values: s = 1 (the stray ulps round away)
    const qtl::matrix_view<const float> view(w.data(), 1, w.size());
    std::vector<std::int8_t> want(w.size());
    const auto ws = qtl::bitnet::quantize_weights(view, qtl::matrix_view<std::int8_t>(want.data(), 1, w.size()));
    for (const auto arch : kernel::usable_archs()) {
      INFO("arch " << kernel::arch_name(arch));
      std::vector<std::int8_t> got(w.size());
      kernel::quantize_weights(kernel::kernels_for(arch), view, qtl::matrix_view<std::int8_t>(got.data(), 1, w.size()));
      CHECK(got == want);
    }
    REQUIRE(ws.s == 1.0f);
    const std::int8_t expected[] = {0, 0, 1, -1, 1, 0, -1, 0, 0, 1, -1, 1, -1};
    CHECK(std::equal(std::begin(expected), std::end(expected), want.begin()));
  }
  for (const auto arch : kernel::usable_archs()) {  // the scalar checks, before any write
    std::vector<float> w(64, 0.25f);
    w[40] = std::numeric_limits<float>::quiet_NaN();
    std::vector<std::int8_t> codes(64, 7);
    CHECK_THROWS_AS(kernel::quantize_weights(kernel::kernels_for(arch), qtl::matrix_view<const float>(w.data(), 2, 32),
                                             qtl::matrix_view<std::int8_t>(codes.data(), 2, 32)),
                    qtl::error);
    CHECK_THROWS_AS(kernel::quantize_weights(kernel::kernels_for(arch), qtl::matrix_view<const float>(w.data(), 2, 32),
                                             qtl::matrix_view<std::int8_t>(codes.data(), 1, 32)),
                    qtl::error);
    CHECK(codes == std::vector<std::int8_t>(64, 7));
  }
}
