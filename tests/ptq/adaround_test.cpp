// qtl::ptq::adaround: round-to-nearest is the optimum when the Hessian is diagonal and
// AdaRound finds it; on correlated inputs it rounds some weights the other way and lowers
// the error; every weight ends on one of its two neighbouring levels; never worse than
// round-to-nearest; bad input.
#include "qtl/ptq/adaround.hpp"

#include <catch2/catch_test_macros.hpp>
#include <cmath>
#include <random>
#include <vector>

#include "qtl/format/int_format.hpp"
#include "qtl/scheme.hpp"
#include "synthetic_layer.hpp"

using namespace qtl_test;

TEST_CASE("adaround keeps round-to-nearest when the Hessian is diagonal", "[ptq][adaround]") {
  const std::size_t in = 64, out = 16;
  std::mt19937 rng(13);
  std::normal_distribution<float> normal;
  std::vector<float> w(out * in);
  for (auto& v : w) v = normal(rng);
  Eigen::MatrixXd h = Eigen::MatrixXd::Zero(in, in);
  for (std::size_t c = 0; c < in; ++c) h(c, c) = 0.5 + c;
  const auto r = qtl::ptq::adaround<qtl::int4, qtl::symmetric>(matrix_view<const float>(w.data(), out, in), h, {.group_size = 32});
  CHECK(r.flipped == 0);
  CHECK(r.error == r.rtn_error);
}

TEST_CASE("adaround lowers the layer error on correlated inputs, one level up or down", "[ptq][adaround]") {
  const layer l = correlated(512, 128, 32, 14);
  const Eigen::MatrixXd h = hessian_of(l);
  const matrix_view<const float> w(l.w.data(), l.out, l.in);
  const auto r = qtl::ptq::adaround<qtl::int4, qtl::symmetric>(w, h, {.group_size = 32});
  CAPTURE(r.error, r.rtn_error, r.flipped, r.note);
  CHECK(r.note.empty());
  CHECK(r.flipped > 0);
  CHECK(r.error < 0.8 * r.rtn_error);
  CHECK(std::abs(direct_error(l, r.dequantized) - r.error) <= 1e-4 * r.error);
  for (std::size_t o = 0; o < l.out; ++o)
    for (std::size_t c = 0; c < l.in; ++c) {
      const auto& p = r.weights.params_at(o, c);
      const float value = qtl::symmetric{}.dequantize<qtl::int4>(r.weights.code(o, c), p);
      REQUIRE(value == r.dequantized[o * l.in + c]);
      REQUIRE(std::abs(value - l.w[o * l.in + c]) <= p.scale * 1.0001f);  // a neighbouring level
    }
  const auto affine = qtl::ptq::adaround<qtl::uint4, qtl::affine>(w, h, {.group_size = 32, .iterations = 300});
  CHECK(affine.error < affine.rtn_error);
}

TEST_CASE("adaround refuses bad input", "[ptq][adaround]") {
  const layer l = correlated(64, 32, 8, 15);
  const Eigen::MatrixXd h = hessian_of(l);
  std::vector<float> w = l.w;
  const matrix_view<const float> view(w.data(), l.out, l.in);
  CHECK_THROWS_AS((qtl::ptq::adaround<qtl::int4, qtl::symmetric>(view, h, {.group_size = 24})), qtl::error);
  CHECK_THROWS_AS((qtl::ptq::adaround<qtl::int4, qtl::symmetric>(view, h, {.iterations = 0})), qtl::error);
  CHECK_THROWS_AS((qtl::ptq::adaround<qtl::int4, qtl::symmetric>(view, h, {.warmup = 1.0})), qtl::error);
  CHECK_THROWS_AS((qtl::ptq::adaround<qtl::int4, qtl::symmetric>(view, h, {.beta_start = 2.0, .beta_end = 0.5})), qtl::error);
  CHECK_THROWS_AS((qtl::ptq::adaround<qtl::int4, qtl::symmetric>(view, Eigen::MatrixXd::Identity(16, 16))), qtl::error);
  CHECK_THROWS_AS((qtl::ptq::adaround<qtl::int4, qtl::symmetric>(view, Eigen::MatrixXd::Constant(32, 32, NAN))), qtl::error);
  w[0] = NAN;
  CHECK_THROWS_AS((qtl::ptq::adaround<qtl::int4, qtl::symmetric>(view, h)), qtl::error);
}
