// ggml's K-quants on 256-value super-blocks: Q2_K, Q3_K, Q4_K, Q5_K, Q6_K (weights) and
// Q8_K (the activations their dot products take). Each weight type quantizes as ggml does:
// without importance weights as its quantize_row_*_ref (what llama-quantize writes with no
// imatrix), with them as quantize_*_K's importance path (an imatrix: one weight per column
// of the row; `importance` points at the block's 256). Numerics follow ggml-quants.c step
// by step (the searches are in k_search.hpp).
#pragma once

#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "qtl/core/config.hpp"
#include "qtl/core/half.hpp"
#include "qtl/layout/ggml/blocks.hpp"
#include "qtl/layout/ggml/k_search.hpp"
#include "qtl/layout/ggml/legacy.hpp"

namespace qtl::ggml {

QTL_STRICT_FP_BEGIN

namespace detail {

// Q4_K's and Q5_K's 12 scale bytes: eight 6-bit scales and eight 6-bit mins.
inline std::uint8_t scale_k4(std::size_t j, const std::uint8_t* q) noexcept {
  return static_cast<std::uint8_t>(j < 4 ? q[j] & 63 : (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
}
inline std::uint8_t min_k4(std::size_t j, const std::uint8_t* q) noexcept {
  return static_cast<std::uint8_t>(j < 4 ? q[j + 4] & 63 : (q[j + 4] >> 4) | ((q[j] >> 6) << 4));
}

// The inverse, into bytes that start zeroed, for j = 0..7 in order.
inline void set_scale_min_k4(std::size_t j, std::uint8_t sc, std::uint8_t m, std::uint8_t* q) noexcept {
  if (j < 4) {
    q[j] = sc;
    q[j + 4] = m;
  } else {
    q[j + 4] = static_cast<std::uint8_t>((sc & 0xF) | ((m & 0xF) << 4));
    q[j - 4] |= static_cast<std::uint8_t>((sc >> 4) << 6);
    q[j] |= static_cast<std::uint8_t>((m >> 4) << 6);
  }
}

// Q3_K's 12 scale bytes: sixteen 6-bit scales stored + 32, low nibbles in bytes 0..7,
// the 2 high bits of scale j at bits 2(j/4) of byte 8 + j%4. Returns the signed scale.
inline int scale_k3(std::size_t j, const std::uint8_t* q) noexcept {
  const int low = j < 8 ? q[j] & 0xF : q[j - 8] >> 4;
  return (low | (((q[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
}

// The inverse of the stored value l = scale + 32 (0..63), into bytes that start zeroed.
inline void set_scale_k3(std::size_t j, int l, std::uint8_t* q) noexcept {
  q[j % 8] |= static_cast<std::uint8_t>((l & 0xF) << (j < 8 ? 0 : 4));
  q[8 + j % 4] |= static_cast<std::uint8_t>((l >> 4) << (2 * (j / 4)));
}

// Q2_K's and Q3_K's 2-bit codes: per 128 values, byte 32h + l holds value 128h + l + 32k
// at bits 2k.
inline int crumb(const std::uint8_t* qs, std::size_t i) noexcept {
  return (qs[32 * (i / 128) + i % 32] >> (2 * (i % 128 / 32))) & 3;
}

template <class Code>
void pack_crumbs(const Code* L, std::uint8_t* qs) noexcept {
  for (std::size_t j = 0; j < qk_k; j += 128)
    for (std::size_t l = 0; l < 32; ++l)
      qs[j / 4 + l] = static_cast<std::uint8_t>(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
                                                (L[j + l + 96] << 6));
}

inline float sum_of_squares(const float* x, std::size_t n) noexcept {
  float s = 0;
  for (std::size_t i = 0; i < n; ++i) s += x[i] * x[i];
  return s;
}

// The importance path's weights of n values: importance * sqrt(sigma2 + x^2); returns
// their sum.
inline float importance_weights(const float* x, const float* importance, std::size_t n, float sigma2,
                                float* w) noexcept {
  float sum = 0;
  for (std::size_t l = 0; l < n; ++l) w[l] = importance[l] * std::sqrt(sigma2 + x[l] * x[l]);
  for (std::size_t l = 0; l < n; ++l) sum += w[l];
  return sum;
}

// Q4_K and Q5_K: the 8 sub-blocks' 6-bit scales and mins into d, dmin and the 12 scale
// bytes, then the codes 0..nmax re-quantized with the stored scales into L.
struct k4_header {
  std::uint16_t d, dmin;
  std::uint8_t scales[12];
};

struct k4_params {
  int nmax;
  affine_search ref_search;
  std::uint8_t weighted_scale_limit;  // quantize_row_q4_K_impl stores its 6-bit scales unclamped
};
inline constexpr k4_params q4_k_params{15, q4_k_ref_search, 255};
inline constexpr k4_params q5_k_params{31, q5_k_ref_search, 63};

inline k4_header quantize_k4(const float* x, const float* importance, k4_params p, std::uint8_t* L) noexcept {
  const int nmax = p.nmax;
  k4_header h{};
  float weights[32], mins[8], scales[8];
  if (importance == nullptr) {
    float max_scale = 0, max_min = 0;
    for (std::size_t j = 0; j < 8; ++j) {
      const float* xs = x + 32 * j;
      const float av_x = std::sqrt(sum_of_squares(xs, 32) / 32);
      for (std::size_t l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(xs[l]);
      scales[j] = search_scale_min(xs, weights, 32, nmax, p.ref_search, L + 32 * j, mins[j]);
      max_scale = scales[j] > max_scale ? scales[j] : max_scale;
      max_min = mins[j] > max_min ? mins[j] : max_min;
    }
    const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    for (std::size_t j = 0; j < 8; ++j) {
      const auto ls = static_cast<std::uint8_t>(nearest_int(inv_scale * scales[j]));
      const auto lm = static_cast<std::uint8_t>(nearest_int(inv_min * mins[j]));
      set_scale_min_k4(j, ls < 63 ? ls : 63, lm < 63 ? lm : 63, h.scales);
    }
    h.d = float_to_half_bits(max_scale / 63.f);
    h.dmin = float_to_half_bits(max_min / 63.f);
  } else {
    const float sigma2 = 2 * sum_of_squares(x, qk_k) / qk_k;
    float sum_w[8];
    for (std::size_t j = 0; j < 8; ++j) {
      sum_w[j] = importance_weights(x + 32 * j, importance + 32 * j, 32, sigma2, weights);
      scales[j] = search_scale_min(x + 32 * j, weights, 32, nmax, weighted_k_search, L + 32 * j, mins[j]);
    }
    std::uint8_t ls[8], lm[8];
    const float d = search_scale_positive(scales, 8, 63, ls, sum_w);
    const float dmin = search_scale_positive(mins, 8, 63, lm, sum_w);
    const std::uint8_t limit = p.weighted_scale_limit;
    for (std::size_t j = 0; j < 8; ++j)
      set_scale_min_k4(j, ls[j] < limit ? ls[j] : limit, lm[j] < limit ? lm[j] : limit, h.scales);
    h.d = float_to_half_bits(d);
    h.dmin = float_to_half_bits(dmin);
  }
  for (std::size_t j = 0; j < 8; ++j)
    requantize(x + 32 * j, 32, half_bits_to_float(h.d) * scale_k4(j, h.scales),
               half_bits_to_float(h.dmin) * min_k4(j, h.scales), 0, nmax, 0, L + 32 * j);
  return h;
}

}  // namespace detail

inline void quantize_block(const float* x, block_q2_k& b, const float* importance = nullptr) noexcept {
  std::uint8_t L[qk_k], ls[16], lm[16];
  float weights[16], mins[16], scales[16];
  b = block_q2_k{};
  if (importance == nullptr) {
    float max_scale = 0, max_min = 0;
    for (std::size_t j = 0; j < 16; ++j) {
      for (std::size_t l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
      scales[j] = detail::search_scale_min(x + 16 * j, weights, 16, 3, detail::q2_k_ref_search, L + 16 * j, mins[j]);
      max_scale = scales[j] > max_scale ? scales[j] : max_scale;
      max_min = mins[j] > max_min ? mins[j] : max_min;
    }
    // 4-bit scales and mins against their maxima (15 levels); a zero maximum stays 0.
    const float iscale = max_scale > 0 ? 15.f / max_scale : 0.f;
    const float imin = max_min > 0 ? 15.f / max_min : 0.f;
    for (std::size_t j = 0; j < 16; ++j) {
      ls[j] = static_cast<std::uint8_t>(detail::nearest_int(iscale * scales[j]));
      lm[j] = static_cast<std::uint8_t>(detail::nearest_int(imin * mins[j]));
    }
    b.d = float_to_half_bits(max_scale > 0 ? max_scale / 15.f : 0.f);
    b.dmin = float_to_half_bits(max_min > 0 ? max_min / 15.f : 0.f);
  } else {
    const float sigma2 = detail::sum_of_squares(x, qk_k) / qk_k;
    float sum_w[16];
    for (std::size_t j = 0; j < 16; ++j) {
      sum_w[j] = detail::importance_weights(x + 16 * j, importance + 16 * j, 16, sigma2, weights);
      scales[j] =
          detail::search_scale_min(x + 16 * j, weights, 16, 3, detail::weighted_k_search, L + 16 * j, mins[j]);
    }
    b.d = float_to_half_bits(detail::search_scale_positive(scales, 16, 15, ls, sum_w));
    b.dmin = float_to_half_bits(detail::search_scale_positive(mins, 16, 15, lm, sum_w));
  }
  for (std::size_t j = 0; j < 16; ++j) {
    b.scales[j] = static_cast<std::uint8_t>(ls[j] | (lm[j] << 4));
    detail::requantize(x + 16 * j, 16, half_bits_to_float(b.d) * (b.scales[j] & 0xF),
                       half_bits_to_float(b.dmin) * (b.scales[j] >> 4), 0, 3, 0, L + 16 * j);
  }
  detail::pack_crumbs(L, b.qs);
}

inline void quantize_block(const float* x, block_q3_k& b, const float* importance = nullptr) noexcept {
  std::int8_t L[qk_k];
  float scales[16];
  b = block_q3_k{};
  if (importance == nullptr) {
    float max_scale = 0, amax = 0;
    for (std::size_t j = 0; j < 16; ++j) {
      scales[j] = detail::search_scale_refined(x + 16 * j, 16, 4, L + 16 * j);
      if (std::fabs(scales[j]) > amax) {
        amax = std::fabs(scales[j]);
        max_scale = scales[j];
      }
    }
    if (max_scale != 0) {
      const float iscale = -32.f / max_scale;
      for (std::size_t j = 0; j < 16; ++j)
        detail::set_scale_k3(j, detail::clamp_int(detail::nearest_int(iscale * scales[j]), -32, 31) + 32, b.scales);
      b.d = float_to_half_bits(1 / iscale);
    }
  } else {
    const float sigma2 = 2 * detail::sum_of_squares(x, qk_k) / qk_k;
    float weights[16], sum_w[16];
    std::int8_t ls[16];
    for (std::size_t j = 0; j < 16; ++j) {
      sum_w[j] = detail::importance_weights(x + 16 * j, importance + 16 * j, 16, sigma2, weights);
      scales[j] = detail::search_scale_symmetric(x + 16 * j, 16, 4, L + 16 * j, weights);
    }
    b.d = float_to_half_bits(detail::search_scale_symmetric(scales, 16, 32, ls, sum_w));
    for (std::size_t j = 0; j < 16; ++j) detail::set_scale_k3(j, ls[j], b.scales);
  }
  for (std::size_t j = 0; j < 16; ++j)
    detail::requantize(x + 16 * j, 16, half_bits_to_float(b.d) * static_cast<float>(detail::scale_k3(j, b.scales)),
                       0.0f, -4, 3, 4, L + 16 * j);
  // Bit 2 of value j in bit j / 32 of hmask[j % 32]; bits 0-1 as Q2_K's.
  for (std::size_t j = 0; j < qk_k; ++j) {
    if (L[j] > 3) {
      b.hmask[j % 32] = static_cast<std::uint8_t>(b.hmask[j % 32] | (1u << (j / 32)));
      L[j] = static_cast<std::int8_t>(L[j] - 4);
    }
  }
  detail::pack_crumbs(L, b.qs);
}

inline void quantize_block(const float* x, block_q4_k& b, const float* importance = nullptr) noexcept {
  std::uint8_t L[qk_k];
  const detail::k4_header h = detail::quantize_k4(x, importance, detail::q4_k_params, L);
  b.d = h.d;
  b.dmin = h.dmin;
  std::memcpy(b.scales, h.scales, sizeof b.scales);
  // 64 values per 32 bytes: values 0..31 in the low nibbles, 32..63 in the high.
  for (std::size_t j = 0; j < qk_k; j += 64)
    for (std::size_t l = 0; l < 32; ++l)
      b.qs[j / 2 + l] = static_cast<std::uint8_t>(L[j + l] | (L[j + l + 32] << 4));
}

inline void quantize_block(const float* x, block_q5_k& b, const float* importance = nullptr) noexcept {
  std::uint8_t L[qk_k];
  const detail::k4_header h = detail::quantize_k4(x, importance, detail::q5_k_params, L);
  b = block_q5_k{};
  b.d = h.d;
  b.dmin = h.dmin;
  std::memcpy(b.scales, h.scales, sizeof b.scales);
  // Q4_K's nibbles, and bit 4 of value 64c + 32k + l in bit 2c + k of qh[l].
  for (std::size_t j = 0; j < qk_k; j += 64)
    for (std::size_t l = 0; l < 32; ++l) {
      const std::uint8_t lo = L[j + l], hi = L[j + l + 32];
      b.qs[j / 2 + l] = static_cast<std::uint8_t>((lo & 0xF) | ((hi & 0xF) << 4));
      b.qh[l] = static_cast<std::uint8_t>(b.qh[l] | ((lo >> 4) << (j / 32)) | ((hi >> 4) << (j / 32 + 1)));
    }
}

// Importance weights, when given, weigh the sub-block searches as they are (as ggml).
inline void quantize_block(const float* x, block_q6_k& b, const float* importance = nullptr) noexcept {
  std::int8_t L[qk_k];
  float scales[16];
  float max_scale = 0, max_abs_scale = 0;
  for (std::size_t ib = 0; ib < 16; ++ib) {
    scales[ib] = detail::search_scale_symmetric(x + 16 * ib, 16, 32, L + 16 * ib, importance ? importance + 16 * ib : nullptr);
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
  for (std::size_t j = 0; j < 16; ++j)
    detail::requantize(x + 16 * j, 16, half_bits_to_float(b.d) * b.scales[j], 0.0f, -32, 31, 32, L + 16 * j);
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

// Reading a block: per type the sub-block size, the code offset (value = d * sc_j *
// (code - offset) [- dmin * m_j]) and whether it has mins; code(b, i) is value i's stored
// code (unsigned), sub_scale(b, j) and sub_min(b, j) sub-block j's integer multipliers.
// The kernels' scalar references (kernel/block_dot.hpp) read blocks through these too.
template <std::size_t SubBlock, int Offset, bool HasMin>
struct k_quant_shape {
  static constexpr std::size_t sub_block = SubBlock;
  static constexpr int offset = Offset;
  static constexpr bool has_min = HasMin;
};
template <class B>
struct k_quant_traits;
template <>
struct k_quant_traits<block_q2_k> : k_quant_shape<16, 0, true> {};
template <>
struct k_quant_traits<block_q3_k> : k_quant_shape<16, 4, false> {};
template <>
struct k_quant_traits<block_q4_k> : k_quant_shape<32, 0, true> {};
template <>
struct k_quant_traits<block_q5_k> : k_quant_shape<32, 0, true> {};
template <>
struct k_quant_traits<block_q6_k> : k_quant_shape<16, 32, false> {};

template <class B>
concept k_quant = requires {
  { k_quant_traits<B>::sub_block } -> std::convertible_to<std::size_t>;
  { k_quant_traits<B>::offset } -> std::convertible_to<int>;
  { k_quant_traits<B>::has_min } -> std::convertible_to<bool>;
};

inline int code(const block_q2_k& b, std::size_t i) noexcept { return detail::crumb(b.qs, i); }
inline int code(const block_q3_k& b, std::size_t i) noexcept {
  return detail::crumb(b.qs, i) | ((b.hmask[i % 32] >> (i / 32)) & 1) << 2;
}
inline int code(const block_q4_k& b, std::size_t i) noexcept {
  return (b.qs[32 * (i / 64) + i % 32] >> (4 * (i / 32 % 2))) & 0xF;
}
inline int code(const block_q5_k& b, std::size_t i) noexcept {
  return ((b.qs[32 * (i / 64) + i % 32] >> (4 * (i / 32 % 2))) & 0xF) | ((b.qh[i % 32] >> (i / 32)) & 1) << 4;
}
inline int code(const block_q6_k& b, std::size_t i) noexcept {  // value 128h + 32k + l
  const std::size_t h = i / 128, k = i % 128 / 32, l = i % 32;
  const int low = (b.ql[64 * h + 32 * (k % 2) + l] >> (4 * (k / 2))) & 0xF;
  return low | ((b.qh[32 * h + l] >> (2 * k)) & 3) << 4;
}

inline int sub_scale(const block_q2_k& b, std::size_t j) noexcept { return b.scales[j] & 0xF; }
inline int sub_min(const block_q2_k& b, std::size_t j) noexcept { return b.scales[j] >> 4; }
inline int sub_scale(const block_q3_k& b, std::size_t j) noexcept { return detail::scale_k3(j, b.scales); }
template <class B>
  requires std::same_as<B, block_q4_k> || std::same_as<B, block_q5_k>
int sub_scale(const B& b, std::size_t j) noexcept {
  return detail::scale_k4(j, b.scales);
}
template <class B>
  requires std::same_as<B, block_q4_k> || std::same_as<B, block_q5_k>
int sub_min(const B& b, std::size_t j) noexcept {
  return detail::min_k4(j, b.scales);
}
inline int sub_scale(const block_q6_k& b, std::size_t j) noexcept { return b.scales[j]; }

// ggml's dequantize_row_*: (d * sc_j) * (q - offset) - dmin * m_j, each product rounded.
template <k_quant B>
void dequantize_block(const B& b, float* y) noexcept {
  using traits = k_quant_traits<B>;
  const float d = half_bits_to_float(b.d);
  for (std::size_t j = 0; j < qk_k / traits::sub_block; ++j) {
    const float dj = d * static_cast<float>(sub_scale(b, j));
    float* yj = y + traits::sub_block * j;
    for (std::size_t l = 0; l < traits::sub_block; ++l) {
      const float v = dj * static_cast<float>(code(b, traits::sub_block * j + l) - traits::offset);
      if constexpr (traits::has_min) yj[l] = v - half_bits_to_float(b.dmin) * static_cast<float>(sub_min(b, j));
      else yj[l] = v;
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
