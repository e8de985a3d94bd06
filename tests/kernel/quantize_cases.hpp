// Shared by the quantize kernel tests (tests/kernel/, and tests/neon/ built for aarch64
// without Catch2): float blocks that reach every special case of the scalar quantizers.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <vector>

#include "qtl/format/bnb_fp4.hpp"
#include "qtl/format/nf4.hpp"

namespace qtl::test {

// Blocks that reach every special case of the scalar code.
template <class B>
inline std::vector<float> edge_blocks() {
  constexpr std::size_t n = B::elements;
  std::vector<float> x;
  const auto block = [&](auto value_of) {
    for (std::size_t j = 0; j < n; ++j) x.push_back(value_of(j));
  };
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  block([](std::size_t) { return 0.0f; });                                     // all zero
  block([](std::size_t j) { return j == 0 ? -0.0f : 0.0f; });                  // a scale of -0
  block([](std::size_t j) { return j % 3 ? -0.0f : 0.0f; });
  block([](std::size_t j) { return j == 5 ? 1.0f : 0.0f; });                   // one value
  block([](std::size_t j) { return j == n - 1 ? -3.0f : 0.0f; });
  // Ties: with a largest magnitude of 127, Q8_0's id is 1 and values k + 0.5 are ties.
  block([n](std::size_t j) { return j == 0 ? 127.0f : static_cast<float>(static_cast<int>(j) - static_cast<int>(n / 2)) + 0.5f; });
  block([n](std::size_t j) { return j == 1 ? -127.0f : static_cast<float>(static_cast<int>(n / 2) - static_cast<int>(j)) - 0.5f; });
  block([](std::size_t j) { return j == 0 ? 127.0f : (j % 2 ? 0.49999997f : -0.49999997f); });
  block([](std::size_t j) { return j == 0 ? -127.0f : (j % 2 ? 0.5f : 1.4999999f); });
  block([&](std::size_t j) { return j == 2 ? 63.5f : std::round(unit(rng) * 60.0f) + 0.5f; });  // ties after * 2
  // Both signs of the largest magnitude (Q8_K keeps the first).
  block([n](std::size_t j) { return j == 3 ? -2.0f : (j == n - 2 ? 2.0f : 0.25f * static_cast<float>(j % 7)); });
  block([n](std::size_t j) { return j == 3 ? 2.0f : (j == n - 2 ? -2.0f : -0.25f * static_cast<float>(j % 7)); });
  // Huge (d beyond half's range), tiny (d subnormal, 1 / d near or past FLT_MAX), subnormal.
  for (const float scale : {3.0e38f, 1.0e30f, 1.0e-30f, 1.0e-36f, 3.0e-37f, 1.0e-37f, 1.0e-38f, 1.0e-40f, 1.0e-44f})
    block([&](std::size_t j) { return j % 5 == 0 ? 0.0f : unit(rng) * scale; });
  block([](std::size_t j) { return j % 2 ? std::numeric_limits<float>::denorm_min() : 0.0f; });
  block([](std::size_t j) { return j % 2 ? std::numeric_limits<float>::max() : -std::numeric_limits<float>::max(); });
  block([&](std::size_t) { return unit(rng) * 1e-3f; });
  return x;
}


// Blocks of one scale each, the scales spread from 1e-40 to 1e38.
template <class B>
inline std::vector<float> scaled_blocks(std::vector<float> x, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> exponent(-40.0f, 38.0f);
  for (std::size_t i = 0; i + B::elements <= x.size(); i += B::elements) {
    const float s = std::pow(10.0f, exponent(rng)) / 30.0f;
    for (std::size_t j = 0; j < B::elements; ++j) x[i + j] = x[i + j] * s;
  }
  return x;
}

// bitsandbytes 4-bit: values exactly on each midpoint of the NF4 and FP4 levels times a
// (and one float either side, and negated), with a itself first: ties for x * (1 / a)
// when a is a power of two; then zeros, subnormals and FP4's smallest level's midpoint.
inline std::vector<float> bnb_tie_values(float a) {
  std::vector<float> x{a};
  for (const auto& levels : {std::vector<float>(nf4_values.begin(), nf4_values.end()),
                             std::vector<float>(bnb_fp4_values.begin(), bnb_fp4_values.end())}) {
    std::vector<float> sorted = levels;
    std::sort(sorted.begin(), sorted.end());
    for (std::size_t i = 0; i + 1 < sorted.size(); ++i) {
      const float m = (sorted[i] + sorted[i + 1]) / 2.0f * a;
      x.insert(x.end(), {m, std::nextafter(m, -INFINITY), std::nextafter(m, INFINITY), -m});
    }
  }
  x.insert(x.end(), {0.0f, -0.0f, std::numeric_limits<float>::denorm_min(), -std::numeric_limits<float>::denorm_min(),
                     a / 384.0f, -a / 384.0f, std::nextafter(a / 384.0f, INFINITY), -a});
  return x;
}

}  // namespace qtl::test
