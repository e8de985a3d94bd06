// Shared by the GEMV tests (tests/kernel/, and tests/neon/ built for aarch64 without
// Catch2): deterministic inputs and the exact reference a kernel's row is compared with.
#pragma once

#include <cmath>
#include <cstdlib>
#include <cstddef>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include "qtl/kernel/block_dot.hpp"
#include "qtl/layout/ggml.hpp"

namespace qtl::test {

// Normal values, every 97th one times 30 (outliers that set block scales).
inline std::vector<float> random_floats(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = normal(rng) * (i % 97 == 0 ? 30.0f : 1.0f);
  return v;
}

// rows x cols random values as ggml blocks of type W (ggml's reference quantization).
template <class W>
std::vector<W> weight_blocks(std::size_t rows, std::size_t cols, unsigned seed) {
  std::vector<W> w(rows * cols / W::elements);
  ggml::quantize<W>(random_floats(rows * cols, seed), std::span<W>(w), cols);
  return w;
}

// What a SIMD step's float lanes add for one block, in magnitude: the block's terms where
// each lane holds a part of the block's own integer sum.
template <class W, class A>
double lane_magnitude(const W&, const A&, double product, double offset) {
  return std::fabs(product) + std::fabs(offset);
}
// TQ2_0's x86 step (ggml's x86 order) takes sum a off by Q8_K's 16-value bsums, which
// cover other values than the lane's q * a: a lane is bounded by sum (q + 1) |a| over the
// block's values, not by the block's sum.
inline double lane_magnitude(const ggml::block_tq2_0& w, const ggml::block_q8_k& a, double, double) {
  double sum = 0.0;  // TQ2_0 split order: value 128c + 32n + m is bits 2n of byte 32c + m
  for (std::size_t j = 0; j < ggml::qk_k; ++j) {
    const int q = (w.qs[32 * (j / 128) + j % 32] >> (2 * ((j % 128) / 32))) & 3;
    sum += (q + 1) * std::abs(static_cast<int>(a.qs[j]));
  }
  return sum * std::fabs(static_cast<double>(kernel::block_scale(w, a)));
}

// The K-quants' lanes hold parts of sum_j sc_j (sum q a) with unsigned codes q, less
// offset * sc_j * (Q8_K's 16-value sums) for Q3_K/Q6_K: bounded by sum_j |sc_j| sum
// (q + offset) |a|; the mins' term by dmin d_a sum_j m_j sum |a|.
template <ggml::k_quant W>
double lane_magnitude(const W& w, const ggml::block_q8_k& a, double, double) {
  using traits = ggml::k_quant_traits<W>;
  double codes = 0.0, mins = 0.0;
  for (std::size_t i = 0; i < ggml::qk_k; ++i) {
    const std::size_t j = i / traits::sub_block;
    const int magnitude = std::abs(static_cast<int>(a.qs[i]));
    codes += std::abs(ggml::sub_scale(w, j)) * (ggml::code(w, i) + traits::offset) * magnitude;
    if constexpr (traits::has_min) mins += ggml::sub_min(w, j) * magnitude;
  }
  double min_scale = 0.0;
  if constexpr (traits::has_min) min_scale = half_bits_to_float(w.dmin) * a.d;
  return codes * std::fabs(static_cast<double>(kernel::block_scale(w, a))) + mins * std::fabs(min_scale);
}

// The exact (double) sum of a row's block terms, and the magnitude of what the float
// lanes add (the scale of rounding differences between accumulation orders).
template <class W, class A>
std::pair<double, double> reference_row(const W* w, const A* a, std::size_t blocks) {
  double exact = 0.0, magnitude = 0.0;
  for (std::size_t i = 0; i < blocks; ++i) {
    const double product = static_cast<double>(kernel::block_isum(w[i], a[i])) * kernel::block_scale(w[i], a[i]);
    double offset = 0.0;
    if constexpr (kernel::offset_pair<W, A>) offset = kernel::block_offset(w[i], a[i]);
    exact += product + offset;
    magnitude += lane_magnitude(w[i], a[i], product, offset);
  }
  return {exact, magnitude};
}

}  // namespace qtl::test
