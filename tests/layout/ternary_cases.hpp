// Shared by the BitNet layout tests (bitnet_test.cpp, bitnet_tl_test.cpp): random ternary codes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace qtl::test {

// n codes, each -1, 0 or 1 with equal odds.
inline std::vector<std::int8_t> random_ternary(std::size_t n, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> pick(-1, 1);
  std::vector<std::int8_t> v(n);
  for (auto& x : v) x = static_cast<std::int8_t>(pick(gen));
  return v;
}

}  // namespace qtl::test
