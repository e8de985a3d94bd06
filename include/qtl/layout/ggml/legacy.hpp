// ggml's 32-value blocks Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and Q8_1: quantize one block from
// float and dequantize it, with ggml's reference numerics (ggml-quants.c, *_ref):
//  - scales are computed in float and stored as IEEE half, rounded to nearest even; the
//    codes use the unrounded float scale, as ggml does;
//  - Q4_0/Q5_0 take the signed value of largest magnitude (the first one on ties) and
//    d = max / -8 (-16), so that value maps to code 0 exactly;
//  - the 4/5-bit codes are truncated (x * id + 8.5), not rounded; Q8 rounds half away.
#pragma once

#include <cstddef>
#include <cstdint>

#include "qtl/core/config.hpp"
#include "qtl/core/half.hpp"
#include "qtl/core/tensor_stats.hpp"
#include "qtl/format/int_format.hpp"
#include "qtl/layout/ggml/blocks.hpp"
#include "qtl/rounding.hpp"
#include "qtl/scheme.hpp"

namespace qtl::ggml {

QTL_STRICT_FP_BEGIN

namespace detail {

// The value of largest magnitude, signed; the first one wins a tie.
inline float signed_absmax(const float* x, std::size_t n) noexcept {
  float amax = 0.0f, max = 0.0f;
  for (std::size_t j = 0; j < n; ++j) {
    const float a = x[j] < 0 ? -x[j] : x[j];
    if (amax < a) {
      amax = a;
      max = x[j];
    }
  }
  return max;
}

inline void min_max(const float* x, std::size_t n, float& min, float& max) noexcept {
  min = x[0];
  max = x[0];
  for (std::size_t j = 1; j < n; ++j) {
    min = x[j] < min ? x[j] : min;
    max = x[j] > max ? x[j] : max;
  }
}

inline float inverse(float d) noexcept { return d != 0.0f ? 1.0f / d : 0.0f; }

// The legacy 4/5-bit code: trunc((x - min) * id + offset), at most max_code.
template <int MaxCode>
inline std::uint8_t truncated_code(float x, float min, float id, float offset) noexcept {
  const int q = static_cast<int>((x - min) * id + offset);
  return static_cast<std::uint8_t>(q < MaxCode ? q : MaxCode);
}

// Low nibbles of values 0..15 and high nibbles of values 16..31 (ggml's split order).
inline void pack_nibbles(const std::uint8_t* codes, std::uint8_t* qs) noexcept {
  for (std::size_t j = 0; j < 16; ++j) qs[j] = static_cast<std::uint8_t>((codes[j] & 0x0F) | (codes[j + 16] & 0x0F) << 4);
}
inline std::uint8_t nibble(const std::uint8_t* qs, std::size_t j) noexcept {
  return j < 16 ? qs[j] & 0x0F : qs[j - 16] >> 4;
}

// Bit 4 of value j at bit j of a little-endian uint32.
inline void pack_high_bits(const std::uint8_t* codes, std::uint8_t* qh) noexcept {
  for (std::size_t b = 0; b < 4; ++b) qh[b] = 0;
  for (std::size_t j = 0; j < 32; ++j) qh[j / 8] |= static_cast<std::uint8_t>(((codes[j] >> 4) & 1) << (j % 8));
}
inline std::uint8_t high_bit(const std::uint8_t* qh, std::size_t j) noexcept { return (qh[j / 8] >> (j % 8)) & 1; }

// The four legacy 4/5-bit blocks differ only in having a min (Q4_1, Q5_1) and a fifth
// bit plane (Q5_0, Q5_1): one quantize and one dequantize serve them all.
template <class B>
inline constexpr bool has_min = requires(B b) { b.m; };
template <class B>
inline constexpr int code_bits = requires(B b) { b.qh; } ? 5 : 4;

template <class B>
inline void quantize_legacy(const float* x, B& b) noexcept {
  constexpr int bits = code_bits<B>;
  constexpr int max_code = (1 << bits) - 1;
  std::uint8_t codes[32];
  float d = 0.0f;
  if constexpr (has_min<B>) {
    float min = 0.0f, max = 0.0f;
    min_max(x, 32, min, max);
    d = (max - min) / static_cast<float>(max_code);
    const float id = inverse(d);
    for (std::size_t j = 0; j < 32; ++j) codes[j] = truncated_code<max_code>(x[j], min, id, 0.5f);
    b.m = float_to_half_bits(min);
  } else {
    constexpr float half_range = static_cast<float>(1 << (bits - 1));
    d = signed_absmax(x, 32) / -half_range;
    const float id = inverse(d);
    for (std::size_t j = 0; j < 32; ++j) codes[j] = truncated_code<max_code>(x[j], 0.0f, id, half_range + 0.5f);
  }
  b.d = float_to_half_bits(d);
  pack_nibbles(codes, b.qs);
  if constexpr (bits == 5) pack_high_bits(codes, b.qh);
}

template <class B>
inline void dequantize_legacy(const B& b, float* y) noexcept {
  const float d = half_bits_to_float(b.d);
  float m = 0.0f;
  if constexpr (has_min<B>) m = half_bits_to_float(b.m);
  for (std::size_t j = 0; j < 32; ++j) {
    int q = nibble(b.qs, j);
    if constexpr (code_bits<B> == 5) q |= high_bit(b.qh, j) << 4;
    if constexpr (has_min<B>) y[j] = static_cast<float>(q) * d + m;
    else y[j] = static_cast<float>(q - (1 << (code_bits<B> - 1))) * d;
  }
}

// Q8_0/Q8_1 are the foundation's symmetric int8 scheme (scale absmax/127) per group of 32
// with rounding half away from zero.
inline float quantize_q8(const float* x, std::int8_t* qs) noexcept {
  tensor_stats stats;
  for (std::size_t j = 0; j < 32; ++j) stats.add(x[j]);
  const symmetric scheme{};
  const quant_params p = scheme.params<int8>(stats);
  for (std::size_t j = 0; j < 32; ++j)
    qs[j] = static_cast<std::int8_t>(scheme.quantize<int8>(x[j], p, nearest_away{}, j));
  return p.scale;
}

}  // namespace detail

inline void quantize_block(const float* x, block_q4_0& b) noexcept { detail::quantize_legacy(x, b); }
inline void dequantize_block(const block_q4_0& b, float* y) noexcept { detail::dequantize_legacy(b, y); }
inline void quantize_block(const float* x, block_q4_1& b) noexcept { detail::quantize_legacy(x, b); }
inline void dequantize_block(const block_q4_1& b, float* y) noexcept { detail::dequantize_legacy(b, y); }
inline void quantize_block(const float* x, block_q5_0& b) noexcept { detail::quantize_legacy(x, b); }
inline void dequantize_block(const block_q5_0& b, float* y) noexcept { detail::dequantize_legacy(b, y); }
inline void quantize_block(const float* x, block_q5_1& b) noexcept { detail::quantize_legacy(x, b); }
inline void dequantize_block(const block_q5_1& b, float* y) noexcept { detail::dequantize_legacy(b, y); }

inline void quantize_block(const float* x, block_q8_0& b) noexcept {
  b.d = float_to_half_bits(detail::quantize_q8(x, b.qs));
}
inline void dequantize_block(const block_q8_0& b, float* y) noexcept {
  const float d = half_bits_to_float(b.d);
  for (std::size_t j = 0; j < 32; ++j) y[j] = static_cast<float>(b.qs[j]) * d;
}

inline void quantize_block(const float* x, block_q8_1& b) noexcept {
  const float d = detail::quantize_q8(x, b.qs);
  int sum = 0;
  for (const std::int8_t q : b.qs) sum += q;
  b.d = float_to_half_bits(d);
  b.s = float_to_half_bits(static_cast<float>(sum) * d);
}
inline void dequantize_block(const block_q8_1& b, float* y) noexcept {
  const float d = half_bits_to_float(b.d);
  for (std::size_t j = 0; j < 32; ++j) y[j] = static_cast<float>(b.qs[j]) * d;
}

QTL_STRICT_FP_END

}  // namespace qtl::ggml
