// qtl/vq/kmeans.hpp: nearest() against brute force (the fused kernel's tiles, panels and
// blocks, whole and partial), the lower index on a tie, also across panels;
// prepared_centroids against nearest; Lloyd's iterations against a plain
// implementation from the same start; clusters of separated blobs found; the error never
// rises; empty clusters refilled; the same result for a seed and thread count; bad input;
// k-means++'s few_dots step against dot products in double, and k-means++ on long rows;
// the random start (k distinct rows, deterministic) and k-means from it.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_floating_point.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "error_code.hpp"
#include "qtl/core/error.hpp"
#include "qtl/vq/kmeans.hpp"

namespace {

using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;
using qtl::vq::matrix;

// n points around `centres` true centres 10 apart, dimension d.
matrix blobs(std::size_t n, std::size_t centres, Eigen::Index d, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, 0.5f);
  matrix x(static_cast<Eigen::Index>(n), d);
  for (Eigen::Index i = 0; i < x.rows(); ++i)
    for (Eigen::Index j = 0; j < d; ++j)
      x(i, j) = noise(rng) + (j == static_cast<Eigen::Index>(static_cast<std::size_t>(i) % centres) % d ? 10.0f : 0.0f) +
                static_cast<float>(static_cast<std::size_t>(i) % centres / static_cast<std::size_t>(d)) * 10.0f;
  return x;
}

qtl::matrix_view<const float> view(const matrix& m) {
  return {m.data(), static_cast<std::size_t>(m.rows()), static_cast<std::size_t>(m.cols())};
}

}  // namespace

TEST_CASE("vq::nearest finds each row's nearest centroid", "[vq][kmeans]") {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  // Centroid counts below, at and past whole panels (two SIMD batches: 8 to 32 centroids),
  // 703 rows: tasks of 256 rows, the kernel's blocks of 96 rows, whole and partial, and rows
  // outside its tiles of 6.
  for (const auto& [dim, count] : std::vector<std::pair<Eigen::Index, Eigen::Index>>{
           {1, 37}, {3, 37}, {8, 1}, {8, 32}, {16, 37}, {17, 33}, {40, 37}, {40, 64}, {384, 100}}) {
    INFO("dimension " << dim << ", " << count << " centroids");
    matrix x(703, dim), c(count, dim);
    for (auto* m : {&x, &c})
      for (Eigen::Index i = 0; i < m->size(); ++i) m->data()[i] = normal(rng);
    const auto one = qtl::vq::nearest(view(x), c, 1);
    for (const unsigned threads : {1u, 3u}) {
      const auto a = qtl::vq::nearest(view(x), c, threads);
      CHECK(a.labels == one.labels);  // no dependence on the thread count
      for (Eigen::Index i = 0; i < x.rows(); ++i) {
        double best = std::numeric_limits<double>::infinity();
        for (Eigen::Index j = 0; j < c.rows(); ++j) best = std::min(best, double((x.row(i) - c.row(j)).squaredNorm()));
        const double chosen = (x.row(i) - c.row(a.labels[static_cast<std::size_t>(i)])).squaredNorm();
        // The nearest, up to rounding in the expansion, which grows with the norms (about 768
        // at 384 values).
        REQUIRE_THAT(chosen, WithinAbs(best, 1e-4) || WithinRel(best, 1e-5));
        CHECK_THAT(a.distances[static_cast<std::size_t>(i)], WithinAbs(chosen, 1e-4) || WithinRel(chosen, 1e-5));
      }
    }
  }
}

TEST_CASE("vq::prepared_centroids serves many searches with nearest's answers", "[vq][kmeans]") {
  std::mt19937 rng(8);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const Eigen::Index dim : {8, 40}) {
    INFO("dimension " << dim);
    matrix x(600, dim), c(70, dim);
    for (auto* m : {&x, &c})
      for (Eigen::Index i = 0; i < m->size(); ++i) m->data()[i] = normal(rng);
    const qtl::vq::prepared_centroids prepared(c);
    const auto expected = qtl::vq::nearest(view(x), c, 2);
    c.setZero();  // the prepared centroids are a copy
    for (int call = 0; call < 2; ++call) {
      const auto a = prepared.nearest(view(x), 2);
      CHECK(a.labels == expected.labels);
      CHECK(a.distances == expected.distances);
      const auto unchecked = prepared.assign(view(x), 1);  // the same search without the checks
      CHECK(unchecked.labels == expected.labels);
      CHECK(unchecked.distances == expected.distances);
    }
    std::vector<std::uint32_t> labels(x.rows(), 99);
    std::vector<float> distances(x.rows(), -1.0f);
    prepared.assign(view(x), 100, 350, labels.data(), distances.data());  // a range, the rest untouched
    for (std::size_t i = 0; i < labels.size(); ++i) {
      const bool inside = i >= 100 && i < 350;
      REQUIRE(labels[i] == (inside ? expected.labels[i] : 99u));
      REQUIRE(distances[i] == (inside ? expected.distances[i] : -1.0f));
    }
  }
  using qtl::test::error_code_of;
  CHECK(error_code_of([] { qtl::vq::prepared_centroids(matrix(0, 4)); }) == qtl::errc::shape_mismatch);
  const qtl::vq::prepared_centroids four(matrix::Ones(3, 4));
  CHECK(four.dim() == 4);
  matrix x = matrix::Zero(2, 5);
  CHECK(error_code_of([&] { (void)four.nearest(view(x)); }) == qtl::errc::shape_mismatch);
  x = matrix::Zero(2, 4);
  x(1, 2) = NAN;
  CHECK(error_code_of([&] { (void)four.nearest(view(x)); }) == qtl::errc::non_finite);
  // A non-finite value anywhere in a row, in the SIMD part or the tail: the error names it.
  const qtl::vq::prepared_centroids forty(matrix::Ones(3, 40));
  for (const float bad : {NAN, INFINITY, -INFINITY})
    for (const Eigen::Index col : {0, 3, 17, 35, 39}) {
      matrix y = matrix::Ones(5, 40);
      y(3, col) = bad;
      try {
        (void)forty.nearest(view(y));
        FAIL("no error for a non-finite value at column " << col);
      } catch (const qtl::error& e) {
        CHECK(e.code() == qtl::errc::non_finite);
        CHECK(std::string(e.what()).find("value (3, " + std::to_string(col) + ")") != std::string::npos);
      }
    }
  CHECK(forty.nearest(view(matrix::Constant(2, 40, std::numeric_limits<float>::max()))).labels.size() == 2);
}

TEST_CASE("vq::nearest takes the lower index among equal centroids", "[vq][kmeans]") {
  // Centroid i equals centroid i + half: in the same SIMD batch, in another batch of the
  // same panel, in another panel, and (half = 32) in the same lane of another panel
  // (panels hold 8 to 32 centroids).
  for (const Eigen::Index dim : {4, 24}) {
    for (const Eigen::Index half : {2, 20, 32, 50}) {
      INFO("dimension " << dim << ", centroid i equals i + " << half);
      matrix c = matrix::Zero(2 * half, dim);
      for (Eigen::Index i = 0; i < c.rows(); ++i) c(i, 0) = static_cast<float>(i % half);
      matrix x = matrix::Zero(150, dim);
      for (Eigen::Index i = 0; i < x.rows(); ++i) x(i, 0) = static_cast<float>(i % half);
      const auto a = qtl::vq::nearest(view(x), c, 2);
      for (Eigen::Index i = 0; i < x.rows(); ++i) {
        CHECK(a.labels[static_cast<std::size_t>(i)] == static_cast<std::uint32_t>(i % half));
        CHECK(a.distances[static_cast<std::size_t>(i)] == 0.0f);
      }
    }
  }
}

TEST_CASE("k-means++ scores rows against its candidates as dot products in double do", "[vq][kmeans]") {
  std::mt19937 rng(5);
  std::normal_distribution<float> g;
  // Rows shorter than a SIMD batch, with tails, and longer; 1 to 11 candidates (8 a pass).
  for (const Eigen::Index d : {1, 3, 8, 17, 64, 385})
    for (const Eigen::Index candidates : {1, 7, 8, 11}) {
      matrix x(40, d), c(candidates, d);
      for (float& v : x.reshaped()) v = g(rng);
      for (float& v : c.reshaped()) v = g(rng);
      const std::size_t first = 3, last = 37, stride = 50;
      std::vector<float> dots(static_cast<std::size_t>(candidates) * stride, -7.0f);
      qtl::vq::detail::few_dots(view(x), view(c), first, last, dots.data(), stride);
      for (Eigen::Index l = 0; l < candidates; ++l)
        for (std::size_t i = 0; i < stride; ++i) {
          const float got = dots[static_cast<std::size_t>(l) * stride + i];
          if (i >= last - first) {  // past the range: untouched
            CHECK(got == -7.0f);
            continue;
          }
          const auto r = static_cast<Eigen::Index>(first + i);
          const double exact = x.row(r).cast<double>().dot(c.row(l).cast<double>());
          const double scale = x.row(r).cast<double>().norm() * c.row(l).cast<double>().norm();
          CHECK(std::abs(got - exact) <= 1e-6 * scale * static_cast<double>(d));
        }
    }
}

TEST_CASE("k-means++ on long rows picks a row of each separated blob, the same on 1 and 2 threads", "[vq][kmeans]") {
  // Rows of 300 values: the few_dots path. Blob b's rows have about 10 at coordinate b.
  const std::size_t blob_count = 6;
  const matrix x = blobs(600, blob_count, 300, 4);
  const matrix one = qtl::vq::kmeans_plus_plus(view(x), blob_count, 11, 1);
  CHECK(one == qtl::vq::kmeans_plus_plus(view(x), blob_count, 11, 2));
  std::vector<int> picked(blob_count, 0);
  for (Eigen::Index c = 0; c < one.rows(); ++c) {
    Eigen::Index blob = 0;
    one.row(c).head(static_cast<Eigen::Index>(blob_count)).maxCoeff(&blob);
    ++picked[static_cast<std::size_t>(blob)];
  }
  CHECK(picked == std::vector<int>(blob_count, 1));
}

TEST_CASE("Lloyd's iterations match a plain implementation from the same start", "[vq][kmeans]") {
  const matrix x = blobs(600, 6, 5, 2);
  const matrix start = qtl::vq::kmeans_plus_plus(view(x), 8, 99);
  qtl::vq::kmeans_options opt;
  opt.iterations = 6;
  const auto r = qtl::vq::lloyd(view(x), start, opt);
  // Plain Lloyd: brute-force assignment, means in double (no cluster empties on this data).
  matrix c = start;
  for (int it = 0; it < opt.iterations; ++it) {
    Eigen::MatrixXd sum = Eigen::MatrixXd::Zero(c.rows(), c.cols());
    std::vector<int> count(static_cast<std::size_t>(c.rows()), 0);
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
      Eigen::Index best = 0;
      for (Eigen::Index j = 1; j < c.rows(); ++j)
        if ((x.row(i) - c.row(j)).squaredNorm() < (x.row(i) - c.row(best)).squaredNorm()) best = j;
      sum.row(best) += x.row(i).cast<double>();
      ++count[static_cast<std::size_t>(best)];
    }
    for (Eigen::Index j = 0; j < c.rows(); ++j) {
      REQUIRE(count[static_cast<std::size_t>(j)] > 0);
      c.row(j) = (sum.row(j) / count[static_cast<std::size_t>(j)]).cast<float>();
    }
  }
  CHECK(r.splits == 0);
  CHECK((r.centroids - c).cwiseAbs().maxCoeff() < 1e-5f);
  REQUIRE(r.mse.size() == 7);
  for (std::size_t i = 1; i < r.mse.size(); ++i) CHECK(r.mse[i] <= r.mse[i - 1] * (1 + 1e-6));
}

TEST_CASE("k-means finds separated clusters, the same for a seed and thread count", "[vq][kmeans]") {
  const matrix x = blobs(2000, 10, 8, 3);
  qtl::vq::kmeans_options opt;
  opt.threads = 2;
  const auto r = qtl::vq::kmeans(view(x), 10, opt);
  // Every point within noise of its centroid: each blob has its own.
  CHECK(r.mse.back() < 8 * 0.25 * 1.2);
  const auto again = qtl::vq::kmeans(view(x), 10, opt);
  CHECK(r.centroids == again.centroids);
  CHECK(r.mse == again.mse);
  opt.threads = 1;
  const auto one = qtl::vq::kmeans(view(x), 10, opt);
  CHECK((one.centroids - r.centroids).cwiseAbs().maxCoeff() < 1e-4f);
  opt.seed = 7;
  CHECK(qtl::vq::kmeans_plus_plus(view(x), 10, 7) != qtl::vq::kmeans_plus_plus(view(x), 10, 1234));
  // Subsampled training (at most k * 20 rows) still finds them.
  opt.max_points_per_centroid = 20;
  CHECK(qtl::vq::kmeans(view(x), 10, opt).mse.back() < 8 * 0.25 * 1.3);
}

TEST_CASE("The random start draws k distinct rows, and k-means from it lowers the error", "[vq][kmeans]") {
  const matrix x = blobs(500, 10, 8, 4);
  const matrix start = qtl::vq::random_rows(view(x), 40, 99);
  REQUIRE(start.rows() == 40);
  std::vector<Eigen::Index> picked;
  for (Eigen::Index i = 0; i < start.rows(); ++i) {  // each centre is a row of x, no row twice
    Eigen::Index at = -1;
    for (Eigen::Index r = 0; r < x.rows() && at < 0; ++r)
      if (x.row(r) == start.row(i)) at = r;
    REQUIRE(at >= 0);
    CHECK(std::find(picked.begin(), picked.end(), at) == picked.end());
    picked.push_back(at);
  }
  CHECK(qtl::vq::random_rows(view(x), 40, 99) == start);  // deterministic for a seed
  CHECK(qtl::vq::random_rows(view(x), 40, 100) != start);
  CHECK(qtl::vq::random_rows(view(x), 500, 1).rows() == 500);  // every row, once each
  CHECK(qtl::test::error_code_of([&] { (void)qtl::vq::random_rows(view(x), 501); }) == qtl::errc::invalid_argument);

  qtl::vq::kmeans_options opt;
  opt.init = qtl::vq::kmeans_init::random_rows;
  opt.seed = 99;
  const auto r = qtl::vq::kmeans(view(x), 40, opt);
  // It starts from exactly those rows (all 500 train: 40 x 256 is more), and never rises.
  CHECK(r.mse.front() == qtl::vq::lloyd(view(x), start, [] {
          qtl::vq::kmeans_options zero;
          zero.iterations = 0;
          return zero;
        }()).mse.front());
  for (std::size_t i = 1; i < r.mse.size(); ++i) CHECK(r.mse[i] <= r.mse[i - 1] * (1 + 1e-6));
  CHECK(r.mse.back() < 8 * 0.25 * 1.2);  // 40 centres over 10 blobs: within the noise
  opt.threads = 2;
  CHECK((qtl::vq::kmeans(view(x), 40, opt).centroids - r.centroids).cwiseAbs().maxCoeff() < 1e-4f);
}

TEST_CASE("k-means refills empty clusters and copes with repeated points", "[vq][kmeans]") {
  // Three distinct points repeated, eight clusters: k-means++ must reuse points, Lloyd
  // empties clusters and splits large ones; nothing may become NaN.
  matrix x(60, 2);
  for (Eigen::Index i = 0; i < x.rows(); ++i) x.row(i) << static_cast<float>(i % 3), static_cast<float>(i % 3 * 2);
  const auto r = qtl::vq::kmeans(view(x), 8);
  CHECK(r.centroids.allFinite());
  CHECK(r.mse.back() < 1e-3);
  // A start with every centre on one point: the other points' clusters are split off.
  matrix start(4, 2);
  start.setZero();
  qtl::vq::kmeans_options opt;
  opt.iterations = 10;
  const auto s = qtl::vq::lloyd(view(x), start, opt);
  CHECK(s.splits > 0);
  CHECK(s.centroids.allFinite());
}

TEST_CASE("k-means refuses bad input", "[vq][kmeans][errors]") {
  matrix x(10, 3);
  x.setRandom();
  CHECK(qtl::test::error_code_of([&] { (void)qtl::vq::kmeans(view(x), 11); }) == qtl::errc::invalid_argument);  // k > points
  CHECK(qtl::test::error_code_of([&] { (void)qtl::vq::kmeans(view(x), 0); }) == qtl::errc::invalid_argument);
  CHECK(qtl::test::error_code_of([&] { (void)qtl::vq::kmeans(qtl::matrix_view<const float>(x.data(), 0, 3), 1); }) ==
        qtl::errc::invalid_argument);
  matrix bad = x;
  bad(4, 1) = std::numeric_limits<float>::quiet_NaN();
  CHECK(qtl::test::error_code_of([&] { (void)qtl::vq::kmeans(view(bad), 2); }) == qtl::errc::non_finite);
  CHECK(qtl::test::error_code_of([&] { (void)qtl::vq::lloyd(view(x), matrix(2, 4)); }) == qtl::errc::shape_mismatch);
  CHECK(qtl::test::error_code_of([&] { (void)qtl::vq::nearest(view(x), matrix(2, 2)); }) == qtl::errc::shape_mismatch);
  CHECK(qtl::test::error_code_of([&] { (void)qtl::vq::nearest(view(bad), x.topRows(2)); }) == qtl::errc::non_finite);
  qtl::vq::kmeans_options negative;
  negative.iterations = -1;
  CHECK(qtl::test::error_code_of([&] { (void)qtl::vq::lloyd(view(x), matrix::Zero(2, 3), negative); }) == qtl::errc::invalid_argument);
}
