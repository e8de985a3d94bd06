#include <qtl/format/code_bits.hpp>
#include <qtl/format/int_format.hpp>

#include <catch2/catch_test_macros.hpp>
#include <catch2/catch_template_test_macros.hpp>
#include <cstdint>
#include <type_traits>

// Traits for every width, checked at compile time.
template <int Bits>
constexpr bool traits_hold() {
  using s = qtl::int_format<Bits, true>;
  using u = qtl::int_format<Bits, false>;
  static_assert(qtl::format<s> && qtl::format<u>);
  static_assert(s::bits == Bits && u::bits == Bits);
  static_assert(s::min_code == -(1 << (Bits - 1)) && s::max_code == (1 << (Bits - 1)) - 1);
  static_assert(u::min_code == 0 && u::max_code == (1 << Bits) - 1);
  static_assert(s::levels == (1 << Bits) && u::levels == (1 << Bits));
  static_assert(std::is_same_v<typename s::code_type, std::int8_t>);
  static_assert(std::is_same_v<typename u::code_type, std::uint8_t>);
  static_assert(qtl::signed_format<s> && !qtl::signed_format<u>);
  return true;
}
static_assert(traits_hold<1>() && traits_hold<2>() && traits_hold<3>() && traits_hold<4>() && traits_hold<5>() &&
              traits_hold<6>() && traits_hold<7>() && traits_hold<8>());
static_assert(qtl::int8::min_code == -128 && qtl::int8::max_code == 127);
static_assert(qtl::uint4::max_code == 15 && qtl::int4::min_code == -8);

// Widths outside 1..8 do not name a type.
template <int Bits>
constexpr bool int_format_exists = requires { typename qtl::int_format<Bits, true>; };
static_assert(int_format_exists<1> && int_format_exists<8>);
static_assert(!int_format_exists<0> && !int_format_exists<9> && !int_format_exists<16>);

TEMPLATE_TEST_CASE("int_format: codes decode to themselves and pack as offset binary", "[format]", qtl::int8,
                   qtl::uint8, qtl::int4, qtl::uint4, qtl::int2, (qtl::int_format<3, true>),
                   (qtl::int_format<1, false>)) {
  for (int code = TestType::min_code; code <= TestType::max_code; ++code) {
    REQUIRE(TestType::decode(code) == static_cast<float>(code));
    const std::uint8_t bits = qtl::code_to_bits<TestType>(code);
    REQUIRE(bits < (1u << TestType::bits));
    REQUIRE(qtl::bits_to_code<TestType>(bits) == code);
  }
  REQUIRE(qtl::code_to_bits<TestType>(TestType::min_code) == 0);
}
