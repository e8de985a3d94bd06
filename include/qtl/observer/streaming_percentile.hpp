// qtl::streaming_percentile<Granularity>: percentile's clipping range from a fixed-size
// doubling_histogram per group instead of every sample, for calibration data that does
// not fit in memory. Each quantile is within one bin width (bin_width(g)) of the exact one.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "qtl/core/concepts.hpp"
#include "qtl/core/nonfinite_policy.hpp"
#include "qtl/core/tensor_stats.hpp"
#include "qtl/core/view.hpp"
#include "qtl/granularity.hpp"
#include "qtl/observer/doubling_histogram.hpp"
#include "qtl/observer/group_samples.hpp"
#include "qtl/observer/observed_batch.hpp"

namespace qtl {

template <granularity G = per_tensor>
class streaming_percentile {
 public:
  // percent in (0, 100]; bins per group (even): memory is 8 * bins bytes per group.
  explicit streaming_percentile(float percent, G granularity = G{}, std::size_t bins = 2048,
                                nonfinite_policy nonfinite = nonfinite_policy::error)
      : percent_(percent), bins_(bins), granularity_(granularity), nonfinite_(nonfinite) {
    check_percentile(percent, "streaming_percentile");
    doubling_histogram::check_bins(bins);  // now, not at the first batch
  }

  void observe(matrix_view<const float> batch) {
    if (batch.empty()) return;
    const observed_batch b = observe_batch(granularity_, batch, nonfinite_, stats_.size(), "streaming_percentile");
    if (stats_.empty()) {
      stats_.resize(b.stats.size());
      hist_.assign(b.stats.size(), doubling_histogram(bins_));
    }
    for (std::size_t g = 0; g < b.stats.size(); ++g) {
      if (b.stats[g].empty()) continue;
      hist_[g].cover(b.stats[g].min, b.stats[g].max);
      stats_[g].merge(b.stats[g]);
    }
    b.for_each_finite(batch, [&](std::size_t g, float v) { hist_[g].add(v); });
  }

  // Per group: min and max estimate the (1 - p/100) and p/100 quantiles (rank and
  // interpolation as percentile's), each within bin_width(g) of the exact value.
  [[nodiscard]] std::vector<tensor_stats> stats() const {
    require_observed(!stats_.empty(), "streaming_percentile");
    const float q = percent_ / 100.0f;
    std::vector<tensor_stats> out(stats_);
    for (std::size_t g = 0; g < out.size(); ++g)
      if (!out[g].empty()) out[g] = clipped(out[g], quantile_of(g, 1.0f - q), quantile_of(g, q));
    return out;
  }

  // Width of group g's bins: the bound on the error of its quantiles.
  [[nodiscard]] double bin_width(std::size_t group) const { return hist_.at(group).width(); }

  void reset() noexcept {
    stats_.clear();
    hist_.clear();
  }

 private:
  float quantile_of(std::size_t g, float q) const {
    const tensor_stats& s = stats_[g];
    const quantile_rank r = rank_of(q, s.count);
    auto at = [&](std::uint64_t k) {  // min and max are exact; the rest lies in [min, max]
      if (k == 0) return s.min;
      if (k + 1 == s.count) return s.max;
      return std::clamp(static_cast<float>(hist_[g].order_statistic(k)), s.min, s.max);
    };
    const float lo = at(r.below);
    return r.weight == 0.0f ? lo : detail::lerp(lo, at(r.below + 1), r.weight);
  }

  float percent_;
  std::size_t bins_;
  [[no_unique_address]] G granularity_{};
  nonfinite_policy nonfinite_ = nonfinite_policy::error;
  std::vector<tensor_stats> stats_;
  std::vector<doubling_histogram> hist_;
};

static_assert(observer<streaming_percentile<>>);

}  // namespace qtl
