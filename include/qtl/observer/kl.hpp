// qtl::kl<Format, Granularity>: TensorRT-style entropy calibration. Each group's |x| goes
// into a 2048-bin histogram; the clipping threshold is the bin edge whose clipped-and-
// quantized distribution has the least KL divergence from the observed one.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "qtl/core/concepts.hpp"
#include "qtl/core/error.hpp"
#include "qtl/core/nonfinite_policy.hpp"
#include "qtl/core/tensor_stats.hpp"
#include "qtl/core/view.hpp"
#include "qtl/format/int_format.hpp"
#include "qtl/granularity.hpp"
#include "qtl/observer/doubling_histogram.hpp"
#include "qtl/observer/observed_batch.hpp"

namespace qtl {

// Levels of |x| that Format resolves: 2^(bits - 1) for a signed format (128 for int8,
// TensorRT's), all of them for an unsigned one.
template <format F>
inline constexpr std::size_t kl_levels_v = F::min_code < 0 ? static_cast<std::size_t>(F::max_code) + 1
                                                           : static_cast<std::size_t>(F::levels);

// TensorRT's first candidate: thresholds start at 128 bins (of 2048), or at the number of
// levels when the format has more.
template <format F>
inline constexpr std::size_t kl_first_candidate_v = kl_levels_v<F> > 128 ? kl_levels_v<F> : 128;

// The number of bins i (first <= i <= hist.size(), first >= levels) whose threshold
// i * width loses the least information: P = hist[0, i) with everything beyond added to its last bin; Q =
// hist[0, i) merged into `levels` equal runs (the last takes the remainder), each run's
// count spread evenly over the bins where P is non-zero; the least KL(P || Q) wins, the
// smallest i on a tie. A candidate whose Q misses part of P (infinite divergence) is skipped.
inline std::size_t kl_threshold_bins(std::span<const std::uint64_t> hist, std::size_t levels, std::size_t first) {
  const std::size_t n = hist.size();
  std::vector<double> p(n), q(n);
  double beyond = 0.0;
  for (const auto c : hist) beyond += static_cast<double>(c);
  std::size_t best = n;
  double least = std::numeric_limits<double>::infinity();
  for (std::size_t i = 1; i <= n; ++i) {
    beyond -= static_cast<double>(hist[i - 1]);  // the count beyond bin i - 1
    if (i < first) continue;
    for (std::size_t j = 0; j < i; ++j) p[j] = static_cast<double>(hist[j]);
    p[i - 1] += beyond;
    const std::size_t run = i / levels;
    double p_sum = 0.0, q_sum = 0.0;
    for (std::size_t l = 0; l < levels; ++l) {
      const std::size_t begin = l * run, end = l + 1 == levels ? i : begin + run;
      double count = 0.0;
      std::size_t nonzero = 0;
      for (std::size_t j = begin; j < end; ++j) {
        count += static_cast<double>(hist[j]);
        nonzero += p[j] > 0.0;
      }
      for (std::size_t j = begin; j < end; ++j) q[j] = p[j] > 0.0 ? count / static_cast<double>(nonzero) : 0.0;
      q_sum += count;
    }
    for (std::size_t j = 0; j < i; ++j) p_sum += p[j];
    double divergence = 0.0;
    for (std::size_t j = 0; j < i && divergence < std::numeric_limits<double>::infinity(); ++j) {
      if (p[j] == 0.0) continue;
      divergence = q[j] == 0.0 ? std::numeric_limits<double>::infinity()
                               : divergence + p[j] / p_sum * std::log((p[j] / p_sum) / (q[j] / q_sum));
    }
    if (divergence < least) {
      least = divergence;
      best = i;
    }
  }
  return best;
}

template <format F = int8, granularity G = per_tensor>
class kl {
 public:
  kl() = default;
  // bins: histogram bins per group (even, at least kl_first_candidate_v<F>).
  explicit kl(G granularity, std::size_t bins = 2048, nonfinite_policy nonfinite = nonfinite_policy::error)
      : bins_(bins), granularity_(granularity), nonfinite_(nonfinite) {
    if (bins < kl_first_candidate_v<F>)
      throw error(errc::invalid_argument, "kl: " + std::to_string(bins) + " bins are fewer than the first candidate's " +
                                              std::to_string(kl_first_candidate_v<F>));
    doubling_histogram::check_bins(bins);  // now, not at the first batch
  }

  void observe(matrix_view<const float> batch) {
    if (batch.empty()) return;
    const observed_batch b = observe_batch(granularity_, batch, nonfinite_, stats_.size(), "kl");
    if (stats_.empty()) {
      stats_.resize(b.stats.size());
      hist_.assign(b.stats.size(), doubling_histogram(bins_));
    }
    for (std::size_t g = 0; g < b.stats.size(); ++g) {
      if (b.stats[g].empty()) continue;
      hist_[g].cover(0.0f, b.stats[g].absmax());
      stats_[g].merge(b.stats[g]);
    }
    b.for_each_finite(batch, [&](std::size_t g, float v) { hist_[g].add(std::fabs(v)); });
  }

  // Per group: the observed range clipped to +-threshold.
  [[nodiscard]] std::vector<tensor_stats> stats() const {
    require_observed(!stats_.empty(), "kl");
    std::vector<tensor_stats> out(stats_);
    for (std::size_t g = 0; g < out.size(); ++g) {
      if (out[g].empty()) continue;
      const float t = threshold(g);
      out[g] = clipped(out[g], std::max(out[g].min, -t), std::min(out[g].max, t));
    }
    return out;
  }

  // The clipping threshold of group g (a bin edge of its |x| histogram).
  [[nodiscard]] float threshold(std::size_t group) const {
    const doubling_histogram& h = hist_.at(group);
    return static_cast<float>(h.width() * static_cast<double>(kl_threshold_bins(h.counts(), kl_levels_v<F>, kl_first_candidate_v<F>)));
  }

  void reset() noexcept {
    stats_.clear();
    hist_.clear();
  }

 private:
  std::size_t bins_ = 2048;
  [[no_unique_address]] G granularity_{};
  nonfinite_policy nonfinite_ = nonfinite_policy::error;
  std::vector<tensor_stats> stats_;
  std::vector<doubling_histogram> hist_;
};

static_assert(observer<kl<>>);

}  // namespace qtl
