#include <qtl/pack/bit_pack.hpp>

#include <catch2/catch_template_test_macros.hpp>
#include <catch2/catch_test_macros.hpp>
#include <cstdint>
#include <random>
#include <vector>

using bytes = std::vector<std::uint8_t>;

TEST_CASE("pack_sequential: hand-checked bytes", "[pack]") {
  bytes out(2);
  qtl::pack_sequential<4>(bytes{1, 2, 3}, out);
  REQUIRE(out == bytes{0x21, 0x03});
  // 3 bits: 7 in bits 0-2, 0 in bits 3-5, 5 (0b101) in bits 6-8 straddling the byte
  qtl::pack_sequential<3>(bytes{7, 0, 5}, out);
  REQUIRE(out == bytes{0x47, 0x01});
  bytes one(1);
  qtl::pack_sequential<1>(bytes{1, 0, 1, 1, 0, 0, 0, 1}, one);
  REQUIRE(one == bytes{0x8d});
  bytes two(1);
  qtl::pack_sequential<2>(bytes{3, 0, 1, 2}, two);
  REQUIRE(two == bytes{0x93});
}

TEST_CASE("pack_split: ggml's nibble order and TQ2_0's 2-bit planes", "[pack]") {
  bytes values(32);
  for (std::size_t i = 0; i < 32; ++i) values[i] = static_cast<std::uint8_t>(i % 16);
  bytes out(16);
  qtl::pack_split<4>(values, 32, out);
  for (std::size_t j = 0; j < 16; ++j) REQUIRE(out[j] == static_cast<std::uint8_t>(j | (j << 4)));
  values.assign(128, 0);
  values[0] = 1;    // byte 0, bits 0-1
  values[32] = 2;   // byte 0, bits 2-3
  values[97] = 3;   // byte 1, bits 6-7
  bytes two(32);
  qtl::pack_split<2>(values, 128, two);
  REQUIRE(two[0] == 0x09);
  REQUIRE(two[1] == 0xc0);
  for (std::size_t j = 2; j < 32; ++j) REQUIRE(two[j] == 0);
}

template <int Bits>
struct width {
  static constexpr int value = Bits;
};

TEMPLATE_TEST_CASE("pack_sequential: round trip for every width and odd lengths", "[pack]", width<1>, width<2>,
                   width<3>, width<4>, width<5>, width<6>, width<7>, width<8>) {
  constexpr int bits = TestType::value;
  std::mt19937 rng(bits);
  for (std::size_t n = 0; n < 70; ++n) {
    bytes values(n);
    for (auto& v : values) v = static_cast<std::uint8_t>(rng() & ((1u << bits) - 1));
    bytes packed(qtl::packed_size(n, bits));
    REQUIRE(packed.size() == (n * bits + 7) / 8);
    qtl::pack_sequential<bits>(values, packed);
    bytes back(n);
    qtl::unpack_sequential<bits>(packed, back);
    REQUIRE(back == values);
    for (std::size_t i = 0; i < n; ++i) REQUIRE(qtl::read_sequential<bits>(packed.data(), i) == values[i]);
    if (n * bits % 8 != 0) REQUIRE(packed.back() >> (n * bits % 8) == 0);  // padding bits stay zero
  }
}

TEMPLATE_TEST_CASE("pack_split: round trip", "[pack]", width<1>, width<2>, width<4>, width<8>) {
  constexpr int bits = TestType::value;
  std::mt19937 rng(bits);
  for (std::size_t block : {8u, 32u, 64u, 256u}) {
    bytes values(3 * block);
    for (auto& v : values) v = static_cast<std::uint8_t>(rng() & ((1u << bits) - 1));
    bytes packed(qtl::packed_size(values.size(), bits));
    qtl::pack_split<bits>(values, block, packed);
    bytes back(values.size());
    qtl::unpack_split<bits>(packed, block, back);
    REQUIRE(back == values);
  }
}

TEST_CASE("pack: values too wide, short buffers and partial blocks are errors", "[pack]") {
  bytes out(4);
  REQUIRE_THROWS_AS(qtl::pack_sequential<4>(bytes{1, 16}, out), qtl::error);
  bytes small(1);
  REQUIRE_THROWS_AS(qtl::pack_sequential<4>(bytes{1, 2, 3}, small), qtl::error);
  REQUIRE_THROWS_AS(qtl::unpack_sequential<4>(small, std::span<std::uint8_t>(out)), qtl::error);
  bytes values(48);
  bytes packed(24);
  REQUIRE_THROWS_AS(qtl::pack_split<4>(values, 32, packed), qtl::error);  // 48 is not whole blocks
  REQUIRE_THROWS_AS(qtl::pack_split<2>(values, 6, packed), qtl::error);   // 6 values is not whole bytes
}
