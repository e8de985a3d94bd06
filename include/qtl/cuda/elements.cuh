// The element types the qtl/cuda/ kernels read and write, and their conversions to and
// from float in device code: qtl's 16-bit storage types (core/half.hpp, core/bfloat16.hpp)
// and CUDA's own, which convert the same way (round to nearest even; NaN payloads aside).
#pragma once

#include <concepts>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "qtl/core/bfloat16.hpp"
#include "qtl/core/half.hpp"

namespace qtl::cuda {

// Activations a kernel reads.
template <class T>
concept activation_element = std::same_as<T, float> || std::same_as<T, half> || std::same_as<T, bfloat16> ||
                             std::same_as<T, __half> || std::same_as<T, __nv_bfloat16>;

// GEMV outputs.
template <class T>
concept output_element = std::same_as<T, float> || std::same_as<T, bfloat16> || std::same_as<T, __nv_bfloat16>;

namespace detail {

__device__ inline float to_float(float x) noexcept { return x; }
__device__ inline float to_float(half x) noexcept { return static_cast<float>(x); }
__device__ inline float to_float(bfloat16 x) noexcept { return static_cast<float>(x); }
__device__ inline float to_float(__half x) noexcept { return __half2float(x); }
__device__ inline float to_float(__nv_bfloat16 x) noexcept { return __bfloat162float(x); }

template <output_element T>
__device__ inline T from_float(float v) noexcept {
  if constexpr (std::same_as<T, float>) return v;
  else if constexpr (std::same_as<T, bfloat16>) return bfloat16(v);
  else return __float2bfloat16_rn(v);
}

}  // namespace detail

}  // namespace qtl::cuda
