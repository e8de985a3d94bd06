// Shared by the GEMV tests (tests/kernel/, and tests/neon/ built for aarch64 without
// Catch2): deterministic inputs and the exact reference a kernel's row is compared with.
#pragma once

#include <cmath>
#include <cstddef>
#include <random>
#include <utility>
#include <vector>

#include "qtl/kernel/block_dot.hpp"

namespace qtl::test {

// Normal values, every 97th one times 30 (outliers that set block scales).
inline std::vector<float> random_floats(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = normal(rng) * (i % 97 == 0 ? 30.0f : 1.0f);
  return v;
}

// The exact (double) sum of a row's block terms, and the sum of their magnitudes (the
// scale of float rounding differences between accumulation orders).
template <class W, class A>
std::pair<double, double> reference_row(const W* w, const A* a, std::size_t blocks) {
  double exact = 0.0, magnitude = 0.0;
  for (std::size_t i = 0; i < blocks; ++i) {
    const double product = static_cast<double>(kernel::block_isum(w[i], a[i])) * kernel::block_scale(w[i], a[i]);
    double offset = 0.0;
    if constexpr (kernel::offset_pair<W, A>) offset = kernel::block_offset(w[i], a[i]);
    exact += product + offset;
    magnitude += std::fabs(product) + std::fabs(offset);
  }
  return {exact, magnitude};
}

}  // namespace qtl::test
