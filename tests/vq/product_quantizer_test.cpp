// qtl/vq/product_quantizer.hpp: codes are each sub-vector's nearest centroid, decode puts
// the centroids back, ADC distances equal the distance to the decoded vector, search
// returns the smallest ADC distances; codes of 1..8 bits packed and read back; more
// sub-quantizers lower the error; bad shapes refused.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_floating_point.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "error_code.hpp"
#include "qtl/core/error.hpp"
#include "qtl/vq/product_quantizer.hpp"

namespace {

using Catch::Matchers::WithinAbs;
using qtl::vq::matrix;

matrix correlated(Eigen::Index n, Eigen::Index d, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  matrix mix(d, d), z(n, d);
  for (Eigen::Index i = 0; i < mix.size(); ++i) mix.data()[i] = normal(rng) / static_cast<float>(d);
  for (Eigen::Index i = 0; i < z.size(); ++i) z.data()[i] = normal(rng);
  return z + z * mix;
}

qtl::matrix_view<const float> view(const matrix& m) {
  return {m.data(), static_cast<std::size_t>(m.rows()), static_cast<std::size_t>(m.cols())};
}

}  // namespace

TEST_CASE("PQ codes, decode, ADC and search agree with brute force", "[vq][pq]") {
  const matrix x = correlated(1500, 16, 1), queries = correlated(20, 16, 2);
  for (const int nbits : {8, 5, 3, 1}) {
    INFO(nbits << " bits");
    qtl::vq::kmeans_options opt;
    opt.iterations = 8;
    const auto pq = qtl::vq::product_quantizer::train(view(x), 4, nbits, opt);
    REQUIRE(pq.code_size() == (4 * static_cast<std::size_t>(nbits) + 7) / 8);
    const auto codes = pq.encode(view(x), 2);
    REQUIRE(codes.size() == 1500 * pq.code_size());
    const matrix back = pq.decode(codes, 1500);
    for (Eigen::Index i = 0; i < x.rows(); ++i)
      for (std::size_t j = 0; j < 4; ++j) {
        const auto sub = x.row(i).segment(static_cast<Eigen::Index>(j) * 4, 4);
        const auto& book = pq.codebook(j);
        // The decoded sub-vector is a centroid, and the nearest one (up to rounding).
        float best = std::numeric_limits<float>::infinity();
        bool is_centroid = false;
        for (Eigen::Index c = 0; c < book.rows(); ++c) {
          best = std::min(best, (sub - book.row(c)).squaredNorm());
          is_centroid |= book.row(c) == back.row(i).segment(static_cast<Eigen::Index>(j) * 4, 4);
        }
        REQUIRE(is_centroid);
        REQUIRE_THAT((sub - back.row(i).segment(static_cast<Eigen::Index>(j) * 4, 4)).squaredNorm(),
                     WithinAbs(best, 1e-4));
      }
    // ADC: the distance from the query to the decoded vector.
    std::vector<float> d(1500);
    const matrix table = pq.distance_table(std::span(queries.row(0).data(), 16));
    pq.adc(table, codes, 1500, d);
    for (Eigen::Index i = 0; i < x.rows(); ++i)
      REQUIRE_THAT(d[static_cast<std::size_t>(i)], WithinAbs((queries.row(0) - back.row(i)).squaredNorm(), 1e-3));
    // Search: the 10 smallest ADC distances, in order.
    const auto found = pq.search(view(queries), codes, 1500, 10, 3);
    for (Eigen::Index q = 0; q < queries.rows(); ++q) {
      pq.adc(pq.distance_table(std::span(queries.row(q).data(), 16)), codes, 1500, d);
      std::vector<std::size_t> order(1500);
      std::iota(order.begin(), order.end(), std::size_t{0});
      std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return d[a] < d[b]; });
      for (std::size_t r = 0; r < 10; ++r) {
        CHECK(found.labels[static_cast<std::size_t>(q) * 10 + r] == order[r]);
        CHECK(found.distances[static_cast<std::size_t>(q) * 10 + r] == d[order[r]]);
      }
    }
  }
}

TEST_CASE("PQ error falls with more sub-quantizers and bits; stored codebooks rebuild it", "[vq][pq]") {
  const matrix x = correlated(2000, 24, 3);
  const auto mse = [&](const qtl::vq::product_quantizer& pq) {
    return (x - pq.decode(pq.encode(view(x)), 2000)).rowwise().squaredNorm().mean();
  };
  const auto pq4 = qtl::vq::product_quantizer::train(view(x), 4, 6);
  const auto pq8 = qtl::vq::product_quantizer::train(view(x), 8, 6);
  const auto pq8_4bit = qtl::vq::product_quantizer::train(view(x), 8, 4);
  CHECK(mse(pq8) < mse(pq4));
  CHECK(mse(pq8) < mse(pq8_4bit));
  CHECK(mse(pq8) < 0.5f * x.rowwise().squaredNorm().mean());
  std::vector<matrix> books;
  for (std::size_t j = 0; j < 8; ++j) books.push_back(pq8.codebook(j));
  const qtl::vq::product_quantizer rebuilt(24, 8, 6, books);
  CHECK(rebuilt.encode(view(x)) == pq8.encode(view(x)));
  // Trained again with one seed, on 1 or 3 threads: the same codebooks.
  qtl::vq::kmeans_options threads;
  threads.threads = 3;
  const auto again = qtl::vq::product_quantizer::train(view(x), 8, 6, threads);
  for (std::size_t j = 0; j < 8; ++j) CHECK(again.codebook(j) == pq8.codebook(j));
}

TEST_CASE("PQ refuses bad shapes", "[vq][pq][errors]") {
  const matrix x = correlated(300, 12, 4);
  CHECK(qtl::test::error_code_of([&] { (void)qtl::vq::product_quantizer::train(view(x), 5); }) == qtl::errc::invalid_argument);
  CHECK(qtl::test::error_code_of([&] { (void)qtl::vq::product_quantizer::train(view(x), 4, 9); }) == qtl::errc::invalid_argument);
  CHECK(qtl::test::error_code_of([&] { (void)qtl::vq::product_quantizer::train(view(x), 4, 0); }) == qtl::errc::invalid_argument);
  // 2^9 > 300 rows: more centroids than points.
  CHECK(qtl::test::error_code_of([&] { (void)qtl::vq::product_quantizer::train(view(x.topRows(200)), 4, 8); }) ==
        qtl::errc::invalid_argument);
  qtl::vq::kmeans_options opt;
  opt.iterations = 2;
  const auto pq = qtl::vq::product_quantizer::train(view(x), 4, 4, opt);
  const matrix narrow = x.leftCols(8);
  CHECK(qtl::test::error_code_of([&] { (void)pq.encode(view(narrow)); }) == qtl::errc::shape_mismatch);
  const auto codes = pq.encode(view(x));
  CHECK(qtl::test::error_code_of([&] { (void)pq.decode(codes, 301); }) == qtl::errc::shape_mismatch);
  CHECK(qtl::test::error_code_of([&] { (void)pq.search(view(x.topRows(2)), codes, 300, 301); }) == qtl::errc::invalid_argument);
  std::vector<float> out(10);
  CHECK(qtl::test::error_code_of([&] { pq.adc(pq.distance_table(std::span(x.row(0).data(), 12)), codes, 300, out); }) ==
        qtl::errc::shape_mismatch);
  CHECK(qtl::test::error_code_of([&] { qtl::vq::product_quantizer(12, 4, 4, {matrix::Zero(16, 3)}); }) == qtl::errc::shape_mismatch);
  CHECK(qtl::test::error_code_of([&] {
          qtl::vq::product_quantizer(12, 2, 1, {matrix::Zero(2, 6), matrix::Constant(2, 6, NAN)});
        }) == qtl::errc::non_finite);
  matrix bad = x;
  bad(3, 3) = INFINITY;
  CHECK(qtl::test::error_code_of([&] { (void)pq.encode(view(bad)); }) == qtl::errc::non_finite);
}
