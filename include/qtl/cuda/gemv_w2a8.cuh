// y = W a on the GPU for BitNet b1.58 ternary weights in BitNet's GPU W2 layout
// (layout/bitnet/gpu_w2.hpp, written by bitnet::pack_gpu_w2) and int8 activations with one
// multiplier per token (act_quant.cuh): __dp4a over int32 row sums, which are exact, then
// y = float(isum) / a_scale * w_scale, the CPU GEMV's float step (kernel/i2_s_dot.hpp),
// so the output is bit-identical to the CPU's. A batch of 1..8 activation rows shares each
// weight load (the batch is a template parameter). What each thread computes is
// cuda/lanes/gemv_w2a8.hpp, which the tests also run on the CPU.
#pragma once

#include <cstddef>
#include <cstdint>

#include <cuda_runtime.h>

#include "qtl/cuda/arguments.hpp"
#include "qtl/cuda/check.cuh"
#include "qtl/cuda/elements.cuh"
#include "qtl/cuda/lanes/gemv_w2a8.hpp"

namespace qtl::cuda {

namespace detail {

template <int Batch, class Out>
__global__ void __launch_bounds__(lanes::w2a8_runs * lanes::w2a8_rows)
    gemv_w2a8_kernel(const std::uint8_t* __restrict__ w, float w_scale, std::size_t rows, std::size_t cols,
                     const std::int8_t* __restrict__ a, const float* __restrict__ a_scales, Out* __restrict__ y) {
  const std::size_t r = static_cast<std::size_t>(blockIdx.x) * lanes::w2a8_rows + threadIdx.y;
  int acc[Batch];
  lanes::w2a8_run_dots<Batch>(w, cols, a, r, threadIdx.x, acc);
  // The 8 runs of a row are 8 neighbouring lanes of one warp: an exact integer reduction.
#pragma unroll
  for (int n = 0; n < Batch; ++n)
#pragma unroll
    for (int offset = lanes::w2a8_runs / 2; offset > 0; offset /= 2) acc[n] += __shfl_xor_sync(0xffffffffu, acc[n], offset);
  if (threadIdx.x != 0) return;
#pragma unroll
  for (int n = 0; n < Batch; ++n) y[n * rows + r] = lanes::from_float<Out>(lanes::w2a8_output(acc[n], a_scales[n], w_scale));
}

}  // namespace detail

// w: bitnet::gpu_w2::bytes(rows, cols) bytes (rows % 16 == 0, cols % 128 == 0, 4-byte
// aligned) and its scale w_scale (x ~= code * w_scale); a: batch (1..8) rows of cols int8
// codes (16-byte aligned) with their multipliers a_scales (x ~= code / s); y: batch rows of
// `rows` outputs, float or bfloat16. All pointers on the device; asynchronous on `stream`.
// y[n][r] = float(sum_c W(r, c) a[n][c]) / a_scales[n] * w_scale, bit-identical to the CPU's
// gemv_i2_s on the same codes (not under --use_fast_math). Throws qtl::error on bad shapes
// or pointers (before any CUDA call) and on a launch error.
template <output_element Out>
void gemv_w2a8(const std::uint8_t* w, float w_scale, std::size_t rows, std::size_t cols, const std::int8_t* a,
               const float* a_scales, std::size_t batch, Out* y, cudaStream_t stream = nullptr) {
  check_gemv_w2a8(rows, cols, batch, w, a, a_scales, y);
  const launch_shape launch = lanes::w2a8_launch(rows);
  const dim3 grid(static_cast<unsigned>(launch.blocks)), block(launch.threads_x, launch.threads_y);
  with_batch(batch, [&](auto b) {
    detail::gemv_w2a8_kernel<decltype(b)::value, Out><<<grid, block, 0, stream>>>(w, w_scale, rows, cols, a, a_scales, y);
  });
  check_launch("cuda::gemv_w2a8");
}

}  // namespace qtl::cuda
