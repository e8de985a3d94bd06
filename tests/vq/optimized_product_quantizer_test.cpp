// qtl/vq/optimized_product_quantizer.hpp: the learned rotation is orthogonal and lowers
// PQ's error on data whose variance PQ's plain split would serve badly; codes are PQ codes
// of the rotated rows, decode turns them back, ADC equals the distance to the decoded
// vector; the same result for a seed; bad input refused.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_floating_point.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "error_code.hpp"
#include "qtl/core/error.hpp"
#include "qtl/vq/optimized_product_quantizer.hpp"
#include "vq/vq_data.hpp"

namespace {

using Catch::Matchers::WithinAbs;
using qtl::vq::matrix;
using qtl::vq::view;

// Gaussian rows whose variance falls off along a few directions, turned by a random
// rotation: most of the energy sits in a low-dimensional subspace that straddles the
// sub-vectors of a plain split.
matrix anisotropic(Eigen::Index n, Eigen::Index d, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  matrix z(n, d), g(d, d);
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < d; ++j) z(i, j) = normal(rng) * std::pow(0.7f, static_cast<float>(j));
  for (Eigen::Index i = 0; i < g.size(); ++i) g.data()[i] = normal(rng);
  const Eigen::HouseholderQR<matrix> qr(g);
  return z * matrix(qr.householderQ());
}

using qtl::test::mse;

}  // namespace

TEST_CASE("OPQ learns an orthogonal rotation that lowers PQ's error", "[vq][opq]") {
  const matrix x = anisotropic(3000, 16, 1);
  qtl::vq::opq_options opt;
  opt.iterations = 12;
  opt.first_pq_iterations = 10;
  opt.kmeans.threads = 2;
  const auto opq = qtl::vq::optimized_product_quantizer::train(view(x), 4, 5, opt);
  const matrix& r = opq.rotation();
  CHECK(((r.transpose() * r) - matrix::Identity(16, 16)).cwiseAbs().maxCoeff() < 1e-4f);

  const auto codes = opq.encode(view(x), 2);
  const matrix back = opq.decode(codes, 3000);
  // Codes are the PQ codes of x R; decoding turns the PQ's vectors back by R^T.
  const matrix rotated = opq.rotate(view(x));
  CHECK((rotated - x * r).cwiseAbs().maxCoeff() < 1e-5f);
  CHECK(codes == opq.pq().encode(view(rotated)));
  CHECK((back - opq.pq().decode(codes, 3000) * r.transpose()).cwiseAbs().maxCoeff() < 1e-5f);

  qtl::vq::kmeans_options pq_opt;
  pq_opt.iterations = 10;
  const auto pq = qtl::vq::product_quantizer::train(view(x), 4, 5, pq_opt);
  const double plain = mse(x, pq.decode(pq.encode(view(x)), 3000)), learned = mse(x, back);
  INFO("PQ " << plain << ", OPQ " << learned);
  CHECK(learned < 0.8 * plain);
  // More alternations lower the error further than the random rotation alone.
  opt.iterations = 0;
  const auto start = qtl::vq::optimized_product_quantizer::train(view(x), 4, 5, opt);
  CHECK(learned < mse(x, start.decode(start.encode(view(x)), 3000)));

  // ADC: a rotation keeps distances, so the table gives |q - decoded|^2.
  const matrix queries = anisotropic(5, 16, 2);
  std::vector<float> d(3000);
  for (Eigen::Index q = 0; q < queries.rows(); ++q) {
    opq.adc(opq.distance_table(std::span(queries.row(q).data(), 16)), codes, 3000, d);
    for (Eigen::Index i = 0; i < x.rows(); i += 7)
      REQUIRE_THAT(d[static_cast<std::size_t>(i)], WithinAbs((queries.row(q) - back.row(i)).squaredNorm(), 1e-3));
  }
  const auto found = opq.search(view(queries), codes, 3000, 3);
  const auto direct = opq.pq().search(view(matrix(queries * r)), codes, 3000, 3);
  CHECK(found.labels == direct.labels);

  // The same seed and thread count: the same rotation and codebooks.
  opt.iterations = 12;
  const auto again = qtl::vq::optimized_product_quantizer::train(view(x), 4, 5, opt);
  CHECK(again.rotation() == opq.rotation());
  CHECK(again.encode(view(x)) == codes);
}

TEST_CASE("OPQ refuses bad input", "[vq][opq][errors]") {
  using qtl::test::error_code_of;
  const matrix x = anisotropic(300, 8, 3);
  qtl::vq::opq_options opt;
  opt.iterations = 2;
  opt.first_pq_iterations = 2;
  CHECK(error_code_of([&] { (void)qtl::vq::optimized_product_quantizer::train(view(x), 3, 4, opt); }) ==
        qtl::errc::invalid_argument);
  opt.pq_iterations = -1;
  CHECK(error_code_of([&] { (void)qtl::vq::optimized_product_quantizer::train(view(x), 2, 4, opt); }) ==
        qtl::errc::invalid_argument);
  opt.pq_iterations = 1;
  matrix bad = x;
  bad(7, 2) = NAN;
  CHECK(error_code_of([&] { (void)qtl::vq::optimized_product_quantizer::train(view(bad), 2, 4, opt); }) ==
        qtl::errc::non_finite);
  const auto opq = qtl::vq::optimized_product_quantizer::train(view(x), 2, 4, opt);
  CHECK(error_code_of([&] { (void)opq.encode(view(bad)); }) == qtl::errc::non_finite);
  CHECK(error_code_of([&] { (void)opq.encode(view(matrix(x.leftCols(4)))); }) == qtl::errc::shape_mismatch);
  // Stored parts that do not fit: a rotation of another size, one that is not orthogonal.
  CHECK(error_code_of([&] { qtl::vq::optimized_product_quantizer(matrix::Identity(4, 4), opq.pq()); }) ==
        qtl::errc::shape_mismatch);
  CHECK(error_code_of([&] { qtl::vq::optimized_product_quantizer(matrix::Identity(8, 8) * 1.1f, opq.pq()); }) ==
        qtl::errc::invalid_argument);
  matrix nan_rotation = matrix::Identity(8, 8);
  nan_rotation(0, 1) = NAN;
  CHECK(error_code_of([&] { qtl::vq::optimized_product_quantizer(nan_rotation, opq.pq()); }) == qtl::errc::non_finite);
}
