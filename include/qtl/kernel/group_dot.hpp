// The GEMV of prepared weights (kernel/prepared.hpp): one pass over a row group's block
// column serves its 8 rows and every activation row of the chunk. The shape is
// block_dot.hpp's: acc = zero(); decode a row_group once; accumulate it against each
// activation block; finish into the 8 rows' floats. Each row's sum is a chain of its
// own in block order, acc += float(isum) * d_w * d_a: the scalar path's order. The
// primary template is the scalar reference (bit-identical to gemv_rows on the blocks the
// group was prepared from); x86/ and arm/ specialize the step.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

#include "qtl/kernel/block_dot.hpp"
#include "qtl/kernel/prepared.hpp"

namespace qtl::kernel {

// The sum of an activation block's int8 codes: a step that feeds its weight codes as
// unsigned bytes (code + offset) takes offset * sum off the block's integer sum with it.
inline std::int32_t code_sum(const ggml::block_q8_0& a) noexcept {
  std::int32_t sum = 0;
  for (const std::int8_t q : a.qs) sum += q;
  return sum;
}
inline std::int32_t code_sum(const ggml::block_q8_k& a) noexcept {
  std::int32_t sum = 0;
  for (const std::int16_t s : a.bsums) sum += s;
  return sum;
}

QTL_STRICT_FP_BEGIN  // as block_dot's scalar step: the same bits under any FMA flags
template <class Arch, groupable B>
struct group_dot {
  using acc_type = std::array<float, group_rows>;
  static acc_type zero() noexcept { return {}; }
  static const row_group<B>& decode(const row_group<B>& g) noexcept { return g; }
  static void accumulate(acc_type& acc, const row_group<B>& g, const group_activation<B>& a, std::int32_t) noexcept {
    for (std::size_t r = 0; r < group_rows; ++r) acc[r] += block_term(g.block(r), a);
  }
  static void finish(const acc_type& acc, float* out) noexcept { std::copy(acc.begin(), acc.end(), out); }
};
QTL_STRICT_FP_END

// Groups [begin, end) of y = W a for exactly N activation rows.
template <class Arch, groupable B, std::size_t N>
void gemv_groups_n(const row_group<B>* w, std::size_t rows, std::size_t blocks_per_row, const group_activation<B>* a,
                   const std::int32_t* a_sums, float* y, std::size_t begin, std::size_t end) noexcept {
  using D = group_dot<Arch, B>;
  for (std::size_t g = begin; g < end; ++g) {
    typename D::acc_type acc[N];
    for (auto& x : acc) x = D::zero();
    const row_group<B>* column = w + g * blocks_per_row;
    for (std::size_t i = 0; i < blocks_per_row; ++i) {
      const auto decoded = D::decode(column[i]);
      for (std::size_t k = 0; k < N; ++k)
        D::accumulate(acc[k], decoded, a[k * blocks_per_row + i], a_sums[k * blocks_per_row + i]);
    }
    const std::size_t live = std::min(group_rows, rows - g * group_rows);  // the last group's padding stays out
    for (std::size_t k = 0; k < N; ++k) {
      float out[group_rows];
      D::finish(acc[k], out);
      std::copy_n(out, live, y + k * rows + g * group_rows);
    }
  }
}

// Row groups [begin, end) of y = W a: w holds the groups (group g's block column i at
// g * blocks_per_row + i), a `batch` rows of blocks_per_row activation blocks, a_sums
// their code_sum()s, y `batch` rows of `rows` values.
template <class Arch, groupable B>
void gemv_groups(const row_group<B>* w, std::size_t rows, std::size_t blocks_per_row, const group_activation<B>* a,
                 const std::int32_t* a_sums, std::size_t batch, float* y, std::size_t begin, std::size_t end) noexcept {
  for_batch_chunks(batch, [&]<std::size_t N>(std::size_t n) {
    gemv_groups_n<Arch, B, N>(w, rows, blocks_per_row, a + n * blocks_per_row, a_sums + n * blocks_per_row,
                              y + n * rows, begin, end);
  });
}

}  // namespace qtl::kernel
