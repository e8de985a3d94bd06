// qtl::histogram<Format, Granularity>: torch.ao HistogramObserver's numerics per group: a
// 2048-bin histogram whose range grows by re-binning the old one (upsampled 16x), then
// the L2-error search (_non_linear_param_search) for the clipping range of Format's codes.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "qtl/core/concepts.hpp"
#include "qtl/core/error.hpp"
#include "qtl/core/nonfinite_policy.hpp"
#include "qtl/core/tensor_stats.hpp"
#include "qtl/core/view.hpp"
#include "qtl/format/int_format.hpp"
#include "qtl/granularity.hpp"
#include "qtl/observer/observed_batch.hpp"

namespace qtl {

namespace detail {

// torch.linspace(start, end, steps)[i] in float32: the first half counts up from start,
// the second down from end, each rounded once.
inline float linspace_at(float start, float end, std::size_t steps, float step, std::size_t i) noexcept {
  return i < steps / 2 ? std::fma(step, static_cast<float>(i), start)
                       : std::fma(-step, static_cast<float>(steps - 1 - i), end);
}

// torch's floor division of floats (c10::div_floor_floating).
inline float floor_divide(float a, float b) noexcept {
  const float mod = std::fmod(a, b);
  float div = (a - mod) / b;
  if (mod != 0.0f && (b < 0.0f) != (mod < 0.0f)) div -= 1.0f;
  if (div == 0.0f) return std::copysign(0.0f, a / b);
  float floor = std::floor(div);
  if (div - floor > 0.5f) floor += 1.0f;
  return floor;
}

// The outer edges torch.histc uses for [lo, hi]: widened by 1 on each side when lo == hi.
inline std::pair<float, float> histc_edges(float lo, float hi) noexcept {
  if (lo != hi) return {lo, hi};
  return {static_cast<float>(static_cast<double>(lo) - 1.0), static_cast<float>(static_cast<double>(hi) + 1.0)};
}

// torch.histc's bin of v over `bins` bins of [left, right], or -1 outside.
inline std::ptrdiff_t histc_bin(float v, float left, float right, std::size_t bins) noexcept {
  if (!(v >= left && v <= right)) return -1;
  const auto pos = static_cast<std::ptrdiff_t>((v - left) * static_cast<float>(bins) / (right - left));
  return pos == static_cast<std::ptrdiff_t>(bins) ? pos - 1 : pos;
}

}  // namespace detail

// One group's running histogram, as torch.ao HistogramObserver keeps it.
struct range_histogram {
  float min = std::numeric_limits<float>::infinity();
  float max = -std::numeric_limits<float>::infinity();
  std::vector<float> counts;  // float, as torch's (re-binned counts are multiples of 1/16)

  [[nodiscard]] bool empty() const noexcept { return counts.empty(); }
};

template <format F = uint8, granularity G = per_tensor>
class histogram {
 public:
  static constexpr std::size_t upsample_rate = 16;
  static constexpr std::size_t dst_bins = std::size_t{1} << F::bits;  // torch: 2 ** dtype bits

  histogram() = default;
  explicit histogram(G granularity, std::size_t bins = 2048, nonfinite_policy nonfinite = nonfinite_policy::error)
      : bins_(bins), granularity_(granularity), nonfinite_(nonfinite) {
    if (bins == 0) throw error(errc::invalid_argument, "histogram: bin count must be positive");
  }

  // Every batch must tile into the same number of groups as the first. Non-finite values
  // follow the policy (torch drops +-Inf with a warning).
  void observe(matrix_view<const float> batch) {
    if (batch.empty()) return;
    const observed_batch b = observe_batch(granularity_, batch, nonfinite_, groups_.size(), "histogram");
    if (groups_.empty()) {
      groups_.resize(b.stats.size());
      stats_.resize(b.stats.size());
    }
    // The update histogram of each group over its new range [min(old, batch), max(...)].
    std::vector<std::pair<float, float>> range(b.stats.size()), edges(b.stats.size());
    std::vector<std::vector<float>> update(b.stats.size());
    for (std::size_t g = 0; g < b.stats.size(); ++g) {
      if (b.stats[g].empty()) continue;
      range[g] = {std::min(groups_[g].min, b.stats[g].min), std::max(groups_[g].max, b.stats[g].max)};
      edges[g] = detail::histc_edges(range[g].first, range[g].second);
      update[g].assign(bins_, 0.0f);
    }
    b.for_each_finite(batch, [&](std::size_t g, float v) {
      const auto pos = detail::histc_bin(v, edges[g].first, edges[g].second, bins_);
      if (pos >= 0) update[g][static_cast<std::size_t>(pos)] += 1.0f;
    });
    for (std::size_t g = 0; g < b.stats.size(); ++g) {
      if (b.stats[g].empty()) continue;
      range_histogram& h = groups_[g];
      if (!h.empty()) combine_into(update[g], h, range[g].first, range[g].second);
      h = {range[g].first, range[g].second, std::move(update[g])};
      stats_[g].merge(b.stats[g]);
    }
  }

  // Per group: the range chosen by the L2-error search, as torch's calculate_qparams
  // hands it to the scheme.
  [[nodiscard]] std::vector<tensor_stats> stats() const {
    require_observed(!groups_.empty(), "histogram");
    std::vector<tensor_stats> out(stats_);
    for (std::size_t g = 0; g < out.size(); ++g) {
      if (out[g].empty()) continue;
      const auto [lo, hi] = search(groups_[g]);
      out[g] = clipped(out[g], lo, hi);
    }
    return out;
  }

  // The running histogram of group g (torch's histogram, min_val, max_val).
  [[nodiscard]] const range_histogram& group(std::size_t g) const { return groups_.at(g); }

  void reset() noexcept {
    groups_.clear();
    stats_.clear();
  }

 private:
  // update += the old histogram h re-binned onto [lo, hi] (torch's _combine_histograms).
  void combine_into(std::vector<float>& update, const range_histogram& h, float lo, float hi) const {
    if (lo == h.min && hi == h.max) {
      for (std::size_t i = 0; i < bins_; ++i) update[i] += h.counts[i];
      return;
    }
    const auto [left, right] = detail::histc_edges(lo, hi);
    if (h.min == h.max) {  // one value: all its count moves to that value's bin
      const auto pos = detail::histc_bin(h.min, left, right, bins_);
      if (pos >= 0) update[static_cast<std::size_t>(pos)] += std::accumulate(h.counts.begin(), h.counts.end(), 0.0f);
      return;
    }
    // Each old bin split into upsample_rate equal parts, each placed by its midpoint.
    const std::size_t fine = bins_ * upsample_rate;
    const float fine_width = (h.max - h.min) / static_cast<float>(fine);  // also linspace's step over fine + 1 points
    const float step = (hi - lo) / static_cast<float>(bins_);
    std::vector<float> boundaries(bins_ + 1);
    for (std::size_t i = 0; i <= bins_; ++i) boundaries[i] = detail::linspace_at(lo, hi, bins_ + 1, step, i);
    std::vector<float> moved(bins_, 0.0f);
    for (std::size_t k = 0; k < fine; ++k) {
      const float mid = detail::linspace_at(h.min, h.max, fine + 1, fine_width, k) + 0.5f * fine_width;
      const auto at = std::upper_bound(boundaries.begin(), boundaries.end(), mid) - boundaries.begin() - 1;
      const auto bin = static_cast<std::size_t>(std::clamp<std::ptrdiff_t>(at, 0, static_cast<std::ptrdiff_t>(bins_) - 1));
      moved[bin] += h.counts[k / upsample_rate] / static_cast<float>(upsample_rate);
    }
    for (std::size_t i = 0; i < bins_; ++i) update[i] += moved[i];
  }

  // L2 norm of the error of quantizing bins [first, last] onto dst_bins levels, each bin's
  // values taken as uniform (torch's _compute_quantization_error, float32 per bin).
  double quantization_error(const range_histogram& h, std::size_t first, std::size_t last) const {
    const double bin_width = (static_cast<double>(h.max) - static_cast<double>(h.min)) / static_cast<double>(bins_);
    const double dst_width = bin_width * static_cast<double>(last - first + 1) / static_cast<double>(dst_bins);
    if (dst_width == 0.0) return 0.0;
    const auto bw = static_cast<float>(bin_width), dw = static_cast<float>(dst_width);
    const auto half_width = static_cast<float>(dst_width / 2), neg_half_width = static_cast<float>(-dst_width / 2);
    const float top = static_cast<float>(dst_bins - 1);
    auto norm = [](float begin, float end, float density) { return density * ((end * end * end - begin * begin * begin) / 3.0f); };
    const float full = norm(neg_half_width, half_width, 1.0f);
    double sum = 0.0;
    for (std::size_t k = 0; k < bins_; ++k) {
      const float begin = static_cast<float>(static_cast<double>(k) - static_cast<double>(first)) * bw;
      const float end = begin + bw;
      const float dst_begin = std::clamp(detail::floor_divide(begin, dw), 0.0f, top);
      const float dst_end = std::clamp(detail::floor_divide(end, dw), 0.0f, top);
      const float density = h.counts[k] / bw;
      float e = norm(begin - (dst_begin + 0.5f) * dw, half_width, density);
      e += (dst_end - dst_begin - 1.0f) * (density * full);
      e += norm(neg_half_width, end - (dst_end * dw + half_width), density);
      sum += static_cast<double>(e);
    }
    return sum;
  }

  // torch's _non_linear_param_search: narrow [start, end] from the side whose quantile
  // step moves more bins, while the L2 error does not grow.
  std::pair<float, float> search(const range_histogram& h) const {
    std::vector<float> cumulative(bins_);
    std::partial_sum(h.counts.begin(), h.counts.end(), cumulative.begin());
    const double total = static_cast<double>(cumulative.back());
    constexpr double step = 1e-5;
    double alpha = 0.0, beta = 1.0, least = std::numeric_limits<double>::infinity();
    std::size_t start = 0, end = bins_ - 1;
    while (alpha < beta) {
      const double next_alpha = alpha + step, next_beta = beta - step;
      std::size_t l = start, r = end;
      while (l < end && cumulative[l] < static_cast<float>(next_alpha * total)) ++l;
      while (r > start && cumulative[r] > static_cast<float>(next_beta * total)) --r;
      std::size_t next_start = start, next_end = end;
      if (l - start > end - r) {
        next_start = l;
        alpha = next_alpha;
      } else {
        next_end = r;
        beta = next_beta;
      }
      if (next_start == start && next_end == end) continue;
      const double e = quantization_error(h, next_start, next_end);
      if (e > least) break;
      least = e;
      start = next_start;
      end = next_end;
    }
    const float width = (h.max - h.min) / static_cast<float>(bins_);
    return {h.min + width * static_cast<float>(start), h.min + width * static_cast<float>(end + 1)};
  }

  std::size_t bins_ = 2048;
  [[no_unique_address]] G granularity_{};
  nonfinite_policy nonfinite_ = nonfinite_policy::error;
  std::vector<range_histogram> groups_;
  std::vector<tensor_stats> stats_;
};

static_assert(observer<histogram<>>);

}  // namespace qtl
