// f(0), ..., f(N - 1) with compile-time indices, so that arrays indexed by them (a
// kernel's accumulators) stay in registers where a loop would keep them in memory.
#pragma once

#include <cstddef>
#include <type_traits>
#include <utility>

#include "qtl/core/config.hpp"

namespace qtl::kernel {

template <std::size_t N, class F>
QTL_FORCEINLINE void for_each_index(F&& f) {
  [&]<std::size_t... I>(std::index_sequence<I...>) QTL_LAMBDA_FORCEINLINE {
    (f(std::integral_constant<std::size_t, I>{}), ...);
  }(std::make_index_sequence<N>{});
}

}  // namespace qtl::kernel
