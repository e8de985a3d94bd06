// qtl::accumulate_statistics: adds every run of a matrix (one row's part of a group) to
// the tensor_stats of its group. The one statistics walk, shared by the observers,
// quantizer::statistics (the scalar step) and the composed kernels (the batch form).
#pragma once

#include <cstddef>
#include <span>
#include <type_traits>

#include "qtl/core/nonfinite_policy.hpp"
#include "qtl/core/simd.hpp"
#include "qtl/core/tensor_stats.hpp"
#include "qtl/core/view.hpp"
#include "qtl/granularity.hpp"
#include "qtl/observer/run_statistics.hpp"

namespace qtl {

// stats has one entry per group of grid; non-finite values follow policy.
template <class T>
void accumulate_statistics(const group_grid& grid, matrix_view<T> m, nonfinite_policy policy,
                           std::span<tensor_stats> stats) {
  grid.for_each_run([&](std::size_t r, std::size_t begin, std::size_t end, std::size_t group) {
    stats[group].merge(run_statistics(&m(r, begin), end - begin, policy, r, begin, m.cols()));
  });
}

#if QTL_HAS_SIMD
// The same statistics with batch_run_statistics over xsimd arch A where the elements are
// floats; a run with a non-finite value takes the scalar step (the policy's skip or throw).
template <class A, class T>
void accumulate_statistics(const group_grid& grid, matrix_view<T> m, nonfinite_policy policy,
                           std::span<tensor_stats> stats) {
  if constexpr (!std::is_same_v<std::remove_const_t<T>, float>) {
    accumulate_statistics(grid, m, policy, stats);
  } else {
    grid.for_each_run([&](std::size_t r, std::size_t begin, std::size_t end, std::size_t group) {
      const float* run = &m(r, begin);
      tensor_stats s;
      if (!batch_run_statistics<A>(run, end - begin, s)) s = run_statistics(run, end - begin, policy, r, begin, m.cols());
      stats[group].merge(s);
    });
  }
}
#endif

}  // namespace qtl
