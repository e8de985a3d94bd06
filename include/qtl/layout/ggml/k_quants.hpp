// ggml's K-quants on 256-value super-blocks: Q4_K and Q6_K (weights, with ggml's
// reference scale search: make_qkx2_quants / make_qx_quants) and Q8_K (the activations
// their dot products take). Numerics follow ggml-quants.c's *_ref functions step by step;
// nearest_int there is round-half-even, as nearest_even here.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "qtl/core/config.hpp"
#include "qtl/core/half.hpp"
#include "qtl/layout/ggml/blocks.hpp"
#include "qtl/layout/ggml/legacy.hpp"
#include "qtl/rounding.hpp"

namespace qtl::ggml {

QTL_STRICT_FP_BEGIN

namespace detail {

inline constexpr float group_max_eps = 1e-15f;

inline int nearest_int(float v) noexcept { return static_cast<int>(nearest_even{}(v)); }
inline int clamp_int(int v, int lo, int hi) noexcept { return v < lo ? lo : (v > hi ? hi : v); }

// Asymmetric codes 0..nmax with a weighted least-squares search over 21 candidate scales
// (ggml's make_qkx2_quants with rmin = -1, rdelta = 0.1, nstep = 20, squared error).
// Returns the scale; `neg_min` receives -min (>= 0).
inline float search_scale_min(const float* x, const float* weights, std::size_t n, int nmax, std::uint8_t* L,
                              float& neg_min) noexcept {
  constexpr float rmin = -1.0f, rdelta = 0.1f;
  constexpr int nstep = 20;
  float min = x[0], max = x[0];
  float sum_w = weights[0], sum_x = sum_w * x[0];
  for (std::size_t i = 1; i < n; ++i) {
    min = x[i] < min ? x[i] : min;
    max = x[i] > max ? x[i] : max;
    sum_w += weights[i];
    sum_x += weights[i] * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    for (std::size_t i = 0; i < n; ++i) L[i] = 0;
    neg_min = -min;
    return 0.0f;
  }
  float iscale = static_cast<float>(nmax) / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (std::size_t i = 0; i < n; ++i) {
    L[i] = static_cast<std::uint8_t>(clamp_int(nearest_int(iscale * (x[i] - min)), 0, nmax));
    const float diff = scale * L[i] + min - x[i];
    best_error += weights[i] * (diff * diff);
  }
  std::uint8_t candidate[32];
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax)) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const int l = clamp_int(nearest_int(iscale * (x[i] - min)), 0, nmax);
      candidate[i] = static_cast<std::uint8_t>(l);
      const float w = weights[i];
      sum_l += w * static_cast<float>(l);
      sum_l2 += w * static_cast<float>(l) * static_cast<float>(l);
      sum_xl += w * static_cast<float>(l) * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float error = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const float diff = this_scale * candidate[i] + this_min - x[i];
        error += weights[i] * (diff * diff);
      }
      if (error < best_error) {
        for (std::size_t i = 0; i < n; ++i) L[i] = candidate[i];
        best_error = error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  neg_min = -min;
  return scale;
}

// Symmetric codes -nmax..nmax-1 (stored + nmax) with weights x^2 and a search over 18
// scales around nmax / max (ggml's make_qx_quants, rmse_type 1). Returns the scale.
inline float search_scale_symmetric(const float* x, std::size_t n, int nmax, std::int8_t* L) noexcept {
  const float max = signed_absmax(x, n);
  if (std::fabs(max) < group_max_eps) {
    for (std::size_t i = 0; i < n; ++i) L[i] = 0;
    return 0.0f;
  }
  const auto fit = [&](float iscale, float& sumlx, float& suml2) {
    sumlx = suml2 = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const int l = clamp_int(nearest_int(iscale * x[i]), -nmax, nmax - 1);
      const float w = x[i] * x[i];
      sumlx += w * x[i] * static_cast<float>(l);
      suml2 += w * static_cast<float>(l) * static_cast<float>(l);
    }
  };
  const auto assign = [&](float iscale) {
    for (std::size_t i = 0; i < n; ++i)
      L[i] = static_cast<std::int8_t>(nmax + clamp_int(nearest_int(iscale * x[i]), -nmax, nmax - 1));
  };
  float iscale = static_cast<float>(-nmax) / max;
  float sumlx = 0, suml2 = 0;
  fit(iscale, sumlx, suml2);
  assign(iscale);
  float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is)) / max;
    fit(iscale, sumlx, suml2);
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      assign(iscale);
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// Q4_K's 12 scale bytes: eight 6-bit scales and eight 6-bit mins.
inline void scale_min_k4(std::size_t j, const std::uint8_t* q, std::uint8_t& d, std::uint8_t& m) noexcept {
  if (j < 4) {
    d = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    d = static_cast<std::uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    m = static_cast<std::uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

}  // namespace detail

inline void quantize_block(const float* x, block_q4_k& b) noexcept {
  std::uint8_t L[qk_k];
  float weights[32], mins[8], scales[8];
  float max_scale = 0, max_min = 0;
  for (std::size_t j = 0; j < 8; ++j) {
    const float* xs = x + 32 * j;
    float sum_x2 = 0;
    for (std::size_t l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (std::size_t l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(xs[l]);
    scales[j] = detail::search_scale_min(xs, weights, 32, 15, L + 32 * j, mins[j]);
    max_scale = scales[j] > max_scale ? scales[j] : max_scale;
    max_min = mins[j] > max_min ? mins[j] : max_min;
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  for (std::size_t j = 0; j < 8; ++j) {
    auto ls = static_cast<std::uint8_t>(detail::nearest_int(inv_scale * scales[j]));
    auto lm = static_cast<std::uint8_t>(detail::nearest_int(inv_min * mins[j]));
    ls = ls < 63 ? ls : 63;
    lm = lm < 63 ? lm : 63;
    if (j < 4) {
      b.scales[j] = ls;
      b.scales[j + 4] = lm;
    } else {
      b.scales[j + 4] = static_cast<std::uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
      b.scales[j - 4] |= static_cast<std::uint8_t>((ls >> 4) << 6);
      b.scales[j] |= static_cast<std::uint8_t>((lm >> 4) << 6);
    }
  }
  b.d = float_to_half_bits(max_scale / 63.f);
  b.dmin = float_to_half_bits(max_min / 63.f);
  // Re-quantize with the stored (6-bit, half) scales.
  for (std::size_t j = 0; j < 8; ++j) {
    std::uint8_t sc = 0, m = 0;
    detail::scale_min_k4(j, b.scales, sc, m);
    const float d = half_bits_to_float(b.d) * sc;
    if (d == 0.0f) continue;
    const float dm = half_bits_to_float(b.dmin) * m;
    for (std::size_t i = 0; i < 32; ++i)
      L[32 * j + i] = static_cast<std::uint8_t>(detail::clamp_int(detail::nearest_int((x[32 * j + i] + dm) / d), 0, 15));
  }
  // 64 values per 32 bytes: values 0..31 in the low nibbles, 32..63 in the high.
  for (std::size_t j = 0; j < qk_k; j += 64)
    for (std::size_t l = 0; l < 32; ++l)
      b.qs[j / 2 + l] = static_cast<std::uint8_t>(L[j + l] | (L[j + l + 32] << 4));
}

inline void dequantize_block(const block_q4_k& b, float* y) noexcept {
  const float d = half_bits_to_float(b.d), dmin = half_bits_to_float(b.dmin);
  for (std::size_t j = 0; j < 8; ++j) {
    std::uint8_t sc = 0, m = 0;
    detail::scale_min_k4(j, b.scales, sc, m);
    const float dj = d * sc, mj = dmin * m;
    const std::uint8_t* q = b.qs + 32 * (j / 2);
    for (std::size_t l = 0; l < 32; ++l)
      y[32 * j + l] = dj * static_cast<float>(j % 2 ? q[l] >> 4 : q[l] & 0xF) - mj;
  }
}

inline void quantize_block(const float* x, block_q6_k& b) noexcept {
  std::int8_t L[qk_k];
  float scales[16];
  float max_scale = 0, max_abs_scale = 0;
  for (std::size_t ib = 0; ib < 16; ++ib) {
    scales[ib] = detail::search_scale_symmetric(x + 16 * ib, 16, 32, L + 16 * ib);
    if (std::fabs(scales[ib]) > max_abs_scale) {
      max_abs_scale = std::fabs(scales[ib]);
      max_scale = scales[ib];
    }
  }
  if (max_abs_scale < detail::group_max_eps) {
    b = block_q6_k{};
    return;
  }
  const float iscale = -128.f / max_scale;
  b.d = float_to_half_bits(1 / iscale);
  for (std::size_t ib = 0; ib < 16; ++ib) {
    const int s = detail::nearest_int(iscale * scales[ib]);
    b.scales[ib] = static_cast<std::int8_t>(s < 127 ? s : 127);
  }
  for (std::size_t j = 0; j < 16; ++j) {
    const float d = half_bits_to_float(b.d) * b.scales[j];
    if (d == 0.0f) continue;
    for (std::size_t i = 0; i < 16; ++i)
      L[16 * j + i] = static_cast<std::int8_t>(detail::clamp_int(detail::nearest_int(x[16 * j + i] / d), -32, 31) + 32);
  }
  // Per 128 values: low nibbles of 0..31 | 64..95 and 32..63 | 96..127; 2 high bits of
  // values l, l+32, l+64, l+96 in byte l of qh.
  for (std::size_t j = 0; j < qk_k; j += 128) {
    std::uint8_t* ql = b.ql + j / 2;
    std::uint8_t* qh = b.qh + j / 4;
    for (std::size_t l = 0; l < 32; ++l) {
      const auto q = [&](std::size_t k) { return static_cast<std::uint8_t>(L[j + l + 32 * k]); };
      ql[l] = static_cast<std::uint8_t>((q(0) & 0xF) | ((q(2) & 0xF) << 4));
      ql[l + 32] = static_cast<std::uint8_t>((q(1) & 0xF) | ((q(3) & 0xF) << 4));
      qh[l] = static_cast<std::uint8_t>((q(0) >> 4) | ((q(1) >> 4) << 2) | ((q(2) >> 4) << 4) | ((q(3) >> 4) << 6));
    }
  }
}

inline void dequantize_block(const block_q6_k& b, float* y) noexcept {
  const float d = half_bits_to_float(b.d);
  for (std::size_t j = 0; j < qk_k; j += 128) {
    const std::uint8_t* ql = b.ql + j / 2;
    const std::uint8_t* qh = b.qh + j / 4;
    const std::int8_t* sc = b.scales + j / 16;
    for (std::size_t l = 0; l < 32; ++l) {
      for (std::size_t k = 0; k < 4; ++k) {
        const int low = (ql[l + 32 * (k % 2)] >> (4 * (k / 2))) & 0xF;
        const int q = (low | (((qh[l] >> (2 * k)) & 3) << 4)) - 32;
        y[j + l + 32 * k] = d * sc[l / 16 + 2 * k] * static_cast<float>(q);
      }
    }
  }
}

inline void quantize_block(const float* x, block_q8_k& b) noexcept {
  b = block_q8_k{};
  const float max = detail::signed_absmax(x, qk_k);
  if (max == 0.0f) return;
  const float iscale = -127.f / max;
  for (std::size_t j = 0; j < qk_k; ++j) {
    const int v = detail::nearest_int(iscale * x[j]);
    b.qs[j] = static_cast<std::int8_t>(v < 127 ? v : 127);
  }
  for (std::size_t j = 0; j < qk_k / 16; ++j) {
    int sum = 0;
    for (std::size_t i = 0; i < 16; ++i) sum += b.qs[16 * j + i];
    b.bsums[j] = static_cast<std::int16_t>(sum);
  }
  b.d = 1 / iscale;
}

inline void dequantize_block(const block_q8_k& b, float* y) noexcept {
  for (std::size_t j = 0; j < qk_k; ++j) y[j] = b.d * static_cast<float>(b.qs[j]);
}

QTL_STRICT_FP_END

}  // namespace qtl::ggml
