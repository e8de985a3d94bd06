#include "qtl/kernel/dequantize.hpp"

#include <catch2/catch_template_test_macros.hpp>
#include <catch2/catch_test_macros.hpp>
#include <cstdint>
#include <cstring>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "qtl/core/bit_cast.hpp"
#include "qtl/core/error.hpp"
#include "qtl/kernel/dispatch.hpp"

namespace kernel = qtl::kernel;
namespace ggml = qtl::ggml;
namespace bnb = qtl::bnb;
namespace bitnet = qtl::bitnet;

namespace {

// Where got and want first differ in their bits (NaN payloads and signed zeros
// included), or "" when they are the same: Catch prints it on a failure.
std::string bit_difference(std::span<const float> got, std::span<const float> want) {
  if (got.size() != want.size()) return "sizes " + std::to_string(got.size()) + " vs " + std::to_string(want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    const auto g = qtl::bit_cast<std::uint32_t>(got[i]), w = qtl::bit_cast<std::uint32_t>(want[i]);
    if (g != w) return "value " + std::to_string(i) + ": bits " + std::to_string(g) + " vs " + std::to_string(w);
  }
  return "";
}

// Half scales: zero, minus zero, the largest, a subnormal, +-Inf, quiet and signalling
// NaNs, then random finite ones.
std::uint16_t half_scale(std::size_t i, std::mt19937& rng) {
  constexpr std::uint16_t special[] = {0x0000, 0x8000, 0x7bff, 0xfbff, 0x0001, 0x8123, 0x7c00, 0xfc00, 0x7e00, 0x7c01, 0xfe55};
  if (i < std::size(special)) return special[i];
  std::uniform_real_distribution<float> scale(-0.05f, 0.05f);
  return qtl::float_to_half_bits(scale(rng));
}

template <class B>
std::vector<B> random_blocks(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<B> blocks(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto* raw = reinterpret_cast<unsigned char*>(&blocks[i]);
    for (std::size_t k = 0; k < sizeof(B); ++k) raw[k] = static_cast<unsigned char>(byte(rng));
    B& b = blocks[i];
    b.d = half_scale(i, rng);
    if constexpr (requires { b.m; }) b.m = half_scale((i + 3) % n, rng);
  }
  // Every byte value 0..255 in the codes of the blocks from the third on, whatever they
  // mean for the type; the second holds the extreme codes only (Q8_0's -128, 4-bit 0
  // and 15, 2-bit 0 and 3).
  for (std::size_t value = 0, i = 2; value < 256; ++i) {
    auto* qs = reinterpret_cast<unsigned char*>(&blocks[i].qs);
    for (std::size_t k = 0; k < sizeof(blocks[i].qs); ++k) qs[k] = static_cast<unsigned char>(value++);
  }
  auto* second = reinterpret_cast<unsigned char*>(&blocks[1].qs);
  for (std::size_t k = 0; k < sizeof(blocks[1].qs); ++k) second[k] = k % 2 ? 0x80 : 0xF0;
  blocks[1].d = qtl::float_to_half_bits(1.5f);
  return blocks;
}

// Q4_1's q * d + m where both q * d and m are NaN (d Inf or NaN, m NaN): IEEE 754 leaves
// open which NaN the sum returns (x86 returns its first operand's, and the compiler may
// order a commutative add either way), so there only NaN-ness is compared.
template <class B>
void forgive_two_nans(const B* blocks, std::span<float> got, std::span<const float> want) {
  if constexpr (requires(B b) { b.m; })
    for (std::size_t i = 0; i < got.size(); ++i) {
      const B& b = blocks[i / B::elements];
      const float m = qtl::half_bits_to_float(b.m), d = qtl::half_bits_to_float(b.d);
      const bool product_nan = d != d || (d - d != 0.0f && ggml::detail::nibble(b.qs, i % B::elements) == 0);
      if (m != m && product_nan && got[i] != got[i] && want[i] != want[i]) got[i] = want[i];
    }
}

}  // namespace

TEMPLATE_TEST_CASE("ggml dequantize of every arch equals the scalar reference bit for bit", "[kernel]",
                   ggml::block_q8_0, ggml::block_q4_0, ggml::block_q4_1, ggml::block_iq4_nl, ggml::block_tq2_0) {
  using B = TestType;
  const std::size_t n = 37;
  const auto blocks = random_blocks<B>(n, 5);
  std::vector<float> want(n * B::elements);
  ggml::dequantize<B>(std::span<const B>(blocks), std::span<float>(want));
  for (const auto arch : kernel::usable_archs()) {
    INFO("arch " << kernel::arch_name(arch));
    const auto k = kernel::kernels_for(arch);
    std::vector<float> got(want.size(), -1.0f);
    kernel::dequantize<B>(k, blocks, got);
    forgive_two_nans(blocks.data(), std::span<float>(got), std::span<const float>(want));
    CHECK(bit_difference(std::span<const float>(got), std::span<const float>(want)) == "");

    // Unaligned: blocks from the second on (an odd byte offset for 34-byte Q8_0), into
    // an output one float past a vector boundary; the value before it untouched.
    std::vector<float> shifted(want.size() + 1, -1.0f);
    const std::size_t m = n - 2;
    kernel::dequantize<B>(k, std::span<const B>(blocks).subspan(1, m), std::span<float>(shifted).subspan(1, m * B::elements));
    CHECK(shifted[0] == -1.0f);
    forgive_two_nans(blocks.data() + 1, std::span<float>(shifted).subspan(1, m * B::elements),
                     std::span<const float>(want).subspan(B::elements, m * B::elements));
    CHECK(bit_difference(std::span<const float>(shifted).subspan(1, m * B::elements),
                       std::span<const float>(want).subspan(B::elements, m * B::elements)) == "");
  }
}

TEST_CASE("Q4_1's q * d is exact for every code and half scale, so FMA or not gives one rounding", "[kernel]") {
  // Why the SIMD q * d + m may be contracted into an FMA and still equal the reference's
  // two roundings: the product itself never rounds.
  int inexact = 0;
  for (std::uint32_t bits = 0; bits < 0x10000u; ++bits) {
    const float d = qtl::half_bits_to_float(static_cast<std::uint16_t>(bits));
    if (d - d != 0.0f) continue;  // Inf, NaN
    for (int q = 0; q < 16; ++q)
      inexact += static_cast<double>(static_cast<float>(q) * d) != static_cast<double>(q) * static_cast<double>(d);
  }
  CHECK(inexact == 0);
}

TEMPLATE_TEST_CASE("ggml dequantize kernels reject sizes that do not fit", "[kernel]", ggml::block_q8_0,
                   ggml::block_q4_0, ggml::block_q4_1, ggml::block_iq4_nl, ggml::block_tq2_0) {
  using B = TestType;
  const std::vector<B> blocks(3);
  std::vector<float> out(4 * B::elements);
  for (const auto arch : kernel::usable_archs()) {
    const auto k = kernel::kernels_for(arch);
    CHECK_THROWS_AS(kernel::dequantize<B>(k, blocks, std::span<float>(out).first(B::elements + 1)), qtl::error);
    CHECK_THROWS_AS(kernel::dequantize<B>(k, blocks, std::span<float>(out)), qtl::error);  // 4 blocks from 3
    CHECK_NOTHROW(kernel::dequantize<B>(k, blocks, std::span<float>(out).first(3 * B::elements)));
    CHECK_NOTHROW(kernel::dequantize<B>(k, std::span<const B>(), std::span<float>()));
  }
}

TEST_CASE("NF4 and FP4 dequantize of every arch equals bnb::dequantize_4bit bit for bit", "[kernel]") {
  std::mt19937 rng(9);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> amax(0.0f, 3.0f);
  const float specials[] = {0.0f, -0.0f, 3.0e38f, 1e-38f, 1e-45f, -2.5f, qtl::bit_cast<float>(0x7fc01234u),
                            qtl::bit_cast<float>(0x7f800000u)};
  const std::size_t sizes[] = {0, 1, 2, 31, 32, 33, 63, 64, 65, 100, 1000, 4097};
  const std::int64_t blocksizes[] = {1, 2, 3, 7, 32, 33, 64, 4096};
  for (const auto type : {bnb::quant_type::nf4, bnb::quant_type::fp4}) {
    for (const std::size_t n : sizes)
      for (const std::int64_t bs : blocksizes) {
        INFO((type == bnb::quant_type::nf4 ? "nf4" : "fp4") << ", n " << n << ", blocksize " << bs);
        // One spare byte and absmax in front: the kernels also read from odd addresses.
        std::vector<std::uint8_t> packed(bnb::packed_4bit_size(n) + 1);
        for (auto& p : packed) p = static_cast<std::uint8_t>(byte(rng));
        std::vector<float> absmax(bnb::block_count(n, bs) + 1);
        for (std::size_t b = 0; b < absmax.size(); ++b) absmax[b] = b < std::size(specials) ? specials[b] : amax(rng);
        const std::span<const std::uint8_t> codes = std::span<const std::uint8_t>(packed).subspan(1);
        const std::span<const float> scales = std::span<const float>(absmax).subspan(1);
        std::vector<float> want(n);
        bnb::dequantize_4bit(codes, scales, type, bs, std::span<float>(want));
        for (const auto arch : kernel::usable_archs()) {
          INFO("arch " << kernel::arch_name(arch));
          std::vector<float> got(n + 1, -7.0f);
          kernel::dequantize_4bit(kernel::kernels_for(arch), codes, scales, type, bs, std::span<float>(got).subspan(1));
          CHECK(got[0] == -7.0f);
          CHECK(bit_difference(std::span<const float>(got).subspan(1), std::span<const float>(want)) == "");
        }
      }
  }
}

TEST_CASE("4-bit dequantize kernels reject bad block sizes and short buffers", "[kernel]") {
  const std::vector<std::uint8_t> packed(50);
  const std::vector<float> absmax(2);
  std::vector<float> out(100);
  for (const auto arch : kernel::usable_archs()) {
    const auto k = kernel::kernels_for(arch);
    for (const auto type : {bnb::quant_type::nf4, bnb::quant_type::fp4}) {
      CHECK_THROWS_AS(kernel::dequantize_4bit(k, packed, absmax, type, 0, out), qtl::error);
      CHECK_THROWS_AS(kernel::dequantize_4bit(k, packed, absmax, type, -64, out), qtl::error);
      CHECK_THROWS_AS(kernel::dequantize_4bit(k, packed, absmax, type, 32, out), qtl::error);  // 4 blocks, 2 absmax
      CHECK_THROWS_AS(kernel::dequantize_4bit(k, std::span<const std::uint8_t>(packed).first(49), absmax, type, 64, out),
                      qtl::error);
      CHECK_NOTHROW(kernel::dequantize_4bit(k, packed, absmax, type, 64, out));
    }
  }
}

TEMPLATE_TEST_CASE("FP8 decode of every arch equals the scalar decode bit for bit", "[kernel]", qtl::fp8_e4m3,
                   qtl::fp8_e5m2) {
  using F = TestType;
  // Every code (subnormals, +-0, the largest, Inf and NaN as the format has them) at every
  // position of a vector, then tails of every length up to two vectors of 32.
  std::vector<std::uint8_t> codes;
  for (int shift = 0; shift < 3; ++shift)
    for (int c = 0; c < 256; ++c) codes.push_back(static_cast<std::uint8_t>(c * 7 + shift));
  for (std::size_t n = 0; n <= 70; ++n) {
    INFO("n " << n);
    const std::span<const std::uint8_t> in = std::span<const std::uint8_t>(codes).subspan(1 + n, 700 + n);
    std::vector<float> want(in.size());
    qtl::minifloat_decode<F>(in, want);
    for (const auto arch : kernel::usable_archs()) {
      INFO("arch " << kernel::arch_name(arch));
      std::vector<float> got(in.size() + 1, 5.0f);
      kernel::minifloat_decode<F>(kernel::kernels_for(arch), in, std::span<float>(got).subspan(1));
      CHECK(got[0] == 5.0f);
      CHECK(bit_difference(std::span<const float>(got).subspan(1), std::span<const float>(want)) == "");
    }
  }
  std::vector<float> one(255);
  for (const auto arch : kernel::usable_archs())
    CHECK_THROWS_AS(kernel::minifloat_decode<F>(kernel::kernels_for(arch), std::span<const std::uint8_t>(codes).first(256), one),
                    qtl::error);
}

TEST_CASE("FP8 decode's special codes", "[kernel]") {
  const std::uint8_t codes[] = {0x00, 0x80, 0x01, 0x7e, 0x7f, 0xff, 0x7c, 0xfc, 0x7d};
  for (const auto arch : kernel::usable_archs()) {
    const auto k = kernel::kernels_for(arch);
    float e4m3[9], e5m2[9];
    kernel::minifloat_decode<qtl::fp8_e4m3>(k, codes, e4m3);
    kernel::minifloat_decode<qtl::fp8_e5m2>(k, codes, e5m2);
    CHECK(qtl::bit_cast<std::uint32_t>(e4m3[1]) == 0x80000000u);  // -0
    CHECK(e4m3[2] == 0x1p-9f);                                     // smallest subnormal
    CHECK(e4m3[3] == 448.0f);
    CHECK(qtl::bit_cast<std::uint32_t>(e4m3[4]) == 0x7fc00000u);  // NaN
    CHECK(qtl::bit_cast<std::uint32_t>(e4m3[5]) == 0xffc00000u);
    CHECK(e4m3[6] == 384.0f);  // 0x7c is finite in E4M3
    CHECK(e5m2[2] == 0x1p-16f);
    CHECK(qtl::bit_cast<std::uint32_t>(e5m2[3]) == 0x7fc00000u);  // 0x7e is a NaN in E5M2
    CHECK(qtl::bit_cast<std::uint32_t>(e5m2[6]) == 0x7f800000u);  // Inf
    CHECK(qtl::bit_cast<std::uint32_t>(e5m2[7]) == 0xff800000u);
    CHECK(qtl::bit_cast<std::uint32_t>(e5m2[8]) == 0x7fc00000u);  // NaN
  }
}

TEST_CASE("I2_S dequantize of every arch equals the unpacked codes times the scale", "[kernel]") {
  const std::size_t rows = 3, cols = 384;
  std::mt19937 rng(4);
  std::uniform_int_distribution<int> ternary(-1, 1);
  std::vector<std::int8_t> codes(rows * cols);
  for (auto& c : codes) c = static_cast<std::int8_t>(ternary(rng));
  for (const float scale : {0.0173f, -0.0f, 3.0e38f, 1e-40f, -2.0f, qtl::bit_cast<float>(0x7fc00abcu)}) {
    INFO("scale " << scale);
    std::vector<std::uint8_t> w(bitnet::i2_s::bytes(rows, cols));
    bitnet::pack_i2_s(qtl::matrix_view<const std::int8_t>(codes.data(), rows, cols), scale, w);
    std::vector<std::int8_t> unpacked(rows * cols);
    const float s = bitnet::unpack_i2_s(w, qtl::matrix_view<std::int8_t>(unpacked.data(), rows, cols));
    std::vector<float> want(rows * cols);
    for (std::size_t i = 0; i < want.size(); ++i) want[i] = static_cast<float>(unpacked[i]) * s;
    for (const auto arch : kernel::usable_archs()) {
      INFO("arch " << kernel::arch_name(arch));
      std::vector<float> got(rows * cols + 1, 9.0f);
      kernel::dequantize_i2_s(kernel::kernels_for(arch), w, rows, cols, std::span<float>(got).subspan(1));
      CHECK(got[0] == 9.0f);
      CHECK(bit_difference(std::span<const float>(got).subspan(1), std::span<const float>(want)) == "");
    }
  }
}

TEST_CASE("I2_S dequantize rejects shapes, short buffers and code 3 before writing", "[kernel]") {
  const std::size_t rows = 2, cols = 256;
  std::vector<std::int8_t> codes(rows * cols, 1);
  std::vector<std::uint8_t> w(bitnet::i2_s::bytes(rows, cols));
  bitnet::pack_i2_s(qtl::matrix_view<const std::int8_t>(codes.data(), rows, cols), 1.0f, w);
  std::vector<float> out(rows * cols, 4.0f);
  for (const auto arch : kernel::usable_archs()) {
    const auto k = kernel::kernels_for(arch);
    CHECK_THROWS_AS(kernel::dequantize_i2_s(k, w, rows, 192, out), qtl::error);
    CHECK_THROWS_AS(kernel::dequantize_i2_s(k, std::span<const std::uint8_t>(w).first(w.size() - 1), rows, cols, out),
                    qtl::error);
    CHECK_THROWS_AS(kernel::dequantize_i2_s(k, w, rows, cols, std::span<float>(out).first(rows * cols - 1)), qtl::error);
    for (const std::size_t at : {std::size_t{0}, std::size_t{77}, bitnet::i2_s::code_bytes(rows, cols) - 1}) {
      auto bad = w;
      bad[at] = static_cast<std::uint8_t>(bad[at] | 0x0C);  // one field 3
      CHECK_THROWS_AS(kernel::dequantize_i2_s(k, bad, rows, cols, out), qtl::error);
    }
    CHECK(out == std::vector<float>(rows * cols, 4.0f));
  }
}
