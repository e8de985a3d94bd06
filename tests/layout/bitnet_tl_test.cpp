#include "qtl/layout/bitnet/tl.hpp"

#include <catch2/catch_test_macros.hpp>
#include <cstdint>
#include <random>
#include <vector>

#include "qtl/core/bit_cast.hpp"
#include "qtl/core/error.hpp"
#include "layout/ternary_cases.hpp"

namespace bitnet = qtl::bitnet;
using qtl::matrix_view;

namespace {

using qtl::test::random_ternary;

}  // namespace

TEST_CASE("TL layout: bytes as the diagram says, padding zero, round trip", "[bitnet]") {
  const std::size_t rows = 131, cols = 12;  // three tiles, the last with 3 of 64 rows
  const auto codes = random_ternary(rows * cols, 3);
  const float scale = 0.0421f;
  REQUIRE(bitnet::tl::bytes(rows, cols) == 192 * cols / 4 + 32);
  std::vector<std::uint8_t> out(bitnet::tl::bytes(rows, cols), 0x5A);
  bitnet::pack_tl(matrix_view<const std::int8_t>(codes.data(), rows, cols), scale, out);

  // Written out from the diagram, not from byte_index / shift_of.
  std::vector<std::uint8_t> expect(bitnet::tl::bytes(rows, cols), 0);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) {
      const unsigned code = codes[r * cols + c] == -1 ? 3u : static_cast<unsigned>(codes[r * cols + c]);
      expect[(r / 64) * 64 * (cols / 4) + (c / 4) * 64 + r % 64] |= static_cast<std::uint8_t>(code << (2 * (c % 4)));
    }
  const auto bits = qtl::bit_cast<std::uint32_t>(scale);
  for (std::size_t k = 0; k < 4; ++k)
    expect[bitnet::tl::code_bytes(rows, cols) + k] = static_cast<std::uint8_t>(bits >> (8 * k));
  CHECK(out == expect);  // padding rows 131..191 and the tail after the scale are zero

  std::vector<std::int8_t> back(rows * cols, 42);
  CHECK(bitnet::unpack_tl(out, matrix_view<std::int8_t>(back.data(), rows, cols)) == scale);
  CHECK(back == codes);
  CHECK(bitnet::tl_scale(out, rows, cols) == scale);
}

TEST_CASE("TL layout rejects what it cannot hold", "[bitnet]") {
  const auto codes = random_ternary(2 * 8, 4);
  std::vector<std::uint8_t> out(bitnet::tl::bytes(2, 8));
  const matrix_view<const std::int8_t> view(codes.data(), 2, 8);
  CHECK_THROWS_AS(bitnet::pack_tl(matrix_view<const std::int8_t>(codes.data(), 2, 6), 1.0f, out), qtl::error);
  CHECK_THROWS_AS(bitnet::pack_tl(view, 1.0f, std::span<std::uint8_t>(out).first(out.size() - 1)), qtl::error);
  auto bad = codes;
  bad[5] = 2;
  CHECK_THROWS_AS(bitnet::pack_tl(matrix_view<const std::int8_t>(bad.data(), 2, 8), 1.0f, out), qtl::error);

  bitnet::pack_tl(view, 1.0f, out);
  std::vector<std::int8_t> back(16, 42);
  CHECK_THROWS_AS(
      bitnet::unpack_tl(std::span<const std::uint8_t>(out).first(40), matrix_view<std::int8_t>(back.data(), 2, 8)),
      qtl::error);
  out[70] = 0x08;  // code 10 at bits 2-3 of a padding row's byte
  CHECK_THROWS_AS(bitnet::unpack_tl(out, matrix_view<std::int8_t>(back.data(), 2, 8)), qtl::error);
  CHECK(back == std::vector<std::int8_t>(16, 42));  // nothing written
  CHECK_THROWS_AS(bitnet::tl_scale(std::span<const std::uint8_t>(out).first(10), 2, 8), qtl::error);
}
