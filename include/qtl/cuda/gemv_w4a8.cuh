// y = W a on the GPU for ggml Q4_0 weight blocks (layout/ggml/blocks.hpp) and int8
// activations in Q8_0 blocks: __dp4a gives each block's exact integer dot, and its term
// float(isum) * (d_w * d_a) is the CPU's (kernel/block_dot.hpp, block_term) rounded the
// same way; only the order in which the terms are summed differs from the CPU's block order.
// A batch of 1..8 activation rows shares each weight block's load.
#pragma once

#include <cstddef>
#include <cstdint>

#include <cuda_runtime.h>

#include "qtl/core/half.hpp"
#include "qtl/cuda/arguments.hpp"
#include "qtl/cuda/check.cuh"
#include "qtl/cuda/elements.cuh"
#include "qtl/layout/ggml/blocks.hpp"

namespace qtl::cuda {

namespace detail {

// One warp per row. Four lanes share a block (lane q of them: weight bytes 4q..4q + 3, i.e.
// values 4q..4q + 3 in the low nibbles and 16 + 4q.. in the high ones), so a warp reads 8
// consecutive blocks at a time.
inline constexpr int w4a8_lanes_per_block = 4;
inline constexpr int w4a8_blocks_per_step = 32 / w4a8_lanes_per_block;
static_assert(ggml::block_q4_0::elements == 32 && ggml::block_q8_0::elements == 32);

// Four bytes from a 2-byte aligned address (blocks are 18 and 34 bytes long).
__device__ inline int load_4_bytes(const std::uint8_t* p) noexcept {
  const auto* h = reinterpret_cast<const std::uint16_t*>(p);
  return static_cast<int>(static_cast<std::uint32_t>(h[0]) | static_cast<std::uint32_t>(h[1]) << 16);
}

// Four 4-bit codes (one per byte) as the signed bytes code - 8.
__device__ inline int q4_0_bytes(std::uint32_t nibbles) noexcept {
  return static_cast<int>(__vsub4(nibbles & 0x0F0F0F0Fu, 0x08080808u));
}

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
  const int lane = static_cast<int>(threadIdx.x);
  const int quarter = lane % w4a8_lanes_per_block;
  const ggml::block_q4_0* wr = w + r * blocks_per_row;
  float acc[Batch];
#pragma unroll
  for (int n = 0; n < Batch; ++n) acc[n] = 0.0f;
  // Every lane runs every step (the shuffles need the whole warp); lanes past the row's
  // last block add nothing.
  for (std::size_t base = 0; base < blocks_per_row; base += w4a8_blocks_per_step) {
    const std::size_t b = base + static_cast<std::size_t>(lane / w4a8_lanes_per_block);
    const bool valid = b < blocks_per_row;
    int low = 0, high = 0;
    float d_w = 0.0f;
    if (valid) {
      const auto nibbles = static_cast<std::uint32_t>(load_4_bytes(wr[b].qs + 4 * quarter));
      low = q4_0_bytes(nibbles);
      high = q4_0_bytes(nibbles >> 4);
      d_w = half_bits_to_float(wr[b].d);
    }
#pragma unroll
    for (int n = 0; n < Batch; ++n) {
      int isum = 0;
      float d_a = 0.0f;
      if (valid) {
        const ggml::block_q8_0& ab = a[n * blocks_per_row + b];
        isum = __dp4a(low, load_4_bytes(reinterpret_cast<const std::uint8_t*>(ab.qs) + 4 * quarter), 0);
        isum = __dp4a(high, load_4_bytes(reinterpret_cast<const std::uint8_t*>(ab.qs) + 16 + 4 * quarter), isum);
        d_a = half_bits_to_float(ab.d);
      }
      isum = lane_sum<w4a8_lanes_per_block - 1>(isum);  // the block's whole integer dot
      if (valid && quarter == 0) acc[n] += __fmul_rn(static_cast<float>(isum), __fmul_rn(d_w, d_a));
    }
  }
#pragma unroll
  for (int n = 0; n < Batch; ++n) {
    const float sum = lane_sum<31>(acc[n]);
    if (lane == 0) y[n * rows + r] = from_float<Out>(sum);
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
  const dim3 grid(static_cast<unsigned>(ceil_div(rows, gemv_rows_per_block)));
  const dim3 block(32, gemv_rows_per_block);
  with_batch(batch, [&](auto b) {
    detail::gemv_w4a8_kernel<decltype(b)::value, Out><<<grid, block, 0, stream>>>(w, rows, cols / 32, a, y);
  });
  check_launch("cuda::gemv_w4a8");
}

}  // namespace qtl::cuda
