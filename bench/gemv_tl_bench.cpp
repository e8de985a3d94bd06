// BitNet ternary GEMV by table lookup (gemv_tl, TL layout) next to the I2_S kernel
// (gemv_i2_s) on the same codes and activations, same arch, same run: BitNet b1.58 2B's
// shapes (2560x2560, 2560x6912, 6912x2560) and 4096x4096, 1 thread and all hardware
// threads, one token; and 512x2560, whose 328 KB of codes stay in L2: the kernels' compute
// speed where memory does not bound them. Both cases time the public call (TL: building the token's tables
// included). GB/s counts the weight code bytes, GOP/s 2*M*K; summarize.py prints TL / I2_S.
// BM_tl_lut times the table build alone.
#include <qtl/kernel/dispatch.hpp>
#include <qtl/kernel/gemv_i2_s.hpp>
#include <qtl/kernel/gemv_tl.hpp>
#include <qtl/layout/bitnet/i2_s.hpp>
#include <qtl/layout/bitnet/quantize.hpp>
#include <qtl/layout/bitnet/tl.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "bench_util.hpp"

namespace {

namespace kernel = qtl::kernel;
namespace bitnet = qtl::bitnet;

enum class packing { tl, i2_s };

struct ternary_problem {
  std::vector<std::int8_t> codes, a;
  float w_scale = 0.0f, a_scale = 0.0f;
  ternary_problem(std::size_t rows, std::size_t cols) : codes(rows * cols), a(cols) {
    const auto wf = qtl_bench::weights(rows * cols);
    w_scale = bitnet::quantize_weights(qtl::matrix_view<const float>(wf.data(), rows, cols),
                                       qtl::matrix_view<std::int8_t>(codes.data(), rows, cols))
                  .scale;
    const auto x = qtl_bench::weights(cols, 2);
    bitnet::quantize_activations(qtl::matrix_view<const float>(x.data(), 1, cols),
                                 qtl::matrix_view<std::int8_t>(a.data(), 1, cols), std::span<float>(&a_scale, 1));
  }
};

void BM_gemv_ternary(benchmark::State& state, packing pack, kernel::arch_id arch, std::size_t rows, std::size_t cols,
                     unsigned threads) {
  const ternary_problem p(rows, cols);
  const qtl::matrix_view<const std::int8_t> codes(p.codes.data(), rows, cols);
  std::vector<std::uint8_t> w(pack == packing::tl ? bitnet::tl::bytes(rows, cols) : bitnet::i2_s::bytes(rows, cols));
  if (pack == packing::tl) bitnet::pack_tl(codes, p.w_scale, w);
  else bitnet::pack_i2_s(codes, p.w_scale, w);
  std::vector<float> y(rows);
  const kernel::kernel_table k = kernel::kernels_for(arch);
  const std::span<const float> a_scales(&p.a_scale, 1);
  for (auto _ : state) {
    if (pack == packing::tl) kernel::gemv_tl(k, w, rows, cols, p.a, a_scales, y, threads);
    else kernel::gemv_i2_s(k, w, rows, cols, p.a, a_scales, y, threads);
    benchmark::DoNotOptimize(y.data());
  }
  qtl_bench::set_gb_per_s(state, static_cast<double>(rows * cols / 4));
  state.counters["GOP/s"] = benchmark::Counter(2.0 * static_cast<double>(rows * cols) / 1e9,
                                               benchmark::Counter::kIsIterationInvariantRate);
}

void BM_tl_lut(benchmark::State& state, std::size_t cols) {
  const ternary_problem p(1, cols);
  std::vector<std::uint8_t> lut(kernel::tl_lut_bytes(cols));
  for (auto _ : state) {
    kernel::tl_lut(p.a.data(), cols, lut.data());
    benchmark::DoNotOptimize(lut.data());
  }
  qtl_bench::set_gb_per_s(state, static_cast<double>(lut.size()));  // table bytes written
}

const bool registered = [] {
  const std::pair<std::size_t, std::size_t> shapes[] = {{2560, 2560}, {2560, 6912}, {6912, 2560}, {4096, 4096},
                                                        {512, 2560}};
  for (const auto arch : kernel::usable_archs())
    for (const auto& [rows, cols] : shapes)
      for (const unsigned threads : {1u, kernel::hardware_threads()})
        for (const packing pack : {packing::tl, packing::i2_s}) {
          const std::string name = std::string("BM_gemv_ternary/") + (pack == packing::tl ? "tl" : "i2_s") + "/" +
                                   std::string(kernel::arch_name(arch)) + "/" + std::to_string(rows) + "x" +
                                   std::to_string(cols) + "/threads:" + std::to_string(threads);
          benchmark::RegisterBenchmark(name.c_str(),
                                       [=](benchmark::State& s) { BM_gemv_ternary(s, pack, arch, rows, cols, threads); })
              ->Unit(benchmark::kMicrosecond)
              ->UseRealTime();
        }
  for (const std::size_t cols : {2560u, 6912u})
    benchmark::RegisterBenchmark(("BM_tl_lut/" + std::to_string(cols)).c_str(),
                                 [=](benchmark::State& s) { BM_tl_lut(s, cols); })
        ->Unit(benchmark::kMicrosecond);
  return true;
}();

}  // namespace
