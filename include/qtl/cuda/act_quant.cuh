// Per-token absmax int8 quantization of activations on the GPU (BitNet's activation_quant):
// one thread block per token, a CUB block reduction for the row's max |x|, then the CPU
// quantizer's own per-value functions (layout/bitnet/quantize.hpp), so codes and scales
// are bit-identical to qtl::bitnet::quantize_activations. Feeds gemv_w2a8.cuh. What each
// thread computes is cuda/lanes/act_quant.hpp, which the tests also run on the CPU.
#pragma once

#include <cstddef>
#include <cstdint>

#include <cub/block/block_reduce.cuh>
#include <cuda/functional>
#include <cuda_runtime.h>

#include "qtl/cuda/arguments.hpp"
#include "qtl/cuda/check.cuh"
#include "qtl/cuda/elements.cuh"
#include "qtl/cuda/lanes/act_quant.hpp"
#include "qtl/layout/bitnet/quantize.hpp"

namespace qtl::cuda {

namespace detail {

// Block b quantizes token b (cuda/lanes/act_quant.hpp): the threads' maxima reduced by CUB
// (a max: exact in any order), the scale from thread 0, then every thread's codes.
template <int Threads, class T>
__global__ void __launch_bounds__(Threads)
    quantize_activations_kernel(const T* __restrict__ x, std::size_t cols, std::int8_t* __restrict__ codes,
                                float* __restrict__ scales) {
  using block_reduce = cub::BlockReduce<float, Threads>;
  __shared__ typename block_reduce::TempStorage temp;
  __shared__ float row_scale;
  const std::size_t token = blockIdx.x;
  const T* row = x + token * cols;
  float absmax = lanes::act_quant_thread_absmax(row, cols, threadIdx.x, Threads);
  absmax = block_reduce(temp).Reduce(absmax, ::cuda::maximum<>{});  // valid in thread 0
  if (threadIdx.x == 0) {
    row_scale = bitnet::activation_scale(absmax);
    scales[token] = row_scale;
  }
  __syncthreads();
  lanes::act_quant_thread_codes(row, cols, threadIdx.x, Threads, row_scale, codes + token * cols);
}

}  // namespace detail

// x: tokens x cols activations (device memory, row-major); codes: tokens x cols int8;
// scales: tokens multipliers s (x ~= code / s), all on the device. Asynchronous on
// `stream`. Throws qtl::error on a bad shape or null pointer (before any CUDA call) and
// on a launch error. Unlike the CPU quantizer it cannot refuse NaN/Inf (device code does
// not throw): a row holding them gets unspecified codes. Bit-identical to the CPU only
// without --use_fast_math (which would turn 1 / absmax into an approximation).
template <int Threads = 256, activation_element T>
void quantize_activations(const T* x, std::size_t tokens, std::size_t cols, std::int8_t* codes, float* scales,
                          cudaStream_t stream = nullptr) {
  static_assert(Threads % 32 == 0 && Threads <= 1024, "a whole number of warps per block");
  check_quantize_activations(tokens, cols, x, codes, scales);
  const launch_shape launch = lanes::act_quant_launch(tokens, Threads);
  detail::quantize_activations_kernel<Threads, T>
      <<<static_cast<unsigned>(launch.blocks), launch.threads_x, 0, stream>>>(x, cols, codes, scales);
  check_launch("cuda::quantize_activations");
}

}  // namespace qtl::cuda
