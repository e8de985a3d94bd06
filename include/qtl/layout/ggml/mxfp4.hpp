// ggml's MXFP4 block: one E8M0 exponent and 32 E2M1 codes in Q4_0's nibble order. The
// scale is OCP MX's (2^(floor(log2 amax) - 2)) but, unlike layout/mx.hpp, ggml takes
// floor(log2f(amax)) in float (so an amax just under a power of two can round up) and
// picks each code as the first of the nearest E2M1 levels (ties go to the smaller
// magnitude, not to even). Use this type for GGUF files, layout/mx.hpp for OCP MX.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "qtl/core/bit_cast.hpp"
#include "qtl/core/config.hpp"
#include "qtl/format/minifloat.hpp"
#include "qtl/layout/ggml/blocks.hpp"
#include "qtl/layout/ggml/legacy.hpp"

namespace qtl::ggml {

// Twice the E2M1 value of each code, as integers (ggml's kvalues_mxfp4; -0 becomes 0).
inline constexpr std::array<std::int8_t, 16> mxfp4_levels = [] {
  std::array<std::int8_t, 16> levels{};
  for (int code = 0; code < 16; ++code)
    levels[static_cast<std::size_t>(code)] = static_cast<std::int8_t>(2.0f * fp4_e2m1::decode(code));
  return levels;
}();

QTL_STRICT_FP_BEGIN

namespace detail {

// 2^(e - 128): half the E8M0 scale, to go with the doubled levels.
inline float e8m0_half(std::uint8_t e) noexcept {
  const std::uint32_t bits = e < 2 ? 0x00200000u << e : static_cast<std::uint32_t>(e - 1) << 23;
  return qtl::bit_cast<float>(bits);
}

}  // namespace detail

inline void quantize_block(const float* x, block_mxfp4& b) noexcept {
  float amax = 0.0f;
  for (std::size_t j = 0; j < 32; ++j) amax = std::fabs(x[j]) > amax ? std::fabs(x[j]) : amax;
  const float exponent = amax > 0.0f ? std::floor(std::log2(amax)) - 2 + 127 : 0.0f;
  b.e = static_cast<std::uint8_t>(exponent < 0.0f ? 0.0f : exponent);  // E8M0 has no code below 2^-127
  const float d = detail::e8m0_half(b.e);
  std::uint8_t codes[32];
  for (std::size_t j = 0; j < 32; ++j) {
    std::uint8_t best = 0;
    float best_error = std::fabs(static_cast<float>(mxfp4_levels[0]) * d - x[j]);
    for (std::uint8_t i = 1; i < 16; ++i) {
      const float error = std::fabs(static_cast<float>(mxfp4_levels[i]) * d - x[j]);
      if (error < best_error) {
        best = i;
        best_error = error;
      }
    }
    codes[j] = best;
  }
  detail::pack_nibbles(codes, b.qs);
}

inline void dequantize_block(const block_mxfp4& b, float* y) noexcept {
  const float d = detail::e8m0_half(b.e);
  for (std::size_t j = 0; j < 32; ++j) y[j] = static_cast<float>(mxfp4_levels[detail::nibble(b.qs, j)]) * d;
}

QTL_STRICT_FP_END

}  // namespace qtl::ggml
