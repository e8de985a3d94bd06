// GEMV y = W x with W in bitsandbytes' NF4 layout (blocksize 64, bnb's default; FP4 runs
// the same code with another table) and one row of float or bfloat16 activations, for
// every arch this machine runs (the scalar table is the baseline beside BM_stream_read),
// at the shapes of LLaMA-7B (4096x4096, 11008x4096, 4096x11008) and BitNet b1.58 2B
// (2560x6912), on 1 thread and on all hardware threads. GB/s counts the weight bytes
// read (packed codes + float absmax), GOP/s 2*M*K per GEMV.
#include <qtl/kernel/dispatch.hpp>
#include <qtl/kernel/gemv_nf4.hpp>
#include <qtl/layout/bitsandbytes.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "bench_util.hpp"

namespace {

namespace kernel = qtl::kernel;
namespace bnb = qtl::bnb;

constexpr std::int64_t blocksize = 64;

template <class X>
void BM_gemv_nf4(benchmark::State& state, kernel::arch_id arch, std::size_t rows, std::size_t cols,
                 unsigned threads) {
  const std::vector<float> wf = qtl_bench::weights(rows * cols);
  std::vector<std::uint8_t> packed(bnb::packed_4bit_size(wf.size()));
  std::vector<float> absmax(bnb::block_count(wf.size(), blocksize));
  bnb::quantize_4bit(std::span<const float>(wf), bnb::quant_type::nf4, blocksize, packed, absmax);
  const std::vector<float> xf = qtl_bench::weights(cols, 2);
  const std::vector<X> x(xf.begin(), xf.end());
  std::vector<float> y(rows);
  const kernel::kernel_table k = kernel::kernels_for(arch);
  for (auto _ : state) {
    kernel::gemv_4bit(k, bnb::quant_type::nf4, packed, absmax, blocksize, rows, cols, std::span<const X>(x), y,
                      threads);
    benchmark::DoNotOptimize(y.data());
  }
  qtl_bench::set_gb_per_s(state, static_cast<double>(packed.size() + absmax.size() * sizeof(float)));
  state.counters["GOP/s"] = benchmark::Counter(2.0 * static_cast<double>(rows * cols) / 1e9,
                                               benchmark::Counter::kIsIterationInvariantRate);
}

template <class X>
void register_activation(const char* name) {
  const std::pair<std::size_t, std::size_t> shapes[] = {{4096, 4096}, {11008, 4096}, {4096, 11008}, {2560, 6912}};
  for (const auto arch : kernel::usable_archs())
    for (const auto& [rows, cols] : shapes)
      for (const unsigned threads : {1u, kernel::hardware_threads()}) {
        const std::string full = "BM_gemv/" + std::string(name) + "/" + std::string(kernel::arch_name(arch)) + "/" +
                                 std::to_string(rows) + "x" + std::to_string(cols) + "/threads:" + std::to_string(threads);
        benchmark::RegisterBenchmark(full.c_str(),
                                     [=](benchmark::State& s) { BM_gemv_nf4<X>(s, arch, rows, cols, threads); })
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
}

const bool registered = [] {
  register_activation<float>("nf4_f32");
  register_activation<qtl::bfloat16>("nf4_bf16");
  return true;
}();

}  // namespace
