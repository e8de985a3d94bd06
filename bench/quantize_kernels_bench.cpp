// Quantization through the kernel table (kernel/quantize.hpp): f32 -> Q8_0, Q8_1, Q8_K and
// BitNet per-token int8 (activations); IQ4_NL, bitsandbytes NF4 / FP4 (block size 64),
// BitNet's ternary codes and I2_S packing (weights), for every arch this machine runs, the
// scalar table being the baseline (summarize.py prints each case's ratio to it). Shapes:
// one token of K = 4096 (what a GEMV quantizes per matrix) and a 4096 x 4096 tensor. GB/s
// counts the input (floats; int8 codes for I2_S packing); the checks (sizes, NaN/Inf
// pre-pass) are inside the timed call.
#include <qtl/kernel/dispatch.hpp>
#include <qtl/kernel/quantize.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bench_util.hpp"

namespace {

namespace kernel = qtl::kernel;
namespace ggml = qtl::ggml;

template <class B>
void BM_quantize_kernel(benchmark::State& state, kernel::arch_id arch, std::size_t rows, std::size_t cols) {
  const std::vector<float> x = qtl_bench::weights(rows * cols, 2);
  std::vector<B> out(rows * cols / B::elements);
  const kernel::kernel_table k = kernel::kernels_for(arch);
  for (auto _ : state) {
    kernel::quantize<B>(k, x, std::span<B>(out), cols);
    benchmark::DoNotOptimize(out.data());
  }
  qtl_bench::set_gb_per_s(state, static_cast<double>(x.size() * sizeof(float)));
}

void BM_quantize_tokens(benchmark::State& state, kernel::arch_id arch, std::size_t rows, std::size_t cols) {
  const std::vector<float> x = qtl_bench::weights(rows * cols, 2);
  std::vector<std::int8_t> codes(rows * cols);
  std::vector<float> scales(rows);
  const kernel::kernel_table k = kernel::kernels_for(arch);
  for (auto _ : state) {
    kernel::quantize_activations(k, qtl::matrix_view<const float>(x.data(), rows, cols),
                                 qtl::matrix_view<std::int8_t>(codes.data(), rows, cols), scales);
    benchmark::DoNotOptimize(codes.data());
  }
  qtl_bench::set_gb_per_s(state, static_cast<double>(x.size() * sizeof(float)));
}

void BM_quantize_4bit(benchmark::State& state, qtl::bnb::quant_type type, kernel::arch_id arch, std::size_t rows,
                      std::size_t cols) {
  const std::vector<float> x = qtl_bench::weights(rows * cols, 2);
  std::vector<std::uint8_t> packed(qtl::bnb::packed_4bit_size(x.size()));
  std::vector<float> absmax(qtl::bnb::block_count(x.size(), 64));
  const kernel::kernel_table k = kernel::kernels_for(arch);
  for (auto _ : state) {
    kernel::quantize_4bit(k, x, type, 64, std::span(packed), std::span(absmax));
    benchmark::DoNotOptimize(packed.data());
  }
  qtl_bench::set_gb_per_s(state, static_cast<double>(x.size() * sizeof(float)));
}

// bitnet::pack_i2_s's work on the table's arch (checks included); GB/s of int8 codes.
void BM_pack_i2_s(benchmark::State& state, kernel::arch_id arch, std::size_t rows, std::size_t cols) {
  std::vector<std::int8_t> codes(rows * cols);
  for (std::size_t i = 0; i < codes.size(); ++i) codes[i] = static_cast<std::int8_t>((i * 7 + i / 5) % 3) - 1;
  std::vector<std::uint8_t> out(qtl::bitnet::i2_s::bytes(rows, cols));
  const kernel::kernel_table k = kernel::kernels_for(arch);
  for (auto _ : state) {
    kernel::pack_i2_s(k, qtl::matrix_view<const std::int8_t>(codes.data(), rows, cols), 0.5f, out);
    benchmark::DoNotOptimize(out.data());
  }
  qtl_bench::set_gb_per_s(state, static_cast<double>(codes.size()));
}

// The ternary code step of bitnet::quantize_weights (the table entry alone: the scale is
// the scalar torch-order sum on every arch); GB/s of float input.
void BM_quantize_ternary(benchmark::State& state, kernel::arch_id arch, std::size_t rows, std::size_t cols) {
  const std::vector<float> w = qtl_bench::weights(rows * cols, 2);
  std::vector<std::int8_t> codes(rows * cols);
  const kernel::kernel_table k = kernel::kernels_for(arch);
  for (auto _ : state) {
    k.quantize_ternary(w.data(), w.size(), 40.0f, codes.data());
    benchmark::DoNotOptimize(codes.data());
  }
  qtl_bench::set_gb_per_s(state, static_cast<double>(w.size() * sizeof(float)));
}

template <class Bench>
void register_shapes(std::string_view name, Bench bm) {
  const std::pair<std::size_t, std::size_t> shapes[] = {{1, 4096}, {4096, 4096}};
  for (const auto& [rows, cols] : shapes)
    for (const auto arch : kernel::usable_archs()) {
      const std::string full = "BM_quantize_kernel/" + std::string(name) + "/" + std::string(kernel::arch_name(arch)) +
                               "/" + std::to_string(rows) + "x" + std::to_string(cols);
      benchmark::RegisterBenchmark(full.c_str(), [=](benchmark::State& s) { bm(s, arch, rows, cols); })
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
    }
}

const bool registered = [] {
  register_shapes("q8_0", &BM_quantize_kernel<ggml::block_q8_0>);
  register_shapes("q8_1", &BM_quantize_kernel<ggml::block_q8_1>);
  register_shapes("q8_K", &BM_quantize_kernel<ggml::block_q8_k>);
  register_shapes("i8_per_token", &BM_quantize_tokens);
  for (const auto type : {qtl::bnb::quant_type::nf4, qtl::bnb::quant_type::fp4})
    register_shapes(type == qtl::bnb::quant_type::nf4 ? "nf4" : "fp4",
                    [type](benchmark::State& s, kernel::arch_id arch, std::size_t rows, std::size_t cols) {
                      BM_quantize_4bit(s, type, arch, rows, cols);
                    });
  register_shapes("iq4_nl", &BM_quantize_kernel<ggml::block_iq4_nl>);  // weights: llama-quantize's search
  register_shapes("i2_s_pack", &BM_pack_i2_s);
  register_shapes("ternary_codes", &BM_quantize_ternary);
  return true;
}();

}  // namespace
