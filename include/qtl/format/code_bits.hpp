// code_to_bits / bits_to_code: the unsigned bit pattern a Format's code is stored as
// when packed (offset binary from min_code), shared by pack/ and layout/.
#pragma once

#include <cstdint>

#include "qtl/core/concepts.hpp"
#include "qtl/core/config.hpp"

namespace qtl {

// Every format packs into 0 .. 2^bits - 1: the code's offset from min_code.
template <format F>
QTL_HOST_DEVICE constexpr std::uint8_t code_to_bits(int code) noexcept {
  return static_cast<std::uint8_t>(code - F::min_code);
}
template <format F>
QTL_HOST_DEVICE constexpr int bits_to_code(std::uint8_t bits) noexcept {
  return static_cast<int>(bits) + F::min_code;
}

}  // namespace qtl
