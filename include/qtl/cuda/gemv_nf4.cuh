// y = W x on the GPU for a weight matrix in bitsandbytes' 4-bit layout (NF4, or FP4 with
// Format = bnb_fp4: layout/bitsandbytes.hpp, codes two per byte with the first in the high
// nibble, one float absmax per block of `blocksize` values) and bf16 or float activations.
// Each weight is level(code) * absmax rounded to float, as bnb's dequantize and the CPU
// GEMV (kernel/nf4_dot.hpp) compute it, with the levels read from the format's own table;
// the products are summed with FMAs in another order than the CPU's. Batch 1..8. What each
// thread computes is cuda/lanes/gemv_nf4.hpp, which the tests also run on the CPU.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>

#include <cuda_runtime.h>

#include "qtl/cuda/arguments.hpp"
#include "qtl/cuda/check.cuh"
#include "qtl/cuda/elements.cuh"
#include "qtl/format/bnb_fp4.hpp"
#include "qtl/cuda/lanes/gemv_nf4.hpp"
#include "qtl/format/nf4.hpp"

namespace qtl::cuda {

// The 4-bit formats of bitsandbytes' layout.
template <class F>
concept bnb_4bit_format = std::same_as<F, nf4> || std::same_as<F, bnb_fp4>;

// Activation types the 4-bit GEMV reads (in 16-byte vectors of nf4_step values).
template <class T>
concept gemv_4bit_activation = std::same_as<T, float> || std::same_as<T, bfloat16> || std::same_as<T, __nv_bfloat16>;

namespace detail {

template <class Format, int Batch, class X, class Out>
__global__ void __launch_bounds__(32 * gemv_rows_per_block)
    gemv_nf4_kernel(const std::uint8_t* __restrict__ packed, const float* __restrict__ absmax, std::size_t blocksize,
                    std::size_t rows, std::size_t cols, const X* __restrict__ x, Out* __restrict__ y) {
  __shared__ float levels[16];
  const unsigned lane = threadIdx.x;
  if (threadIdx.y == 0 && lane < 16) levels[lane] = Format::decode(static_cast<int>(lane));
  __syncthreads();
  const std::size_t r = static_cast<std::size_t>(blockIdx.x) * gemv_rows_per_block + threadIdx.y;
  if (r >= rows) return;  // a whole warp
  float acc[Batch];
  lanes::nf4_lane_sums<Batch>(levels, packed, absmax, blocksize, cols, x, r, lane, acc);
#pragma unroll
  for (int n = 0; n < Batch; ++n) {
    float sum = acc[n];
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
    if (lane == 0) y[n * rows + r] = lanes::from_float<Out>(sum);
  }
}

}  // namespace detail

// packed: the bnb 4-bit codes of the row-major rows x cols matrix (bnb::quantize_4bit or a
// checkpoint's bytes; 4-byte aligned); absmax: one plain float per block (a double-quantized
// state is restored first with bnb::decompress_statistics); blocksize: a multiple of 8
// dividing cols (bnb's 32..4096 are); x: batch (1..8) rows of cols activations (16-byte
// aligned); y: batch rows of `rows` outputs. All on the device; asynchronous on `stream`.
// y[n][r] = sum_j (level(code) * absmax) * x[n][j], within (2 * cols + 8) * 2^-24 *
// sum_j |w_j x_j| of the CPU's kernel::gemv_4bit. Throws qtl::error on bad shapes or
// pointers (before any CUDA call) and on a launch error.
template <bnb_4bit_format Format = nf4, gemv_4bit_activation X, output_element Out>
void gemv_4bit(const std::uint8_t* packed, const float* absmax, std::int64_t blocksize, std::size_t rows,
               std::size_t cols, const X* x, std::size_t batch, Out* y, cudaStream_t stream = nullptr) {
  check_gemv_4bit(rows, cols, blocksize, batch, packed, absmax, x, y);
  const launch_shape launch = lanes::gemv_4bit_launch(rows);
  const dim3 grid(static_cast<unsigned>(launch.blocks)), block(launch.threads_x, launch.threads_y);
  const auto bs = static_cast<std::size_t>(blocksize);
  with_batch(batch, [&](auto b) {
    detail::gemv_nf4_kernel<Format, decltype(b)::value, X, Out><<<grid, block, 0, stream>>>(packed, absmax, bs, rows, cols, x, y);
  });
  check_launch("cuda::gemv_4bit");
}

}  // namespace qtl::cuda
