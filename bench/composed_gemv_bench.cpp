// kernel::composed_gemv (this build's arch) on weights quantized by a composition and
// packed by simd_quantizer::quantize_packed, one activation row, at LLaMA-7B shapes
// (4096x4096, 11008x4096), BitNet 2B's 2560x6912 and a 32000x4096 output head (4-bit
// weights larger than a 32 MiB L3):
//   BM_composed_gemv/<case>/<rows>x<cols>/<threads>t   GB/s of weight bytes read per call
// Weight bytes are the packed codes plus the params (12 bytes per group). bench/summarize.py
// puts each against BM_stream_read (1 thread) or BM_stream_read_2_threads of the same run.
#include <qtl/format/nf4.hpp>
#include <qtl/kernel/composed_gemv.hpp>

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bench_util.hpp"

namespace {

// The packed weights of one composition at one shape, made once per process (the larger
// shapes take seconds to generate).
template <class Q>
const qtl::packed_tensor<typename Q::format_type>& packed_weights(const Q& q, std::size_t rows, std::size_t cols) {
  static std::map<std::pair<std::size_t, std::size_t>, std::unique_ptr<qtl::packed_tensor<typename Q::format_type>>> cache;
  auto& slot = cache[{rows, cols}];
  if (!slot) {
    const std::vector<float> w = qtl_bench::weights(rows * cols);
    const qtl::kernel::simd_quantizer<Q> k(q, 2);
    slot = std::make_unique<qtl::packed_tensor<typename Q::format_type>>(
        k.quantize_packed(qtl::matrix_view<const float>(w.data(), rows, cols)));
  }
  return *slot;
}

enum class activations { f32, bf16, int8 };

template <class Q>
void BM_composed_gemv(benchmark::State& state, Q q, activations kind, std::size_t rows, std::size_t cols,
                      unsigned threads) {
  const auto& w = packed_weights(q, rows, cols);
  const qtl::kernel::composed_gemv<Q> k(q, threads);
  const std::vector<float> x = qtl_bench::weights(cols, 2);
  std::vector<qtl::bfloat16> xb(x.begin(), x.end());
  std::vector<float> y(rows);
  for (auto _ : state) {
    if constexpr (qtl::kernel::integer_weights<Q>)
      if (kind == activations::int8) k.gemv_int8(w, std::span<const float>(x), std::span<float>(y));
    if (kind == activations::f32) k.gemv(w, std::span<const float>(x), std::span<float>(y));
    if (kind == activations::bf16) k.gemv(w, std::span<const qtl::bfloat16>(xb), std::span<float>(y));
    benchmark::DoNotOptimize(y.data());
  }
  const double bytes = static_cast<double>(w.bytes().size() + w.params().size() * sizeof(qtl::quant_params));
  qtl_bench::set_gb_per_s(state, bytes);
  state.counters["GOP/s"] = benchmark::Counter(2.0 * static_cast<double>(rows * cols) / 1e9,
                                               benchmark::Counter::kIsIterationInvariantRate);
}

template <class Q>
void add(const std::string& name, Q q, activations kind) {
  const std::pair<std::size_t, std::size_t> shapes[] = {{4096, 4096}, {11008, 4096}, {2560, 6912}, {32000, 4096}};
  for (const auto& [rows, cols] : shapes)
    for (const unsigned threads : {1u, 2u}) {
      const std::string full = "BM_composed_gemv/" + name + "/" + std::to_string(rows) + "x" + std::to_string(cols) +
                               "/" + std::to_string(threads) + "t";
      benchmark::RegisterBenchmark(full.c_str(), [=](benchmark::State& s) {
        BM_composed_gemv(s, q, kind, rows, cols, threads);
      })->Unit(benchmark::kMillisecond)->UseRealTime();
    }
}

[[maybe_unused]] const int registered = [] {
  using namespace qtl;
  add("int4_g128_symmetric_x_int8", quantizer<int4, symmetric, per_group<128>>{}, activations::int8);
  add("uint4_g128_affine_x_f32", quantizer<uint4, affine, per_group<128>>{}, activations::f32);
  add("int8_per_channel_x_int8", quantizer<int8, symmetric, per_channel<0>>{}, activations::int8);
  add("nf4_g64_codebook_x_bf16", quantizer<nf4, codebook, per_group<64>>{}, activations::bf16);
  return 0;
}();

}  // namespace
