// y = W x for a ggml-block weight matrix and float activations: the activations are
// quantized to the weight type's activation blocks (Q8_0 for Q8_0/Q4_0/Q5_0/IQ4_NL, Q8_1
// for Q4_1/Q5_1, Q8_K for the K-quants and TQ2_0, ggml's reference numerics) by the table's arch (kernel/quantize.hpp),
// then the rows are spread over threads (or any executor: kernel/executor.hpp). batch
// activation rows (small-batch GEMM, batch <= 8) share each weight row's pass. Q8_0, Q4_0,
// IQ4_NL and Q4_K weights prepared once (kernel/prepared.hpp) take the 8-row kernels.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/kernel/kernel_table.hpp"
#include "qtl/kernel/executor.hpp"
#include "qtl/kernel/gemv_batch.hpp"
#include "qtl/kernel/prepared.hpp"
#include "qtl/kernel/quantize.hpp"
#include "qtl/layout/ggml.hpp"

namespace qtl::kernel {

// The activation block each weight block type is multiplied with, and its table entries
// (row-major, and prepared where the type has an 8-row kernel).
template <class A, auto Rows, auto Prepared = nullptr>
struct gemv_entry {
  using activation = A;
  static auto fn(const kernel_table& k) noexcept { return k.*Rows; }
  static auto prepared_fn(const kernel_table& k) noexcept
    requires(Prepared != nullptr)
  {
    return k.*Prepared;
  }
};
template <class W>
struct gemv_traits;
template <> struct gemv_traits<ggml::block_q8_0>
    : gemv_entry<ggml::block_q8_0, &kernel_table::gemv_q8_0, &kernel_table::gemv_q8_0_prepared> {};
template <> struct gemv_traits<ggml::block_q4_0>
    : gemv_entry<ggml::block_q8_0, &kernel_table::gemv_q4_0, &kernel_table::gemv_q4_0_prepared> {};
template <> struct gemv_traits<ggml::block_q4_1> : gemv_entry<ggml::block_q8_1, &kernel_table::gemv_q4_1> {};
template <> struct gemv_traits<ggml::block_q5_0> : gemv_entry<ggml::block_q8_0, &kernel_table::gemv_q5_0> {};
template <> struct gemv_traits<ggml::block_q5_1> : gemv_entry<ggml::block_q8_1, &kernel_table::gemv_q5_1> {};
template <> struct gemv_traits<ggml::block_iq4_nl>
    : gemv_entry<ggml::block_q8_0, &kernel_table::gemv_iq4_nl, &kernel_table::gemv_iq4_nl_prepared> {};
template <> struct gemv_traits<ggml::block_tq2_0> : gemv_entry<ggml::block_q8_k, &kernel_table::gemv_tq2_0> {};
template <> struct gemv_traits<ggml::block_q2_k> : gemv_entry<ggml::block_q8_k, &kernel_table::gemv_q2_k> {};
template <> struct gemv_traits<ggml::block_q3_k> : gemv_entry<ggml::block_q8_k, &kernel_table::gemv_q3_k> {};
template <> struct gemv_traits<ggml::block_q4_k>
    : gemv_entry<ggml::block_q8_k, &kernel_table::gemv_q4_k, &kernel_table::gemv_q4_k_prepared> {};
template <> struct gemv_traits<ggml::block_q5_k> : gemv_entry<ggml::block_q8_k, &kernel_table::gemv_q5_k> {};
template <> struct gemv_traits<ggml::block_q6_k> : gemv_entry<ggml::block_q8_k, &kernel_table::gemv_q6_k> {};

// W: rows x cols values as rows of cols / W::elements blocks; x: batch x cols floats;
// y: batch x rows floats. Throws (before any work) on sizes that do not fit.
template <class W>
void gemv(const kernel_table& k, std::span<const W> w, std::size_t rows, std::size_t cols, std::span<const float> x,
          std::span<float> y, const executor& run = {}) {
  using A = typename gemv_traits<W>::activation;
  if (cols % W::elements != 0 || cols % A::elements != 0)
    throw error(errc::group_size, "gemv: " + std::string(W::name) + " needs rows that are a multiple of " +
                                      std::to_string(W::elements) + " values; got " + std::to_string(cols));
  const std::size_t blocks_per_row = cols / W::elements;
  if (w.size() < rows * blocks_per_row)
    throw error(errc::shape_mismatch, "gemv: " + std::to_string(w.size()) + " weight blocks for a " +
                                          std::to_string(rows) + " x " + std::to_string(cols) + " matrix");
  const std::size_t batch = detail::checked_batch("gemv", rows, cols, x.size(), y.size());
  std::vector<A> a(batch * cols / A::elements);
  quantize<A>(k, x, std::span<A>(a), cols);
  const auto fn = gemv_traits<W>::fn(k);
  run(rows, [&](std::size_t begin, std::size_t end) {
    fn(w.data(), rows, blocks_per_row, a.data(), batch, y.data(), begin, end);
  });
}

// The same product for weights prepared once (kernel/prepared.hpp): the same activation
// blocks and row results as gemv on the blocks w was prepared from, each activation block
// read once per 8 rows; threads (the executor) split between row groups of 8.
template <groupable B>
void gemv(const kernel_table& k, const prepared<B>& w, std::span<const float> x, std::span<float> y,
          const executor& run = {}) {
  using A = typename gemv_traits<B>::activation;
  const std::size_t batch = detail::checked_batch("gemv", w.rows(), w.cols(), x.size(), y.size());
  std::vector<A> a(batch * w.blocks_per_row());
  quantize<A>(k, x, std::span<A>(a), w.cols());
  std::vector<std::int32_t> sums(a.size());
  std::transform(a.begin(), a.end(), sums.begin(), [](const A& block) { return code_sum(block); });
  const auto fn = gemv_traits<B>::prepared_fn(k);
  run(w.group_count(), [&](std::size_t begin, std::size_t end) {
    fn(w.groups().data(), w.rows(), w.blocks_per_row(), a.data(), sums.data(), batch, y.data(), begin, end);
  });
}

}  // namespace qtl::kernel
