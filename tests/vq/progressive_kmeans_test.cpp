// qtl/vq/progressive_kmeans.hpp: the widths of both schedules; separated clusters found
// (both schedules), the result a fixed point of Lloyd's iterations (each centroid the mean
// of its rows), the same for a seed, and the error no worse than the mean alone; bad input
// refused.
#include <catch2/catch_test_macros.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <set>
#include <vector>

#include "error_code.hpp"
#include "qtl/core/error.hpp"
#include "qtl/vq/progressive_kmeans.hpp"

namespace {

using qtl::vq::matrix;
using qtl::vq::view;

// 8 blobs, 20 apart along random directions, in dimension 12, noise 0.5.
matrix blobs(Eigen::Index n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  matrix centres(8, 12), x(n, 12);
  for (Eigen::Index i = 0; i < centres.size(); ++i) centres.data()[i] = 20.0f * normal(rng);
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < 12; ++j) x(i, j) = centres(i % 8, j) + 0.5f * normal(rng);
  return x;
}

}  // namespace

TEST_CASE("progressive k-means finds separated clusters and ends at a Lloyd fixed point", "[vq][kmeans]") {
  const matrix x = blobs(800, 1);
  qtl::vq::kmeans_options opt;
  opt.iterations = 15;
  const matrix c = qtl::vq::progressive_kmeans(view(x), 8, 4, opt);
  REQUIRE(c.rows() == 8);
  REQUIRE(c.cols() == 12);
  const auto a = qtl::vq::nearest(view(x), c);
  // Each blob in one cluster of its own: rows i and i + 8 share a label, rows 0..7 have 8.
  for (std::size_t i = 0; i + 8 < 800; ++i) REQUIRE(a.labels[i] == a.labels[i + 8]);
  CHECK(std::set<std::uint32_t>(a.labels.begin(), a.labels.begin() + 8).size() == 8);
  // Each centroid is the mean of its rows.
  for (Eigen::Index k = 0; k < 8; ++k) {
    Eigen::RowVectorXd sum = Eigen::RowVectorXd::Zero(12);
    double count = 0;
    for (Eigen::Index i = 0; i < x.rows(); ++i)
      if (a.labels[static_cast<std::size_t>(i)] == static_cast<std::uint32_t>(k)) sum += x.row(i).cast<double>(), ++count;
    CHECK((sum / count - c.row(k).cast<double>()).cwiseAbs().maxCoeff() < 1e-3);
  }
  CHECK(qtl::vq::progressive_kmeans(view(x), 8, 4, opt) == c);  // the same for a seed
  // One step is k-means in principal axes; the error is far below the mean's.
  const matrix one = qtl::vq::progressive_kmeans(view(x), 8, 1, opt);
  const auto b = qtl::vq::nearest(view(x), one);
  double error = 0;
  for (const float d : b.distances) error += d;
  CHECK(error / 800 < 0.01 * (x.rowwise() - x.colwise().mean()).rowwise().squaredNorm().mean());
}

TEST_CASE("progressive k-means widens the components geometrically or linearly", "[vq][kmeans]") {
  using qtl::vq::progressive_schedule;
  std::vector<std::size_t> geometric, linear;
  for (std::size_t s = 1; s <= 10; ++s) {
    geometric.push_back(qtl::vq::detail::leading_dims(384, s, 10, progressive_schedule::geometric));
    linear.push_back(qtl::vq::detail::leading_dims(384, s, 10, progressive_schedule::linear));
  }
  CHECK(geometric == std::vector<std::size_t>{1, 3, 5, 10, 19, 35, 64, 116, 211, 384});  // floor(384^(s/10))
  CHECK(linear == std::vector<std::size_t>{38, 76, 115, 153, 192, 230, 268, 307, 345, 384});
  CHECK(qtl::vq::detail::leading_dims(12, 1, 12, progressive_schedule::geometric) == 1);
  // Both schedules separate the blobs.
  const matrix x = blobs(800, 1);
  qtl::vq::kmeans_options opt;
  opt.iterations = 15;
  for (const auto schedule : {progressive_schedule::geometric, progressive_schedule::linear}) {
    const auto a = qtl::vq::nearest(view(x), qtl::vq::progressive_kmeans(view(x), 8, 4, opt, schedule));
    CHECK(std::set<std::uint32_t>(a.labels.begin(), a.labels.begin() + 8).size() == 8);
    for (std::size_t i = 0; i + 8 < 800; ++i) REQUIRE(a.labels[i] == a.labels[i + 8]);
  }
}

TEST_CASE("progressive k-means refuses bad input", "[vq][kmeans][errors]") {
  using qtl::test::error_code_of;
  matrix x = blobs(40, 2);
  CHECK(error_code_of([&] { (void)qtl::vq::progressive_kmeans(view(x), 4, 0); }) == qtl::errc::invalid_argument);
  CHECK(error_code_of([&] { (void)qtl::vq::progressive_kmeans(view(x), 4, 13); }) == qtl::errc::invalid_argument);
  CHECK(error_code_of([&] { (void)qtl::vq::progressive_kmeans(view(x), 41, 2); }) == qtl::errc::invalid_argument);
  x(3, 3) = NAN;
  CHECK(error_code_of([&] { (void)qtl::vq::progressive_kmeans(view(x), 4, 2); }) == qtl::errc::non_finite);
}
