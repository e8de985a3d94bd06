// The element types the qtl/cuda/ kernels read and write: qtl's 16-bit storage types
// (core/half.hpp, core/bfloat16.hpp) and CUDA's own, which convert the same way (round to
// nearest even; NaN payloads aside; the conversions are lanes::to_float / from_float).
#pragma once

#include <concepts>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "qtl/core/bfloat16.hpp"
#include "qtl/core/half.hpp"
#include "qtl/cuda/lanes/ops.hpp"

namespace qtl::cuda {

// Activations a kernel reads.
template <class T>
concept activation_element = std::same_as<T, float> || std::same_as<T, half> || std::same_as<T, bfloat16> ||
                             std::same_as<T, __half> || std::same_as<T, __nv_bfloat16>;

// GEMV outputs.
template <class T>
concept output_element = std::same_as<T, float> || std::same_as<T, bfloat16> || std::same_as<T, __nv_bfloat16>;

}  // namespace qtl::cuda
