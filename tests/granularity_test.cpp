#include <qtl/granularity.hpp>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <vector>

static_assert(qtl::granularity<qtl::per_tensor> && qtl::granularity<qtl::per_channel<0>> &&
              qtl::granularity<qtl::per_channel<1>> && qtl::granularity<qtl::per_group<32>> &&
              qtl::granularity<qtl::per_group<>> && qtl::granularity<qtl::per_token>);

TEST_CASE("granularity: each policy tiles the matrix as documented", "[granularity]") {
  auto grid = [](const auto& g) { return qtl::make_grid(g, 6, 64); };
  CHECK(grid(qtl::per_tensor{}).size() == 1);
  CHECK(grid(qtl::per_channel<0>{}).rows == 6);
  CHECK(grid(qtl::per_channel<0>{}).cols == 1);
  CHECK(grid(qtl::per_channel<1>{}).rows == 1);
  CHECK(grid(qtl::per_channel<1>{}).cols == 64);
  CHECK(grid(qtl::per_token{}).size() == 6);
  const auto g = grid(qtl::per_group<16>{});
  CHECK(g.rows == 6);
  CHECK(g.cols == 4);
  CHECK(g.index(2, 37) == 2 * 4 + 2);
  CHECK(grid(qtl::per_group<>{32}).size() == 12);
  CHECK(qtl::make_grid(qtl::per_group<16>{}, 0, 10).size() == 0);  // empty: no groups, no error
}

TEST_CASE("granularity: for_each visits every element once with its group", "[granularity]") {
  const auto g = qtl::make_grid(qtl::per_channel<1>{}, 3, 5);
  std::vector<int> seen(15, 0);
  g.for_each([&](std::size_t r, std::size_t c, std::size_t group) {
    ++seen[r * 5 + c];
    REQUIRE(group == c);
  });
  for (int s : seen) REQUIRE(s == 1);
}

TEST_CASE("granularity: a group size that does not divide the row names both numbers", "[granularity]") {
  REQUIRE_THROWS_WITH(qtl::make_grid(qtl::per_group<48>{}, 2, 100),
                      Catch::Matchers::ContainsSubstring("48") && Catch::Matchers::ContainsSubstring("100"));
  try {
    static_cast<void>(qtl::make_grid(qtl::per_group<>{3}, 1, 10));
    FAIL("expected qtl::error");
  } catch (const qtl::error& e) {
    REQUIRE(e.code() == qtl::errc::group_size);
  }
  REQUIRE_THROWS_AS(qtl::per_group<>{0}, qtl::error);
}
