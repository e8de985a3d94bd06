// qtl::bnb against bitsandbytes 0.50.2's own outputs (tests/golden/bnb_vectors.py):
// packed codes byte for byte, absmax / nested state / dequantized values bit for bit.
#include <catch2/catch_test_macros.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "golden/golden.hpp"
#include "qtl/layout/bitsandbytes.hpp"
#include "qtl/quantizer.hpp"

namespace {

using qtl::test::golden_file;

const golden_file& golden() {
  static const golden_file file = golden_file::load("bnb.qtlg");
  return file;
}

std::uint32_t bits(float v) {
  std::uint32_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

// Index of the first element whose bits differ (or the shorter size), or -1.
template <class A, class B>
long first_difference(const A& a, const B& b) {
  if (a.size() != b.size()) return static_cast<long>(std::min(a.size(), b.size()));
  for (std::size_t i = 0; i < a.size(); ++i) {
    if constexpr (std::is_same_v<std::remove_cvref_t<decltype(a[0])>, float>) {
      if (bits(a[i]) != bits(static_cast<float>(b[i]))) return static_cast<long>(i);
    } else if (a[i] != b[i]) {
      return static_cast<long>(i);
    }
  }
  return -1;
}

#define REQUIRE_IDENTICAL(ours, theirs) \
  do {                                  \
    INFO(#ours " vs " #theirs);         \
    CHECK((ours).size() == (theirs).size()); \
    CHECK(first_difference(ours, theirs) == -1); \
  } while (0)

qtl::bnb::quant_type type_of(const std::string& name) {
  return name == "nf4" ? qtl::bnb::quant_type::nf4 : qtl::bnb::quant_type::fp4;
}

std::vector<qtl::half> halves(const std::vector<std::uint16_t>& b) {
  std::vector<qtl::half> out;
  for (const auto v : b) out.push_back(qtl::half::from_bits(v));
  return out;
}

}  // namespace

TEST_CASE("bnb tables equal bitsandbytes' float32 values", "[bnb]") {
  const auto nf4 = golden().get<float>("map.nf4");
  const auto fp4 = golden().get<float>("map.fp4");
  REQUIRE_IDENTICAL(qtl::nf4_values, nf4);
  REQUIRE_IDENTICAL(qtl::bnb_fp4_values, fp4);
  REQUIRE_IDENTICAL(qtl::dynamic_map_signed::values(), golden().get<float>("map.signed"));
  REQUIRE_IDENTICAL(qtl::dynamic_map_unsigned::values(), golden().get<float>("map.unsigned"));
}

TEST_CASE("bnb 4-bit quantize/dequantize, every block size", "[bnb]") {
  const auto w = golden().get<float>("w");
  for (const std::string type : {"nf4", "fp4"}) {
    for (const std::int64_t bs : {64, 128, 256, 4096, 100}) {
      const std::string key = type + ".b" + std::to_string(bs);
      INFO(key);
      std::vector<std::uint8_t> packed(qtl::bnb::packed_4bit_size(w.size()));
      qtl::bnb::quantize_4bit_options options;
      options.type = type_of(type);
      options.blocksize = bs;
      const auto state = qtl::bnb::quantize_4bit(w, packed, options);
      REQUIRE_IDENTICAL(packed, golden().get<std::uint8_t>(key + ".packed"));
      REQUIRE_IDENTICAL(state.absmax, golden().get<float>(key + ".absmax"));
      CHECK(!state.nested);
      CHECK(state.shape == std::vector<std::size_t>{w.size()});
      if (golden().contains(key + ".dequant")) {
        std::vector<float> out(w.size());
        const auto theirs = golden().get<std::uint8_t>(key + ".packed");
        qtl::bnb::quant_state s = state;
        s.absmax = golden().get<float>(key + ".absmax");
        qtl::bnb::dequantize_4bit(theirs, s, out);
        REQUIRE_IDENTICAL(out, golden().get<float>(key + ".dequant"));
      }
    }
  }
}

template <class Format>
void check_composition(const std::string& type) {
  const auto w = golden().get<float>("w");
  for (const std::size_t bs : {64, 128, 256, 4096}) {
    const std::size_t blocks = w.size() / bs;  // the full ones: a partial block divides instead
    if (blocks == 0) continue;
    const std::string key = type + ".b" + std::to_string(bs);
    INFO(key);
    const qtl::quantizer<Format, qtl::codebook, qtl::per_group<>> q(qtl::codebook{}, qtl::per_group<>{bs});
    const auto t = q.quantize(qtl::matrix_view<const float>(w.data(), blocks, bs));
    std::vector<std::uint8_t> codes;  // bitsandbytes packs the first code of a pair in the high nibble
    for (const std::uint8_t b : golden().get<std::uint8_t>(key + ".packed")) {
      codes.push_back(static_cast<std::uint8_t>(b >> 4));
      codes.push_back(static_cast<std::uint8_t>(b & 15));
    }
    codes.resize(blocks * bs);
    REQUIRE_IDENTICAL(t.codes, codes);
    std::vector<float> scales;
    for (const qtl::quant_params& p : t.params) scales.push_back(p.scale);
    auto absmax = golden().get<float>(key + ".absmax");
    absmax.resize(blocks);
    REQUIRE_IDENTICAL(scales, absmax);
  }
}

TEST_CASE("quantizer<nf4 or bnb_fp4, codebook, per_group<B>> is bitsandbytes' quantize_4bit", "[bnb]") {
  check_composition<qtl::nf4>("nf4");
  check_composition<qtl::bnb_fp4>("fp4");
}

TEST_CASE("bnb 4-bit: the partial all-zero block stores absmax 1e-38, a full one 0", "[bnb]") {
  const auto absmax = golden().get<float>("nf4.b64.absmax");
  REQUIRE(absmax.size() == 79);                  // 5001 values: 78 full blocks and 9 zeros
  CHECK(absmax[2] == 0.0f);                      // w[128:192] = 0
  CHECK(bits(absmax[78]) == bits(1e-38f));       // bnb clamps the partial block's absmax
  CHECK(golden().get<std::uint8_t>("nf4.b64.packed").back() == 0x77);  // code 7 twice, pad included
  CHECK(golden().get<std::uint8_t>("fp4.b64.packed").back() == 0x00);
}

TEST_CASE("bnb 4-bit ties between levels", "[bnb]") {
  const auto x = golden().get<float>("ties");
  for (const std::string type : {"nf4", "fp4"}) {
    INFO(type);
    std::vector<std::uint8_t> packed(qtl::bnb::packed_4bit_size(x.size()));
    std::vector<float> absmax(qtl::bnb::block_count(x.size(), 64));
    qtl::bnb::quantize_4bit(std::span<const float>(x), type_of(type), 64, packed, absmax);
    REQUIRE_IDENTICAL(packed, golden().get<std::uint8_t>(type + ".ties.packed"));
    REQUIRE_IDENTICAL(absmax, golden().get<float>(type + ".ties.absmax"));
    std::vector<float> out(x.size());
    qtl::bnb::dequantize_4bit(std::span<const std::uint8_t>(packed), std::span<const float>(absmax), type_of(type), 64,
                              std::span<float>(out));
    REQUIRE_IDENTICAL(out, golden().get<float>(type + ".ties.dequant"));
  }
  // the tie rule itself: an exact midpoint takes the lower level
  const float mid = (qtl::nf4::decode(9) + qtl::nf4::decode(10)) / 2.0f;
  CHECK(qtl::nf4::encode(mid) == 9);
  CHECK(qtl::nf4::encode(std::nextafter(mid, 2.0f)) == 10);
  CHECK(qtl::bnb_fp4::encode(1.0f / 384) == 8);   // (0 + 1/192) / 2: the second zero
  CHECK(qtl::bnb_fp4::encode(-1.0f / 384) == 9);  // the midpoint of -1/192 and 0 is exactly -1/384
  CHECK(qtl::bnb_fp4::encode(-1e-30f) == 0);
}

TEST_CASE("bnb 4-bit: x * (1 / absmax) in full blocks, x / absmax in the partial one", "[bnb]") {
  const auto x = golden().get<float>("recip");  // values where the two differ across a midpoint
  for (const std::string type : {"nf4", "fp4"}) {
    INFO(type);
    std::vector<std::uint8_t> packed(qtl::bnb::packed_4bit_size(x.size()));
    std::vector<float> absmax(qtl::bnb::block_count(x.size(), 64));
    qtl::bnb::quantize_4bit(std::span<const float>(x), type_of(type), 64, packed, absmax);
    REQUIRE_IDENTICAL(packed, golden().get<std::uint8_t>(type + ".recip.packed"));
    REQUIRE_IDENTICAL(absmax, golden().get<float>(type + ".recip.absmax"));
  }
}

TEST_CASE("bnb 4-bit double quantization (compress_statistics)", "[bnb]") {
  const auto big = golden().get<float>("big");
  struct nested_case {
    std::string type;
    std::int64_t bs;
  };
  for (const auto& c : {nested_case{"nf4", 32}, nested_case{"fp4", 32}, nested_case{"nf4", 64}}) {
    const std::string key = c.type + ".nested.b" + std::to_string(c.bs);
    INFO(key);
    std::vector<std::uint8_t> packed(qtl::bnb::packed_4bit_size(big.size()));
    qtl::bnb::quantize_4bit_options options;
    options.type = type_of(c.type);
    options.blocksize = c.bs;
    options.compress_statistics = true;
    const auto state = qtl::bnb::quantize_4bit(big, packed, options);
    REQUIRE(state.nested);
    CHECK(state.absmax.empty());
    CHECK(state.nested->blocksize == 256);
    REQUIRE_IDENTICAL(packed, golden().get<std::uint8_t>(key + ".packed"));
    REQUIRE_IDENTICAL(state.nested->codes, golden().get<std::uint8_t>(key + ".qabsmax"));
    REQUIRE_IDENTICAL(state.nested->absmax, golden().get<float>(key + ".state2_absmax"));
    CHECK(bits(state.nested->offset) == bits(golden().get<float>(key + ".offset")[0]));
    CHECK(state.nested->absmax.size() == (c.bs == 32 ? 2u : 1u));  // 282 or 141 absmax values in blocks of 256
    if (golden().contains(key + ".dequant")) {
      std::vector<float> out(big.size());
      qtl::bnb::dequantize_4bit(packed, state, out);
      REQUIRE_IDENTICAL(out, golden().get<float>(key + ".dequant"));
    }
  }
}

TEST_CASE("bnb 4-bit 2-D tensor keeps its shape", "[bnb]") {
  const auto w2 = golden().get<float>("w2");
  std::vector<std::uint8_t> packed(qtl::bnb::packed_4bit_size(w2.size()));
  qtl::bnb::quantize_4bit_options options;
  options.compress_statistics = true;
  options.shape = {47, 63};
  const auto state = qtl::bnb::quantize_4bit(w2, packed, options);
  CHECK(state.shape == std::vector<std::size_t>{47, 63});
  REQUIRE_IDENTICAL(packed, golden().get<std::uint8_t>("nf4.shape47x63.packed"));
  REQUIRE_IDENTICAL(state.nested->codes, golden().get<std::uint8_t>("nf4.shape47x63.qabsmax"));
  std::vector<float> out(w2.size());
  qtl::bnb::dequantize_4bit(packed, state, out);
  REQUIRE_IDENTICAL(out, golden().get<float>("nf4.shape47x63.dequant"));
}

TEST_CASE("bnb 4-bit float16 in and out", "[bnb]") {
  const auto w16 = halves(golden().get<std::uint16_t>("w16_bits"));
  std::vector<std::uint8_t> packed(qtl::bnb::packed_4bit_size(w16.size()));
  const auto state = qtl::bnb::quantize_4bit(w16, packed);
  CHECK(state.dtype == qtl::bnb::source_dtype::float16);
  REQUIRE_IDENTICAL(packed, golden().get<std::uint8_t>("nf4.f16.packed"));
  REQUIRE_IDENTICAL(state.absmax, golden().get<float>("nf4.f16.absmax"));
  std::vector<qtl::half> out(w16.size());
  qtl::bnb::dequantize_4bit(packed, state, out);
  std::vector<std::uint16_t> out_bits;
  for (const auto h : out) out_bits.push_back(h.bits);
  REQUIRE_IDENTICAL(out_bits, golden().get<std::uint16_t>("nf4.f16.dequant_bits"));
}

TEST_CASE("bnb 8-bit blockwise, signed dynamic map", "[bnb]") {
  const auto w = golden().get<float>("w");
  for (const std::int64_t bs : {64, 256, 4096, 100}) {
    const std::string key = "q8.b" + std::to_string(bs);
    INFO(key);
    std::vector<std::uint8_t> codes(w.size());
    std::vector<float> absmax(qtl::bnb::block_count(w.size(), bs));
    qtl::bnb::quantize_blockwise(std::span<const float>(w), bs, codes, absmax);
    REQUIRE_IDENTICAL(codes, golden().get<std::uint8_t>(key + ".codes"));
    REQUIRE_IDENTICAL(absmax, golden().get<float>(key + ".absmax"));
    if (golden().contains(key + ".dequant")) {
      std::vector<float> out(w.size());
      qtl::bnb::dequantize_blockwise(std::span<const std::uint8_t>(codes), std::span<const float>(absmax), bs,
                                     std::span<float>(out));
      REQUIRE_IDENTICAL(out, golden().get<float>(key + ".dequant"));
    }
  }
}

TEST_CASE("bnb 8-bit: every grid step and map midpoint", "[bnb]") {
  const auto x = golden().get<float>("grid");
  std::vector<std::uint8_t> codes(x.size());
  std::vector<float> absmax(qtl::bnb::block_count(x.size(), 256));
  qtl::bnb::quantize_blockwise(std::span<const float>(x), 256, codes, absmax);
  REQUIRE_IDENTICAL(codes, golden().get<std::uint8_t>("q8.grid.codes"));
  REQUIRE_IDENTICAL(absmax, golden().get<float>("q8.grid.absmax"));
  std::vector<float> out(x.size());
  qtl::bnb::dequantize_blockwise(std::span<const std::uint8_t>(codes), std::span<const float>(absmax), 256,
                                 std::span<float>(out));
  REQUIRE_IDENTICAL(out, golden().get<float>("q8.grid.dequant"));
}

TEST_CASE("bnb 8-bit: unsigned map, bfloat16, nested", "[bnb]") {
  const auto w = golden().get<float>("w");
  {
    std::vector<float> a(w.size());
    for (std::size_t i = 0; i < w.size(); ++i) a[i] = std::fabs(w[i]);
    std::vector<std::uint8_t> codes(a.size());
    std::vector<float> absmax(qtl::bnb::block_count(a.size(), 256));
    const auto map = qtl::bnb::dynamic_map_kind::unsigned_map;
    qtl::bnb::quantize_blockwise(std::span<const float>(a), 256, codes, absmax, map);
    REQUIRE_IDENTICAL(codes, golden().get<std::uint8_t>("q8u.b256.codes"));
    REQUIRE_IDENTICAL(absmax, golden().get<float>("q8u.b256.absmax"));
    std::vector<float> out(a.size());
    qtl::bnb::dequantize_blockwise(std::span<const std::uint8_t>(codes), std::span<const float>(absmax), 256,
                                   std::span<float>(out), map);
    REQUIRE_IDENTICAL(out, golden().get<float>("q8u.b256.dequant"));
  }
  {
    std::vector<qtl::bfloat16> wb;
    for (const auto b : golden().get<std::uint16_t>("wb_bits")) wb.push_back(qtl::bfloat16::from_bits(b));
    std::vector<std::uint8_t> codes(wb.size());
    std::vector<float> absmax(qtl::bnb::block_count(wb.size(), 64));
    qtl::bnb::quantize_blockwise(std::span<const qtl::bfloat16>(wb), 64, codes, absmax);
    REQUIRE_IDENTICAL(codes, golden().get<std::uint8_t>("q8.bf16.b64.codes"));
    REQUIRE_IDENTICAL(absmax, golden().get<float>("q8.bf16.b64.absmax"));
    std::vector<qtl::bfloat16> out(wb.size());
    qtl::bnb::dequantize_blockwise(std::span<const std::uint8_t>(codes), std::span<const float>(absmax), 64,
                                   std::span<qtl::bfloat16>(out));
    std::vector<std::uint16_t> out_bits;
    for (const auto h : out) out_bits.push_back(h.bits);
    REQUIRE_IDENTICAL(out_bits, golden().get<std::uint16_t>("q8.bf16.b64.dequant_bits"));
  }
  {  // quantize_blockwise(nested=True): the absmax compressed in blocks of the tensor's own size
    std::vector<std::uint8_t> codes(w.size());
    std::vector<float> absmax(qtl::bnb::block_count(w.size(), 64));
    qtl::bnb::quantize_blockwise(std::span<const float>(w), 64, codes, absmax);
    const auto nested = qtl::bnb::compress_statistics(absmax, 64);
    REQUIRE_IDENTICAL(codes, golden().get<std::uint8_t>("q8.nested.b64.codes"));
    REQUIRE_IDENTICAL(nested.codes, golden().get<std::uint8_t>("q8.nested.b64.qabsmax"));
    REQUIRE_IDENTICAL(nested.absmax, golden().get<float>("q8.nested.b64.state2_absmax"));
    CHECK(bits(nested.offset) == bits(golden().get<float>("q8.nested.b64.offset")[0]));
    std::vector<float> restored(absmax.size()), out(w.size());
    qtl::bnb::decompress_statistics(nested, restored);
    qtl::bnb::dequantize_blockwise(std::span<const std::uint8_t>(codes), std::span<const float>(restored), 64,
                                   std::span<float>(out));
    REQUIRE_IDENTICAL(out, golden().get<float>("q8.nested.b64.dequant"));
  }
}

TEST_CASE("bnb errors: nothing is written before the checks pass", "[bnb]") {
  std::vector<float> x(130, 0.25f);
  x[0] = -1.0f;
  std::vector<std::uint8_t> packed(qtl::bnb::packed_4bit_size(x.size()), 0xAB);
  std::vector<float> absmax(qtl::bnb::block_count(x.size(), 64), 7.0f);
  const std::vector<std::uint8_t> packed_before = packed;
  const std::vector<float> absmax_before = absmax;
  auto untouched = [&] { return packed == packed_before && absmax == absmax_before; };
  auto code_of = [](auto&& f) {
    try {
      f();
    } catch (const qtl::error& e) {
      return std::pair{e.code(), std::string(e.what())};
    }
    return std::pair{qtl::errc::io, std::string("no error")};
  };
  const std::span<const float> xs(x);

  SECTION("short packed buffer") {
    const auto [code, what] = code_of([&] {
      qtl::bnb::quantize_4bit(xs, qtl::bnb::quant_type::nf4, 64, std::span(packed).first(64), absmax);
    });
    CHECK(code == qtl::errc::shape_mismatch);
    CHECK(untouched());
  }
  SECTION("short absmax buffer") {
    const auto [code, what] = code_of([&] {
      qtl::bnb::quantize_4bit(xs, qtl::bnb::quant_type::fp4, 64, packed, std::span(absmax).first(2));
    });
    CHECK(code == qtl::errc::shape_mismatch);
    CHECK(untouched());
  }
  SECTION("block size 0 and negative") {
    for (const std::int64_t bs : {0, -64}) {
      CHECK(code_of([&] { qtl::bnb::quantize_4bit(xs, qtl::bnb::quant_type::nf4, bs, packed, absmax); }).first ==
            qtl::errc::invalid_argument);
      CHECK(code_of([&] { qtl::bnb::quantize_blockwise(xs, bs, packed, absmax); }).first ==
            qtl::errc::invalid_argument);
    }
    CHECK(untouched());
  }
  SECTION("NaN and Inf name the element") {
    x[77] = std::numeric_limits<float>::quiet_NaN();
    auto [code, what] = code_of([&] { qtl::bnb::quantize_4bit(xs, qtl::bnb::quant_type::nf4, 64, packed, absmax); });
    CHECK(code == qtl::errc::non_finite);
    CHECK(what.find("element 77 ") != std::string::npos);
    CHECK(what.find("NaN") != std::string::npos);
    x[77] = 0.0f;
    x[129] = -std::numeric_limits<float>::infinity();
    std::vector<std::uint8_t> codes(x.size(), 0xAB);
    std::tie(code, what) = code_of([&] { qtl::bnb::quantize_blockwise(xs, 64, codes, absmax); });
    CHECK(code == qtl::errc::non_finite);
    CHECK(what.find("element 129 ") != std::string::npos);
    CHECK(std::all_of(codes.begin(), codes.end(), [](std::uint8_t c) { return c == 0xAB; }));
    CHECK(untouched());
  }
  SECTION("short 8-bit code buffer and short dequantize output") {
    std::vector<std::uint8_t> codes(x.size() - 1, 0xAB);
    CHECK(code_of([&] { qtl::bnb::quantize_blockwise(xs, 64, codes, absmax); }).first == qtl::errc::shape_mismatch);
    CHECK(std::all_of(codes.begin(), codes.end(), [](std::uint8_t c) { return c == 0xAB; }));
    std::vector<float> out(x.size(), 5.0f);
    CHECK(code_of([&] {
            qtl::bnb::dequantize_4bit(std::span<const std::uint8_t>(packed).first(10), std::span<const float>(absmax),
                                      qtl::bnb::quant_type::nf4, 64, std::span<float>(out));
          }).first == qtl::errc::shape_mismatch);
    CHECK(std::all_of(out.begin(), out.end(), [](float v) { return v == 5.0f; }));
    CHECK(untouched());
  }
  SECTION("state and output disagree; shape and input disagree") {
    qtl::bnb::quant_state state;
    state.shape = {130};
    state.absmax = absmax;
    std::vector<float> out(129, 5.0f);
    CHECK(code_of([&] { qtl::bnb::dequantize_4bit(packed, state, out); }).first == qtl::errc::shape_mismatch);
    CHECK(std::all_of(out.begin(), out.end(), [](float v) { return v == 5.0f; }));
    qtl::bnb::quantize_4bit_options options;
    options.shape = {13, 11};
    CHECK(code_of([&] { (void)qtl::bnb::quantize_4bit(x, packed, options); }).first == qtl::errc::shape_mismatch);
    CHECK(untouched());
  }
}

TEST_CASE("bnb nonfinite_policy::propagate", "[bnb]") {
  std::vector<float> x = {0.5f, std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                          -std::numeric_limits<float>::infinity(), -0.25f, 0.0f};
  std::vector<std::uint8_t> packed(3);
  std::vector<float> absmax(1);
  qtl::bnb::quantize_4bit(std::span<const float>(x), qtl::bnb::quant_type::nf4, 6, packed, absmax,
                          qtl::nonfinite_policy::propagate);
  CHECK(absmax[0] == 0.5f);                // the finite values' absmax
  CHECK(packed[0] == (15 << 4 | 7));       // 0.5 / 0.5 = 1 -> 15; NaN -> the code of 0
  CHECK(packed[1] == (15 << 4 | 0));       // +Inf -> 1, -Inf -> -1
  std::vector<std::uint8_t> codes(x.size());
  qtl::bnb::quantize_blockwise(std::span<const float>(x), 6, codes, absmax, qtl::bnb::dynamic_map_kind::signed_map,
                               qtl::nonfinite_policy::propagate);
  CHECK(absmax[0] == 0.5f);
  CHECK(codes[1] == codes[5]);  // NaN like 0
  CHECK(codes[2] == 255);
  CHECK(codes[3] == 0);
}

TEST_CASE("fused_multiply_add rounds once, like an FMA instruction", "[bnb]") {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  int wrong = 0;
  for (int i = 0; i < 200000; ++i) {
    const float a = unit(rng), b = i % 2 ? 65535.0f : unit(rng) * 1000.0f, c = i % 3 ? 0.5f : unit(rng) - 0.5f;
    if (bits(qtl::detail::fused_multiply_add(a, b, c)) != bits(std::fma(a, b, c))) ++wrong;
  }
  CHECK(wrong == 0);
  // a case where rounding a*b+c to double first lands on a float midpoint
  const float a = 1.0f + 0x1p-23f, b = 1.0f + 0x1p-23f;  // a*b = 1 + 2^-22 + 2^-46
  CHECK(bits(qtl::detail::fused_multiply_add(a, b, 0x1p-24f)) == bits(std::fma(a, b, 0x1p-24f)));
}

TEST_CASE("bnb round trip: each value decodes to its nearest level", "[bnb][property]") {
  std::mt19937 rng(1234);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const std::int64_t bs : {1, 37, 64, 1000}) {
    std::vector<float> x(2049);
    for (auto& v : x) v = normal(rng) * (rng() % 17 == 0 ? 30.0f : 1.0f);
    for (const auto type : {qtl::bnb::quant_type::nf4, qtl::bnb::quant_type::fp4}) {
      std::vector<std::uint8_t> packed(qtl::bnb::packed_4bit_size(x.size())), nested_packed(packed.size());
      qtl::bnb::quantize_4bit_options options;
      options.type = type;
      options.blocksize = bs;
      const auto state = qtl::bnb::quantize_4bit(x, packed, options);
      std::vector<float> out(x.size());
      qtl::bnb::dequantize_4bit(packed, state, out);
      int far = 0;
      for (std::size_t i = 0; i < x.size(); ++i) {
        const float scale = state.absmax[i / static_cast<std::size_t>(bs)];
        const float v = std::clamp(x[i] / scale, -1.0f, 1.0f);
        float best = std::numeric_limits<float>::infinity();
        for (int c = 0; c < 16; ++c) {
          const float level = type == qtl::bnb::quant_type::nf4 ? qtl::nf4::decode(c) : qtl::bnb_fp4::decode(c);
          best = std::min(best, std::fabs(v - level));
        }
        // the nearest level, up to the rounding of x * (1 / absmax)
        if (std::fabs(v - out[i] / scale) > best + 1e-6f) ++far;
      }
      CHECK(far == 0);
      // double quantization changes only the absmax, each by under 1% of its block's largest
      options.compress_statistics = true;
      const auto nested = qtl::bnb::quantize_4bit(x, nested_packed, options);
      CHECK(nested_packed == packed);
      std::vector<float> restored(state.blocks());
      qtl::bnb::decompress_statistics(*nested.nested, restored);
      int off = 0;
      for (std::size_t b = 0; b < restored.size(); ++b)
        off += std::fabs(restored[b] - state.absmax[b]) > 0.01f * nested.nested->absmax[b / 256] ? 1 : 0;
      CHECK(off == 0);
    }
    // 8-bit: the grid snap moves a value by at most one grid step before the nearest code
    std::vector<std::uint8_t> codes(x.size());
    std::vector<float> absmax(qtl::bnb::block_count(x.size(), bs)), out(x.size());
    qtl::bnb::quantize_blockwise(std::span<const float>(x), bs, codes, absmax);
    qtl::bnb::dequantize_blockwise(std::span<const std::uint8_t>(codes), std::span<const float>(absmax), bs,
                                   std::span<float>(out));
    int far = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const float scale = absmax[i / static_cast<std::size_t>(bs)];
      const float v = x[i] / scale;
      float best = std::numeric_limits<float>::infinity();
      for (int c = 0; c < 256; ++c) best = std::min(best, std::fabs(v - qtl::dynamic_map_signed::decode(c)));
      if (std::fabs(v - out[i] / scale) > best + 2.0f / 65535.0f) ++far;
    }
    CHECK(far == 0);
  }
}

TEST_CASE("bnb 8-bit encode is monotone over its whole grid", "[bnb][property]") {
  int previous_signed = 0, previous_unsigned = 0, decreases = 0;
  for (int i = 0; i <= 65535; ++i) {
    const float v = -1.0f + 2.0f * static_cast<float>(i) / 65535.0f;
    const int s = qtl::dynamic_map_signed::encode(v), u = qtl::dynamic_map_unsigned::encode(v);
    decreases += s < previous_signed || u < previous_unsigned;
    previous_signed = s;
    previous_unsigned = u;
  }
  CHECK(decreases == 0);
  CHECK(previous_signed == 255);
  CHECK(qtl::dynamic_map_signed::encode(0.0f) == 131);  // bnb's grid: 0 is not code 127
  CHECK(qtl::dynamic_map_signed::encode(std::numeric_limits<float>::quiet_NaN()) == 0);
}
