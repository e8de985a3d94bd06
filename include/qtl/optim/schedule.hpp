// Learning-rate schedules: functions of the step that the training loop writes into the
// rule before each step (opt.rule().lr = cosine_with_warmup(...)).
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>

#include "qtl/core/error.hpp"

namespace qtl::optim {

// Linear warm-up from 0 to peak over `warmup` steps, then a cosine down to `floor` at
// `total` steps, and floor after. step counts from 0 (the first step).
inline double cosine_with_warmup(std::int64_t step, std::int64_t warmup, std::int64_t total, double peak,
                                 double floor = 0.0) {
  if (warmup < 0 || total <= warmup || step < 0)
    throw error(errc::invalid_argument, "cosine_with_warmup: step " + std::to_string(step) + ", warm-up " +
                                            std::to_string(warmup) + " and total " + std::to_string(total) +
                                            " need 0 <= warm-up < total and step >= 0");
  if (step < warmup) return peak * static_cast<double>(step + 1) / static_cast<double>(warmup);
  if (step >= total) return floor;
  const double progress = static_cast<double>(step - warmup) / static_cast<double>(total - warmup);
  return floor + (peak - floor) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
}

}  // namespace qtl::optim
