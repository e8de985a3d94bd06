// The argument checks of the qtl/cuda/ host wrappers, in plain C++ (no CUDA header), so
// that a CPU-only test exercises every rule: each wrapper calls its check before any CUDA call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>

#include "qtl/core/error.hpp"
#include "qtl/layout/bitnet/gpu_w2.hpp"

namespace qtl::cuda {

// Activation rows one GEMV launch serves (a template parameter of the kernels).
inline constexpr std::size_t max_batch = 8;
// The most thread blocks a launch's x dimension can hold.
inline constexpr std::size_t max_grid_blocks = 2147483647;
// W2A8 accumulates a row in int32: |sum| <= 128 * cols must stay below 2^31.
inline constexpr std::size_t max_w2a8_cols = std::size_t{1} << 24;
// Rows of one W4A8 / NF4 thread block (one warp each).
inline constexpr std::size_t gemv_rows_per_block = 4;
// Values one NF4 thread reads per step: 4 packed bytes, 16 bytes of bf16 activations.
inline constexpr std::size_t nf4_step = 8;

constexpr std::size_t ceil_div(std::size_t a, std::size_t b) noexcept { return (a + b - 1) / b; }

// f(std::integral_constant<int, B>{}) for the runtime batch B (1..max_batch, checked by
// the caller): one kernel instantiation per batch size.
template <class F>
void with_batch(std::size_t batch, F&& f) {
  [&]<int... I>(std::integer_sequence<int, I...>) {
    ((batch == static_cast<std::size_t>(I + 1) ? f(std::integral_constant<int, I + 1>{}) : void()), ...);
  }(std::make_integer_sequence<int, static_cast<int>(max_batch)>{});
}

// The launch a wrapper makes: thread blocks along x, and threads per block along x and y
// (threadIdx.x varies fastest, so lane = x + threads_x * y within a 32-thread warp).
struct launch_shape {
  std::size_t blocks;
  unsigned threads_x, threads_y;
};

namespace detail {

inline void check_not_null(const void* p, const char* what, const char* name) {
  if (p == nullptr) throw error(errc::invalid_argument, std::string(what) + ": " + name + " is a null pointer");
}

// The kernels load `align`-byte vectors from p.
inline void check_aligned(const void* p, std::size_t align, const char* what, const char* name) {
  check_not_null(p, what, name);
  if (reinterpret_cast<std::uintptr_t>(p) % align != 0)
    throw error(errc::invalid_argument, std::string(what) + ": " + name + " is not " + std::to_string(align) +
                                            "-byte aligned (cudaMalloc's pointers are)");
}

inline void check_batch(std::size_t batch, const char* what) {
  if (batch == 0 || batch > max_batch)
    throw error(errc::shape_mismatch, std::string(what) + ": batch " + std::to_string(batch) + " is not 1.." +
                                          std::to_string(max_batch));
}

inline void check_grid(std::size_t blocks, const char* what) {
  if (blocks > max_grid_blocks)
    throw error(errc::out_of_range, std::string(what) + ": " + std::to_string(blocks) +
                                        " thread blocks exceed a launch's " + std::to_string(max_grid_blocks));
}

inline void check_not_empty(std::size_t rows, std::size_t cols, const char* what) {
  if (rows == 0 || cols == 0)
    throw error(errc::invalid_argument, std::string(what) + ": empty " + std::to_string(rows) + " x " +
                                            std::to_string(cols) + " shape");
}

}  // namespace detail

// act_quant.cuh: tokens rows of cols activations (any alignment of their type).
inline void check_quantize_activations(std::size_t tokens, std::size_t cols, const void* x, const void* codes,
                                       const void* scales) {
  constexpr const char* what = "cuda::quantize_activations";
  detail::check_not_empty(tokens, cols, what);
  detail::check_grid(tokens, what);
  detail::check_not_null(x, what, "x");
  detail::check_not_null(codes, what, "codes");
  detail::check_not_null(scales, what, "scales");
}

// gemv_w2a8.cuh: w the rows x cols BitNet GPU W2 bytes (rows % 16, cols % 128), a batch
// rows of cols int8 codes (16-byte aligned), a_scales their multipliers, y batch x rows.
inline void check_gemv_w2a8(std::size_t rows, std::size_t cols, std::size_t batch, const void* w, const void* a,
                            const void* a_scales, const void* y) {
  constexpr const char* what = "cuda::gemv_w2a8";
  detail::check_not_empty(rows, cols, what);
  bitnet::gpu_w2::check_shape(rows, cols, what);
  if (!bitnet::gpu_w2::gemv_accepts(rows, cols))
    throw error(errc::group_size, std::string(what) + ": the GEMV steps K by " +
                                      std::to_string(bitnet::gpu_w2::gemv_k_step) + "; K = " + std::to_string(cols));
  if (cols > max_w2a8_cols)
    throw error(errc::out_of_range, std::string(what) + ": K = " + std::to_string(cols) +
                                        " could overflow the int32 row sum (at most " + std::to_string(max_w2a8_cols) +
                                        ")");
  detail::check_batch(batch, what);
  detail::check_grid(rows / bitnet::gpu_w2::tile_rows, what);
  detail::check_aligned(w, 4, what, "w");
  detail::check_aligned(a, 16, what, "a");
  detail::check_not_null(a_scales, what, "a_scales");
  detail::check_not_null(y, what, "y");
}

// gemv_w4a8.cuh: w rows x cols / 32 Q4_0 blocks, a batch rows of cols / 32 Q8_0 blocks, y batch x rows.
inline void check_gemv_w4a8(std::size_t rows, std::size_t cols, std::size_t batch, const void* w, const void* a,
                            const void* y) {
  constexpr const char* what = "cuda::gemv_w4a8";
  detail::check_not_empty(rows, cols, what);
  if (cols % 32 != 0)
    throw error(errc::group_size, std::string(what) + ": Q4_0 rows are whole blocks of 32 values; K = " +
                                      std::to_string(cols));
  detail::check_batch(batch, what);
  detail::check_grid((rows + gemv_rows_per_block - 1) / gemv_rows_per_block, what);
  detail::check_aligned(w, 2, what, "w");
  detail::check_aligned(a, 2, what, "a");
  detail::check_not_null(y, what, "y");
}

// gemv_nf4.cuh: packed the bnb 4-bit codes of a rows x cols matrix (4-byte aligned), absmax
// one float per blocksize values (blocksize dividing cols, a multiple of 8), x batch rows of
// cols activations (16-byte aligned), y batch x rows.
inline void check_gemv_4bit(std::size_t rows, std::size_t cols, std::int64_t blocksize, std::size_t batch,
                           const void* packed, const void* absmax, const void* x, const void* y) {
  constexpr const char* what = "cuda::gemv_4bit";
  detail::check_not_empty(rows, cols, what);
  if (blocksize <= 0 || static_cast<std::size_t>(blocksize) % nf4_step != 0)
    throw error(errc::group_size, std::string(what) + ": block size " + std::to_string(blocksize) +
                                      " is not a positive multiple of " + std::to_string(nf4_step));
  if (cols % static_cast<std::size_t>(blocksize) != 0)
    throw error(errc::group_size, std::string(what) + ": block size " + std::to_string(blocksize) +
                                      " does not divide the rows of " + std::to_string(cols) +
                                      " values (blocks must not straddle rows)");
  detail::check_batch(batch, what);
  detail::check_grid((rows + gemv_rows_per_block - 1) / gemv_rows_per_block, what);
  detail::check_aligned(packed, 4, what, "packed");
  detail::check_aligned(absmax, 4, what, "absmax");
  detail::check_aligned(x, 16, what, "x");
  detail::check_not_null(y, what, "y");
}

}  // namespace qtl::cuda
