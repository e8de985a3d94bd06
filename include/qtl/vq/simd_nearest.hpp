// qtl::vq::detail SIMD steps of nearest-centroid search: argmin over a row of scores, and
// the fused kernel behind vq::nearest, which computes every row's scores |c|^2 - 2 x.c
// against panels of centroids, a tile of rows by two batches of centroids at a time, and
// keeps a running minimum per lane: no score matrix is written. And few_dots, k-means++'s
// scores of every row against a few candidates.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "qtl/core/config.hpp"
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

// The smallest of the lanes' minima of `count` batches and its index, the lower index on a
// tie: branch-free, as the nearest-centroid kernels do it once a row.
inline std::pair<std::size_t, float> lanes_min(const floats* low, const lanes* index, std::size_t count = 1) noexcept {
  floats smallest = low[0];
  for (std::size_t b = 1; b < count; ++b) smallest = xsimd::min(smallest, low[b]);
  const float value = xsimd::reduce_min(smallest);
  lanes at(std::numeric_limits<std::int32_t>::max());
  for (std::size_t b = 0; b < count; ++b)
    at = xsimd::min(at, xsimd::select(xsimd::batch_bool_cast<std::int32_t>(low[b] == floats(value)), index[b], at));
  return {static_cast<std::size_t>(xsimd::reduce_min(at)), value};
}

// The sum of squares of n floats, in SIMD (a row's |x|^2: summed one by one it cost a
// quarter of nearest's time at 384 values and 256 centroids).
inline float squared_norm(const float* v, std::size_t n) noexcept {
  floats acc(0.0f);
  std::size_t j = 0;
  for (; j + batch_width <= n; j += batch_width) {
    const floats x = floats::load_unaligned(v + j);
    acc = xsimd::fma(x, x, acc);
  }
  float total = xsimd::reduce_add(acc);
  for (; j < n; ++j) total += v[j] * v[j];
  return total;
}

// Whether all n floats are finite (|v| <= FLT_MAX is false for NaN and +-Inf), in SIMD.
inline bool all_finite(const float* v, std::size_t n) noexcept {
  const floats top(std::numeric_limits<float>::max());
  auto finite = floats(0.0f) == floats(0.0f);
  std::size_t j = 0;
  for (; j + batch_width <= n; j += batch_width) finite = finite && (xsimd::abs(floats::load_unaligned(v + j)) <= top);
  bool all = xsimd::all(finite);
  for (; j < n; ++j) all = all && std::isfinite(v[j]);
  return all;
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
    std::tie(best, best_value) = lanes_min(&low, &index);
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

// Centroids laid out for nearest_rows: panels of `width` centroids (two batches), value j
// of a panel's centroid l at panel(p)[j * width + l], times -2 (a score is then the norm
// plus a sum of products; x_j (-2 c_j) rounds exactly as -2 x_j c_j), the centroid count
// padded to whole panels by centroids of norm +inf, never chosen.
struct centroid_panels {
  static constexpr std::size_t batches = 2, width = batches * batch_width;
  std::size_t dim, padded;
  std::vector<float, xsimd::aligned_allocator<float>> values, norms;

  template <class Centroids>
  explicit centroid_panels(const Centroids& c)
      : dim(static_cast<std::size_t>(c.cols())),
        padded((static_cast<std::size_t>(c.rows()) + width - 1) / width * width),
        values(dim * padded, 0.0f),
        norms(padded, std::numeric_limits<float>::infinity()) {
    for (Eigen::Index i = 0; i < c.rows(); ++i) {
      const auto at = static_cast<std::size_t>(i);
      norms[at] = c.row(i).squaredNorm();
      for (std::size_t j = 0; j < dim; ++j)
        values[at / width * dim * width + j * width + at % width] = -2.0f * c(i, static_cast<Eigen::Index>(j));
    }
  }

  [[nodiscard]] std::size_t panels() const noexcept { return padded / width; }
  [[nodiscard]] const float* panel(std::size_t p) const noexcept { return values.data() + p * dim * width; }
};

// The scores |c|^2 - 2 x.c of R rows (row r at x + r * stride) against panel p, handed to
// visit(r, b, scores) for each row and batch of the panel. The R x 2 sums stay in
// registers (12 of AVX2's 16 for R = 6); a callback rather than a returned array, and
// forced inline, so that what the callback updates can stay in registers too (GCC keeps
// both in memory otherwise).
template <std::size_t R, class Visit>
QTL_FORCEINLINE void panel_scores(const float* x, std::size_t stride, const centroid_panels& c, std::size_t p,
                                  Visit&& visit) noexcept {
  constexpr std::size_t B = centroid_panels::batches, W = centroid_panels::width;
  std::array<floats, R * B> acc;
  for (std::size_t b = 0; b < B; ++b) {
    const floats norm = floats::load_aligned(&c.norms[p * W + b * batch_width]);
    for (std::size_t r = 0; r < R; ++r) acc[r * B + b] = norm;
  }
  const float* panel = c.panel(p);
  for (std::size_t j = 0; j < c.dim; ++j, panel += W) {
    std::array<floats, B> column;
    for (std::size_t b = 0; b < B; ++b) column[b] = floats::load_aligned(panel + b * batch_width);
    for (std::size_t r = 0; r < R; ++r) {
      const floats v(x[r * stride + j]);
      for (std::size_t b = 0; b < B; ++b) acc[r * B + b] = xsimd::fma(v, column[b], acc[r * B + b]);
    }
  }
  for (std::size_t r = 0; r < R; ++r)
    for (std::size_t b = 0; b < B; ++b) visit(r, b, acc[r * B + b]);
}

// The walk of the fused kernels over rows [first, last) of x: blocks of up to `block` rows
// (in L2) meet one panel at a time (in L1), R rows a tile. For each block, start(r0, n);
// for each row i, panel batch b and its scores, visit(i, first centroid of the batch,
// scores); then finish(r0, n). No score matrix is written, where a matrix product and a
// pass over its scores would write and read every score and pack both operands.
template <class Start, class Visit, class Finish>
void panel_walk(matrix_view<const float> x, const centroid_panels& c, std::size_t first, std::size_t last,
                std::size_t block, Start&& start, Visit&& visit, Finish&& finish) {
  constexpr std::size_t R = 6, W = centroid_panels::width;
  const auto tile = [&]<std::size_t N>(std::size_t i, std::size_t p) {
    panel_scores<N>(&x(i, 0), x.row_stride(), c, p,
                    [&](std::size_t r, std::size_t b, floats score) { visit(i + r, p * W + b * batch_width, score); });
  };
  for (std::size_t r0 = first; r0 < last; r0 += block) {
    const std::size_t n = std::min(block, last - r0);
    start(r0, n);
    for (std::size_t p = 0; p < c.panels(); ++p) {
      std::size_t s = 0;
      for (; s + R <= n; s += R) tile.template operator()<R>(r0 + s, p);
      for (; s < n; ++s) tile.template operator()<1>(r0 + s, p);
    }
    finish(r0, n);
  }
}

// Row i's label and distance |x|^2 + score (clamped at 0 against rounding) from its lane
// minima over the panel's batches.
inline void settle(matrix_view<const float> x, std::size_t i, const floats* low, const lanes* index,
                   std::uint32_t* labels, float* distances) noexcept {
  const auto [best, score] = lanes_min(low, index, centroid_panels::batches);
  labels[i] = static_cast<std::uint32_t>(best);
  distances[i] = std::max(0.0f, squared_norm(&x(i, 0), x.cols()) + score);
}

// Rows of up to this many values take short_rows: there a tile's few multiply-adds per
// panel cost less than updating minima kept in memory (measured with AVX-512 at 1 to 16
// values; panel_walk is faster from 24).
inline constexpr std::size_t short_row_limit = 16;

// R short rows through every panel, their running lane minima in registers.
template <std::size_t R>
void short_rows(matrix_view<const float> x, std::size_t i, const centroid_panels& c, std::uint32_t* labels,
                float* distances) noexcept {
  constexpr std::size_t B = centroid_panels::batches, W = centroid_panels::width;
  std::array<floats, R * B> low;
  std::array<lanes, R * B> index;
  low.fill(floats(std::numeric_limits<float>::infinity()));
  index.fill(lanes(0));
  const lanes iota = lane_indices();
  for (std::size_t p = 0; p < c.panels(); ++p)
    panel_scores<R>(&x(i, 0), x.row_stride(), c, p, [&](std::size_t r, std::size_t b, floats score) {
      keep_smaller(score, iota + lanes(static_cast<std::int32_t>(p * W + b * batch_width)), low[r * B + b],
                   index[r * B + b]);
    });
  for (std::size_t r = 0; r < R; ++r) settle(x, i + r, &low[r * B], &index[r * B], labels, distances);
}

// Rows [first, last) of x: labels[i] the nearest centroid (the lower index on a tie),
// distances[i] = |x|^2 + the smallest score, clamped at 0 against rounding. Short rows go
// two at a time through every panel; longer ones through panel_walk, each row's running
// minimum per lane and its index in a small buffer between panels (measured 1.20x to
// 1.88x faster than Eigen's product and detail::argmin from 8 to 384 values a row with
// AVX-512, bench/vq_nearest_bench.cpp).
inline void nearest_rows(matrix_view<const float> x, const centroid_panels& c, std::size_t first, std::size_t last,
                         std::uint32_t* labels, float* distances) noexcept {
  if (x.cols() <= short_row_limit) {
    std::size_t i = first;
    for (; i + 2 <= last; i += 2) short_rows<2>(x, i, c, labels, distances);
    for (; i < last; ++i) short_rows<1>(x, i, c, labels, distances);
    return;
  }
  constexpr std::size_t B = centroid_panels::batches, block = 96;
  std::array<floats, block * B> low;
  std::array<lanes, block * B> index;
  std::size_t r0 = first;
  const lanes iota = lane_indices();
  panel_walk(
      x, c, first, last, block,
      [&](std::size_t start, std::size_t n) {
        r0 = start;
        std::fill_n(low.begin(), n * B, floats(std::numeric_limits<float>::infinity()));
        std::fill_n(index.begin(), n * B, lanes(0));
      },
      [&](std::size_t i, std::size_t word, floats score) {
        const std::size_t slot = (i - r0) * B + word / batch_width % B;
        keep_smaller(score, iota + lanes(static_cast<std::int32_t>(word)), low[slot], index[slot]);
      },
      [&](std::size_t start, std::size_t n) {
        for (std::size_t i = start; i < start + n; ++i)
          settle(x, i, &low[(i - start) * B], &index[(i - start) * B], labels, distances);
      });
}

}  // namespace qtl::vq::detail
