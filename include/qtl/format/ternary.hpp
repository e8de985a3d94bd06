// qtl::ternary: the three codes {-1, 0, +1} of BitNet b1.58 weights, stored in 2 bits.
// Composed with the absmean scheme it is the b1.58 weight quantizer.
#pragma once

#include <cstdint>

#include "qtl/core/config.hpp"
#include "qtl/core/simd.hpp"

namespace qtl {

struct ternary {
  using code_type = std::int8_t;
  static constexpr int bits = 2;
  static constexpr bool is_signed = true;
  static constexpr int min_code = -1;
  static constexpr int max_code = 1;
  static constexpr int levels = 3;

  QTL_HOST_DEVICE static constexpr float decode(int code) noexcept { return static_cast<float>(code); }
#if QTL_HAS_SIMD
  template <class A>
  static simd::floats<A> decode(simd::ints<A> code) noexcept {
    return xsimd::batch_cast<float>(code);
  }
#endif
};

}  // namespace qtl
