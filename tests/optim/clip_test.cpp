// qtl/optim/clip.hpp: the global norm over several gradients and torch's clip coefficient.
#include <catch2/catch_test_macros.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "qtl/optim/clip.hpp"

TEST_CASE("The global norm spans every gradient and the clip scale brings it to max_norm", "[optim]") {
  const std::vector<float> a{3.0f, 0.0f}, b{4.0f};
  const double norm = qtl::optim::global_norm({a, b});
  CHECK(norm == 5.0);
  CHECK(qtl::optim::clip_scale(norm, 1.0) == static_cast<float>(1.0 / (5.0 + 1e-6)));
  CHECK(qtl::optim::clip_scale(norm, 10.0) == 1.0f);
  CHECK_THROWS_AS(qtl::optim::clip_scale(norm, 0.0), qtl::error);
  CHECK_THROWS_AS(qtl::optim::clip_scale(std::numeric_limits<double>::infinity(), 1.0), qtl::error);
}
