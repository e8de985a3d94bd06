// Shared by the bench/ cases: deterministic test data and the GB/s counter every case
// reports, so ratios between cases in one run are comparable.
#pragma once

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstddef>
#include <random>
#include <vector>

namespace qtl_bench {

// Weights-like data: normal with a few large outliers.
inline std::vector<float> weights(std::size_t n, unsigned seed = 1) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> v(n);
  for (auto& x : v) x = normal(rng);
  for (std::size_t i = 0; i < n; i += 997) v[i] *= 20.0f;
  return v;
}

// Decimal GB/s of `bytes` moved per iteration.
inline void set_gb_per_s(benchmark::State& state, double bytes) {
  state.counters["GB/s"] = benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace qtl_bench
