// qtl::bfloat16: the upper half of an IEEE binary32, with bit-exact
// round-to-nearest-even conversion from float (NaN stays NaN), host and device.
#pragma once

#include <cstdint>

#include "qtl/core/bit_cast.hpp"
#include "qtl/core/config.hpp"
#include "qtl/core/float16_storage.hpp"

namespace qtl {

// float -> bfloat16 bits, round to nearest, ties to even; subnormals and Inf fall out exactly.
QTL_HOST_DEVICE constexpr std::uint16_t float_to_bfloat16_bits(float value) noexcept {
  const std::uint32_t x = bit_cast<std::uint32_t>(value);
  if ((x & 0x7fffffffu) > 0x7f800000u)  // NaN: truncate and force the quiet bit
    return static_cast<std::uint16_t>((x >> 16) | 0x0040u);
  return static_cast<std::uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

QTL_HOST_DEVICE constexpr float bfloat16_bits_to_float(std::uint16_t bits) noexcept {
  return bit_cast<float>(static_cast<std::uint32_t>(bits) << 16);
}

struct bfloat16_codec {
  QTL_HOST_DEVICE static constexpr std::uint16_t encode(float value) noexcept { return float_to_bfloat16_bits(value); }
  QTL_HOST_DEVICE static constexpr float decode(std::uint16_t bits) noexcept { return bfloat16_bits_to_float(bits); }
};
using bfloat16 = float16_storage<bfloat16_codec>;

static_assert(sizeof(bfloat16) == 2);

}  // namespace qtl
