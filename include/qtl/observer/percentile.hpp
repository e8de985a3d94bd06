// qtl::percentile<Granularity>: clips each group to its [100 - p, p] percentiles of all the
// data seen, exactly: keeps every sample (torch.quantile / numpy.quantile numerics). For
// data that does not fit in memory, streaming_percentile estimates the same range.
#pragma once

#include <span>
#include <vector>

#include "qtl/core/concepts.hpp"
#include "qtl/core/nonfinite_policy.hpp"
#include "qtl/core/tensor_stats.hpp"
#include "qtl/core/view.hpp"
#include "qtl/granularity.hpp"
#include "qtl/observer/group_samples.hpp"
#include "qtl/observer/observed_batch.hpp"

namespace qtl {

template <granularity G = per_tensor>
class percentile {
 public:
  // percent in (0, 100]: 99.99 clips the 0.01 % largest and the 0.01 % smallest values.
  explicit percentile(float percent, G granularity = G{}, nonfinite_policy nonfinite = nonfinite_policy::error)
      : percent_(percent), granularity_(granularity), nonfinite_(nonfinite) {
    check_percentile(percent, "percentile");
  }

  [[nodiscard]] float percent() const noexcept { return percent_; }

  // Every batch must tile into the same number of groups as the first.
  void observe(matrix_view<const float> batch) {
    if (batch.empty()) return;
    samples_.add(observe_batch(granularity_, batch, nonfinite_, samples_.groups(), "percentile"), batch);
  }

  // Per group: min = the (1 - p/100) quantile, max = the p/100 quantile.
  [[nodiscard]] std::vector<tensor_stats> stats() const {
    require_observed(!samples_.empty(), "percentile");
    const float q = percent_ / 100.0f;
    std::vector<tensor_stats> out(samples_.stats().begin(), samples_.stats().end());
    std::vector<float> work;
    for (std::size_t g = 0; g < out.size(); ++g) {
      if (out[g].empty()) continue;
      work.assign(samples_.group(g).begin(), samples_.group(g).end());
      const float lo = quantile(work, 1.0f - q);
      out[g] = clipped(out[g], lo, quantile(work, q));
    }
    return out;
  }

  void reset() noexcept { samples_.clear(); }

 private:
  float percent_;
  [[no_unique_address]] G granularity_{};
  nonfinite_policy nonfinite_ = nonfinite_policy::error;
  group_samples samples_;
};

static_assert(observer<percentile<>>);

}  // namespace qtl
