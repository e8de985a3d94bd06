// The activation rows of a GEMV call (small-batch GEMM: 1..max_gemv_batch rows), checked
// once against the output, for every GEMV entry point (kernel/gemv.hpp, gemv_nf4.hpp,
// composed_gemv.hpp).
#pragma once

#include <cstddef>
#include <string>

#include "qtl/core/error.hpp"

namespace qtl::kernel {

inline constexpr std::size_t max_gemv_batch = 8;

namespace detail {

// The activation rows in x (1..max_gemv_batch rows of cols values), once x and the
// output (as many rows of `rows` values) are checked; every GEMV's entry point uses it.
inline std::size_t checked_batch(const char* what, std::size_t rows, std::size_t cols, std::size_t x_size,
                                 std::size_t y_size) {
  const std::size_t batch = cols == 0 ? 0 : x_size / cols;
  if (batch == 0 || batch > max_gemv_batch || x_size != batch * cols)
    throw error(errc::shape_mismatch, std::string(what) + ": activations of " + std::to_string(x_size) +
                                          " values are not 1.." + std::to_string(max_gemv_batch) + " rows of " +
                                          std::to_string(cols));
  check_room(y_size, batch * rows, what, "output", "values");
  return batch;
}

}  // namespace detail

}  // namespace qtl::kernel
