// qtl::ternary: the three codes {-1, 0, +1} of BitNet b1.58 weights, stored in 2 bits.
// Composed with the absmean scheme it is the b1.58 weight quantizer.
#pragma once

#include <cstdint>

#include "qtl/format/identity_decode.hpp"

namespace qtl {

struct ternary : identity_decode {
  using code_type = std::int8_t;
  static constexpr int bits = 2;
  static constexpr bool is_signed = true;
  static constexpr int min_code = -1;
  static constexpr int max_code = 1;
  static constexpr int levels = 3;
};

}  // namespace qtl
