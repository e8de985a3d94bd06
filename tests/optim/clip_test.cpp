// qtl/optim/clip.hpp and schedule.hpp: torch's clip coefficient, and the schedule's shape.
#include <catch2/catch_approx.hpp>
#include <catch2/catch_test_macros.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "qtl/optim/clip.hpp"
#include "qtl/optim/schedule.hpp"

TEST_CASE("The global norm spans every gradient and the clip scale brings it to max_norm", "[optim]") {
  const std::vector<float> a{3.0f, 0.0f}, b{4.0f};
  const double norm = qtl::optim::global_norm({a, b});
  CHECK(norm == 5.0);
  CHECK(qtl::optim::clip_scale(norm, 1.0) == static_cast<float>(1.0 / (5.0 + 1e-6)));
  CHECK(qtl::optim::clip_scale(norm, 10.0) == 1.0f);
  CHECK_THROWS_AS(qtl::optim::clip_scale(norm, 0.0), qtl::error);
  CHECK_THROWS_AS(qtl::optim::clip_scale(std::numeric_limits<double>::infinity(), 1.0), qtl::error);
}

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
