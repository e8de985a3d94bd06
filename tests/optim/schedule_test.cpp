// qtl/optim/schedule.hpp: the warm-up and cosine schedule's shape and its refused arguments.
#include <catch2/catch_approx.hpp>
#include <catch2/catch_test_macros.hpp>

#include "qtl/optim/schedule.hpp"

TEST_CASE("cosine_with_warmup rises linearly, then falls along a cosine to its floor", "[optim]") {
  using qtl::optim::cosine_with_warmup;
  CHECK(cosine_with_warmup(0, 10, 110, 1.0) == Catch::Approx(0.1));
  CHECK(cosine_with_warmup(9, 10, 110, 1.0) == Catch::Approx(1.0));
  CHECK(cosine_with_warmup(10, 10, 110, 1.0) == Catch::Approx(1.0));
  CHECK(cosine_with_warmup(60, 10, 110, 1.0, 0.1) == Catch::Approx(0.55));
  CHECK(cosine_with_warmup(110, 10, 110, 1.0, 0.1) == Catch::Approx(0.1));
  CHECK(cosine_with_warmup(500, 10, 110, 1.0, 0.1) == Catch::Approx(0.1));
  CHECK_THROWS_AS(cosine_with_warmup(0, 10, 10, 1.0), qtl::error);
  CHECK_THROWS_AS(cosine_with_warmup(-1, 0, 10, 1.0), qtl::error);
}
