// ggml's IQ4_NL: 32 values per block, 4-bit indices into a fixed non-linear table of 16
// int8 levels, one half scale. Two quantizers, both as ggml has them:
//  - iq4_nl_search::best_scale (default): what llama-quantize writes (quantize_iq4_nl):
//    weighted least squares over 15 candidate scales, optional importance weights;
//  - iq4_nl_search::none: ggml's quantize_row_iq4_nl_ref (one least-squares step).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "qtl/core/config.hpp"
#include "qtl/core/half.hpp"
#include "qtl/layout/ggml/blocks.hpp"
#include "qtl/layout/ggml/legacy.hpp"

namespace qtl::ggml {

// ggml's kvalues_iq4nl.
inline constexpr std::int8_t iq4_nl_levels[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                                  1,    13,   25,  38,  53,  69,  89,  113};

enum class iq4_nl_search { best_scale, none };

QTL_STRICT_FP_BEGIN

namespace detail {

// Index of the level nearest to v (the upper one on ties), by bisection as ggml does.
inline std::uint8_t nearest_level(float v) noexcept {
  const std::int8_t* values = iq4_nl_levels;
  if (v <= values[0]) return 0;
  if (v >= values[15]) return 15;
  int lo = 0, hi = 15;
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (v < values[mid]) hi = mid;
    else lo = mid;
  }
  return static_cast<std::uint8_t>(v - values[hi - 1] < values[hi] - v ? hi - 1 : hi);
}

}  // namespace detail

// importance: optional 32 weights (llama-quantize's imatrix); only used by best_scale.
inline void quantize_block(const float* x, block_iq4_nl& b, iq4_nl_search search,
                           const float* importance = nullptr) noexcept {
  const int ntry = search == iq4_nl_search::best_scale ? 7 : -1;
  const std::int8_t* values = iq4_nl_levels;
  float sigma2 = 0;
  for (std::size_t j = 0; j < 32; ++j) sigma2 += x[j] * x[j];
  sigma2 *= 2.f / 32;
  float weight[32];
  for (std::size_t j = 0; j < 32; ++j)
    weight[j] = importance ? importance[j] * std::sqrt(sigma2 + x[j] * x[j]) : x[j] * x[j];
  std::uint8_t L[32] = {};
  float d = 0.0f;
  const float max = detail::signed_absmax(x, 32);
  if (std::fabs(max) >= 1e-15f) {  // else scale 0 (and, after the search, all indices 8)
    d = ntry > 0 ? -max / values[0] : max / values[0];
    float id = 1 / d;
    float sumqx = 0, sumq2 = 0;
    for (std::size_t j = 0; j < 32; ++j) {
      L[j] = detail::nearest_level(id * x[j]);
      const float q = values[L[j]];
      sumqx += weight[j] * q * x[j];
      sumq2 += weight[j] * q * q;
    }
    d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
    float best = d * sumqx;
    for (int itry = -ntry; itry <= ntry; ++itry) {
      id = static_cast<float>(itry + values[0]) / max;
      sumqx = sumq2 = 0;
      for (std::size_t j = 0; j < 32; ++j) {
        const float q = values[detail::nearest_level(id * x[j])];
        sumqx += weight[j] * q * x[j];
        sumq2 += weight[j] * q * q;
      }
      if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
        d = sumqx / sumq2;
        best = d * sumqx;
      }
    }
  }
  b.d = float_to_half_bits(d);
  if (ntry > 0) {  // re-assign the indices for the chosen scale
    const float id = d != 0.0f ? 1 / d : 0;
    for (std::size_t j = 0; j < 32; ++j) L[j] = detail::nearest_level(id * x[j]);
  }
  detail::pack_nibbles(L, b.qs);
}

inline void quantize_block(const float* x, block_iq4_nl& b) noexcept {
  quantize_block(x, b, iq4_nl_search::best_scale);
}

inline void quantize_block(const float* x, block_iq4_nl& b, const float* importance) noexcept {
  quantize_block(x, b, iq4_nl_search::best_scale, importance);
}

inline void dequantize_block(const block_iq4_nl& b, float* y) noexcept {
  const float d = half_bits_to_float(b.d);
  for (std::size_t j = 0; j < 32; ++j) y[j] = d * static_cast<float>(iq4_nl_levels[detail::nibble(b.qs, j)]);
}

QTL_STRICT_FP_END

}  // namespace qtl::ggml
