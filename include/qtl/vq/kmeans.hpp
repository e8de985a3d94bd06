// qtl::vq::kmeans: k-means clustering of row vectors (k-means++ or random start, Lloyd
// iterations, an empty cluster split off the largest), threaded, with the nearest centroids
// found by simd_nearest.hpp's fused kernel. The first stage of vector quantization:
// product_quantizer.hpp trains one per sub-space.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "qtl/core/eigen_view.hpp"
#include "qtl/core/error.hpp"
#include "qtl/core/view.hpp"
#include "qtl/kernel/parallel_for.hpp"
#include "qtl/vq/simd_nearest.hpp"

namespace qtl::vq {

using matrix = eigen_rows<float>;

// A matrix's rows as the matrix_view the functions here take.
inline matrix_view<const float> view(const matrix& m) noexcept {
  return {m.data(), static_cast<std::size_t>(m.rows()), static_cast<std::size_t>(m.cols())};
}

// How k-means picks its first centroids: greedy k-means++ (kmeans_plus_plus; the better
// start, one pass over the rows per centroid) or k distinct rows drawn uniformly
// (random_rows; faiss's start, nearly free, usually a few more iterations to the same error).
enum class kmeans_init { plus_plus, random_rows };

struct kmeans_options {
  kmeans_init init = kmeans_init::plus_plus;
  int iterations = 25;
  std::uint64_t seed = 1234;
  unsigned threads = 1;  // 0: every hardware thread
  // Train on a random sample of at most k times this many rows (faiss's default); 0: all rows.
  std::size_t max_points_per_centroid = 256;
};

struct kmeans_result {
  matrix centroids;         // k x dim
  std::vector<double> mse;  // mean squared distance to the nearest centroid: at the start, then after each iteration
  std::size_t splits = 0;   // empty clusters refilled by splitting a large one
};

// Each row's nearest centroid (squared L2, the lower index on a tie) and that distance.
struct assignment {
  std::vector<std::uint32_t> labels;
  std::vector<float> distances;
};

namespace detail {

inline unsigned thread_count(unsigned threads) { return threads == 0 ? kernel::hardware_threads() : threads; }

inline void check_finite(matrix_view<const float> x, const char* what) {
  for (std::size_t r = 0; r < x.rows(); ++r) {
    if (all_finite(&x(r, 0), x.cols())) continue;
    for (std::size_t c = 0; c < x.cols(); ++c)  // the column, for the message
      if (!std::isfinite(x(r, c)))
        throw error(errc::non_finite, std::string(what) + ": value (" + std::to_string(r) + ", " + std::to_string(c) +
                                          ") is not finite");
  }
}

inline void check_points(matrix_view<const float> x, const char* what) {
  if (x.rows() == 0 || x.cols() == 0)
    throw error(errc::invalid_argument, std::string(what) + ": no data (" + std::to_string(x.rows()) + "x" +
                                            std::to_string(x.cols()) + ")");
  check_finite(x, what);
}

// The project's own uniform draws, so a seed gives the same clustering with any standard library.
inline double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }
inline std::size_t uniform_index(std::mt19937_64& rng, std::size_t n) { return static_cast<std::size_t>(rng() % n); }

// How many rows k-means trains on: all, or k * max_points_per_centroid.
inline std::size_t sample_limit(std::size_t rows, std::size_t k, const kmeans_options& opt) noexcept {
  return opt.max_points_per_centroid == 0 ? rows : std::min(rows, k * opt.max_points_per_centroid);
}

// `count` of the indices 0..n-1 drawn without replacement (a partial Fisher-Yates shuffle),
// in the order drawn.
inline std::vector<std::size_t> draw_indices(std::size_t n, std::size_t count, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  for (std::size_t i = 0; i < count; ++i) std::swap(order[i], order[i + uniform_index(rng, n - i)]);
  order.resize(count);
  return order;
}

inline matrix gather_rows(matrix_view<const float> x, const std::vector<std::size_t>& which) {
  matrix out(static_cast<Eigen::Index>(which.size()), static_cast<Eigen::Index>(x.cols()));
  const auto rows = as_eigen(x);
  for (std::size_t i = 0; i < which.size(); ++i) out.row(static_cast<Eigen::Index>(i)) = rows.row(static_cast<Eigen::Index>(which[i]));
  return out;
}

// `limit` rows drawn without replacement, kept in order.
inline matrix sample_rows(matrix_view<const float> x, std::size_t limit, std::uint64_t seed) {
  std::vector<std::size_t> order = draw_indices(x.rows(), limit, seed + 1);
  std::sort(order.begin(), order.end());
  return gather_rows(x, order);
}

}  // namespace detail

// Centroids laid out once for the nearest-centroid search, to serve many calls (PQ's encode
// keeps one per codebook): |x - c|^2 = |x|^2 - 2 x.c + |c|^2 (clamped at 0 against
// rounding), by simd_nearest.hpp's fused kernel, which reads the centroids in panels.
class prepared_centroids {
 public:
  // Errors: no centroids (shape_mismatch).
  explicit prepared_centroids(matrix centroids) : centroids_(checked(std::move(centroids))), panels_(centroids_) {}

  [[nodiscard]] std::size_t dim() const noexcept { return static_cast<std::size_t>(centroids_.cols()); }
  [[nodiscard]] const matrix& centroids() const noexcept { return centroids_; }

  // Each row's nearest centroid and that distance, the rows split over threads in blocks
  // (the labels do not depend on the thread count). Errors: rows of another dimension
  // (shape_mismatch), non-finite rows (non_finite).
  [[nodiscard]] assignment nearest(matrix_view<const float> x, unsigned threads = 1) const {
    if (x.cols() != dim())
      throw error(errc::shape_mismatch, "vq::nearest: " + std::to_string(centroids_.rows()) +
                                            " centroids of dimension " + std::to_string(dim()) + " for rows of " +
                                            std::to_string(x.cols()));
    detail::check_finite(x, "vq::nearest");
    return assign(x, threads);
  }

  // nearest without the checks, for rows of dim() finite values (Lloyd's iterations check
  // their rows once, not on every pass).
  [[nodiscard]] assignment assign(matrix_view<const float> x, unsigned threads) const {
    assignment a{std::vector<std::uint32_t>(x.rows()), std::vector<float>(x.rows())};
    constexpr std::size_t block = 256;  // rows a task
    kernel::parallel_for((x.rows() + block - 1) / block, detail::thread_count(threads),
                         [&](std::size_t first, std::size_t last) {
                           assign(x, first * block, std::min(last * block, x.rows()), a.labels.data(),
                                  a.distances.data());
                         });
    return a;
  }

  // nearest for rows [first, last) of x, unchecked (rows of dim() finite values): labels[i]
  // and distances[i] for each i in the range.
  void assign(matrix_view<const float> x, std::size_t first, std::size_t last, std::uint32_t* labels,
              float* distances) const {
    detail::nearest_rows(x, panels_, first, last, labels, distances);
  }

 private:
  static matrix checked(matrix c) {
    if (c.rows() == 0 || c.cols() == 0)
      throw error(errc::shape_mismatch, "vq::prepared_centroids: " + std::to_string(c.rows()) +
                                            " centroids of dimension " + std::to_string(c.cols()));
    return c;
  }

  matrix centroids_;
  detail::centroid_panels panels_;
};

// Each row's nearest centroid (squared L2, the lower index on a tie) and that distance:
// prepared_centroids(centroids).nearest(x, threads). Errors: centroids of another
// dimension or none (shape_mismatch), non-finite rows (non_finite).
inline assignment nearest(matrix_view<const float> x, const matrix& centroids, unsigned threads = 1) {
  if (static_cast<std::size_t>(centroids.cols()) != x.cols() || centroids.rows() == 0)
    throw error(errc::shape_mismatch, "vq::nearest: " + std::to_string(centroids.rows()) + " centroids of dimension " +
                                          std::to_string(centroids.cols()) + " for rows of " +
                                          std::to_string(x.cols()));
  return prepared_centroids(centroids).nearest(x, threads);
}

// Greedy k-means++ (Arthur and Vassilvitskii 2007; the greedy form scikit-learn uses): the
// first centre a uniform row; then, each time, 2 + floor(ln k) candidate rows drawn with
// probability proportional to their squared distance to the nearest centre so far, and the
// candidate that lowers the summed distance most is kept. The distances to the candidates
// are one matrix product per thread. Deterministic for a seed and thread count.
inline matrix kmeans_plus_plus(matrix_view<const float> x, std::size_t k, std::uint64_t seed = 1234,
                               unsigned threads = 1) {
  detail::check_points(x, "vq::kmeans_plus_plus");
  if (k < 1 || k > x.rows())
    throw error(errc::invalid_argument, "vq::kmeans_plus_plus: k = " + std::to_string(k) + " for " +
                                            std::to_string(x.rows()) + " points (need 1..points)");
  const auto rows = as_eigen(x);
  const std::size_t n = x.rows();
  const auto trials = static_cast<Eigen::Index>(2 + std::floor(std::log(static_cast<double>(k))));
  const unsigned parts = static_cast<unsigned>(std::min<std::size_t>(detail::thread_count(threads), n));
  const Eigen::VectorXf x_norms = rows.rowwise().squaredNorm();
  std::mt19937_64 rng(seed);
  matrix centres(static_cast<Eigen::Index>(k), rows.cols());
  Eigen::VectorXf d2 = Eigen::VectorXf::Constant(static_cast<Eigen::Index>(n), std::numeric_limits<float>::infinity());
  // Each row's distance to each candidate, capped by d2 (column-major: a column is kept whole).
  Eigen::MatrixXf candidate_d2(static_cast<Eigen::Index>(n), trials);

  // Rows' distances to the candidates (capped by d2); returns each candidate's summed distance.
  const auto try_candidates = [&](const std::vector<std::size_t>& picks) {
    const auto L = static_cast<Eigen::Index>(picks.size());
    matrix c(L, rows.cols());
    for (Eigen::Index l = 0; l < L; ++l) c.row(l) = rows.row(static_cast<Eigen::Index>(picks[static_cast<std::size_t>(l)]));
    const Eigen::RowVectorXf c_norms = c.rowwise().squaredNorm().transpose();
    std::vector<Eigen::RowVectorXd> sums(parts, Eigen::RowVectorXd::Zero(L));
    kernel::parallel_for(parts, parts, [&](std::size_t first, std::size_t last) {
      for (std::size_t p = first; p < last; ++p) {
        const auto r = static_cast<Eigen::Index>(n * p / parts), b = static_cast<Eigen::Index>(n * (p + 1) / parts) - r;
        if (x.cols() >= detail::few_dots_min_row)
          detail::few_dots(x, view(c), static_cast<std::size_t>(r), static_cast<std::size_t>(r + b),
                           &candidate_d2(r, 0), n);
        else
          candidate_d2.block(r, 0, b, L).noalias() = rows.middleRows(r, b) * c.transpose();
        for (Eigen::Index l = 0; l < L; ++l) {  // one contiguous column at a time, in SIMD
          float* d = &candidate_d2(r, l);
          const float* xn = &x_norms[r];
          const float* cap = &d2[r];
          for (Eigen::Index i = 0; i < b; ++i) d[i] = std::min(std::max(0.0f, xn[i] - 2 * d[i] + c_norms[l]), cap[i]);
          sums[p][l] = double(candidate_d2.col(l).segment(r, b).sum());
        }
      }
    });
    for (unsigned p = 1; p < parts; ++p) sums[0] += sums[p];
    return sums[0];
  };
  const auto keep = [&](std::size_t c, std::size_t pick, Eigen::Index l) {
    centres.row(static_cast<Eigen::Index>(c)) = rows.row(static_cast<Eigen::Index>(pick));
    d2 = candidate_d2.col(l);
  };

  const std::size_t first = detail::uniform_index(rng, n);
  try_candidates({first});
  keep(0, first, 0);
  std::vector<std::size_t> picks(static_cast<std::size_t>(trials));
  std::vector<double> running(n);  // running[i]: the distances of rows 0..i summed
  for (std::size_t c = 1; c < k; ++c) {
    double total = 0;
    for (std::size_t i = 0; i < n; ++i) running[i] = total += d2[static_cast<Eigen::Index>(i)];
    for (auto& pick : picks) {
      if (!(total > 0)) {  // every row sits on a centre: any row will do
        pick = detail::uniform_index(rng, n);
        continue;
      }
      const double target = detail::uniform01(rng) * total;  // the first row whose running sum passes it
      pick = std::min<std::size_t>(
          static_cast<std::size_t>(std::upper_bound(running.begin(), running.end(), target) - running.begin()), n - 1);
      while (d2[static_cast<Eigen::Index>(pick)] == 0) --pick;  // only the last rows can: they sit on centres
    }
    const Eigen::VectorXd potential = try_candidates(picks);
    Eigen::Index best = 0;
    potential.minCoeff(&best);
    keep(c, picks[static_cast<std::size_t>(best)], best);
  }
  return centres;
}

// Lloyd's iterations from the given centres: assign every row to its nearest centre, move
// each centre to its rows' mean (summed in double, per thread, in a fixed order). A centre
// left without rows takes half of a large cluster: a copy of that cluster's centre with
// both moved apart by a relative 1/1024 (as faiss does), the cluster drawn with probability
// proportional to its size minus one. Deterministic for a seed and thread count.
inline kmeans_result lloyd(matrix_view<const float> x, matrix centres, const kmeans_options& opt = {}) {
  detail::check_points(x, "vq::lloyd");
  if (static_cast<std::size_t>(centres.cols()) != x.cols() || centres.rows() < 1 ||
      static_cast<std::size_t>(centres.rows()) > x.rows())
    throw error(errc::shape_mismatch, "vq::lloyd: " + std::to_string(centres.rows()) + " centres of dimension " +
                                          std::to_string(centres.cols()) + " for " + std::to_string(x.rows()) +
                                          " rows of " + std::to_string(x.cols()));
  if (opt.iterations < 0) throw error(errc::invalid_argument, "vq::lloyd: a negative iteration count");
  if (!centres.allFinite()) throw error(errc::non_finite, "vq::lloyd: a starting centre is not finite");
  const auto rows = as_eigen(x);
  const auto k = static_cast<std::size_t>(centres.rows());
  const unsigned threads = detail::thread_count(opt.threads);
  std::mt19937_64 rng(opt.seed ^ 0x9e3779b97f4a7c15ULL);
  kmeans_result r;
  for (int it = 0;; ++it) {
    const assignment a = prepared_centroids(centres).assign(x, threads);  // x checked above
    double total = 0;
    for (const float d : a.distances) total += d;
    r.mse.push_back(total / static_cast<double>(x.rows()));
    if (it == opt.iterations) break;

    // Per-thread sums over fixed row ranges, added in range order.
    const std::size_t parts = std::min<std::size_t>(threads, x.rows());
    std::vector<eigen_rows<double>> sums(parts, eigen_rows<double>::Zero(static_cast<Eigen::Index>(k), rows.cols()));
    std::vector<std::vector<std::size_t>> counts(parts, std::vector<std::size_t>(k, 0));
    kernel::parallel_for(parts, static_cast<unsigned>(parts), [&](std::size_t first, std::size_t last) {
      for (std::size_t p = first; p < last; ++p)
        for (std::size_t i = x.rows() * p / parts; i < x.rows() * (p + 1) / parts; ++i) {
          sums[p].row(a.labels[i]) += rows.row(static_cast<Eigen::Index>(i)).cast<double>();
          ++counts[p][a.labels[i]];
        }
    });
    std::vector<std::size_t> count(k, 0);
    for (std::size_t p = 1; p < parts; ++p) sums[0] += sums[p];
    for (std::size_t p = 0; p < parts; ++p)
      for (std::size_t j = 0; j < k; ++j) count[j] += counts[p][j];
    for (std::size_t j = 0; j < k; ++j)
      if (count[j] > 0)
        centres.row(static_cast<Eigen::Index>(j)) =
            (sums[0].row(static_cast<Eigen::Index>(j)) / static_cast<double>(count[j])).cast<float>();
    for (std::size_t j = 0; j < k; ++j) {
      if (count[j] > 0) continue;
      std::size_t spare = 0;
      for (const std::size_t c : count) spare += c > 1 ? c - 1 : 0;
      double target = detail::uniform01(rng) * static_cast<double>(spare);
      std::size_t m = 0;
      for (; m + 1 < k; ++m)
        if (count[m] > 1 && (target -= static_cast<double>(count[m] - 1)) < 0) break;
      while (count[m] <= 1) --m;
      constexpr float eps = 1.0f / 1024;
      for (Eigen::Index d = 0; d < centres.cols(); ++d) {
        const float sign = d % 2 == 0 ? 1.0f : -1.0f, c = centres(static_cast<Eigen::Index>(m), d);
        centres(static_cast<Eigen::Index>(j), d) = c * (1 + sign * eps);
        centres(static_cast<Eigen::Index>(m), d) = c * (1 - sign * eps);
      }
      count[j] = count[m] / 2;
      count[m] -= count[j];
      ++r.splits;
    }
  }
  r.centroids = std::move(centres);
  return r;
}

// k distinct rows of x drawn uniformly, in the order drawn: the random start (faiss's).
// Deterministic for a seed. Errors as kmeans_plus_plus.
inline matrix random_rows(matrix_view<const float> x, std::size_t k, std::uint64_t seed = 1234) {
  detail::check_points(x, "vq::random_rows");
  if (k < 1 || k > x.rows())
    throw error(errc::invalid_argument, "vq::random_rows: k = " + std::to_string(k) + " for " +
                                            std::to_string(x.rows()) + " points (need 1..points)");
  return detail::gather_rows(x, detail::draw_indices(x.rows(), k, seed));
}

// k centroids of the rows of x: a sample of at most k * max_points_per_centroid rows, the
// start opt.init names on it, then opt.iterations Lloyd iterations. Errors: no rows,
// non-finite values (non_finite), k outside 1..rows (invalid_argument).
inline kmeans_result kmeans(matrix_view<const float> x, std::size_t k, const kmeans_options& opt = {}) {
  detail::check_points(x, "vq::kmeans");
  if (k < 1 || k > x.rows())
    throw error(errc::invalid_argument, "vq::kmeans: k = " + std::to_string(k) + " for " + std::to_string(x.rows()) +
                                            " points (need 1..points)");
  const auto train = [&](matrix_view<const float> points) {
    return lloyd(points, opt.init == kmeans_init::random_rows ? random_rows(points, k, opt.seed)
                                                              : kmeans_plus_plus(points, k, opt.seed, opt.threads),
                 opt);
  };
  if (x.rows() <= detail::sample_limit(x.rows(), k, opt)) return train(x);
  const matrix sample = detail::sample_rows(x, detail::sample_limit(x.rows(), k, opt), opt.seed);
  return train(view(sample));
}

}  // namespace qtl::vq
