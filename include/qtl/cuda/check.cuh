// CUDA error reporting and launch helpers shared by the qtl/cuda/ host wrappers: a CUDA
// error becomes a qtl::error (errc::device) naming the call and cudaGetErrorString.
#pragma once

#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>

#include <cuda_runtime.h>

#include "qtl/core/error.hpp"
#include "qtl/cuda/arguments.hpp"

namespace qtl::cuda {

// Throws qtl::error(errc::device, "<what>: <CUDA's error string> (<error name>)") unless status is cudaSuccess.
inline void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess)
    throw error(errc::device, std::string(what) + ": " + cudaGetErrorString(status) + " (" +
                                  cudaGetErrorName(status) + ")");
}

// After a <<<...>>> launch: a bad configuration shows up here, a fault in the kernel at
// the next synchronizing call.
inline void check_launch(const char* what) { check(cudaGetLastError(), what); }

constexpr std::size_t ceil_div(std::size_t a, std::size_t b) noexcept { return (a + b - 1) / b; }

// f(std::integral_constant<int, B>{}) for the runtime batch B (1..max_batch, checked by
// the caller): one kernel instantiation per batch size.
template <class F>
void with_batch(std::size_t batch, F&& f) {
  [&]<int... I>(std::integer_sequence<int, I...>) {
    ((batch == static_cast<std::size_t>(I + 1) ? f(std::integral_constant<int, I + 1>{}) : void()), ...);
  }(std::make_integer_sequence<int, static_cast<int>(max_batch)>{});
}

}  // namespace qtl::cuda
