// Baselines: read, and write, a buffer much larger than the last-level cache once per
// iteration. Every other case is reported as a fraction of one of them in bench/summarize.py
// (kernels that read floats against the read, dequantize kernels against the write).
#include <xsimd/xsimd.hpp>

#include <cstddef>
#include <functional>
#include <thread>
#include <vector>

#include "bench_util.hpp"

namespace {

using batch = xsimd::batch<float>;
constexpr std::size_t stream_bytes = std::size_t{256} << 20;
constexpr std::size_t stream_floats = stream_bytes / sizeof(float);

}  // namespace

static void BM_stream_read(benchmark::State& state) {
  std::vector<float> buffer(stream_floats, 1.0f);
  for (auto _ : state) {
    batch a{0.0f}, b{0.0f}, c{0.0f}, d{0.0f};  // four chains keep the loads in flight
    for (std::size_t i = 0; i + 4 * batch::size <= stream_floats; i += 4 * batch::size) {
      a += batch::load_unaligned(&buffer[i]);
      b += batch::load_unaligned(&buffer[i + batch::size]);
      c += batch::load_unaligned(&buffer[i + 2 * batch::size]);
      d += batch::load_unaligned(&buffer[i + 3 * batch::size]);
    }
    benchmark::DoNotOptimize(xsimd::reduce_add((a + b) + (c + d)));
  }
  qtl_bench::set_gb_per_s(state, static_cast<double>(stream_bytes));
}
BENCHMARK(BM_stream_read)->Unit(benchmark::kMillisecond);

// The same read split over two threads, each summing its half: the baseline of the
// 2-thread cases.
static void BM_stream_read_2_threads(benchmark::State& state) {
  std::vector<float> buffer(stream_floats, 1.0f);
  const auto half = [&](std::size_t begin, std::size_t end, float& out) {
    batch a{0.0f}, b{0.0f}, c{0.0f}, d{0.0f};
    for (std::size_t i = begin; i + 4 * batch::size <= end; i += 4 * batch::size) {
      a += batch::load_unaligned(&buffer[i]);
      b += batch::load_unaligned(&buffer[i + batch::size]);
      c += batch::load_unaligned(&buffer[i + 2 * batch::size]);
      d += batch::load_unaligned(&buffer[i + 3 * batch::size]);
    }
    out = xsimd::reduce_add((a + b) + (c + d));
  };
  for (auto _ : state) {
    float first = 0.0f, second = 0.0f;
    std::thread other(half, stream_floats / 2, stream_floats, std::ref(second));
    half(0, stream_floats / 2, first);
    other.join();
    benchmark::DoNotOptimize(first + second);
  }
  qtl_bench::set_gb_per_s(state, static_cast<double>(stream_bytes));
}
BENCHMARK(BM_stream_read_2_threads)->Unit(benchmark::kMillisecond)->UseRealTime();

// Plain stores, as the dequantize kernels make (no non-temporal hint, so each line is also
// read for ownership): the ceiling of a kernel whose output is the large side.
static void BM_stream_write(benchmark::State& state) {
  std::vector<float> buffer(stream_floats, 0.0f);
  float value = 1.0f;
  for (auto _ : state) {
    const batch v(value);
    for (std::size_t i = 0; i + batch::size <= stream_floats; i += batch::size) v.store_unaligned(&buffer[i]);
    benchmark::DoNotOptimize(buffer.data());
    benchmark::ClobberMemory();
    value += 1.0f;
  }
  qtl_bench::set_gb_per_s(state, static_cast<double>(stream_bytes));
}
BENCHMARK(BM_stream_write)->Unit(benchmark::kMillisecond);
