// qtl::group_samples: every finite value each group has seen, for the observers that need
// the data itself (exact percentile, MSE search), and the quantile of such a sample.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "qtl/core/tensor_stats.hpp"
#include "qtl/core/view.hpp"
#include "qtl/observer/observed_batch.hpp"

namespace qtl {

class group_samples {
 public:
  [[nodiscard]] bool empty() const noexcept { return values_.empty(); }
  [[nodiscard]] std::size_t groups() const noexcept { return values_.size(); }
  [[nodiscard]] std::span<const float> group(std::size_t g) const noexcept { return values_[g]; }
  [[nodiscard]] std::span<const tensor_stats> stats() const noexcept { return stats_; }

  // Adds the finite values of batch (already checked by observe_batch into b).
  void add(const observed_batch& b, matrix_view<const float> batch) {
    if (values_.empty()) {
      values_.resize(b.stats.size());
      stats_.resize(b.stats.size());
    }
    for (std::size_t g = 0; g < b.stats.size(); ++g) {
      values_[g].reserve(values_[g].size() + b.stats[g].count);
      stats_[g].merge(b.stats[g]);
    }
    b.for_each_finite(batch, [&](std::size_t g, float v) { values_[g].push_back(v); });
  }

  void clear() noexcept {
    values_.clear();
    stats_.clear();
  }

 private:
  std::vector<std::vector<float>> values_;
  std::vector<tensor_stats> stats_;
};

namespace detail {
// torch.lerp as its vectorized CPU kernel computes it: from the start when the weight is
// below 1/2, else from the end, one fused multiply-add (torch's scalar loop, used for fewer
// outputs than a vector holds, rounds twice and may differ in the last bit).
inline float lerp(float a, float b, float w) noexcept {
  return w < 0.5f ? std::fma(w, b - a, a) : std::fma(w - 1.0f, b - a, b);
}
}  // namespace detail

// The position of the q-quantile among n sorted values, as torch.quantile computes it:
// rank q (n - 1) in double, the order statistic below it and the float32 lerp weight.
struct quantile_rank {
  std::uint64_t below;
  float weight;  // 0: the quantile is the order statistic `below` itself
};
inline quantile_rank rank_of(float q, std::uint64_t n) noexcept {
  const double rank = static_cast<double>(q) * static_cast<double>(n - 1);
  const auto below = static_cast<std::uint64_t>(rank);
  return {below, static_cast<float>(rank - static_cast<double>(below))};
}

// The q-quantile (q in [0, 1]) of v by linear interpolation between the order statistics
// around rank q (n - 1), as torch.quantile and numpy.quantile's default compute it
// (torch's rank and lerp). Reorders v; v must not be empty.
inline float quantile(std::span<float> v, float q) {
  const quantile_rank r = rank_of(q, v.size());
  const auto below = v.begin() + static_cast<std::ptrdiff_t>(r.below);
  std::nth_element(v.begin(), below, v.end());
  if (r.weight == 0.0f) return *below;
  return detail::lerp(*below, *std::min_element(below + 1, v.end()), r.weight);
}

}  // namespace qtl
