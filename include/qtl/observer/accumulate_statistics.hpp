// qtl::accumulate_statistics: adds every element of a matrix to the tensor_stats of its
// group. The one statistics walk, shared by the observers and quantizer::statistics.
#pragma once

#include <cstddef>
#include <span>

#include "qtl/core/nonfinite_policy.hpp"
#include "qtl/core/tensor_stats.hpp"
#include "qtl/core/view.hpp"
#include "qtl/granularity.hpp"

namespace qtl {

// stats has one entry per group of grid; non-finite values follow policy.
template <class T>
void accumulate_statistics(const group_grid& grid, matrix_view<T> m, nonfinite_policy policy,
                           std::span<tensor_stats> stats) {
  grid.for_each_run([&](std::size_t r, std::size_t begin, std::size_t end, std::size_t group) {
    tensor_stats run;  // a local: the compiler need not assume it aliases the input
    for (std::size_t c = begin; c < end; ++c) {
      const float v = static_cast<float>(m(r, c));
      if (detail::check_finite(v, policy, r, c, m.cols())) run.add(v);
    }
    stats[group].merge(run);
  });
}

}  // namespace qtl
