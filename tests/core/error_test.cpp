#include <qtl/core/error.hpp>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <stdexcept>

TEST_CASE("error: carries its code and a readable message", "[error]") {
  try {
    throw qtl::error(qtl::errc::group_size, "group size 48 does not divide 100");
  } catch (const std::runtime_error& e) {
    REQUIRE_THAT(e.what(), Catch::Matchers::Equals("qtl: group size: group size 48 does not divide 100"));
    const auto* q = dynamic_cast<const qtl::error*>(&e);
    REQUIRE(q != nullptr);
    REQUIRE(q->code() == qtl::errc::group_size);
  }
  REQUIRE(qtl::to_string(qtl::errc::non_finite) == "non-finite value");
  REQUIRE(qtl::to_string(qtl::errc::device) == "device error");
}
