// Dequantize kernels (kernel/dequantize.hpp): a 4096x4096 weight tensor per format into
// float32, through each arch's table entry (the scalar table is the reference path), on
// one thread; 64x4096 too, whose 1 MiB of output stays in cache, so that the kernels'
// own speed shows where the large case is bound by memory writes. GB/s counts the float
// output written; bench/summarize.py prints each case against the scalar table's and
// BM_stream_read of the same run.
#include <qtl/format/minifloat.hpp>
#include <qtl/kernel/dequantize.hpp>
#include <qtl/kernel/dispatch.hpp>
#include <qtl/layout/bitnet/quantize.hpp>
#include <qtl/layout/ggml.hpp>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "bench_util.hpp"

namespace {

namespace kernel = qtl::kernel;
namespace ggml = qtl::ggml;

constexpr std::size_t cols = 4096;

// Runs `dequantize(table, out)` per iteration; the data is made once per case.
void run(benchmark::State& state, kernel::arch_id arch, std::size_t n,
         const std::function<void(const kernel::kernel_table&, float*)>& dequantize) {
  const kernel::kernel_table k = kernel::kernels_for(arch);
  std::vector<float> out(n);
  for (auto _ : state) {
    dequantize(k, out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  qtl_bench::set_gb_per_s(state, static_cast<double>(n * sizeof(float)));
}

template <class B>
void BM_dequantize_ggml(benchmark::State& state, kernel::arch_id arch, std::size_t rows) {
  const std::size_t n = rows * cols;
  std::vector<B> w(n / B::elements);
  ggml::quantize<B>(qtl_bench::weights(n), std::span<B>(w), cols);
  const auto fn = kernel::dequantize_traits<B>::fn;
  run(state, arch, n, [&](const kernel::kernel_table& k, float* out) { fn(k)(w.data(), w.size(), out); });
}

void BM_dequantize_4bit(benchmark::State& state, kernel::arch_id arch, std::size_t rows, qtl::bnb::quant_type type) {
  const std::size_t n = rows * cols;
  constexpr std::int64_t blocksize = 64;
  std::vector<std::uint8_t> packed(qtl::bnb::packed_4bit_size(n));
  std::vector<float> absmax(qtl::bnb::block_count(n, blocksize));
  const auto x = qtl_bench::weights(n);
  qtl::bnb::quantize_4bit(std::span<const float>(x), type, blocksize, packed, absmax);
  run(state, arch, n, [&](const kernel::kernel_table& k, float* out) {
    const auto fn = type == qtl::bnb::quant_type::nf4 ? k.dequantize_nf4 : k.dequantize_fp4;
    fn(packed.data(), absmax.data(), blocksize, n, out);
  });
}

template <class F>
void BM_decode_fp8(benchmark::State& state, kernel::arch_id arch, std::size_t rows) {
  const std::size_t n = rows * cols;
  const auto x = qtl_bench::weights(n);
  std::vector<std::uint8_t> codes(n);
  for (std::size_t i = 0; i < n; ++i) codes[i] = F::encode(x[i] * 1000.0f);  // across the binades
  const auto fn = kernel::dequantize_traits<F>::fn;
  run(state, arch, n, [&](const kernel::kernel_table& k, float* out) { fn(k)(codes.data(), n, out); });
}

void BM_dequantize_i2_s(benchmark::State& state, kernel::arch_id arch, std::size_t rows) {
  const std::size_t n = rows * cols;
  const auto x = qtl_bench::weights(n);
  std::vector<std::int8_t> codes(n);
  const auto ws = qtl::bitnet::quantize_weights(qtl::matrix_view<const float>(x.data(), rows, cols),
                                                qtl::matrix_view<std::int8_t>(codes.data(), rows, cols));
  std::vector<std::uint8_t> w(qtl::bitnet::i2_s::bytes(rows, cols));
  qtl::bitnet::pack_i2_s(qtl::matrix_view<const std::int8_t>(codes.data(), rows, cols), ws.scale, w);
  run(state, arch, n, [&](const kernel::kernel_table& k, float* out) {
    k.dequantize_i2_s(w.data(), n / qtl::bitnet::i2_s::block, ws.scale, out);
  });
}

template <class Bench>
void register_format(const std::string& name, Bench bm) {
  for (const std::size_t rows : {4096, 64})
    for (const auto arch : kernel::usable_archs()) {
      const std::string full = "BM_dequantize_kernel/" + name + "/" + std::string(kernel::arch_name(arch)) + "/" +
                               std::to_string(rows) + "x" + std::to_string(cols);
      benchmark::RegisterBenchmark(full.c_str(), [=](benchmark::State& s) { bm(s, arch, rows); })
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
    }
}

const bool registered = [] {
  register_format("q8_0", &BM_dequantize_ggml<ggml::block_q8_0>);
  register_format("q4_0", &BM_dequantize_ggml<ggml::block_q4_0>);
  register_format("q4_1", &BM_dequantize_ggml<ggml::block_q4_1>);
  register_format("iq4_nl", &BM_dequantize_ggml<ggml::block_iq4_nl>);
  register_format("tq2_0", &BM_dequantize_ggml<ggml::block_tq2_0>);
  register_format("i2_s", &BM_dequantize_i2_s);
  register_format("nf4", [](benchmark::State& s, kernel::arch_id a, std::size_t r) { BM_dequantize_4bit(s, a, r, qtl::bnb::quant_type::nf4); });
  register_format("fp4", [](benchmark::State& s, kernel::arch_id a, std::size_t r) { BM_dequantize_4bit(s, a, r, qtl::bnb::quant_type::fp4); });
  register_format("fp8_e4m3", &BM_decode_fp8<qtl::fp8_e4m3>);
  register_format("fp8_e5m2", &BM_decode_fp8<qtl::fp8_e5m2>);
  return true;
}();

}  // namespace
