// qtl::observed_batch: the bookkeeping every observer shares. A batch's groups are checked
// against the earlier batches' and its statistics taken before the observer changes, so a
// batch that throws (shape, NaN under nonfinite_policy::error) leaves the observer as it was.
#pragma once

#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "qtl/core/concepts.hpp"
#include "qtl/core/error.hpp"
#include "qtl/core/nonfinite_policy.hpp"
#include "qtl/core/simd.hpp"
#include "qtl/core/tensor_stats.hpp"
#include "qtl/core/view.hpp"
#include "qtl/granularity.hpp"
#include "qtl/observer/accumulate_statistics.hpp"

namespace qtl {

struct observed_batch {
  group_grid grid;
  std::vector<tensor_stats> stats;  // one per group, finite values only

  // Calls fn(group, value) for every finite value of batch (the batch this was made from).
  template <class Fn>
  void for_each_finite(matrix_view<const float> batch, Fn&& fn) const {
    grid.for_each_run([&](std::size_t r, std::size_t begin, std::size_t end, std::size_t group) {
      for (std::size_t c = begin; c < end; ++c) {
        const float v = batch(r, c);
        if (std::isfinite(v)) fn(group, v);
      }
    });
  }
};

// The groups and statistics of batch; throws when it has another number of groups than
// the groups_before of the earlier batches (0: none yet) or a value the policy refuses.
template <granularity G>
observed_batch observe_batch(const G& granularity, matrix_view<const float> batch, nonfinite_policy policy,
                             std::size_t groups_before, std::string_view who) {
  observed_batch b{make_grid(granularity, batch.rows(), batch.cols()), {}};
  if (groups_before != 0 && groups_before != b.grid.size())
    throw error(errc::shape_mismatch, std::string(who) + ": batch has " + std::to_string(b.grid.size()) +
                                          " groups, earlier batches had " + std::to_string(groups_before));
  b.stats.resize(b.grid.size());
  // The batch form for the best arch this translation unit's flags enable (the same
  // statistics as the scalar step, in less time).
#if QTL_HAS_SIMD && !defined(XSIMD_NO_SUPPORTED_ARCHITECTURE)
  accumulate_statistics<xsimd::default_arch>(b.grid, batch, policy, std::span<tensor_stats>(b.stats));
#else
  accumulate_statistics(b.grid, batch, policy, std::span<tensor_stats>(b.stats));
#endif
  return b;
}

// Throws when an observer that has seen no data is asked for its statistics.
inline void require_observed(bool observed, std::string_view who) {
  if (!observed) throw error(errc::invalid_argument, std::string(who) + ": no data observed yet");
}

// Percentages of the percentile observers: (0, 100].
inline void check_percentile(float percent, std::string_view who) {
  if (!(percent > 0.0f && percent <= 100.0f))
    throw error(errc::invalid_argument,
                std::string(who) + ": percentile " + std::to_string(percent) + " is outside (0, 100]");
}

// The statistics of a group clipped to [lo, hi] (what the clipping observers report):
// min and max become the clipped range, count and abs_sum stay those of the data.
constexpr tensor_stats clipped(tensor_stats s, float lo, float hi) noexcept {
  s.min = lo;
  s.max = hi;
  return s;
}

}  // namespace qtl
