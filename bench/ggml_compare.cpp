// Optional comparison with ggml, built only when CMake is given QTL_BENCH_GGML_DIR (an
// install prefix of a local ggml build; never in CI, no ggml code in this repository).
// ggml's own CPU vec_dot runs on the same bytes as qtl's GEMV (qtl's ggml layouts are
// byte-identical), with the same row split over the same threads:
//   BM_ggml_gemv/<type>/<M>x<K>/threads:<N>   next to   BM_gemv/<type>/<arch>/...
#include <ggml-cpu.h>
#include <ggml.h>
#include <qtl/kernel/gemv.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "bench_util.hpp"

namespace {

namespace kernel = qtl::kernel;
namespace ggml = qtl::ggml;

template <class W>
void BM_ggml_gemv(benchmark::State& state, ggml_type type, std::size_t rows, std::size_t cols, unsigned threads) {
  using A = typename kernel::gemv_traits<W>::activation;
  const auto* traits = ggml_get_type_traits_cpu(type);
  if (traits == nullptr || traits->vec_dot == nullptr ||
      traits->vec_dot_type != static_cast<ggml_type>(A::type)) {
    state.SkipWithError("ggml has no vec_dot for this pair");
    return;
  }
  std::vector<W> w(rows * cols / W::elements);
  ggml::quantize<W>(qtl_bench::weights(rows * cols), std::span<W>(w), cols);
  std::vector<A> a(cols / A::elements);
  ggml::quantize<A>(qtl_bench::weights(cols, 2), std::span<A>(a), cols);
  std::vector<float> y(rows);
  const std::size_t row_bytes = cols / W::elements * sizeof(W);
  for (auto _ : state) {
    kernel::parallel_for(rows, threads, [&](std::size_t begin, std::size_t end) {
      for (std::size_t r = begin; r < end; ++r)
        traits->vec_dot(static_cast<int>(cols), &y[r], 0, reinterpret_cast<const char*>(w.data()) + r * row_bytes, 0,
                        a.data(), 0, 1);
    });
    benchmark::DoNotOptimize(y.data());
  }
  qtl_bench::set_gb_per_s(state, static_cast<double>(w.size() * sizeof(W)));
  state.counters["GOP/s"] = benchmark::Counter(2.0 * static_cast<double>(rows * cols) / 1e9,
                                               benchmark::Counter::kIsIterationInvariantRate);
}

// ggml's activation quantization (its CPU from_float, SIMD where it has it) of one row.
template <class A>
void BM_ggml_from_float(benchmark::State& state, ggml_type type, std::size_t cols) {
  const auto* traits = ggml_get_type_traits_cpu(type);
  if (traits == nullptr || traits->from_float == nullptr) {
    state.SkipWithError("ggml has no from_float for this type");
    return;
  }
  const auto x = qtl_bench::weights(cols, 2);
  std::vector<A> a(cols / A::elements);
  for (auto _ : state) {
    traits->from_float(x.data(), a.data(), static_cast<std::int64_t>(cols));
    benchmark::DoNotOptimize(a.data());
  }
  qtl_bench::set_gb_per_s(state, static_cast<double>(cols * sizeof(float)));
}

template <class W>
void register_type(ggml_type type) {
  const std::pair<std::size_t, std::size_t> shapes[] = {{4096, 4096}, {11008, 4096}, {4096, 11008}, {2560, 6912}};
  for (const auto [rows, cols] : shapes)
    for (const unsigned threads : {1u, kernel::hardware_threads()}) {
      if (cols % W::elements != 0) continue;
      const std::string name = "BM_ggml_gemv/" + std::string(W::name) + "/" + std::to_string(rows) + "x" +
                               std::to_string(cols) + "/threads:" + std::to_string(threads);
      benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& s) { BM_ggml_gemv<W>(s, type, rows, cols, threads); })
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
    }
}

const bool registered = [] {
  ggml_cpu_init();
  register_type<ggml::block_q8_0>(GGML_TYPE_Q8_0);
  register_type<ggml::block_q4_0>(GGML_TYPE_Q4_0);
  register_type<ggml::block_q4_1>(GGML_TYPE_Q4_1);
  register_type<ggml::block_iq4_nl>(GGML_TYPE_IQ4_NL);
  register_type<ggml::block_tq2_0>(GGML_TYPE_TQ2_0);
  for (const std::size_t cols : {std::size_t{4096}, std::size_t{11008}}) {
    const std::string k = "/" + std::to_string(cols);
    benchmark::RegisterBenchmark(("BM_ggml_from_float/q8_0" + k).c_str(), [=](benchmark::State& s) {
      BM_ggml_from_float<ggml::block_q8_0>(s, GGML_TYPE_Q8_0, cols);
    })->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("BM_ggml_from_float/q8_K" + k).c_str(), [=](benchmark::State& s) {
      BM_ggml_from_float<ggml::block_q8_k>(s, GGML_TYPE_Q8_K, cols);
    })->Unit(benchmark::kMicrosecond);
  }
  return true;
}();

}  // namespace
