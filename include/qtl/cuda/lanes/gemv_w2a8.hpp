// What each thread of cuda/gemv_w2a8.cuh computes, for the device and the host. A thread
// block covers one 16-row tile row of BitNet's GPU W2 layout (layout/bitnet/gpu_w2.hpp):
// threadIdx.y picks the row, threadIdx.x one of the 8 runs of 16 values (one 32-bit word
// of codes) in each 128-value step along K, the layout's "16x32 block permutation" making
// that one aligned word load. The 8 runs of a row are 8 neighbouring lanes of a warp; their
// int32 sums add exactly in any order.
#pragma once

#include <cstddef>
#include <cstdint>

#include "qtl/core/config.hpp"
#include "qtl/cuda/arguments.hpp"
#include "qtl/cuda/lanes/ops.hpp"
#include "qtl/layout/bitnet/gpu_w2.hpp"

namespace qtl::cuda::lanes {

using gpu_w2 = bitnet::gpu_w2;

inline constexpr unsigned w2a8_runs = static_cast<unsigned>(gpu_w2::gemv_k_step / gpu_w2::word_codes);  // 8
inline constexpr unsigned w2a8_rows = static_cast<unsigned>(gpu_w2::tile_rows);                         // 16
// Bytes from a thread's word in one K step to its word in the next: the step's 4 tiles.
inline constexpr std::size_t w2a8_word_stride = gpu_w2::gemv_k_step / gpu_w2::tile_cols * gpu_w2::tile_bytes;
static_assert(gpu_w2::byte_of(21, 3 * 16 + gpu_w2::gemv_k_step, 512) - gpu_w2::byte_of(21, 3 * 16, 512) ==
              w2a8_word_stride);
static_assert(gpu_w2::byte_of(21, 3 * 16, 512) % 4 == 0, "a run starts a word");

inline launch_shape w2a8_launch(std::size_t rows) noexcept { return {rows / w2a8_rows, w2a8_runs, w2a8_rows}; }

// Codes 4i .. 4i + 3 of a word's 16 (the layout's interleave puts them in bits 2i of its
// four bytes) as four signed bytes -1, 0, 1: the stored code minus encode(0).
QTL_HOST_DEVICE inline int ternary_bytes(std::uint32_t word, int i) noexcept {
  constexpr std::uint32_t zero = 0x01010101u * gpu_w2::encode(0);
  return static_cast<int>(vsub4((word >> (2 * i)) & 0x03030303u, zero));
}

// Row r's run `run` (columns 16 run + 128 k + 0..15 for every K step k) dotted with each of
// the Batch activation rows: acc[n], exact.
template <int Batch>
QTL_HOST_DEVICE void w2a8_run_dots(const std::uint8_t* w, std::size_t cols, const std::int8_t* a, std::size_t r,
                                   unsigned run, int (&acc)[Batch]) noexcept {
  const std::size_t first = static_cast<std::size_t>(run) * gpu_w2::word_codes;  // the run's first column
  const std::uint8_t* word = w + gpu_w2::byte_of(r, first, cols);
  const std::int8_t* x = a + first;
  QTL_CUDA_UNROLL
  for (int n = 0; n < Batch; ++n) acc[n] = 0;
  const std::size_t steps = cols / gpu_w2::gemv_k_step;
#if defined(__CUDA_ARCH__)
#pragma unroll 4
#endif
  for (std::size_t k = 0; k < steps; ++k) {
    const auto bits = load<std::uint32_t>(word + k * w2a8_word_stride);
    int codes[4];
    QTL_CUDA_UNROLL
    for (int i = 0; i < 4; ++i) codes[i] = ternary_bytes(bits, i);
    QTL_CUDA_UNROLL
    for (int n = 0; n < Batch; ++n) {
      const words4 v = load_words4(x + static_cast<std::size_t>(n) * cols + k * gpu_w2::gemv_k_step);
      QTL_CUDA_UNROLL
      for (int i = 0; i < 4; ++i) acc[n] = dp4a(static_cast<int>(v.w[i]), codes[i], acc[n]);
    }
  }
}

// A row's output from its exact sum: the CPU GEMV's float step (kernel/i2_s_dot.hpp).
QTL_HOST_DEVICE inline float w2a8_output(int isum, float a_scale, float w_scale) noexcept {
  return static_cast<float>(isum) / a_scale * w_scale;
}

}  // namespace qtl::cuda::lanes
