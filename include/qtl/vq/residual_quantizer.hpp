// qtl::vq::residual_quantizer: residual quantization (RQ). m stages of 2^nbits codewords of
// the full dimension: stage s codes what stages before it left, and a vector is the sum of
// its m codewords. Codes are chosen by beam search (as in faiss's ResidualQuantizer): the
// `beam` best partial sums are kept at each stage, each extended by every codeword. Stage
// s's codebook is trained by k-means on the residuals of the beams of stages before it,
// on progressively more principal components, then all codebooks are refitted together.
// Distances to coded vectors come by ADC from one m x 2^nbits table of inner products per
// query, plus each vector's norm, kept beside its codes.
#pragma once

#include <Eigen/Cholesky>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/core/view.hpp"
#include "qtl/kernel/parallel_for.hpp"
#include "qtl/vq/kmeans.hpp"
#include "qtl/vq/product_quantizer.hpp"
#include "qtl/vq/progressive_kmeans.hpp"

namespace qtl::vq {

struct rq_options {
  std::size_t beam = 5;             // partial codes kept per vector while training (faiss's default)
  std::size_t progressive_steps = 10;  // each stage's k-means over 1/10, 2/10, ... of the principal components
  // Rounds of encoding the training rows and refitting every codebook at once. Off by
  // default: it lowers the error on the training rows but raised it on others (docs/vq.md).
  int refine_iterations = 0;
  kmeans_options kmeans{.iterations = 10};  // each stage's k-means, per step (stage s with seed + s)
};

namespace detail {

// The beam of every row after some stages: `width` paths per row, best first, each with
// its codes so far, its residual (row minus the codewords chosen) and its squared norm.
struct beams {
  std::size_t width = 1;
  matrix residuals;                  // rows * width x dim
  std::vector<float> errors;         // rows * width
  std::vector<std::uint32_t> codes;  // rows * width x stages
};

inline beams start_beams(matrix_view<const float> x, std::size_t stages) {
  beams b;
  b.residuals = as_eigen(x);
  b.errors.resize(x.rows());
  for (std::size_t i = 0; i < x.rows(); ++i) b.errors[i] = b.residuals.row(static_cast<Eigen::Index>(i)).squaredNorm();
  b.codes.assign(x.rows() * stages, 0);
  return b;
}

// Stage `stage` of the beam search: every path of a row is extended by every codeword
// (|r - c|^2 = |r|^2 - 2 r.c + |c|^2, the r.c by one matrix product per block of rows) and
// the `width` best extensions are kept (the lower path and codeword on a tie).
inline beams extend_beams(const beams& in, std::size_t rows, const matrix& book, std::size_t stage, std::size_t stages,
                          std::size_t width, unsigned threads) {
  const std::size_t k = static_cast<std::size_t>(book.rows()), w = in.width, candidates = w * k;
  width = std::min(width, candidates);
  beams out;
  out.width = width;
  out.residuals.resize(static_cast<Eigen::Index>(rows * width), book.cols());
  out.errors.resize(rows * width);
  out.codes.resize(rows * width * stages);
  const Eigen::RowVectorXf norms = book.rowwise().squaredNorm().transpose();
  const std::size_t block = std::max<std::size_t>(1, (std::size_t{1} << 18) / candidates);
  kernel::parallel_for((rows + block - 1) / block, thread_count(threads), [&](std::size_t first, std::size_t last) {
    matrix scores;
    std::vector<float> error(candidates);  // |r - c|^2 of every path and codeword of one row
    std::vector<std::size_t> order(candidates);
    for (std::size_t blk = first; blk < last; ++blk) {
      const std::size_t r0 = blk * block, n = std::min(block, rows - r0);
      scores.noalias() = in.residuals.middleRows(static_cast<Eigen::Index>(r0 * w), static_cast<Eigen::Index>(n * w)) *
                         book.transpose();
      for (std::size_t i = 0; i < n; ++i) {
        const std::size_t row = r0 + i;
        for (std::size_t path = 0; path < w; ++path) {
          const auto p = static_cast<Eigen::Index>(i * w + path);
          for (std::size_t word = 0; word < k; ++word) {
            const auto c = static_cast<Eigen::Index>(word);
            error[path * k + word] = in.errors[row * w + path] + norms(c) - 2.0f * scores(p, c);
          }
        }
        std::iota(order.begin(), order.end(), std::size_t{0});
        std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(width), order.end(),
                          [&](std::size_t a, std::size_t b) {
                            return error[a] < error[b] || (error[a] == error[b] && a < b);
                          });
        for (std::size_t p = 0; p < width; ++p) {
          const std::size_t path = order[p] / k, word = order[p] % k, to = row * width + p, from = row * w + path;
          out.residuals.row(static_cast<Eigen::Index>(to)) =
              in.residuals.row(static_cast<Eigen::Index>(from)) - book.row(static_cast<Eigen::Index>(word));
          out.errors[to] = out.residuals.row(static_cast<Eigen::Index>(to)).squaredNorm();
          std::copy_n(&in.codes[from * stages], stage, &out.codes[to * stages]);
          out.codes[to * stages + stage] = static_cast<std::uint32_t>(word);
        }
      }
    }
  });
  return out;
}

}  // namespace detail

class residual_quantizer {
 public:
  // From trained or stored codebooks: m stages of 2^nbits x dim. Errors: shapes
  // (shape_mismatch), nbits outside 1..8 or no stage or a beam of 0 (invalid_argument),
  // non-finite codewords (non_finite).
  residual_quantizer(std::size_t dim, int nbits, std::vector<matrix> codebooks, std::size_t beam = 5)
      : dim_(dim), nbits_(nbits), beam_(beam), codebooks_(std::move(codebooks)) {
    if (nbits < 1 || nbits > 8 || codebooks_.empty() || beam < 1 || dim == 0)
      throw error(errc::invalid_argument, "vq::residual_quantizer: nbits = " + std::to_string(nbits) + " (1..8), " +
                                              std::to_string(codebooks_.size()) + " stages, beam " +
                                              std::to_string(beam) + ", dimension " + std::to_string(dim));
    for (std::size_t s = 0; s < codebooks_.size(); ++s) {
      const matrix& c = codebooks_[s];
      if (static_cast<std::size_t>(c.rows()) != ksub() || static_cast<std::size_t>(c.cols()) != dim)
        throw error(errc::shape_mismatch, "vq::residual_quantizer: codebook " + std::to_string(s) + " is " +
                                              std::to_string(c.rows()) + "x" + std::to_string(c.cols()) + ", need " +
                                              std::to_string(ksub()) + "x" + std::to_string(dim));
      if (!c.allFinite())
        throw error(errc::non_finite, "vq::residual_quantizer: codebook " + std::to_string(s) + " is not finite");
    }
  }

  // m stages trained on the rows of x, each by progressive_kmeans on the residuals of every
  // path of the training beams; then refine_iterations rounds of encoding the rows and
  // refitting all codebooks at once. Errors: those of the constructor, fewer rows than 2^nbits
  // (invalid_argument), no rows (invalid_argument), non-finite values (non_finite).
  static residual_quantizer train(matrix_view<const float> x, std::size_t m, int nbits = 8, const rq_options& opt = {}) {
    detail::check_points(x, "vq::residual_quantizer::train");
    if (nbits < 1 || nbits > 8 || m < 1 || opt.beam < 1 || opt.refine_iterations < 0 || opt.progressive_steps < 1)
      throw error(errc::invalid_argument, "vq::residual_quantizer::train: nbits = " + std::to_string(nbits) +
                                              " (1..8), m = " + std::to_string(m) + ", beam " + std::to_string(opt.beam));
    const std::size_t k = std::size_t{1} << nbits;
    if (x.rows() < k)
      throw error(errc::invalid_argument, "vq::residual_quantizer::train: " + std::to_string(x.rows()) +
                                              " rows for 2^" + std::to_string(nbits) + " codewords");
    std::vector<matrix> books;
    detail::beams b = detail::start_beams(x, m);
    for (std::size_t s = 0; s < m; ++s) {
      kmeans_options o = opt.kmeans;
      o.seed = opt.kmeans.seed + s;
      books.push_back(progressive_kmeans(view(b.residuals), k, std::min<std::size_t>(opt.progressive_steps, x.cols()), o));
      b = detail::extend_beams(b, x.rows(), books.back(), s, m, opt.beam, opt.kmeans.threads);
    }
    residual_quantizer rq(x.cols(), nbits, std::move(books), opt.beam);
    for (int it = 0; it < opt.refine_iterations; ++it) rq.refit(x, rq.encode(x, opt.kmeans.threads));
    return rq;
  }

  [[nodiscard]] std::size_t dim() const noexcept { return dim_; }
  [[nodiscard]] std::size_t m() const noexcept { return codebooks_.size(); }
  [[nodiscard]] int nbits() const noexcept { return nbits_; }
  [[nodiscard]] std::size_t ksub() const noexcept { return std::size_t{1} << nbits_; }
  [[nodiscard]] std::size_t beam() const noexcept { return beam_; }
  void set_beam(std::size_t beam) {
    if (beam < 1) throw error(errc::invalid_argument, "vq::residual_quantizer: a beam of 0");
    beam_ = beam;
  }
  // Bytes of one vector's codes: m codes of nbits, least significant bit first.
  [[nodiscard]] std::size_t code_size() const noexcept { return (m() * static_cast<std::size_t>(nbits_) + 7) / 8; }
  [[nodiscard]] const matrix& codebook(std::size_t s) const { return codebooks_.at(s); }

  // rows x code_size bytes: the best path of a beam search of width beam(). The same codes
  // for any thread count. Errors: a row length other than dim, non-finite values.
  [[nodiscard]] std::vector<std::uint8_t> encode(matrix_view<const float> x, unsigned threads = 1) const {
    if (x.cols() != dim_)
      throw error(errc::shape_mismatch, "vq::residual_quantizer::encode: rows of " + std::to_string(x.cols()) +
                                            " values, dim is " + std::to_string(dim_));
    detail::check_points(x, "vq::residual_quantizer::encode");
    detail::beams b = detail::start_beams(x, m());
    for (std::size_t s = 0; s < m(); ++s) b = detail::extend_beams(b, x.rows(), codebooks_[s], s, m(), beam_, threads);
    std::vector<std::uint8_t> codes(x.rows() * code_size(), 0);
    for (std::size_t i = 0; i < x.rows(); ++i)
      for (std::size_t s = 0; s < m(); ++s)
        detail::write_code(&codes[i * code_size()], s, nbits_, b.codes[i * b.width * m() + s]);
    return codes;
  }

  // The n vectors the codes stand for: each the sum of its m codewords. Errors: a byte
  // count other than n * code_size.
  [[nodiscard]] matrix decode(std::span<const std::uint8_t> codes, std::size_t n) const {
    check_codes(codes, n, "vq::residual_quantizer::decode");
    matrix out = matrix::Zero(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(dim_));
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t s = 0; s < m(); ++s)
        out.row(static_cast<Eigen::Index>(i)) +=
            codebooks_[s].row(static_cast<Eigen::Index>(detail::read_code(&codes[i * code_size()], s, nbits_)));
    return out;
  }

  // |decoded vector|^2 of each of n coded vectors: what the ADC search adds to a query's
  // table sums. Compute them once, after encode, and keep them with the codes.
  [[nodiscard]] std::vector<float> norms(std::span<const std::uint8_t> codes, std::size_t n) const {
    check_codes(codes, n, "vq::residual_quantizer::norms");
    std::vector<float> out(n);
    Eigen::RowVectorXf sum(static_cast<Eigen::Index>(dim_));
    for (std::size_t i = 0; i < n; ++i) {
      sum.setZero();
      for (std::size_t s = 0; s < m(); ++s)
        sum += codebooks_[s].row(static_cast<Eigen::Index>(detail::read_code(&codes[i * code_size()], s, nbits_)));
      out[i] = sum.squaredNorm();
    }
    return out;
  }

  // The ADC table of a query: entry (s, c) is -2 query . (codeword c of stage s), and stage
  // 0's entries also hold |query|^2, so that |query - decoded|^2 is the sum of a vector's m
  // entries plus its norm (|q - x|^2 = |q|^2 - 2 q.x + |x|^2, x the sum of its codewords).
  [[nodiscard]] matrix distance_table(std::span<const float> query) const {
    if (query.size() != dim_)
      throw error(errc::shape_mismatch, "vq::residual_quantizer::distance_table: a query of " +
                                            std::to_string(query.size()) + " values, dim is " + std::to_string(dim_));
    const Eigen::Map<const Eigen::VectorXf> q(query.data(), static_cast<Eigen::Index>(dim_));
    matrix table(static_cast<Eigen::Index>(m()), static_cast<Eigen::Index>(ksub()));
    for (std::size_t s = 0; s < m(); ++s) table.row(static_cast<Eigen::Index>(s)) = -2.0f * (codebooks_[s] * q).transpose();
    table.row(0).array() += q.squaredNorm();
    return table;
  }

  // Squared distances by ADC: out[i] = norms[i] + the sum over stages s of table(s, code s
  // of vector i). Errors: a table, norms or out of the wrong size (shape_mismatch).
  void adc(const matrix& table, std::span<const std::uint8_t> codes, std::size_t n, std::span<const float> norms,
           std::span<float> out) const {
    check_codes(codes, n, "vq::residual_quantizer::adc");
    check_norms(norms, n, "vq::residual_quantizer::adc");
    detail::table_sums(table, m(), nbits_, codes, n, out, "vq::residual_quantizer::adc");
    for (std::size_t i = 0; i < n; ++i) out[i] += norms[i];
  }

  // The k nearest of n coded vectors (with their norms()) for each query row, by ADC;
  // queries split over threads. Errors: query rows of another length or not finite, codes
  // or norms of the wrong size, k outside 1..n.
  [[nodiscard]] search_result search(matrix_view<const float> queries, std::span<const std::uint8_t> codes,
                                     std::span<const float> norms, std::size_t n, std::size_t k,
                                     unsigned threads = 1) const {
    if (queries.cols() != dim_)
      throw error(errc::shape_mismatch, "vq::residual_quantizer::search: rows of " + std::to_string(queries.cols()) +
                                            " values, dim is " + std::to_string(dim_));
    detail::check_points(queries, "vq::residual_quantizer::search");
    check_codes(codes, n, "vq::residual_quantizer::search");
    check_norms(norms, n, "vq::residual_quantizer::search");
    return detail::search_by(queries.rows(), n, k, threads, "vq::residual_quantizer::search",
                             [&](std::size_t q, std::span<float> d) {
                               adc(distance_table(std::span(&queries(q, 0), dim_)), codes, n, norms, d);
                             });
  }

 private:
  void check_codes(std::span<const std::uint8_t> codes, std::size_t n, const char* what) const {
    detail::check_code_bytes(codes.size(), n, code_size(), what);
  }
  static void check_norms(std::span<const float> norms, std::size_t n, const char* what) {
    if (norms.size() != n)
      throw error(errc::shape_mismatch,
                  std::string(what) + ": " + std::to_string(norms.size()) + " norms for " + std::to_string(n) + " vectors");
  }

  // The codebooks that minimise |x - B C|^2 for the given codes, all at once (the codebook
  // step of LSQ++, Martinez et al. 2018): B is the rows x (m 2^nbits) matrix of one-hot
  // codes, C the stacked codewords, solved from (B^T B + l I) C = B^T x + l C_old by a
  // Cholesky factorisation in double. The small l keeps a codeword no row uses as it was.
  void refit(matrix_view<const float> x, const std::vector<std::uint8_t>& codes) {
    const auto k = static_cast<Eigen::Index>(ksub()), total = static_cast<Eigen::Index>(m()) * k;
    constexpr double ridge = 1e-3;
    Eigen::MatrixXd gram = Eigen::MatrixXd::Identity(total, total) * ridge;
    Eigen::MatrixXd rhs(total, static_cast<Eigen::Index>(dim_));
    for (std::size_t s = 0; s < m(); ++s)
      rhs.middleRows(static_cast<Eigen::Index>(s) * k, k) = ridge * codebooks_[s].cast<double>();
    std::vector<Eigen::Index> at(m());
    for (std::size_t i = 0; i < x.rows(); ++i) {
      for (std::size_t s = 0; s < m(); ++s)
        at[s] = static_cast<Eigen::Index>(s) * k +
                static_cast<Eigen::Index>(detail::read_code(&codes[i * code_size()], s, nbits_));
      for (std::size_t s = 0; s < m(); ++s) {
        for (std::size_t t = 0; t < m(); ++t) gram(at[s], at[t]) += 1;
        for (std::size_t c = 0; c < dim_; ++c) rhs(at[s], static_cast<Eigen::Index>(c)) += x(i, c);
      }
    }
    const Eigen::MatrixXd fitted = gram.llt().solve(rhs);
    for (std::size_t s = 0; s < m(); ++s)
      codebooks_[s] = fitted.middleRows(static_cast<Eigen::Index>(s) * k, k).cast<float>();
  }

  std::size_t dim_;
  int nbits_;
  std::size_t beam_;
  std::vector<matrix> codebooks_;
};

}  // namespace qtl::vq
