#include "qtl/layout/ggml.hpp"

#include <catch2/catch_template_test_macros.hpp>
#include <catch2/catch_test_macros.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "golden/golden.hpp"
#include "qtl/core/bit_cast.hpp"
#include "qtl/core/error.hpp"

namespace ggml = qtl::ggml;

namespace {

bool same_floats(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const bool both_nan = std::isnan(a[i]) && std::isnan(b[i]);
    if (!both_nan && qtl::bit_cast<std::uint32_t>(a[i]) != qtl::bit_cast<std::uint32_t>(b[i])) {
      UNSCOPED_INFO("first difference at " << i << ": " << a[i] << " vs " << b[i]);
      return false;
    }
  }
  return true;
}

// Index of the first differing byte, or -1.
long first_difference(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
  if (a.size() != b.size()) return 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i]) return static_cast<long>(i);
  return -1;
}

template <class B>
std::vector<std::uint8_t> quantize_bytes(const std::vector<float>& x, std::size_t row) {
  std::vector<std::uint8_t> bytes(ggml::row_size<B>(x.size()));
  ggml::quantize<B>(x, bytes, row);
  return bytes;
}

template <class B>
std::vector<float> dequantize_bytes(const std::vector<std::uint8_t>& bytes, std::size_t n) {
  std::vector<float> y(n);
  ggml::dequantize<B>(bytes, y);
  return y;
}

template <class B>
std::string upper_name() {
  std::string name(B::name);
  for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

}  // namespace

// Quantized with gguf's numpy reference (ggml.qtlg) and ggml's C reference (ggml_c.qtlg).
TEMPLATE_TEST_CASE("ggml blocks are byte-identical to gguf's and ggml's quantizers", "[ggml]", ggml::block_q4_0,
                   ggml::block_q4_1, ggml::block_q5_0, ggml::block_q5_1, ggml::block_q8_0, ggml::block_tq1_0,
                   ggml::block_tq2_0, ggml::block_mxfp4) {
  const auto golden = qtl::test::golden_file::load("ggml.qtlg");
  const auto c_golden = qtl::test::golden_file::load("ggml_c.qtlg");
  const std::string name = upper_name<TestType>();
  const auto x = golden.get<float>("input");
  const std::size_t row = golden.shape("input")[1];
  const auto bytes = quantize_bytes<TestType>(x, row);
  CHECK(first_difference(bytes, golden.get<std::uint8_t>(name + ".bytes")) == -1);
  CHECK(first_difference(bytes, c_golden.get<std::uint8_t>(name + ".c_bytes")) == -1);
  CHECK(same_floats(dequantize_bytes<TestType>(bytes, x.size()), golden.get<float>(name + ".dequantized")));
}

TEMPLATE_TEST_CASE("ggml C-only blocks are byte-identical to ggml's reference", "[ggml]", ggml::block_q8_1,
                   ggml::block_q8_k, ggml::block_q2_k, ggml::block_q3_k, ggml::block_q4_k, ggml::block_q5_k,
                   ggml::block_q6_k, ggml::block_iq4_nl) {
  const auto golden = qtl::test::golden_file::load("ggml_c.qtlg");
  const std::string name = upper_name<TestType>();
  const auto x = golden.get<float>("input");
  const std::size_t row = golden.shape("input")[1];
  const auto bytes = quantize_bytes<TestType>(x, row);
  CHECK(first_difference(bytes, golden.get<std::uint8_t>(name + ".bytes")) == -1);
  if (golden.contains(name + ".dequantized"))
    CHECK(same_floats(dequantize_bytes<TestType>(bytes, x.size()), golden.get<float>(name + ".dequantized")));
}

TEMPLATE_TEST_CASE("gguf's dequantizers agree with qtl on ggml's K-quant and IQ4_NL bytes", "[ggml]",
                   ggml::block_q2_k, ggml::block_q3_k, ggml::block_q4_k, ggml::block_q5_k, ggml::block_q6_k,
                   ggml::block_iq4_nl) {
  const auto golden = qtl::test::golden_file::load("ggml.qtlg");
  const auto c_golden = qtl::test::golden_file::load("ggml_c.qtlg");
  const std::string name = upper_name<TestType>();
  const std::size_t n = golden.get<float>("input").size();
  CHECK(same_floats(dequantize_bytes<TestType>(c_golden.get<std::uint8_t>(name + ".bytes"), n),
                    golden.get<float>(name + ".gguf_dequantized")));
}

// llama-quantize with an imatrix: quantize_<type>(src, dst, nrow, n_per_row, imatrix).
TEMPLATE_TEST_CASE("ggml blocks with importance weights are byte-identical to ggml's", "[ggml]", ggml::block_q2_k,
                   ggml::block_q3_k, ggml::block_q4_k, ggml::block_q5_k, ggml::block_q6_k, ggml::block_iq4_nl,
                   ggml::block_q4_0, ggml::block_q4_1, ggml::block_q5_0, ggml::block_q5_1) {
  const auto golden = qtl::test::golden_file::load("ggml_c.qtlg");
  const std::string name = upper_name<TestType>();
  const auto x = golden.get<float>("input");
  const std::size_t row = golden.shape("input")[1];
  const auto importance = golden.get<float>("importance");
  REQUIRE(importance.size() == row);
  const auto want = golden.get<std::uint8_t>(name + ".weighted_bytes");

  std::vector<std::uint8_t> bytes(ggml::row_size<TestType>(x.size()));
  ggml::quantize<TestType>(x, bytes, row, importance);
  CHECK(first_difference(bytes, want) == -1);
  CHECK(bytes != quantize_bytes<TestType>(x, row));  // the weights change the choice

  std::vector<TestType> blocks(x.size() / TestType::elements);
  ggml::quantize<TestType>(x, std::span(blocks), row, importance);
  CHECK(std::memcmp(blocks.data(), want.data(), want.size()) == 0);

  // Uniform importance is not "no importance": ggml's weighted search differs from _ref.
  const std::vector<float> ones(row, 1.0f);
  std::vector<std::uint8_t> uniform(bytes.size());
  ggml::quantize<TestType>(x, uniform, row, ones);
  CHECK(uniform != bytes);
}

TEST_CASE("ggml importance weights: bad input is refused before any write", "[ggml]") {
  std::vector<float> x(512, 0.5f);
  std::vector<std::uint8_t> out(ggml::row_size<ggml::block_q4_k>(512), 0xAB);
  const auto untouched = out;
  std::vector<float> importance(256, 1.0f);
  try {  // rows of 256 need 256 weights; 255 is a lie
    ggml::quantize<ggml::block_q4_k>(x, out, 256, std::span<const float>(importance).first(255));
    FAIL("no error");
  } catch (const qtl::error& e) {
    CHECK(e.code() == qtl::errc::shape_mismatch);
  }
  CHECK_THROWS_AS(ggml::quantize<ggml::block_q4_k>(x, out, 0, importance), qtl::error);  // one row of 512
  importance[7] = -1.0f;
  try {
    ggml::quantize<ggml::block_q4_k>(x, out, 256, importance);
    FAIL("no error");
  } catch (const qtl::error& e) {
    CHECK(e.code() == qtl::errc::invalid_argument);
    CHECK(std::string(e.what()).find("importance weight 7") != std::string::npos);
  }
  importance[7] = NAN;
  CHECK_THROWS_AS(ggml::quantize<ggml::block_q2_k>(x, out, 256, importance), qtl::error);
  importance[7] = 1.0f;
  x[3] = INFINITY;
  CHECK_THROWS_AS(ggml::quantize<ggml::block_q4_k>(x, out, 256, importance), qtl::error);
  CHECK(out == untouched);
  static_assert(ggml::importance_block<ggml::block_q3_k> && ggml::importance_block<ggml::block_iq4_nl> &&
                ggml::importance_block<ggml::block_q4_0> && !ggml::importance_block<ggml::block_q8_0> &&
                !ggml::importance_block<ggml::block_q8_k>);
}

TEST_CASE("IQ4_NL: the reference quantizer without search", "[ggml]") {
  const auto golden = qtl::test::golden_file::load("ggml_c.qtlg");
  const auto x = golden.get<float>("input");
  const std::size_t row = golden.shape("input")[1];

  const auto rows = golden.get<std::int32_t>("IQ4_NL.ref_rows");
  const auto want = golden.get<std::uint8_t>("IQ4_NL.ref_bytes");
  REQUIRE(!rows.empty());
  std::vector<std::uint8_t> got;
  for (const std::int32_t r : rows) {
    std::vector<ggml::block_iq4_nl> blocks(row / 32);
    ggml::quantize_with<ggml::block_iq4_nl>(
        std::span<const float>(x).subspan(static_cast<std::size_t>(r) * row, row), std::span(blocks), 0,
        [](const float* v, ggml::block_iq4_nl& b) { ggml::quantize_block(v, b, ggml::iq4_nl_search::none); });
    const auto* p = reinterpret_cast<const std::uint8_t*>(blocks.data());
    got.insert(got.end(), p, p + blocks.size() * sizeof(ggml::block_iq4_nl));
  }
  CHECK(first_difference(got, want) == -1);
}

TEST_CASE("ggml rows: sizes, rules and bad input", "[ggml]") {
  CHECK(ggml::row_size<ggml::block_q4_0>(4096) == 4096 / 32 * 18);
  CHECK(ggml::row_size<ggml::block_q4_k>(4096) == 16 * 144);
  CHECK_THROWS_AS(ggml::row_size<ggml::block_q4_k>(4000), qtl::error);

  std::vector<float> x(64, 1.0f);
  std::vector<std::uint8_t> out(2 * sizeof(ggml::block_q8_0), 0xAB);
  const std::vector<std::uint8_t> untouched = out;
  // A row of 48 values is not a whole number of blocks, even though 64 values are.
  try {
    ggml::quantize<ggml::block_q8_0>(std::span<const float>(x).first(48), out, 48);
    FAIL("no error");
  } catch (const qtl::error& e) {
    CHECK(e.code() == qtl::errc::group_size);
    CHECK(std::string(e.what()).find("multiple of 32") != std::string::npos);
  }
  CHECK_THROWS_AS(ggml::quantize<ggml::block_q8_0>(x, out, 48), qtl::error);  // 64 values, rows of 48
  CHECK_THROWS_AS(ggml::quantize<ggml::block_q8_0>(x, std::span(out).first(35)), qtl::error);
  x[40] = NAN;
  try {
    ggml::quantize<ggml::block_q8_0>(x, out);
    FAIL("no error");
  } catch (const qtl::error& e) {
    CHECK(e.code() == qtl::errc::non_finite);
    CHECK(std::string(e.what()).find("element 40") != std::string::npos);
  }
  x[40] = INFINITY;
  CHECK_THROWS_AS(ggml::quantize<ggml::block_q4_1>(x, out), qtl::error);
  CHECK(out == untouched);
  std::vector<float> y(64);
  CHECK_THROWS_AS(ggml::dequantize<ggml::block_q8_0>(std::span<const std::uint8_t>(out).first(40), y), qtl::error);
}

TEST_CASE("ggml Q4_0 and TQ1_0 by hand", "[ggml]") {
  // Q4_0: the signed extreme -8 gives d = 1 and maps to code 0; 7 maps to 15; 0 to 8.
  std::vector<float> x(32, 0.0f);
  x[0] = -8.0f;
  x[1] = 7.0f;
  x[16] = 3.0f;
  ggml::block_q4_0 b{};
  ggml::quantize_block(x.data(), b);
  CHECK(qtl::half_bits_to_float(b.d) == 1.0f);
  CHECK(b.qs[0] == (0x0 | (11 << 4)));  // value 0 low nibble, value 16 (3 -> 11) high nibble
  CHECK(b.qs[1] == (0xF | (8 << 4)));
  // TQ1_0: a block of +1 packs every byte to ceil(242 * 256 / 243) = 255, of -1 to 0.
  std::vector<float> ones(256, 1.0f);
  ggml::block_tq1_0 t{};
  ggml::quantize_block(ones.data(), t);
  for (const std::uint8_t q : t.qs) CHECK(q == 255);
  std::vector<float> back(256);
  ggml::dequantize_block(t, back.data());
  CHECK(back == ones);
}
