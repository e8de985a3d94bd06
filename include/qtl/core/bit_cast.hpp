// qtl::bit_cast: std::bit_cast that also works in CUDA device code.
// Used by the half/bfloat16 conversions and by the minifloat formats.
#pragma once

#include "qtl/core/config.hpp"

namespace qtl {

template <class To, class From>
  requires(sizeof(To) == sizeof(From))
QTL_HOST_DEVICE constexpr To bit_cast(const From& from) noexcept {
  return __builtin_bit_cast(To, from);
}

}  // namespace qtl
