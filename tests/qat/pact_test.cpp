#include <catch2/catch_test_macros.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/qat/pact.hpp"

TEST_CASE("pact's clipping level grows when it clips too much and shrinks on the regulariser alone", "[qat]") {
  std::vector<float> x(400), y(400), dy(400), dx(400);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = 4.0f * static_cast<float>(i) / 400.0f;  // [0, 4)
  qtl::qat::pact q(8, 0.5f);
  for (int step = 0; step < 100; ++step) {
    q.forward(qtl::as_matrix(x), qtl::as_matrix(y));
    for (std::size_t i = 0; i < x.size(); ++i) dy[i] = (y[i] - x[i]) / 400.0f;
    const float dalpha = q.backward(qtl::as_matrix(x), qtl::as_matrix(dy), qtl::as_matrix(dx));
    REQUIRE(dalpha <= 0.0f);  // clipped elements want a larger α
    q.set_alpha(q.alpha() - 1.0f * dalpha);
  }
  CHECK(q.alpha() > 3.0f);
  q.forward(qtl::as_matrix(x), qtl::as_matrix(y));
  for (std::size_t i = 0; i < x.size(); ++i)
    if (x[i] < q.alpha()) CHECK(std::abs(y[i] - x[i]) <= 0.5f * q.alpha() / 255.0f + 1e-6f);
}

TEST_CASE("pact's gradient passes only for 0 <= x < α, and its errors", "[qat]") {
  const qtl::qat::pact q(4, 1.0f);
  const std::vector<float> x = {-0.5f, 0.0f, 0.5f, 1.0f, 2.0f}, dy = {1, 2, 3, 4, 5};
  std::vector<float> dx(5);
  CHECK(q.backward(qtl::as_matrix(x), qtl::as_matrix(dy), qtl::as_matrix(dx)) == 9.0f);
  CHECK(dx == std::vector<float>{0, 2, 3, 0, 0});
  CHECK_THROWS_AS(qtl::qat::pact(4, 0.0f), qtl::error);
  CHECK_THROWS_AS(qtl::qat::pact(0, 1.0f), qtl::error);
  CHECK_THROWS_AS(qtl::qat::pact(4, std::numeric_limits<float>::quiet_NaN()), qtl::error);
  const std::vector<float> bad = {0, 0, std::numeric_limits<float>::infinity(), 0, 0};
  CHECK_THROWS_AS(q.backward(qtl::as_matrix(x), qtl::as_matrix(bad), qtl::as_matrix(dx)), qtl::error);
}
