// qtl::mse_observer<Format, Scheme, Granularity>: clips each group to the fraction of its
// observed range that minimises the squared error of quantizing the observed data with
// Format and Scheme (the grid search of GPTQ / AWQ-style calibration). Keeps the samples.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "qtl/core/concepts.hpp"
#include "qtl/core/error.hpp"
#include "qtl/core/nonfinite_policy.hpp"
#include "qtl/core/quant_params.hpp"
#include "qtl/core/tensor_stats.hpp"
#include "qtl/core/view.hpp"
#include "qtl/format/int_format.hpp"
#include "qtl/granularity.hpp"
#include "qtl/observer/group_samples.hpp"
#include "qtl/observer/observed_batch.hpp"
#include "qtl/rounding.hpp"
#include "qtl/scheme.hpp"

namespace qtl {

// The candidate clipping ratios: 1, 1 - d, 1 - 2d, ..., min_ratio with d = (1 - min_ratio) / steps.
struct clip_search {
  std::size_t steps = 100;
  float min_ratio = 0.01f;
};

// Sum of squared errors of fake-quantizing x with Format / Scheme params p (round to nearest even).
template <format F, scheme<F> S>
double quantization_sse(const S& scheme, std::span<const float> x, const quant_params& p) {
  double sse = 0.0;
  for (const float v : x) {
    const double e = static_cast<double>(v) -
                     static_cast<double>(scheme.template dequantize<F>(scheme.template quantize<F>(v, p, nearest_even{}, 0), p));
    sse += e * e;
  }
  return sse;
}

template <format F, scheme<F> S = symmetric, granularity G = per_tensor>
class mse_observer {
 public:
  mse_observer() = default;
  explicit mse_observer(S scheme, G granularity = G{}, clip_search search = {},
               nonfinite_policy nonfinite = nonfinite_policy::error)
      : scheme_(scheme), granularity_(granularity), search_(search), nonfinite_(nonfinite) {
    if (search.steps == 0 || !(search.min_ratio > 0.0f && search.min_ratio <= 1.0f))
      throw error(errc::invalid_argument, "mse_observer: clip search needs steps > 0 and min_ratio in (0, 1], got " +
                                              std::to_string(search.steps) + " steps, min_ratio " +
                                              std::to_string(search.min_ratio));
  }

  void observe(matrix_view<const float> batch) {
    if (batch.empty()) return;
    samples_.add(observe_batch(granularity_, batch, nonfinite_, samples_.groups(), "mse_observer"), batch);
  }

  // Per group: the observed range times the ratio with the least error (the largest
  // such ratio on a tie).
  [[nodiscard]] std::vector<tensor_stats> stats() const {
    require_observed(!samples_.empty(), "mse_observer");
    std::vector<tensor_stats> out(samples_.stats().begin(), samples_.stats().end());
    for (std::size_t g = 0; g < out.size(); ++g) {
      if (out[g].empty()) continue;
      const float ratio = best_ratio(out[g], samples_.group(g));
      out[g] = clipped(out[g], out[g].min * ratio, out[g].max * ratio);
    }
    return out;
  }

  void reset() noexcept { samples_.clear(); }

 private:
  float best_ratio(const tensor_stats& s, std::span<const float> x) const {
    const double step = (1.0 - static_cast<double>(search_.min_ratio)) / static_cast<double>(search_.steps);
    float best = 1.0f;
    double least = std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i <= search_.steps; ++i) {
      const auto ratio = static_cast<float>(1.0 - step * static_cast<double>(i));
      const quant_params p = scheme_.template params<F>(clipped(s, s.min * ratio, s.max * ratio));
      const double sse = quantization_sse<F>(scheme_, x, p);
      if (sse < least) {
        least = sse;
        best = ratio;
      }
    }
    return best;
  }

  [[no_unique_address]] S scheme_{};
  [[no_unique_address]] G granularity_{};
  clip_search search_{};
  nonfinite_policy nonfinite_ = nonfinite_policy::error;
  group_samples samples_;
};

static_assert(observer<mse_observer<int8>>);

}  // namespace qtl
