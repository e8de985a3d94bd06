// qtl/vq/residual_quantizer.hpp: a beam as wide as every partial code reaches the best code
// found by trying all of them; a beam of one is greedy (each stage the nearest codeword to
// what is left); wider beams and more stages lower the error; decode sums the codewords;
// refitting the codebooks lowers the training error; the same codes on any thread count;
// ADC distances (table sums plus stored norms) equal the distances to the decoded vectors
// and search returns the smallest of them; one beam step keeps the best extensions of every
// path (against all of them in double) and the lower codeword among equal ones; bad input
// refused.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_floating_point.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <span>
#include <vector>

#include "error_code.hpp"
#include "qtl/core/error.hpp"
#include "qtl/vq/residual_quantizer.hpp"
#include "vq/vq_data.hpp"

namespace {

using Catch::Matchers::WithinAbs;
using qtl::vq::matrix;
using qtl::vq::view;

using qtl::test::gaussian;
using qtl::test::mse;

std::uint32_t code(const std::vector<std::uint8_t>& codes, std::size_t row, std::size_t stage, int nbits, std::size_t size) {
  std::uint32_t c = 0;
  for (int b = 0; b < nbits; ++b) {
    const std::size_t bit = stage * static_cast<std::size_t>(nbits) + static_cast<std::size_t>(b);
    c |= static_cast<std::uint32_t>((codes[row * size + bit / 8] >> (bit % 8)) & 1u) << b;
  }
  return c;
}

}  // namespace

TEST_CASE("RQ beam search as wide as every partial code finds the best code", "[vq][rq]") {
  const matrix x = gaussian(400, 6, 1);
  qtl::vq::rq_options opt;
  opt.kmeans.iterations = 6;
  auto rq = qtl::vq::residual_quantizer::train(view(x), 3, 2, opt);  // 4 codewords a stage, 64 codes
  rq.set_beam(16);                                                   // every partial code of two stages
  const auto codes = rq.encode(view(x), 2);
  const matrix back = rq.decode(codes, 400);
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    float best = std::numeric_limits<float>::infinity();
    for (Eigen::Index a = 0; a < 4; ++a)
      for (Eigen::Index b = 0; b < 4; ++b)
        for (Eigen::Index c = 0; c < 4; ++c)
          best = std::min(best, (x.row(i) - rq.codebook(0).row(a) - rq.codebook(1).row(b) - rq.codebook(2).row(c))
                                    .squaredNorm());
    REQUIRE_THAT((x.row(i) - back.row(i)).squaredNorm(), WithinAbs(best, 1e-4));
  }
}

TEST_CASE("An RQ beam step keeps each row's best extensions, the lower codeword on a tie", "[vq][rq]") {
  // 37 codewords (no whole number of SIMD panels), beams of 1, 3 and 7 paths extended to 5
  // and 20, 150 rows (blocks of the kernel's walk, whole and partial, over 2 threads).
  const matrix x = gaussian(150, 20, 3);
  matrix book = gaussian(37, 20, 4);
  for (const std::size_t w : {1u, 3u, 7u})
    for (const std::size_t width : {5u, 20u}) {
      INFO(w << " paths extended to " << width);
      qtl::vq::detail::beams in = qtl::vq::detail::start_beams(view(x), 2);
      if (w > 1) in = qtl::vq::detail::extend_beams(in, x.rows(), gaussian(w, 20, 5), 0, 2, w, 1);
      const auto out = qtl::vq::detail::extend_beams(in, x.rows(), book, 1, 2, width, 2);
      REQUIRE(out.width == width);
      for (Eigen::Index i = 0; i < x.rows(); ++i) {
        std::vector<double> all;  // every extension's error, in double
        for (std::size_t p = 0; p < w; ++p)
          for (Eigen::Index c = 0; c < book.rows(); ++c)
            all.push_back(
                (in.residuals.row(i * static_cast<Eigen::Index>(w) + static_cast<Eigen::Index>(p)) - book.row(c))
                    .cast<double>()
                    .squaredNorm());
        std::sort(all.begin(), all.end());
        for (std::size_t p = 0; p < width; ++p) {
          const std::size_t to = static_cast<std::size_t>(i) * width + p;
          CHECK_THAT(out.errors[to], WithinAbs(all[p], 1e-3));  // the p-th best, up to rounding
        }
      }
    }
  // Codeword c + 20 equals codeword c: of two equal extensions the lower codeword comes first.
  book.bottomRows(17) = book.middleRows(0, 17);
  const auto in = qtl::vq::detail::start_beams(view(x), 1);
  const auto out = qtl::vq::detail::extend_beams(in, x.rows(), book.topRows(37), 0, 1, 2, 1);
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    const std::uint32_t first = out.codes[static_cast<std::size_t>(i) * 2];
    const std::uint32_t second = out.codes[static_cast<std::size_t>(i) * 2 + 1];
    if (first < 17) CHECK(second == first + 20);  // its copy next
    CHECK(first < 20);                             // never a copy before its original
  }
  // Two equal paths (stage-0 codes 0 and 1) and codeword c + 40 equal to c, in another SIMD
  // panel: four equal extensions, kept in the order path, then codeword (the kernel meets
  // them in another order).
  matrix wide = gaussian(60, 20, 6);
  wide.bottomRows(20) = wide.topRows(20);
  qtl::vq::detail::beams twin;
  twin.width = 2;
  twin.residuals = matrix(2 * x.rows(), 20);
  twin.codes.assign(2 * static_cast<std::size_t>(x.rows()) * 2, 0);
  for (Eigen::Index i = 0; i < x.rows(); ++i)
    for (Eigen::Index p = 0; p < 2; ++p) {
      twin.residuals.row(2 * i + p) = x.row(i);
      twin.errors.push_back(x.row(i).squaredNorm());
      twin.codes[static_cast<std::size_t>(2 * i + p) * 2] = static_cast<std::uint32_t>(p);
    }
  const auto four = qtl::vq::detail::extend_beams(twin, x.rows(), wide, 1, 2, 4, 2);
  std::size_t ties = 0;
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    const std::size_t at = static_cast<std::size_t>(i) * 4 * 2;
    const std::uint32_t c = four.codes[at + 1];
    if (c >= 20) continue;  // the best codeword has no copy
    ++ties;
    for (std::size_t p = 0; p < 4; ++p) {
      CHECK(four.codes[at + p * 2] == p / 2);                 // path 0, path 0, path 1, path 1
      CHECK(four.codes[at + p * 2 + 1] == c + 40 * (p % 2));  // c, c + 40, c, c + 40
    }
  }
  CHECK(ties > 20);
}

TEST_CASE("RQ with a beam of one is greedy; wider beams and more stages lower the error", "[vq][rq]") {
  const matrix x = gaussian(2000, 12, 2);
  qtl::vq::rq_options opt;
  opt.kmeans.iterations = 8;
  opt.kmeans.threads = 2;
  opt.refine_iterations = 4;
  auto rq = qtl::vq::residual_quantizer::train(view(x), 4, 4, opt);
  REQUIRE(rq.code_size() == 2);
  rq.set_beam(1);
  const auto greedy = rq.encode(view(x), 3);
  // Greedy: each stage codes the residual by its nearest codeword.
  matrix residual = x;
  for (std::size_t s = 0; s < 4; ++s) {
    const auto a = qtl::vq::nearest(view(residual), rq.codebook(s));
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
      const std::uint32_t c = code(greedy, static_cast<std::size_t>(i), s, 4, 2);
      REQUIRE(c == a.labels[static_cast<std::size_t>(i)]);
      residual.row(i) -= rq.codebook(s).row(static_cast<Eigen::Index>(c));
    }
  }
  // Decode is the sum of the codewords.
  const matrix back = rq.decode(greedy, 2000);
  CHECK((back - (x - residual)).cwiseAbs().maxCoeff() < 1e-5f);

  rq.set_beam(8);
  const auto wide = rq.encode(view(x), 1);
  CHECK(rq.encode(view(x), 3) == wide);  // threads do not change the codes
  CHECK(mse(x, rq.decode(wide, 2000)) < mse(x, back));

  // Refitting every codebook at once for the training codes lowers the training error.
  qtl::vq::rq_options plain = opt;
  plain.refine_iterations = 0;
  const auto unrefined = qtl::vq::residual_quantizer::train(view(x), 4, 4, plain);
  rq.set_beam(5);  // the beam both were trained with
  CHECK(mse(x, rq.decode(rq.encode(view(x)), 2000)) < mse(x, unrefined.decode(unrefined.encode(view(x)), 2000)));

  // Fewer stages code with more error.
  const auto two = qtl::vq::residual_quantizer::train(view(x), 2, 4, opt);
  CHECK(mse(x, rq.decode(wide, 2000)) < mse(x, two.decode(two.encode(view(x)), 2000)));
  CHECK(mse(x, two.decode(two.encode(view(x)), 2000)) < x.rowwise().squaredNorm().mean());
}

TEST_CASE("RQ ADC distances and search agree with the decoded vectors", "[vq][rq]") {
  const matrix x = gaussian(1200, 8, 4), queries = gaussian(15, 8, 5);
  for (const int nbits : {8, 3}) {  // a byte per code, and codes across bytes
    INFO(nbits << " bits");
    qtl::vq::rq_options opt;
    opt.kmeans.iterations = 4;
    const auto rq = qtl::vq::residual_quantizer::train(view(x), 3, nbits, opt);
    const auto codes = rq.encode(view(x), 2);
    const matrix back = rq.decode(codes, 1200);
    const std::vector<float> norms = rq.norms(codes, 1200);
    REQUIRE(norms.size() == 1200);
    for (Eigen::Index i = 0; i < x.rows(); ++i)
      REQUIRE_THAT(norms[static_cast<std::size_t>(i)], WithinAbs(back.row(i).squaredNorm(), 1e-4));
    std::vector<float> d(1200);
    for (Eigen::Index q = 0; q < queries.rows(); ++q) {
      rq.adc(rq.distance_table(std::span(queries.row(q).data(), 8)), codes, 1200, norms, d);
      for (Eigen::Index i = 0; i < x.rows(); ++i)
        REQUIRE_THAT(d[static_cast<std::size_t>(i)], WithinAbs((queries.row(q) - back.row(i)).squaredNorm(), 1e-3));
    }
    // Search: the 10 smallest ADC distances, in order, on any thread count.
    const auto found = rq.search(view(queries), codes, norms, 1200, 10, 3);
    CHECK(rq.search(view(queries), codes, norms, 1200, 10, 1).labels == found.labels);
    for (Eigen::Index q = 0; q < queries.rows(); ++q) {
      rq.adc(rq.distance_table(std::span(queries.row(q).data(), 8)), codes, 1200, norms, d);
      std::vector<std::size_t> order(1200);
      std::iota(order.begin(), order.end(), std::size_t{0});
      std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return d[a] < d[b]; });
      for (std::size_t r = 0; r < 10; ++r) {
        CHECK(found.labels[static_cast<std::size_t>(q) * 10 + r] == order[r]);
        CHECK(found.distances[static_cast<std::size_t>(q) * 10 + r] == d[order[r]]);
      }
    }
  }
}

TEST_CASE("RQ refuses bad input", "[vq][rq][errors]") {
  using qtl::test::error_code_of;
  const matrix x = gaussian(100, 4, 3);
  CHECK(error_code_of([&] { (void)qtl::vq::residual_quantizer::train(view(x), 2, 9); }) == qtl::errc::invalid_argument);
  CHECK(error_code_of([&] { (void)qtl::vq::residual_quantizer::train(view(x), 0, 4); }) == qtl::errc::invalid_argument);
  qtl::vq::rq_options negative;
  negative.refine_iterations = -1;
  CHECK(error_code_of([&] { (void)qtl::vq::residual_quantizer::train(view(x), 2, 4, negative); }) ==
        qtl::errc::invalid_argument);
  CHECK(error_code_of([&] { (void)qtl::vq::residual_quantizer::train(view(x), 2, 7); }) ==
        qtl::errc::invalid_argument);  // 128 codewords, 100 rows
  matrix bad = x;
  bad(1, 1) = INFINITY;
  CHECK(error_code_of([&] { (void)qtl::vq::residual_quantizer::train(view(bad), 2, 3); }) == qtl::errc::non_finite);
  qtl::vq::rq_options opt;
  opt.kmeans.iterations = 2;
  auto rq = qtl::vq::residual_quantizer::train(view(x), 2, 3, opt);
  CHECK(error_code_of([&] { (void)rq.encode(view(bad)); }) == qtl::errc::non_finite);
  CHECK(error_code_of([&] { (void)rq.encode(view(matrix(x.leftCols(3)))); }) == qtl::errc::shape_mismatch);
  CHECK(error_code_of([&] { (void)rq.decode(rq.encode(view(x)), 99); }) == qtl::errc::shape_mismatch);
  CHECK(error_code_of([&] { rq.set_beam(0); }) == qtl::errc::invalid_argument);
  // ADC: norms, tables, outputs and queries of the wrong size; k outside 1..n; NaN queries.
  const auto codes = rq.encode(view(x));
  const auto norms = rq.norms(codes, 100);
  std::vector<float> d(100);
  const matrix table = rq.distance_table(std::span(x.row(0).data(), 4));
  CHECK(error_code_of([&] { (void)rq.norms(codes, 99); }) == qtl::errc::shape_mismatch);
  CHECK(error_code_of([&] { (void)rq.distance_table(std::span(x.row(0).data(), 3)); }) == qtl::errc::shape_mismatch);
  CHECK(error_code_of([&] { rq.adc(table, codes, 100, std::span(norms).first(99), d); }) == qtl::errc::shape_mismatch);
  CHECK(error_code_of([&] { rq.adc(table.topRows(1), codes, 100, norms, d); }) == qtl::errc::shape_mismatch);
  CHECK(error_code_of([&] { rq.adc(table, codes, 100, norms, std::span(d).first(50)); }) == qtl::errc::shape_mismatch);
  CHECK(error_code_of([&] { (void)rq.search(view(x), codes, std::span(norms).first(99), 100, 5); }) ==
        qtl::errc::shape_mismatch);
  CHECK(error_code_of([&] { (void)rq.search(view(x), codes, norms, 100, 0); }) == qtl::errc::invalid_argument);
  CHECK(error_code_of([&] { (void)rq.search(view(x), codes, norms, 100, 101); }) == qtl::errc::invalid_argument);
  CHECK(error_code_of([&] { (void)rq.search(view(bad), codes, norms, 100, 5); }) == qtl::errc::non_finite);
  CHECK(error_code_of([&] { (void)rq.search(view(matrix(x.leftCols(3))), codes, norms, 100, 5); }) ==
        qtl::errc::shape_mismatch);
  CHECK(error_code_of([&] { qtl::vq::residual_quantizer(4, 3, {matrix::Zero(8, 4), matrix::Zero(8, 3)}); }) ==
        qtl::errc::shape_mismatch);
  CHECK(error_code_of([&] { qtl::vq::residual_quantizer(4, 3, {}); }) == qtl::errc::invalid_argument);
  CHECK(error_code_of([&] { qtl::vq::residual_quantizer(4, 1, {matrix::Constant(2, 4, NAN)}); }) == qtl::errc::non_finite);
}
