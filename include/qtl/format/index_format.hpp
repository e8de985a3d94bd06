// qtl::index_format<Levels>: the codes 0 .. Levels-1 of a table with any number of entries
// (2..256), stored in ceil(log2(Levels)) bits; codes decode to themselves. The format of a
// codebook whose size is not a power of two (codebook/lut_codebook.hpp): a 10-level table
// takes index_format<10>, 4 bits a code, and codes 10..15 are refused as not its codes.
#pragma once

#include <cstdint>

#include "qtl/format/identity_decode.hpp"

namespace qtl {

template <int Levels>
  requires(Levels >= 2 && Levels <= 256)
struct index_format : identity_decode {
  using code_type = std::uint8_t;
  static constexpr int bits = [] {
    int b = 1;
    while ((1 << b) < Levels) ++b;
    return b;
  }();
  static constexpr bool is_signed = false;
  static constexpr int min_code = 0;
  static constexpr int max_code = Levels - 1;
  static constexpr int levels = Levels;
};

}  // namespace qtl
