// qtl::identity_decode: the decode of the formats whose codes stand for themselves
// (int_format, ternary, index_format), scalar and batch; they inherit it.
#pragma once

#include "qtl/core/config.hpp"
#include "qtl/core/simd.hpp"

namespace qtl {

struct identity_decode {
  QTL_HOST_DEVICE static constexpr float decode(int code) noexcept { return static_cast<float>(code); }
#if QTL_HAS_SIMD
  template <class A>
  static simd::floats<A> decode(simd::ints<A> code) noexcept {
    return xsimd::batch_cast<float>(code);
  }
#endif
};

}  // namespace qtl
