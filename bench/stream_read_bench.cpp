// Baseline: read a buffer much larger than the last-level cache once per iteration.
// Every other case is reported as a fraction of this in bench/summarize.py.
#include <xsimd/xsimd.hpp>

#include <cstddef>
#include <vector>

#include "bench_util.hpp"

static void BM_stream_read(benchmark::State& state) {
  using batch = xsimd::batch<float>;
  constexpr std::size_t bytes = std::size_t{256} << 20;
  const std::size_t n = bytes / sizeof(float);
  std::vector<float> buffer(n, 1.0f);
  for (auto _ : state) {
    batch a{0.0f}, b{0.0f}, c{0.0f}, d{0.0f};  // four chains keep the loads in flight
    for (std::size_t i = 0; i + 4 * batch::size <= n; i += 4 * batch::size) {
      a += batch::load_unaligned(&buffer[i]);
      b += batch::load_unaligned(&buffer[i + batch::size]);
      c += batch::load_unaligned(&buffer[i + 2 * batch::size]);
      d += batch::load_unaligned(&buffer[i + 3 * batch::size]);
    }
    benchmark::DoNotOptimize(xsimd::reduce_add((a + b) + (c + d)));
  }
  qtl_bench::set_gb_per_s(state, static_cast<double>(bytes));
}
BENCHMARK(BM_stream_read)->Unit(benchmark::kMillisecond);
