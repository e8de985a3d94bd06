// ggml's ternary super-blocks (BitNet b1.58 weights): 256 values in {-1, 0, 1} times one
// half scale d = max|x|, codes rounded half away from zero (lroundf), stored as q + 1.
//  - TQ2_0: 2 bits per value, TQ2_0's split order (pack/bit_pack.hpp, blocks of 128);
//  - TQ1_0: 5 values per byte in base 3 (the first value most significant), scaled to a
//    byte by ceil(q * 256 / 243) so that a value is recovered with a multiply and a shift:
//    bytes 0..31 hold values m + 32n (n < 5), bytes 32..47 the next 80 as m + 16n, and
//    qh[0..3] the last 16 as 4 values each (m + 4n), shifted up by one trit.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>

#include "qtl/core/config.hpp"
#include "qtl/core/half.hpp"
#include "qtl/layout/ggml/blocks.hpp"
#include "qtl/layout/ggml/legacy.hpp"
#include "qtl/pack/bit_pack.hpp"

namespace qtl::ggml {

QTL_STRICT_FP_BEGIN

namespace detail {

// Codes 0, 1, 2 for -1, 0, 1 (d = max|x|); returns d.
inline float ternary_codes(const float* x, std::uint8_t* codes) noexcept {
  float amax = 0.0f;
  for (std::size_t j = 0; j < qk_k; ++j) amax = std::fabs(x[j]) > amax ? std::fabs(x[j]) : amax;
  const float id = inverse(amax);
  for (std::size_t j = 0; j < qk_k; ++j) codes[j] = static_cast<std::uint8_t>(std::lround(x[j] * id) + 1);
  return amax;
}

// Byte m of out holds codes[m + n * stride] for n < trits, base 3, first most significant,
// padded to 5 trits and mapped onto 0..255.
inline void pack_trits(const std::uint8_t* codes, std::size_t bytes, std::size_t stride, int trits,
                       std::uint8_t* out) noexcept {
  for (std::size_t m = 0; m < bytes; ++m) {
    unsigned q = 0;
    for (int n = 0; n < 5; ++n) q = q * 3 + (n < trits ? codes[m + static_cast<std::size_t>(n) * stride] : 0u);
    out[m] = static_cast<std::uint8_t>((q * 256 + 242) / 243);
  }
}

// Trit n (0 = most significant) of a TQ1_0 byte.
inline int trit(std::uint8_t byte, int n) noexcept {
  constexpr std::uint8_t pow3[5] = {1, 3, 9, 27, 81};
  const auto shifted = static_cast<std::uint8_t>(byte * pow3[n]);
  return (shifted * 3) >> 8;
}

inline void unpack_trits(const std::uint8_t* in, std::size_t bytes, std::size_t stride, int trits,
                         std::uint8_t* codes) noexcept {
  for (std::size_t m = 0; m < bytes; ++m)
    for (int n = 0; n < trits; ++n) codes[m + static_cast<std::size_t>(n) * stride] = static_cast<std::uint8_t>(trit(in[m], n));
}

}  // namespace detail

inline void quantize_block(const float* x, block_tq2_0& b) noexcept {
  std::uint8_t codes[qk_k];
  b.d = float_to_half_bits(detail::ternary_codes(x, codes));
  pack_split<2>(codes, 128, b.qs);
}

inline void dequantize_block(const block_tq2_0& b, float* y) noexcept {
  const float d = half_bits_to_float(b.d);
  for (std::size_t j = 0; j < qk_k; ++j) y[j] = static_cast<float>(read_split<2>(b.qs, 128, j) - 1) * d;
}

inline void quantize_block(const float* x, block_tq1_0& b) noexcept {
  std::uint8_t codes[qk_k];
  b.d = float_to_half_bits(detail::ternary_codes(x, codes));
  detail::pack_trits(codes, 32, 32, 5, b.qs);
  detail::pack_trits(codes + 160, 16, 16, 5, b.qs + 32);
  detail::pack_trits(codes + 240, 4, 4, 4, b.qh);
}

inline void dequantize_block(const block_tq1_0& b, float* y) noexcept {
  std::uint8_t codes[qk_k];
  detail::unpack_trits(b.qs, 32, 32, 5, codes);
  detail::unpack_trits(b.qs + 32, 16, 16, 5, codes + 160);
  detail::unpack_trits(b.qh, 4, 4, 4, codes + 240);
  const float d = half_bits_to_float(b.d);
  for (std::size_t j = 0; j < qk_k; ++j) y[j] = static_cast<float>(codes[j] - 1) * d;
}

QTL_STRICT_FP_END

}  // namespace qtl::ggml
