// qtl::quant_params: the parameters one group of elements shares (scale, its
// reciprocal, zero point). Produced by a Scheme from statistics, consumed by quantize/dequantize.
#pragma once

#include <cstdint>

namespace qtl {

struct quant_params {
  float scale = 0.0f;      // real value of one code step
  float inv_scale = 0.0f;  // what quantize multiplies by; 0 when scale is 0 (an all-zero group)
  std::int32_t zero_point = 0;

  friend constexpr bool operator==(const quant_params&, const quant_params&) = default;
};

}  // namespace qtl
