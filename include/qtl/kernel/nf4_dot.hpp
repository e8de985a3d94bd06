// GEMV rows over bitsandbytes' 4-bit layout (layout/bitsandbytes.hpp: two codes per byte,
// the first in the high nibble, one float absmax per `blocksize` values of the row-major
// flattened matrix) with float or bfloat16 activations, dequantized in registers:
// y = sum_j (level(code_j) * absmax) * x_j. NF4 and FP4 differ only in the 16 levels,
// passed as a table. One shape for every arch: per block, scale the 16 levels by the
// block's absmax once (the same float product as bnb's dequantize), then per step of
// `lanes` values look the codes up in the scaled table and multiply-add them with every
// activation row. Only the step is per arch: the primary template below is the scalar
// reference (one value at a time, sum += w * x in element order, unfused);
// x86/nf4_dot.hpp and arm/nf4_dot.hpp specialize it with xsimd batches and a register
// table lookup.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include <xsimd/xsimd.hpp>

#include "qtl/core/bfloat16.hpp"
#include "qtl/core/config.hpp"
#include "qtl/core/simd.hpp"
#include "qtl/kernel/arch.hpp"
#include "qtl/kernel/for_each_index.hpp"

namespace qtl::kernel {

// The code of value `element` of the flattened tensor: element 2i is the high nibble of byte i.
inline int bnb_code(const std::uint8_t* packed, std::size_t element) noexcept {
  const std::uint8_t byte = packed[element / 2];
  return element % 2 == 0 ? byte >> 4 : byte & 0x0F;
}

// The scalar reference step, a template over Arch only so that each arch's translation
// unit instantiates its own copy (SIMD steps fall back to it for block sizes their vectors
// do not divide).
template <class Arch>
struct nf4_scalar_step {
  static constexpr std::size_t lanes = 1;
  using vector = float;
  struct table {
    const float* levels;
    float absmax;
  };
  static table scale(const float* levels, float absmax) noexcept { return {levels, absmax}; }
  static vector dequantize(const table& t, const std::uint8_t* packed, std::size_t element) noexcept {
    return t.levels[bnb_code(packed, element)] * t.absmax;
  }
  static vector load(const float* x) noexcept { return *x; }
  static vector load(const bfloat16* x) noexcept { return static_cast<float>(*x); }
  static vector zero() noexcept { return 0.0f; }
  static void multiply_add(vector& acc, vector w, vector x) noexcept { acc += qtl::detail::rounded_product(w, x); }  // never fused into the add
  static float sum(vector acc) noexcept { return acc; }
};

// Primary template: the scalar reference.
template <class Arch>
struct nf4_step : nf4_scalar_step<Arch> {};

// The float side of a SIMD step, the same on every arch: xsimd batches, one FMA per step.
// An arch's step adds `table`, `scale`, `dequantize` and the bfloat16 load.
template <class Arch>
struct nf4_simd_float {
  using vector = xsimd::batch<float, Arch>;
  static constexpr std::size_t lanes = vector::size;
  static vector load(const float* x) noexcept { return vector::load_unaligned(x); }
  static vector zero() noexcept { return vector(0.0f); }
  static void multiply_add(vector& acc, vector w, vector x) noexcept { acc = xsimd::fma(w, x, acc); }
  static float sum(vector acc) noexcept { return xsimd::reduce_add(acc); }
};

// Rows [begin, end) for B activation rows, with step S. The caller guarantees that
// S::lanes divides blocksize (and so every step starts on an even element).
template <class S, std::size_t B, class X>
void gemv_4bit_batch(const std::uint8_t* packed, const float* absmax, const float* levels, std::size_t blocksize,
                     std::size_t rows, std::size_t cols, const X* x, float* y, std::size_t begin,
                     std::size_t end) noexcept {
  using vector = typename S::vector;
  constexpr std::size_t lanes = S::lanes;
  // Independent FMA chains per activation row, so that one step's FMA does not wait for
  // the previous one's: 4 for one row, 2 for 2-3 rows, 1 from 4 rows on (the rows' own
  // chains suffice). The scalar order stays one chain.
  constexpr std::size_t chains = lanes == 1 || B >= 4 ? 1 : (B == 1 ? 4 : 2);
  const std::size_t blocks = cols / blocksize;
  for (std::size_t r = begin; r < end; ++r) {
    vector acc[B][chains];
    for_each_index<B>([&](auto n) { for_each_index<chains>([&](auto c) { acc[n][c] = S::zero(); }); });
    for (std::size_t b = 0; b < blocks; ++b) {
      const auto table = S::scale(levels, absmax[r * blocks + b]);
      const std::size_t first = r * cols + b * blocksize;  // the block's first element
      const X* xb = x + b * blocksize;
      // Values j..j+lanes-1 of the block into chain c.
      const auto step = [&](std::size_t j, auto c) {
        const vector w = S::dequantize(table, packed, first + j);
        for_each_index<B>([&](auto n) { S::multiply_add(acc[n][c], w, S::load(xb + n * cols + j)); });
      };
      std::size_t j = 0;
      for (; j + chains * lanes <= blocksize; j += chains * lanes)
        for_each_index<chains>([&](auto c) { step(j + c * lanes, c); });
      for_each_index<chains - 1>([&](auto c) {  // fewer than `chains` steps left
        if (j < blocksize) step(j, c);
        j += lanes;
      });
    }
    for_each_index<B>([&](auto n) {
      vector total = acc[n][0];
      for_each_index<chains - 1>([&](auto c) { total = total + acc[n][c + 1]; });
      y[n * rows + r] = S::sum(total);
    });
  }
}

template <class S, class X, std::size_t... I>
void gemv_4bit_any_batch(std::index_sequence<I...>, const std::uint8_t* packed, const float* absmax,
                         const float* levels, std::size_t blocksize, std::size_t rows, std::size_t cols, const X* x,
                         std::size_t batch, float* y, std::size_t begin, std::size_t end) noexcept {
  ((batch == I + 1 ? gemv_4bit_batch<S, I + 1>(packed, absmax, levels, blocksize, rows, cols, x, y, begin, end)
                   : void()),
   ...);
}

// Rows [begin, end) of y = W x: packed/absmax a rows x cols bnb 4-bit matrix (cols a
// multiple of blocksize), levels its format's 16 values (nf4_values, bnb_fp4_values),
// x `batch` (1..8) activation rows of cols values, y `batch` rows of `rows` values.
template <class Arch, class X>
void gemv_4bit_rows(const std::uint8_t* packed, const float* absmax, const float* levels, std::size_t blocksize,
                    std::size_t rows, std::size_t cols, const X* x, std::size_t batch, float* y, std::size_t begin,
                    std::size_t end) noexcept {
  constexpr auto batches = std::make_index_sequence<8>{};  // kernel::max_gemv_batch
  if (blocksize % nf4_step<Arch>::lanes == 0)
    gemv_4bit_any_batch<nf4_step<Arch>>(batches, packed, absmax, levels, blocksize, rows, cols, x, batch, y, begin,
                                        end);
  else  // a block size the vectors do not divide (bnb's are 32..4096): one value at a time
    gemv_4bit_any_batch<nf4_scalar_step<Arch>>(batches, packed, absmax, levels, blocksize, rows, cols, x, batch, y,
                                               begin, end);
}

}  // namespace qtl::kernel
