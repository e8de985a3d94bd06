// The qtl/cuda/ kernels executed on the CPU: each wrapper's launch (its argument checks
// and its launch shape) run block by block and thread by thread through the kernels' own
// lane functions (include/qtl/cuda/lanes/), with the steps between lanes done as the device
// does them: a __shfl_xor_sync add over a block's threads in the kernel's offset order
// (a warp is 32 consecutive threads, threadIdx.x fastest), and CUB's block max, which is
// exact in any order. The __global__ shells in the .cuh files do the same with blockIdx,
// threadIdx and shuffles. Host code only: tests/cuda/host_execution_test.cpp.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "qtl/core/half.hpp"
#include "qtl/cuda/arguments.hpp"
#include "qtl/cuda/lanes/act_quant.hpp"
#include "qtl/cuda/lanes/gemv_nf4.hpp"
#include "qtl/cuda/lanes/gemv_w2a8.hpp"
#include "qtl/cuda/lanes/gemv_w4a8.hpp"
#include "qtl/layout/bitnet/quantize.hpp"
#include "qtl/layout/ggml/blocks.hpp"

namespace qtl::test::host_launch {

namespace lanes = qtl::cuda::lanes;

// v[l] += v[l ^ offset] for every thread l at once (offset < 32 stays in the warp).
template <class T>
void xor_add(std::vector<T>& v, unsigned offset) {
  const std::vector<T> before = v;
  for (std::size_t l = 0; l < v.size(); ++l) v[l] = before[l] + before[l ^ offset];
}

// The thread index of (x, y) in its block, the order warps are cut in.
inline std::size_t thread_of(const qtl::cuda::launch_shape& launch, unsigned x, unsigned y) {
  return x + static_cast<std::size_t>(launch.threads_x) * y;
}

// cuda::quantize_activations<Threads>.
template <unsigned Threads = 256, class T>
void quantize_activations(const T* x, std::size_t tokens, std::size_t cols, std::int8_t* codes, float* scales) {
  qtl::cuda::check_quantize_activations(tokens, cols, x, codes, scales);
  const auto launch = lanes::act_quant_launch(tokens, Threads);
  for (std::size_t token = 0; token < launch.blocks; ++token) {
    const T* row = x + token * cols;
    float absmax = 0.0f;
    for (unsigned t = 0; t < launch.threads_x; ++t)
      absmax = std::max(absmax, lanes::act_quant_thread_absmax(row, cols, t, Threads));
    scales[token] = bitnet::activation_scale(absmax);
    for (unsigned t = 0; t < launch.threads_x; ++t)
      lanes::act_quant_thread_codes(row, cols, t, Threads, scales[token], codes + token * cols);
  }
}

// cuda::gemv_w2a8: each row's 8 run sums added by the shuffles of offsets 4, 2, 1.
template <class Out>
void gemv_w2a8(const std::uint8_t* w, float w_scale, std::size_t rows, std::size_t cols, const std::int8_t* a,
               const float* a_scales, std::size_t batch, Out* y) {
  qtl::cuda::check_gemv_w2a8(rows, cols, batch, w, a, a_scales, y);
  const auto launch = lanes::w2a8_launch(rows);
  qtl::cuda::with_batch(batch, [&](auto b) {
    constexpr int Batch = decltype(b)::value;
    std::vector<std::array<int, Batch>> acc(static_cast<std::size_t>(launch.threads_x) * launch.threads_y);
    for (std::size_t block = 0; block < launch.blocks; ++block) {
      for (unsigned ty = 0; ty < launch.threads_y; ++ty)
        for (unsigned tx = 0; tx < launch.threads_x; ++tx) {
          int dots[Batch];
          lanes::w2a8_run_dots<Batch>(w, cols, a, block * lanes::w2a8_rows + ty, tx, dots);
          std::copy(dots, dots + Batch, acc[thread_of(launch, tx, ty)].begin());
        }
      for (int n = 0; n < Batch; ++n) {
        std::vector<int> v(acc.size());
        for (std::size_t t = 0; t < v.size(); ++t) v[t] = acc[t][static_cast<std::size_t>(n)];
        for (unsigned offset = lanes::w2a8_runs / 2; offset > 0; offset /= 2) xor_add(v, offset);
        for (unsigned ty = 0; ty < launch.threads_y; ++ty)
          y[static_cast<std::size_t>(n) * rows + block * lanes::w2a8_rows + ty] = lanes::from_float<Out>(
              lanes::w2a8_output(v[thread_of(launch, 0, ty)], a_scales[n], w_scale));
      }
    }
  });
}

// cuda::gemv_w4a8: per step, each block's 4 lane parts added by the shuffles of offsets
// 1, 2 (lane_sum<3>), the block's term added by its first lane; at the end the lanes' sums
// added by the offsets 1, 2, 4, 8, 16 (lane_sum<31>).
template <class Out>
void gemv_w4a8(const ggml::block_q4_0* w, std::size_t rows, std::size_t cols, const ggml::block_q8_0* a,
               std::size_t batch, Out* y) {
  qtl::cuda::check_gemv_w4a8(rows, cols, batch, w, a, y);
  const auto launch = lanes::w4a8_launch(rows);
  const std::size_t blocks_per_row = cols / 32;
  for (std::size_t block = 0; block < launch.blocks; ++block)
    for (unsigned ty = 0; ty < launch.threads_y; ++ty) {
      const std::size_t r = block * qtl::cuda::gemv_rows_per_block + ty;
      if (r >= rows) continue;  // the warp returns
      std::vector<std::vector<float>> acc(batch, std::vector<float>(32, 0.0f));
      for (std::size_t base = 0; base < blocks_per_row; base += lanes::w4a8_blocks_per_step) {
        std::vector<lanes::w4a8_quarter> q;
        for (unsigned lane = 0; lane < 32; ++lane) q.push_back(lanes::w4a8_weights(w + r * blocks_per_row, blocks_per_row, base, lane));
        for (std::size_t n = 0; n < batch; ++n) {
          std::vector<int> isum(32);
          for (unsigned lane = 0; lane < 32; ++lane)
            isum[lane] = q[lane].valid ? lanes::w4a8_part(q[lane], a[n * blocks_per_row + q[lane].block], lane) : 0;
          for (unsigned offset = 1; offset <= lanes::w4a8_lanes_per_block - 1; offset *= 2) xor_add(isum, offset);
          for (unsigned lane = 0; lane < 32; ++lane)
            if (q[lane].valid && lane % lanes::w4a8_lanes_per_block == 0)
              acc[n][lane] += lanes::w4a8_term(isum[lane], q[lane].d_w, half_bits_to_float(a[n * blocks_per_row + q[lane].block].d));
        }
      }
      for (std::size_t n = 0; n < batch; ++n) {
        for (unsigned offset = 1; offset <= 31; offset *= 2) xor_add(acc[n], offset);
        y[n * rows + r] = lanes::from_float<Out>(acc[n][0]);
      }
    }
}

// cuda::gemv_4bit<Format>: the lanes' sums added by the offsets 16, 8, 4, 2, 1.
template <class Format, class X, class Out>
void gemv_4bit(const std::uint8_t* packed, const float* absmax, std::int64_t blocksize, std::size_t rows,
               std::size_t cols, const X* x, std::size_t batch, Out* y) {
  qtl::cuda::check_gemv_4bit(rows, cols, blocksize, batch, packed, absmax, x, y);
  const auto launch = lanes::gemv_4bit_launch(rows);
  std::array<float, 16> levels{};  // the kernel's shared table
  for (int code = 0; code < 16; ++code) levels[static_cast<std::size_t>(code)] = Format::decode(code);
  qtl::cuda::with_batch(batch, [&](auto b) {
    constexpr int Batch = decltype(b)::value;
    for (std::size_t block = 0; block < launch.blocks; ++block)
      for (unsigned ty = 0; ty < launch.threads_y; ++ty) {
        const std::size_t r = block * qtl::cuda::gemv_rows_per_block + ty;
        if (r >= rows) continue;  // the warp returns
        std::vector<std::array<float, Batch>> sums(32);
        for (unsigned lane = 0; lane < 32; ++lane) {
          float acc[Batch];
          lanes::nf4_lane_sums<Batch>(levels.data(), packed, absmax, static_cast<std::size_t>(blocksize), cols, x, r, lane, acc);
          std::copy(acc, acc + Batch, sums[lane].begin());
        }
        for (int n = 0; n < Batch; ++n) {
          std::vector<float> v(32);
          for (unsigned lane = 0; lane < 32; ++lane) v[lane] = sums[lane][static_cast<std::size_t>(n)];
          for (unsigned offset = 16; offset > 0; offset /= 2) xor_add(v, offset);
          y[static_cast<std::size_t>(n) * rows + r] = lanes::from_float<Out>(v[0]);
        }
      }
  });
}

}  // namespace qtl::test::host_launch
