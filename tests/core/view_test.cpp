#include <qtl/core/view.hpp>

#include <catch2/catch_test_macros.hpp>
#include <span>
#include <vector>

TEST_CASE("matrix_view: strided rows and columns", "[view]") {
  std::vector<int> storage(3 * 5);
  for (std::size_t i = 0; i < storage.size(); ++i) storage[i] = static_cast<int>(i);
  const qtl::matrix_view<int> m(storage.data(), 3, 4, 5);  // 3x4 window, rows 5 apart
  REQUIRE(m(2, 3) == 13);
  REQUIRE(m.row(1)[0] == 5);
  REQUIRE(m.row(1).size() == 4);
  const auto col = m.column(2);
  REQUIRE(col.size() == 3);
  REQUIRE(col.stride() == 5);
  REQUIRE(col[2] == 12);
  col[1] = -1;
  REQUIRE(storage[7] == -1);
  const qtl::matrix_view<const int> cm = m;  // adding const is implicit
  REQUIRE(cm(1, 2) == -1);
}

TEST_CASE("matrix_view: a span is one row; bad strides and shapes are errors", "[view]") {
  std::vector<float> v(6);
  const auto m = qtl::as_matrix(std::span<float>(v));
  REQUIRE(m.rows() == 1);
  REQUIRE(m.cols() == 6);
  REQUIRE_THROWS_AS((qtl::matrix_view<float>(v.data(), 2, 3, 2)), qtl::error);
  const qtl::matrix_view<float> a(v.data(), 2, 3), b(v.data(), 3, 2);
  REQUIRE_THROWS_AS(qtl::require_same_shape(a, b, "test"), qtl::error);
  REQUIRE_NOTHROW(qtl::require_same_shape(a, a, "test"));
}
