#include <qtl/format/code_bits.hpp>
#include <qtl/format/ternary.hpp>

#include <catch2/catch_test_macros.hpp>

static_assert(qtl::format<qtl::ternary> && qtl::signed_format<qtl::ternary>);
static_assert(qtl::ternary::bits == 2 && qtl::ternary::levels == 3);
static_assert(qtl::ternary::min_code == -1 && qtl::ternary::max_code == 1);

TEST_CASE("ternary: three codes, stored as 0, 1, 2", "[format]") {
  REQUIRE(qtl::code_to_bits<qtl::ternary>(-1) == 0);
  REQUIRE(qtl::code_to_bits<qtl::ternary>(0) == 1);
  REQUIRE(qtl::code_to_bits<qtl::ternary>(1) == 2);
  REQUIRE(qtl::ternary::decode(-1) == -1.0f);
  REQUIRE(qtl::bits_to_code<qtl::ternary>(2) == 1);
}
