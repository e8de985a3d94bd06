// CUDA error reporting and launch helpers shared by the qtl/cuda/ host wrappers: a CUDA
// error becomes a qtl::error (errc::device) naming the call and cudaGetErrorString.
#pragma once

#include <cstddef>
#include <string>

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

}  // namespace qtl::cuda
