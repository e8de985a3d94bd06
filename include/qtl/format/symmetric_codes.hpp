// qtl::symmetric_codes<Bits>: the code range of a format with a zero code and K = 2^(Bits-1) - 1
// magnitudes of each sign (codes -K..K, one bit pattern unused), shared by the formats
// whose levels are a curve's (pow2, compander).
#pragma once

#include <cstdint>

namespace qtl {

template <int Bits>
struct symmetric_codes {
  using code_type = std::int8_t;
  static constexpr int bits = Bits;
  static constexpr bool is_signed = true;
  static constexpr int top = (1 << (Bits - 1)) - 1;  // K: the largest magnitude's code
  static constexpr int min_code = -top;
  static constexpr int max_code = top;
  static constexpr int levels = 2 * top + 1;
};

}  // namespace qtl
