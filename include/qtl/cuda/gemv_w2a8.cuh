// y = W a on the GPU for BitNet b1.58 ternary weights in BitNet's GPU W2 layout
// (layout/bitnet/gpu_w2.hpp, written by bitnet::pack_gpu_w2) and int8 activations with one
// multiplier per token (act_quant.cuh): __dp4a over int32 row sums, which are exact, then
// y = float(isum) / a_scale * w_scale, the CPU GEMV's float step (kernel/i2_s_dot.hpp),
// so the output is bit-identical to the CPU's. A batch of 1..8 activation rows shares each
// weight load (the batch is a template parameter).
#pragma once

#include <cstddef>
#include <cstdint>

#include <cuda_runtime.h>

#include "qtl/cuda/arguments.hpp"
#include "qtl/cuda/check.cuh"
#include "qtl/cuda/elements.cuh"
#include "qtl/layout/bitnet/gpu_w2.hpp"

namespace qtl::cuda {

namespace detail {

using gpu_w2 = bitnet::gpu_w2;

// A thread block covers one 16-row tile row: threadIdx.y picks the row, threadIdx.x one of
// the 8 runs of 16 values (one 32-bit word of codes) in each 128-value step along K, the
// layout's "16x32 block permutation" making that one aligned word load.
inline constexpr int w2a8_runs = static_cast<int>(gpu_w2::gemv_k_step / gpu_w2::word_codes);  // 8
inline constexpr int w2a8_rows = static_cast<int>(gpu_w2::tile_rows);                         // 16
// Bytes from a thread's word in one K step to its word in the next: the step's 4 tiles.
inline constexpr std::size_t w2a8_word_stride = gpu_w2::gemv_k_step / gpu_w2::tile_cols * gpu_w2::tile_bytes;
static_assert(gpu_w2::byte_of(21, 3 * 16 + gpu_w2::gemv_k_step, 512) - gpu_w2::byte_of(21, 3 * 16, 512) ==
              w2a8_word_stride);
static_assert(gpu_w2::byte_of(21, 3 * 16, 512) % 4 == 0, "a run starts a word");

// Codes 4i .. 4i + 3 of a word's 16 (the layout's interleave puts them in bits 2i of its
// four bytes) as four signed bytes -1, 0, 1: the stored code minus encode(0).
__device__ inline int ternary_bytes(std::uint32_t word, int i) noexcept {
  constexpr std::uint32_t zero = 0x01010101u * gpu_w2::encode(0);
  return static_cast<int>(__vsub4((word >> (2 * i)) & 0x03030303u, zero));
}

template <int Batch, class Out>
__global__ void __launch_bounds__(w2a8_runs * w2a8_rows)
    gemv_w2a8_kernel(const std::uint8_t* __restrict__ w, float w_scale, std::size_t rows, std::size_t cols,
                     const std::int8_t* __restrict__ a, const float* __restrict__ a_scales, Out* __restrict__ y) {
  const int run = static_cast<int>(threadIdx.x);
  const std::size_t r = static_cast<std::size_t>(blockIdx.x) * w2a8_rows + threadIdx.y;
  const std::size_t first = static_cast<std::size_t>(run) * gpu_w2::word_codes;  // the run's first column
  const std::uint8_t* word = w + gpu_w2::byte_of(r, first, cols);
  const std::int8_t* x = a + first;
  int acc[Batch];
#pragma unroll
  for (int n = 0; n < Batch; ++n) acc[n] = 0;
  const std::size_t steps = cols / gpu_w2::gemv_k_step;
#pragma unroll 4
  for (std::size_t k = 0; k < steps; ++k) {
    const std::uint32_t bits = *reinterpret_cast<const std::uint32_t*>(word + k * w2a8_word_stride);
    int codes[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) codes[i] = ternary_bytes(bits, i);
#pragma unroll
    for (int n = 0; n < Batch; ++n) {
      const int4 v = *reinterpret_cast<const int4*>(x + n * cols + k * gpu_w2::gemv_k_step);  // values 16 * run + 0..15
      acc[n] = __dp4a(v.x, codes[0], acc[n]);
      acc[n] = __dp4a(v.y, codes[1], acc[n]);
      acc[n] = __dp4a(v.z, codes[2], acc[n]);
      acc[n] = __dp4a(v.w, codes[3], acc[n]);
    }
  }
  // The 8 runs of a row are 8 neighbouring lanes of one warp: an exact integer reduction.
#pragma unroll
  for (int n = 0; n < Batch; ++n)
#pragma unroll
    for (int offset = w2a8_runs / 2; offset > 0; offset /= 2) acc[n] += __shfl_xor_sync(0xffffffffu, acc[n], offset);
  if (run != 0) return;
#pragma unroll
  for (int n = 0; n < Batch; ++n)
    y[n * rows + r] = from_float<Out>(static_cast<float>(acc[n]) / a_scales[n] * w_scale);
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
  const dim3 grid(static_cast<unsigned>(rows / detail::w2a8_rows));
  const dim3 block(detail::w2a8_runs, detail::w2a8_rows);
  with_batch(batch, [&](auto b) {
    detail::gemv_w2a8_kernel<decltype(b)::value, Out><<<grid, block, 0, stream>>>(w, w_scale, rows, cols, a, a_scales, y);
  });
  check_launch("cuda::gemv_w2a8");
}

}  // namespace qtl::cuda
