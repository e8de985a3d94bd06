// qtl::minmax<Granularity>: the simplest observer, running min / max (and mean |x|) of
// every group over all batches it has seen. Its stats() feed quantizer::params_from.
#pragma once

#include <span>
#include <utility>
#include <vector>

#include "qtl/core/concepts.hpp"
#include "qtl/core/nonfinite_policy.hpp"
#include "qtl/core/tensor_stats.hpp"
#include "qtl/core/view.hpp"
#include "qtl/granularity.hpp"
#include "qtl/observer/observed_batch.hpp"

namespace qtl {

template <granularity G = per_tensor>
class minmax {
 public:
  minmax() = default;
  explicit minmax(G granularity, nonfinite_policy nonfinite = nonfinite_policy::error)
      : granularity_(granularity), nonfinite_(nonfinite) {}

  // Every batch must tile into the same number of groups as the first.
  void observe(matrix_view<const float> batch) {
    if (batch.empty()) return;
    observed_batch b = observe_batch(granularity_, batch, nonfinite_, stats_.size(), "minmax");
    if (stats_.empty()) {
      stats_ = std::move(b.stats);
    } else {
      for (std::size_t i = 0; i < b.stats.size(); ++i) stats_[i].merge(b.stats[i]);
    }
  }

  [[nodiscard]] std::span<const tensor_stats> stats() const {
    require_observed(!stats_.empty(), "minmax");
    return stats_;
  }

  void reset() noexcept { stats_.clear(); }

 private:
  [[no_unique_address]] G granularity_{};
  nonfinite_policy nonfinite_ = nonfinite_policy::error;
  std::vector<tensor_stats> stats_;
};

static_assert(observer<minmax<>>);

}  // namespace qtl
