// The scale searches of ggml's K-quants (ggml-quants.c), step by step: every float
// operation in the reference's order, so that the chosen codes and scales are the same
// bits. nearest_int there is round-half-even (a magic-number add), as nearest_even here.
// Each search writes codes L for n <= 32 values and returns the sub-block's scale.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "qtl/core/config.hpp"
#include "qtl/layout/ggml/legacy.hpp"
#include "qtl/rounding.hpp"

namespace qtl::ggml::detail {

QTL_STRICT_FP_BEGIN

inline constexpr float group_max_eps = 1e-15f;

inline int nearest_int(float v) noexcept { return static_cast<int>(nearest_even{}(v)); }
inline int clamp_int(int v, int lo, int hi) noexcept { return v < lo ? lo : (v > hi ? hi : v); }

// Candidate scales of the affine search: iscale = (rmin + rdelta * is + nmax) / (max - min)
// for is = 0..nstep, error |diff| (mad) or diff^2.
struct affine_search {
  float rmin, rdelta;
  int nstep;
  bool mad;
};
inline constexpr affine_search q2_k_ref_search{-0.5f, 0.1f, 15, true};       // make_qkx2_quants
inline constexpr affine_search q4_k_ref_search{-1.0f, 0.1f, 20, false};      // make_qkx2_quants
inline constexpr affine_search q5_k_ref_search{-0.5f, 0.1f, 15, false};      // make_qkx2_quants
inline constexpr affine_search weighted_k_search{-0.9f, 0.05f, 36, false};   // make_qkx3_quants

// Asymmetric codes 0..nmax by weighted least squares over the candidate scales (ggml's
// make_qkx2_quants and make_qkx3_quants, which differ only in their parameters).
// Returns the scale; `neg_min` receives -min (>= 0).
inline float search_scale_min(const float* x, const float* weights, std::size_t n, int nmax, affine_search s,
                              std::uint8_t* L, float& neg_min) noexcept {
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
  const auto error_of = [&](float diff) { return s.mad ? std::fabs(diff) : diff * diff; };
  float iscale = static_cast<float>(nmax) / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (std::size_t i = 0; i < n; ++i) {
    L[i] = static_cast<std::uint8_t>(clamp_int(nearest_int(iscale * (x[i] - min)), 0, nmax));
    best_error += weights[i] * error_of(scale * L[i] + min - x[i]);
  }
  std::uint8_t candidate[32];
  for (int is = 0; is <= s.nstep; ++is) {
    iscale = (s.rmin + s.rdelta * static_cast<float>(is) + static_cast<float>(nmax)) / (max - min);
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
      for (std::size_t i = 0; i < n; ++i) error += weights[i] * error_of(this_scale * candidate[i] + this_min - x[i]);
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

// Symmetric codes -nmax..nmax-1 (stored + nmax) with weights (x^2 when null) and a search
// over 18 scales around nmax / max (ggml's make_qx_quants, rmse_type 1). Returns the scale.
inline float search_scale_symmetric(const float* x, std::size_t n, int nmax, std::int8_t* L,
                                    const float* weights = nullptr) noexcept {
  const float max = signed_absmax(x, n);
  if (std::fabs(max) < group_max_eps) {
    for (std::size_t i = 0; i < n; ++i) L[i] = 0;
    return 0.0f;
  }
  const auto fit = [&](float iscale, float& sumlx, float& suml2) {
    sumlx = suml2 = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const int l = clamp_int(nearest_int(iscale * x[i]), -nmax, nmax - 1);
      const float w = weights ? weights[i] : x[i] * x[i];
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

// Symmetric codes -nmax..nmax-1 (stored + nmax) from the max-magnitude scale, then up to
// 5 passes that move single codes while the weighted fit (weights x^2) improves (ggml's
// make_q3_quants with do_rmse). An all-zero input leaves codes 0 (not + nmax), as ggml.
inline float search_scale_refined(const float* x, std::size_t n, int nmax, std::int8_t* L) noexcept {
  const float max = signed_absmax(x, n);
  if (std::fabs(max) < group_max_eps) {
    for (std::size_t i = 0; i < n; ++i) L[i] = 0;
    return 0.0f;
  }
  const float iscale = static_cast<float>(-nmax) / max;
  float sumlx = 0, suml2 = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const int l = clamp_int(nearest_int(iscale * x[i]), -nmax, nmax - 1);
    L[i] = static_cast<std::int8_t>(l);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * static_cast<float>(l);
    suml2 += w * static_cast<float>(l) * static_cast<float>(l);
  }
  for (int pass = 0; pass < 5; ++pass) {
    int changed = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      float slx = sumlx - w * x[i] * static_cast<float>(L[i]);
      if (slx > 0) {
        float sl2 = suml2 - w * static_cast<float>(L[i]) * static_cast<float>(L[i]);
        const int l = clamp_int(nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
        if (l != L[i]) {
          slx += w * x[i] * static_cast<float>(l);
          sl2 += w * static_cast<float>(l) * static_cast<float>(l);
          if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = static_cast<std::int8_t>(l);
            sumlx = slx;
            suml2 = sl2;
            ++changed;
          }
        }
      }
    }
    if (changed == 0) break;
  }
  for (std::size_t i = 0; i < n; ++i) L[i] = static_cast<std::int8_t>(L[i] + nmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// Codes 0..nmax for non-negative x (the sub-block scales and mins of the importance-
// weighted K-quants) with weights: 9 candidate scales by weighted squared error, then up
// to 5 passes of single-code moves (ggml's make_qp_quants). Returns the scale.
inline float search_scale_positive(const float* x, std::size_t n, int nmax, std::uint8_t* L,
                                   const float* weights) noexcept {
  float max = 0;
  for (std::size_t i = 0; i < n; ++i) max = max > x[i] ? max : x[i];
  if (max < group_max_eps) {
    for (std::size_t i = 0; i < n; ++i) L[i] = 0;
    return 0.0f;
  }
  float iscale = static_cast<float>(nmax) / max;
  for (std::size_t i = 0; i < n; ++i) L[i] = static_cast<std::uint8_t>(nearest_int(iscale * x[i]));
  float scale = 1 / iscale;
  float best_mse = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const float diff = x[i] - scale * L[i];
    best_mse += weights[i] * diff * diff;
  }
  for (int is = -4; is <= 4; ++is) {
    if (is == 0) continue;
    const float iscale_is = (0.1f * static_cast<float>(is) + static_cast<float>(nmax)) / max;
    const float scale_is = 1 / iscale_is;
    float mse = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const int l = std::min(nmax, nearest_int(iscale_is * x[i]));
      const float diff = x[i] - scale_is * static_cast<float>(l);
      mse += weights[i] * diff * diff;
    }
    if (mse < best_mse) {
      best_mse = mse;
      iscale = iscale_is;
    }
  }
  float sumlx = 0, suml2 = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const int l = std::min(nmax, nearest_int(iscale * x[i]));
    L[i] = static_cast<std::uint8_t>(l);
    sumlx += weights[i] * x[i] * static_cast<float>(l);
    suml2 += weights[i] * static_cast<float>(l) * static_cast<float>(l);
  }
  for (int pass = 0; pass < 5; ++pass) {
    int changed = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const float w = weights[i];
      float slx = sumlx - w * x[i] * L[i];
      float sl2 = suml2 - w * L[i] * L[i];
      if (slx > 0 && sl2 > 0) {
        const int l = std::min(nmax, nearest_int(x[i] * sl2 / slx));
        if (l != L[i]) {
          slx += w * x[i] * static_cast<float>(l);
          sl2 += w * static_cast<float>(l) * static_cast<float>(l);
          if (slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = static_cast<std::uint8_t>(l);
            sumlx = slx;
            suml2 = sl2;
            ++changed;
          }
        }
      }
    }
    if (changed == 0) break;
  }
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// Requantizes n values with a stored sub-block scale d (and min m: value = d*q - m) to
// codes lo..hi, stored + offset; a zero d keeps the search's codes, as ggml.
template <class Code>
void requantize(const float* x, std::size_t n, float d, float m, int lo, int hi, int offset, Code* L) noexcept {
  if (d == 0.0f) return;
  for (std::size_t i = 0; i < n; ++i)
    L[i] = static_cast<Code>(clamp_int(nearest_int((x[i] + m) / d), lo, hi) + offset);
}

QTL_STRICT_FP_END

}  // namespace qtl::ggml::detail
