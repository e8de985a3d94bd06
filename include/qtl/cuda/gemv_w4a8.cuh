// y = W a on the GPU for ggml Q4_0 weight blocks (layout/ggml/blocks.hpp) and int8
// activations in Q8_0 blocks: __dp4a gives each block's exact integer dot, and its term
// float(isum) * (d_w * d_a) is the CPU's (kernel/block_dot.hpp, block_term) rounded the
// same way; only the order in which the terms are summed differs from the CPU's block order.
// A batch of 1..8 activation rows shares each weight block's load. What each thread
// computes is cuda/lanes/gemv_w4a8.hpp, which the tests also run on the CPU.
#pragma once

#include <cstddef>
#include <cstdint>

#include <cuda_runtime.h>

#include "qtl/core/half.hpp"
#include "qtl/cuda/arguments.hpp"
#include "qtl/cuda/check.cuh"
#include "qtl/cuda/elements.cuh"
#include "qtl/cuda/lanes/gemv_w4a8.hpp"
#include "qtl/layout/ggml/blocks.hpp"

namespace qtl::cuda {

namespace detail {

// Sum of v over the warp's lanes whose index differs from this lane's in the bits of `Mask`.
template <int Mask, class T>
__device__ inline T lane_sum(T v) noexcept {
#pragma unroll
  for (int offset = 1; offset <= Mask; offset *= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

template <int Batch, class Out>
__global__ void __launch_bounds__(32 * gemv_rows_per_block)
    gemv_w4a8_kernel(const ggml::block_q4_0* __restrict__ w, std::size_t rows, std::size_t blocks_per_row,
                     const ggml::block_q8_0* __restrict__ a, Out* __restrict__ y) {
  const std::size_t r = static_cast<std::size_t>(blockIdx.x) * gemv_rows_per_block + threadIdx.y;
  if (r >= rows) return;  // a whole warp
  const unsigned lane = threadIdx.x;
  float acc[Batch];
#pragma unroll
  for (int n = 0; n < Batch; ++n) acc[n] = 0.0f;
  // Every lane runs every step (the shuffles need the whole warp).
  for (std::size_t base = 0; base < blocks_per_row; base += lanes::w4a8_blocks_per_step) {
    const lanes::w4a8_quarter q = lanes::w4a8_weights(w + r * blocks_per_row, blocks_per_row, base, lane);
#pragma unroll
    for (int n = 0; n < Batch; ++n) {
      const ggml::block_q8_0* ab = a + n * blocks_per_row + q.block;
      int isum = q.valid ? lanes::w4a8_part(q, *ab, lane) : 0;
      isum = lane_sum<lanes::w4a8_lanes_per_block - 1>(isum);  // the block's whole integer dot
      if (q.valid && lane % lanes::w4a8_lanes_per_block == 0) acc[n] += lanes::w4a8_term(isum, q.d_w, half_bits_to_float(ab->d));
    }
  }
#pragma unroll
  for (int n = 0; n < Batch; ++n) {
    const float sum = lane_sum<31>(acc[n]);
    if (lane == 0) y[n * rows + r] = lanes::from_float<Out>(sum);
  }
}

}  // namespace detail

// w: rows x cols / 32 Q4_0 blocks (row-major); a: batch (1..8) rows of cols / 32 Q8_0
// blocks (ggml::quantize_block, or the activation side of ggml's own GEMV); y: batch rows
// of `rows` outputs, float or bfloat16. All on the device; asynchronous on `stream`.
// y[n][r] = sum over blocks of float(isum) * (d_w * d_a), each term as the CPU rounds it;
// the sum's order differs, so y is within (2 * blocks + 8) * 2^-24 * sum |term| of the
// CPU's kernel::gemv. Throws qtl::error on bad shapes or pointers (before any CUDA call)
// and on a launch error.
template <output_element Out>
void gemv_w4a8(const ggml::block_q4_0* w, std::size_t rows, std::size_t cols, const ggml::block_q8_0* a,
               std::size_t batch, Out* y, cudaStream_t stream = nullptr) {
  check_gemv_w4a8(rows, cols, batch, w, a, y);
  const launch_shape launch = lanes::w4a8_launch(rows);
  const dim3 grid(static_cast<unsigned>(launch.blocks)), block(launch.threads_x, launch.threads_y);
  with_batch(batch, [&](auto b) {
    detail::gemv_w4a8_kernel<decltype(b)::value, Out><<<grid, block, 0, stream>>>(w, rows, cols / 32, a, y);
  });
  check_launch("cuda::gemv_w4a8");
}

}  // namespace qtl::cuda
