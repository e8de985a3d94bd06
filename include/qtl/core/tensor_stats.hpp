// qtl::tensor_stats: running statistics of one group of elements (min, max, sum of |x|),
// what observers produce and schemes turn into quant_params.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

#include "qtl/core/config.hpp"

namespace qtl {

struct tensor_stats {
  float min = std::numeric_limits<float>::infinity();
  float max = -std::numeric_limits<float>::infinity();
  double abs_sum = 0.0;
  std::size_t count = 0;  // finite values seen

  constexpr void add(float x) noexcept {
    min = std::min(min, x);
    max = std::max(max, x);
    abs_sum += x < 0 ? -static_cast<double>(x) : static_cast<double>(x);
    ++count;
  }
  constexpr void merge(const tensor_stats& o) noexcept {
    min = std::min(min, o.min);
    max = std::max(max, o.max);
    abs_sum += o.abs_sum;
    count += o.count;
  }
  [[nodiscard]] constexpr bool empty() const noexcept { return count == 0; }
  // Largest magnitude; 0 for an empty group.
  [[nodiscard]] constexpr float absmax() const noexcept {
    return empty() ? 0.0f : std::max(min < 0 ? -min : min, max < 0 ? -max : max);
  }
  // Mean magnitude (BitNet's absmean); 0 for an empty group.
  [[nodiscard]] constexpr float absmean() const noexcept {
    return empty() ? 0.0f : static_cast<float>(abs_sum / static_cast<double>(count));
  }
};

}  // namespace qtl
