// qtl::vq::progressive_kmeans: k-means on progressively more principal components (the
// progressive-dimension clustering faiss trains residual quantizers with). Clustering the
// directions of most variance first gives centroids that hold up better on rows they were
// not trained on, when the rows are few for their dimension.
#pragma once

#include <Eigen/Eigenvalues>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>

#include "qtl/core/error.hpp"
#include "qtl/core/view.hpp"
#include "qtl/vq/kmeans.hpp"

namespace qtl::vq {

// How many principal components step s of `steps` clusters: linear, d * s / steps, or
// geometric, d^(s / steps) (faiss's schedule: the early steps, on few components, cost
// little, and the full width is reached once; less work, a little higher error).
enum class progressive_schedule { linear, geometric };

namespace detail {

inline std::size_t leading_dims(std::size_t d, std::size_t s, std::size_t steps, progressive_schedule schedule) {
  if (s >= steps) return d;
  if (schedule == progressive_schedule::linear) return std::max<std::size_t>(d * s / steps, 1);
  const double share = static_cast<double>(s) / static_cast<double>(steps);
  const auto dims = static_cast<std::size_t>(std::pow(static_cast<double>(d), share));
  return std::clamp<std::size_t>(dims, 1, d);
}

}  // namespace detail

// k centroids of the rows of x. The rows (a sample of k * max_points_per_centroid, as
// kmeans draws) are centred and turned to their principal axes (the covariance's
// eigenvectors, in double). kmeans runs on the leading components the schedule gives for
// step 1; then opt.iterations Lloyd iterations on those of step 2, and so on to all d, each
// from the centroids before with zeros (the mean) in the new components. The centroids are
// turned back and the mean added. steps = 1 is kmeans in principal axes. Errors: those of
// kmeans, and steps outside 1..dimension (invalid_argument).
inline matrix progressive_kmeans(matrix_view<const float> x, std::size_t k, std::size_t steps,
                                 const kmeans_options& opt = {},
                                 progressive_schedule schedule = progressive_schedule::linear) {
  detail::check_points(x, "vq::progressive_kmeans");
  if (k < 1 || k > x.rows())
    throw error(errc::invalid_argument, "vq::progressive_kmeans: k = " + std::to_string(k) + " for " +
                                            std::to_string(x.rows()) + " points (need 1..points)");
  if (steps < 1 || steps > x.cols())
    throw error(errc::invalid_argument, "vq::progressive_kmeans: " + std::to_string(steps) + " steps for dimension " +
                                            std::to_string(x.cols()));
  const std::size_t limit = detail::sample_limit(x.rows(), k, opt);
  const matrix rows = limit < x.rows() ? detail::sample_rows(x, limit, opt.seed) : matrix(as_eigen(x));
  const Eigen::RowVectorXf mean = rows.colwise().mean();
  const matrix centred = rows.rowwise() - mean;
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eigen((centred.transpose() * centred).cast<double>());
  const matrix axes = eigen.eigenvectors().rowwise().reverse().cast<float>();  // the largest variance first
  const matrix turned = centred * axes;
  const auto d = static_cast<std::size_t>(turned.cols());
  kmeans_options o = opt;
  o.max_points_per_centroid = 0;  // sampled above
  matrix centroids;
  for (std::size_t s = 1; s <= steps; ++s) {
    const std::size_t dims = detail::leading_dims(d, s, steps, schedule);
    const matrix_view<const float> leading(turned.data(), limit, dims, d);
    if (s == 1) {
      centroids = kmeans(leading, k, o).centroids;
    } else {
      matrix start = matrix::Zero(static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(dims));
      start.leftCols(centroids.cols()) = centroids;
      centroids = lloyd(leading, std::move(start), o).centroids;
    }
  }
  return (centroids * axes.transpose()).rowwise() + mean;
}

}  // namespace qtl::vq
