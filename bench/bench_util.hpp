// Shared by the bench/ cases: deterministic test data and the GB/s counter every case
// reports, so ratios between cases in one run are comparable.
#pragma once

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstddef>
#include <random>
#include <string>
#include <thread>
#include <utility>
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

// The whole-op cases that qtl's and ggml's mul_mat share (bench/gemv_bench.cpp and the
// optional bench/ggml_compare.cpp): <name>/<M>x<K>/batch:<N>/threads:<T> for the LLaMA-7B
// and BitNet 2B shapes plus LLaMA's 32000 x 4096 output layer (larger than a 32 MiB L3
// for every type), 1, 4 and 8 activation rows, on 1 thread and on all of them.
// bm(state, rows, cols, batch, threads).
template <class Bench>
void register_mul_mat(const std::string& name, Bench bm) {
  const std::pair<std::size_t, std::size_t> shapes[] = {{4096, 4096}, {11008, 4096}, {2560, 6912}, {32000, 4096}};
  std::vector<unsigned> thread_counts = {1};
  if (std::thread::hardware_concurrency() > 1) thread_counts.push_back(std::thread::hardware_concurrency());
  for (const auto& [rows, cols] : shapes)
    for (const std::size_t batch : {1, 4, 8})
      for (const unsigned threads : thread_counts) {
        const std::string full = name + "/" + std::to_string(rows) + "x" + std::to_string(cols) +
                                 "/batch:" + std::to_string(batch) + "/threads:" + std::to_string(threads);
        benchmark::RegisterBenchmark(full.c_str(), [=](benchmark::State& s) { bm(s, rows, cols, batch, threads); })
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
}

}  // namespace qtl_bench
