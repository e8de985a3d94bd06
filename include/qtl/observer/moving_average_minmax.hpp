// qtl::moving_average_minmax<Granularity>: exponential moving average of each group's
// per-batch min and max (torch.ao MovingAverage[PerChannel]MinMaxObserver): the first
// batch sets them, each later one moves them by c * (batch value - running value).
#pragma once

#include <span>
#include <string>
#include <utility>
#include <vector>

#include "qtl/core/concepts.hpp"
#include "qtl/core/error.hpp"
#include "qtl/core/nonfinite_policy.hpp"
#include "qtl/core/tensor_stats.hpp"
#include "qtl/core/view.hpp"
#include "qtl/granularity.hpp"
#include "qtl/observer/observed_batch.hpp"

namespace qtl {

template <granularity G = per_tensor>
class moving_average_minmax {
 public:
  moving_average_minmax() = default;
  // averaging_constant in (0, 1]: torch's default is 0.01; 1 keeps only the last batch.
  explicit moving_average_minmax(float averaging_constant, G granularity = G{},
                                 nonfinite_policy nonfinite = nonfinite_policy::error)
      : c_(averaging_constant), granularity_(granularity), nonfinite_(nonfinite) {
    if (!(averaging_constant > 0.0f && averaging_constant <= 1.0f))
      throw error(errc::invalid_argument, "moving_average_minmax: averaging constant " +
                                              std::to_string(averaging_constant) + " is outside (0, 1]");
  }

  [[nodiscard]] float averaging_constant() const noexcept { return c_; }

  // Every batch must tile into the same number of groups as the first. A group with no
  // finite value in a batch keeps its running range.
  void observe(matrix_view<const float> batch) {
    if (batch.empty()) return;
    observed_batch b = observe_batch(granularity_, batch, nonfinite_, stats_.size(), "moving_average_minmax");
    if (stats_.empty()) {
      stats_ = std::move(b.stats);
      return;
    }
    for (std::size_t i = 0; i < b.stats.size(); ++i) {
      tensor_stats& s = stats_[i];
      const tensor_stats& now = b.stats[i];
      if (now.empty()) continue;
      if (s.empty()) {
        s = now;
        continue;
      }
      // torch's float32 arithmetic, operation for operation
      s.min = s.min + c_ * (now.min - s.min);
      s.max = s.max + c_ * (now.max - s.max);
      s.abs_sum += now.abs_sum;
      s.count += now.count;
    }
  }

  [[nodiscard]] std::span<const tensor_stats> stats() const {
    require_observed(!stats_.empty(), "moving_average_minmax");
    return stats_;
  }

  void reset() noexcept { stats_.clear(); }

 private:
  float c_ = 0.01f;
  [[no_unique_address]] G granularity_{};
  nonfinite_policy nonfinite_ = nonfinite_policy::error;
  std::vector<tensor_stats> stats_;
};

static_assert(observer<moving_average_minmax<>>);

}  // namespace qtl
