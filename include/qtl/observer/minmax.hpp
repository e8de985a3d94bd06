// qtl::minmax<Granularity>: the simplest observer, running min / max (and mean |x|) of
// every group over all batches it has seen. Its stats() feed quantizer::params_from.
#pragma once

#include <span>
#include <string>
#include <utility>
#include <vector>

#include "qtl/core/concepts.hpp"
#include "qtl/core/error.hpp"
#include "qtl/core/nonfinite_policy.hpp"
#include "qtl/observer/accumulate_statistics.hpp"
#include "qtl/core/tensor_stats.hpp"
#include "qtl/core/view.hpp"
#include "qtl/granularity.hpp"

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
    const group_grid g = make_grid(granularity_, batch.rows(), batch.cols());
    if (!stats_.empty() && stats_.size() != g.size())
      throw error(errc::shape_mismatch, "minmax: batch has " + std::to_string(g.size()) +
                                            " groups, earlier batches had " + std::to_string(stats_.size()));
    std::vector<tensor_stats> seen(g.size());
    accumulate_statistics(g, batch, nonfinite_, std::span<tensor_stats>(seen));  // a bad batch changes nothing
    if (stats_.empty()) {
      stats_ = std::move(seen);
    } else {
      for (std::size_t i = 0; i < seen.size(); ++i) stats_[i].merge(seen[i]);
    }
  }

  [[nodiscard]] std::span<const tensor_stats> stats() const {
    if (stats_.empty()) throw error(errc::invalid_argument, "minmax: no data observed yet");
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
