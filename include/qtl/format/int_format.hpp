// qtl::int_format<Bits, Signed>: plain integer codes of 1..8 bits, the Format policy of
// every uniform quantizer (int8, int4, int2, ...). Codes decode to themselves.
#pragma once

#include <cstdint>
#include <type_traits>

#include "qtl/core/concepts.hpp"
#include "qtl/format/identity_decode.hpp"

namespace qtl {

template <int Bits, bool Signed>
  requires code_width<Bits>
struct int_format : identity_decode {
  using code_type = std::conditional_t<Signed, std::int8_t, std::uint8_t>;
  static constexpr int bits = Bits;
  static constexpr bool is_signed = Signed;
  static constexpr int min_code = Signed ? -(1 << (Bits - 1)) : 0;
  static constexpr int max_code = Signed ? (1 << (Bits - 1)) - 1 : (1 << Bits) - 1;
  static constexpr int levels = 1 << Bits;
};

using int8 = int_format<8, true>;
using uint8 = int_format<8, false>;
using int4 = int_format<4, true>;
using uint4 = int_format<4, false>;
using int2 = int_format<2, true>;
using uint2 = int_format<2, false>;

}  // namespace qtl
