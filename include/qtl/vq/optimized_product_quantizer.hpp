// qtl::vq::optimized_product_quantizer: OPQ (Ge, He, Ke and Sun 2013, the non-parametric
// form). An orthogonal rotation R is learned together with a product quantizer, so that the
// rotated rows x R split into sub-vectors that PQ codes with less error. Training
// alternates: the PQ on x R (Lloyd iterations from the codebooks before), then R from the
// orthogonal Procrustes problem min |x R - y| over the decoded rows y: R = U V^T from the
// SVD x^T y = U S V^T. Each step lowers the error for the other's fixed result.
#pragma once

#include <Eigen/QR>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/core/svd.hpp"
#include "qtl/core/view.hpp"
#include "qtl/kernel/parallel_for.hpp"
#include "qtl/vq/kmeans.hpp"
#include "qtl/vq/product_quantizer.hpp"

namespace qtl::vq {

struct opq_options {
  int iterations = 50;           // alternations of PQ and rotation (faiss's default)
  int first_pq_iterations = 40;  // Lloyd iterations of the first PQ
  int pq_iterations = 4;         // Lloyd iterations of each later PQ, from the codebooks before
  kmeans_options kmeans;         // seed (also of the starting rotation), threads, sampling of the first PQ
};

class optimized_product_quantizer {
 public:
  // From a stored rotation (dim x dim, orthogonal) and the PQ of the rotated rows. Errors:
  // shapes that disagree (shape_mismatch), a non-finite rotation (non_finite), one that is
  // not orthogonal to 1e-3 (invalid_argument).
  optimized_product_quantizer(matrix rotation, product_quantizer pq) : rotation_(std::move(rotation)), pq_(std::move(pq)) {
    const auto d = static_cast<Eigen::Index>(pq_.dim());
    if (rotation_.rows() != d || rotation_.cols() != d)
      throw error(errc::shape_mismatch, "vq::optimized_product_quantizer: a " + std::to_string(rotation_.rows()) + "x" +
                                            std::to_string(rotation_.cols()) + " rotation for dimension " +
                                            std::to_string(d));
    if (!rotation_.allFinite())
      throw error(errc::non_finite, "vq::optimized_product_quantizer: the rotation is not finite");
    const double off = (rotation_.cast<double>().transpose() * rotation_.cast<double>() -
                        Eigen::MatrixXd::Identity(d, d)).cwiseAbs().maxCoeff();
    if (off > 1e-3)
      throw error(errc::invalid_argument, "vq::optimized_product_quantizer: the rotation is not orthogonal (|R^T R - I| = " +
                                              std::to_string(off) + ")");
  }

  // Trained on the rows of x from a random rotation (seeded by opt.kmeans.seed). The same
  // result for a seed and thread count. Errors: those of product_quantizer::train, and a
  // negative iteration count (invalid_argument).
  static optimized_product_quantizer train(matrix_view<const float> x, std::size_t m, int nbits = 8,
                                           const opq_options& opt = {}) {
    detail::check_points(x, "vq::optimized_product_quantizer::train");
    if (opt.iterations < 0 || opt.first_pq_iterations < 0 || opt.pq_iterations < 0)
      throw error(errc::invalid_argument, "vq::optimized_product_quantizer::train: a negative iteration count");
    const auto d = static_cast<Eigen::Index>(x.cols());
    const auto rows = as_eigen(x);
    matrix r = random_rotation(d, opt.kmeans.seed);
    matrix rotated = rows * r;
    kmeans_options first = opt.kmeans;
    first.iterations = opt.first_pq_iterations;
    product_quantizer pq = product_quantizer::train(view(rotated), m, nbits, first);
    for (int it = 0; it < opt.iterations; ++it) {
      if (it > 0) {
        rotated.noalias() = rows * r;
        pq = refine(pq, rotated, opt);
      }
      // Procrustes: the orthogonal R nearest to mapping the rows onto their decoded selves.
      const matrix decoded = pq.decode(pq.encode(view(rotated), detail::thread_count(opt.kmeans.threads)), x.rows());
      const Eigen::MatrixXd cross = (rows.transpose() * decoded).cast<double>();
      const svd_type svd = thin_svd(cross);
      r = (svd.matrixU() * svd.matrixV().transpose()).cast<float>();
    }
    if (opt.iterations > 0) {  // the PQ that goes with the last rotation
      rotated.noalias() = rows * r;
      pq = refine(pq, rotated, opt);
    }
    return optimized_product_quantizer(std::move(r), std::move(pq));
  }

  [[nodiscard]] std::size_t dim() const noexcept { return pq_.dim(); }
  [[nodiscard]] std::size_t m() const noexcept { return pq_.m(); }
  [[nodiscard]] int nbits() const noexcept { return pq_.nbits(); }
  [[nodiscard]] std::size_t code_size() const noexcept { return pq_.code_size(); }
  [[nodiscard]] const matrix& rotation() const noexcept { return rotation_; }
  [[nodiscard]] const product_quantizer& pq() const noexcept { return pq_; }

  // The rows turned by the rotation: x R. Errors: a row length other than dim
  // (shape_mismatch), a non-finite value (non_finite).
  [[nodiscard]] matrix rotate(matrix_view<const float> x) const {
    if (x.cols() != dim())
      throw error(errc::shape_mismatch, "vq::optimized_product_quantizer: rows of " + std::to_string(x.cols()) +
                                            " values, dim is " + std::to_string(dim()));
    detail::check_finite(x, "vq::optimized_product_quantizer");
    return as_eigen(x) * rotation_;
  }

  // The PQ codes of the rotated rows; errors as rotate's.
  [[nodiscard]] std::vector<std::uint8_t> encode(matrix_view<const float> x, unsigned threads = 1) const {
    return pq_.encode(view(rotate(x)), threads);
  }
  // The vectors the codes stand for, turned back: decoded R^T.
  [[nodiscard]] matrix decode(std::span<const std::uint8_t> codes, std::size_t n) const {
    return pq_.decode(codes, n) * rotation_.transpose();
  }
  // The ADC table of a query (rotated first: a rotation keeps distances).
  [[nodiscard]] matrix distance_table(std::span<const float> query) const {
    const matrix q = rotate(matrix_view<const float>(query));
    return pq_.distance_table(std::span(q.data(), static_cast<std::size_t>(q.size())));
  }
  void adc(const matrix& table, std::span<const std::uint8_t> codes, std::size_t n, std::span<float> out) const {
    pq_.adc(table, codes, n, out);
  }
  [[nodiscard]] search_result search(matrix_view<const float> queries, std::span<const std::uint8_t> codes,
                                     std::size_t n, std::size_t k, unsigned threads = 1) const {
    return pq_.search(view(rotate(queries)), codes, n, k, threads);
  }

 private:
  // A uniformly random orthogonal matrix: Q of the QR of a Gaussian matrix, its columns'
  // signs fixed by R's diagonal (Mezzadri 2007). Normals by Box-Muller over qtl's uniforms.
  static matrix random_rotation(Eigen::Index d, std::uint64_t seed) {
    std::mt19937_64 rng(seed ^ 0x5851f42d4c957f2dULL);
    Eigen::MatrixXd g(d, d);
    for (Eigen::Index i = 0; i < g.size(); ++i) {
      const double u = 1.0 - detail::uniform01(rng), v = detail::uniform01(rng);
      g.data()[i] = std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * v);
    }
    const Eigen::HouseholderQR<Eigen::MatrixXd> qr(g);
    Eigen::MatrixXd q = qr.householderQ();
    for (Eigen::Index j = 0; j < d; ++j)
      if (qr.matrixQR()(j, j) < 0) q.col(j) = -q.col(j);
    return q.cast<float>();
  }

  // Lloyd iterations on each rotated sub-space from the PQ's codebooks, side by side.
  static product_quantizer refine(const product_quantizer& pq, const matrix& rotated, const opq_options& opt) {
    std::vector<matrix> books(pq.m());
    kmeans_options one = opt.kmeans;
    one.threads = 1;
    one.iterations = opt.pq_iterations;
    kernel::parallel_for(pq.m(), detail::thread_count(opt.kmeans.threads), [&](std::size_t first, std::size_t last) {
      for (std::size_t j = first; j < last; ++j) {
        kmeans_options o = one;
        o.seed = opt.kmeans.seed + j;
        books[j] = lloyd(detail::sub_space(view(rotated), j, pq.sub_dim()), pq.codebook(j), o).centroids;
      }
    });
    return product_quantizer(pq.dim(), pq.m(), pq.nbits(), std::move(books));
  }

  matrix rotation_;
  product_quantizer pq_;
};

}  // namespace qtl::vq
