// qtl::vq::detail SIMD steps of nearest-centroid search: argmin over a row of scores, and
// a fused kernel for short rows (PQ's sub-vectors of up to 16 values), where a matrix
// product spends more time packing its operands and writing scores than multiplying.
// The fused kernel keeps the centroids transposed in cache, computes each row's scores
// |c|^2 - 2 x.c a batch of centroids at a time and keeps a running minimum per lane:
// no score matrix is written. And few_dots, k-means++'s scores of every row against a few
// candidates.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "qtl/core/eigen_view.hpp"
#include "qtl/core/view.hpp"

namespace qtl::vq::detail {

using floats = xsimd::batch<float>;
using lanes = xsimd::batch<std::int32_t>;
inline constexpr std::size_t batch_width = floats::size;

inline lanes lane_indices() noexcept {
  alignas(64) std::array<std::int32_t, batch_width> at{};
  for (std::size_t l = 0; l < batch_width; ++l) at[l] = static_cast<std::int32_t>(l);
  return lanes::load_aligned(at.data());
}

// Each lane's running minimum and its index: a smaller value replaces them, an equal one
// does not, so each lane keeps its first minimum.
inline void keep_smaller(floats value, lanes at, floats& low, lanes& index) noexcept {
  const auto less = value < low;
  low = xsimd::select(less, value, low);
  index = xsimd::select(xsimd::batch_bool_cast<std::int32_t>(less), at, index);
}

// The smallest of the lanes' minima and its index, the lower index on a tie.
inline std::pair<std::size_t, float> lanes_min(floats low, lanes index) noexcept {
  alignas(64) std::array<float, batch_width> values{};
  alignas(64) std::array<std::int32_t, batch_width> at{};
  low.store_aligned(values.data());
  index.store_aligned(at.data());
  std::size_t best = static_cast<std::size_t>(at[0]);
  float best_value = values[0];
  for (std::size_t l = 1; l < batch_width; ++l)
    if (values[l] < best_value || (values[l] == best_value && static_cast<std::size_t>(at[l]) < best))
      best = static_cast<std::size_t>(at[l]), best_value = values[l];
  return {best, best_value};
}

// Index of the smallest of n floats, the first on a tie.
inline std::size_t argmin(const float* v, std::size_t n) noexcept {
  std::size_t best = 0, i = 0;
  float best_value = std::numeric_limits<float>::infinity();
  if (n >= batch_width) {
    lanes at = lane_indices(), index = at;
    floats low = floats::load_unaligned(v);
    for (i = batch_width; i + batch_width <= n; i += batch_width) {
      at += lanes(static_cast<std::int32_t>(batch_width));
      keep_smaller(floats::load_unaligned(v + i), at, low, index);
    }
    std::tie(best, best_value) = lanes_min(low, index);
  }
  for (; i < n; ++i)
    if (v[i] < best_value) best = i, best_value = v[i];
  return best;
}

// dots[l * stride + i - first] = <x row i, c row l> for rows [first, last) of x and the
// few (up to 8 a pass) rows of c: one pass over x for each 8 of c, which stay in cache. For
// k-means++ on long rows, whose every step scores all rows against a few candidates: a
// matrix product packs (copies) all of x on each step, and that took half of k-means' time.
inline void few_dots(matrix_view<const float> x, matrix_view<const float> c, std::size_t first, std::size_t last,
                     float* dots, std::size_t stride) noexcept {
  constexpr std::size_t most = 8;
  const std::size_t d = x.cols(), body = d - d % batch_width;
  for (std::size_t l0 = 0; l0 < c.rows(); l0 += most) {
    const std::size_t m = std::min(most, c.rows() - l0);
    for (std::size_t i = first; i < last; ++i) {
      const float* row = x.row(i).data();
      std::array<floats, most> sum;
      sum.fill(floats(0.0f));
      for (std::size_t j = 0; j < body; j += batch_width) {
        const floats v = floats::load_unaligned(row + j);
        for (std::size_t l = 0; l < m; ++l) sum[l] = xsimd::fma(v, floats::load_unaligned(c.row(l0 + l).data() + j), sum[l]);
      }
      for (std::size_t l = 0; l < m; ++l) {
        const float* cl = c.row(l0 + l).data();
        float total = xsimd::reduce_add(sum[l]);
        for (std::size_t j = body; j < d; ++j) total += row[j] * cl[j];
        dots[(l0 + l) * stride + (i - first)] = total;
      }
    }
  }
}

// Rows of at least this many values take few_dots in k-means++ (measured with AVX2, PQ and
// k-means on 384-value rows: 1.5x faster than Eigen's product at 384 values, equal at 192,
// 1.1x to 1.8x slower from 96 down to 8, where its sum across lanes per row and candidate
// costs more than the product's packing).
inline constexpr std::size_t few_dots_min_row = 256;

// Rows of at most this many values take the fused kernel (measured faster than Eigen's
// product on AVX-512 for 4 to 16 values, slower from about 32).
inline constexpr std::size_t short_row_limit = 16;

// Centroids laid out for short_nearest: value j of centroid c at columns[j * padded + c],
// with the centroid count padded to whole batches by centroids of norm +inf, never chosen.
struct short_centroids {
  std::size_t dim, padded;
  std::vector<float, xsimd::aligned_allocator<float>> columns, norms;

  template <class Centroids>
  explicit short_centroids(const Centroids& c)
      : dim(static_cast<std::size_t>(c.cols())),
        padded((static_cast<std::size_t>(c.rows()) + batch_width - 1) / batch_width * batch_width),
        columns(dim * padded, 0.0f),
        norms(padded, std::numeric_limits<float>::infinity()) {
    for (Eigen::Index i = 0; i < c.rows(); ++i) {
      norms[static_cast<std::size_t>(i)] = c.row(i).squaredNorm();
      for (std::size_t j = 0; j < dim; ++j) columns[j * padded + static_cast<std::size_t>(i)] = c(i, static_cast<Eigen::Index>(j));
    }
  }
};

// R rows at once (so each batch of centroid values loaded serves R rows): scaled holds the
// rows times -2, R x dim. label[r] and score[r] get row r's nearest centroid and its
// |c|^2 - 2 x.c.
template <std::size_t R>
void short_nearest_rows(const float* scaled, const short_centroids& c, std::uint32_t* label, float* score) noexcept {
  std::array<floats, R> low;
  std::array<lanes, R> index;
  low.fill(floats(std::numeric_limits<float>::infinity()));
  index.fill(lanes(0));
  lanes at = lane_indices();
  for (std::size_t b = 0; b < c.padded; b += batch_width, at += lanes(static_cast<std::int32_t>(batch_width))) {
    std::array<floats, R> acc;
    acc.fill(floats::load_aligned(&c.norms[b]));
    for (std::size_t j = 0; j < c.dim; ++j) {
      const floats column = floats::load_aligned(&c.columns[j * c.padded + b]);
      for (std::size_t r = 0; r < R; ++r) acc[r] = xsimd::fma(floats(scaled[r * c.dim + j]), column, acc[r]);
    }
    for (std::size_t r = 0; r < R; ++r) keep_smaller(acc[r], at, low[r], index[r]);
  }
  for (std::size_t r = 0; r < R; ++r) {
    const auto [best, value] = lanes_min(low[r], index[r]);
    label[r] = static_cast<std::uint32_t>(best);
    score[r] = value;
  }
}

// Rows [first, last) of x (at most short_row_limit values each): labels[i] the nearest
// centroid, distances[i] = |x - c|^2 as |x|^2 + |c|^2 - 2 x.c, clamped at 0 against rounding.
inline void short_nearest(matrix_view<const float> x, const short_centroids& c, std::size_t first, std::size_t last,
                          std::uint32_t* labels, float* distances) noexcept {
  constexpr std::size_t R = 4;
  std::array<float, R * short_row_limit> scaled{};
  const auto scale = [&](std::size_t i, std::size_t rows) {
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t j = 0; j < c.dim; ++j) scaled[r * c.dim + j] = -2.0f * x(i + r, j);
  };
  std::size_t i = first;
  for (; i + R <= last; i += R) scale(i, R), short_nearest_rows<R>(scaled.data(), c, labels + i, distances + i);
  for (; i < last; ++i) scale(i, 1), short_nearest_rows<1>(scaled.data(), c, labels + i, distances + i);
  for (i = first; i < last; ++i) {
    float norm = 0;
    for (std::size_t j = 0; j < c.dim; ++j) norm += x(i, j) * x(i, j);
    distances[i] = std::max(0.0f, norm + distances[i]);
  }
}

}  // namespace qtl::vq::detail
