// The ggml-block weights of one GEMV shape, quantized once for all the cases (archs,
// threads, batches, and ggml's side of the comparison) that share them: the reference
// IQ4_NL search alone takes seconds at LLaMA shapes. The table's quantizer writes the
// reference bytes (tests/kernel), only faster.
#pragma once

#include <qtl/kernel/dispatch.hpp>
#include <qtl/kernel/quantize.hpp>
#include <qtl/layout/ggml.hpp>

#include <cstddef>
#include <span>
#include <vector>

#include "bench_util.hpp"

namespace qtl_bench {

template <class W>
const std::vector<W>& weights_of(std::size_t rows, std::size_t cols) {
  static std::size_t made_rows = 0, made_cols = 0;
  static std::vector<W> w;
  if (made_rows != rows || made_cols != cols) {
    w.assign(rows * cols / W::elements, W{});
    const auto x = weights(rows * cols);
    if constexpr (qtl::kernel::table_quantized_block<W>)
      qtl::kernel::quantize<W>(qtl::kernel::select_kernels(), std::span<const float>(x), std::span<W>(w), cols);
    else
      qtl::ggml::quantize<W>(x, std::span<W>(w), cols);
    made_rows = rows, made_cols = cols;
  }
  return w;
}

}  // namespace qtl_bench
