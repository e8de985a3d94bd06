// kernel::simd_quantizer (the composed SIMD path, this build's arch) against the scalar
// quantizer of the same composition, on a 4096 x 4096 float matrix (64 MiB, larger than
// the last-level cache):
//   BM_composed_quantize/<case>/<path>    f32 -> params and packed codes; GB/s of f32 input
//   BM_composed_dequantize/<case>/<path>  packed codes -> f32; GB/s of f32 output
// <path> is simd (1 thread), simd_2_threads, or scalar (quantizer + packed_tensor::pack,
// the two-pass way, 1 thread).
// bench/summarize.py puts each against BM_stream_read / BM_stream_write of the same run.
// The run-time codebooks (lut16_g64_lloyd_max, lut256_per_tensor_lloyd_max) are measured
// against nf4_g64_codebook, the compile-time codebook of the same shape, in the same run.
#include <qtl/codebook/lloyd_max.hpp>
#include <qtl/codebook/lut_codebook.hpp>
#include <qtl/format/compander.hpp>
#include <qtl/format/minifloat.hpp>
#include <qtl/format/nf4.hpp>
#include <qtl/kernel/simd_quantizer.hpp>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "bench_util.hpp"

namespace {

constexpr std::size_t rows = 4096, cols = 4096;

// A user's rounding (nearest, ties down) with only a scalar step, and with a batch step:
// what docs/writing-a-policy.md measures.
struct half_down {
  float operator()(float v, std::uint64_t) const noexcept { return std::ceil(v - 0.5f); }
};
struct half_down_simd : half_down {
  using half_down::operator();
  template <class Arch>
  qtl::simd::floats<Arch> operator()(qtl::simd::floats<Arch> v, std::uint64_t) const noexcept {
    return qtl::simd::ceil(v - qtl::simd::floats<Arch>(0.5f));
  }
};

template <class Q>
void quantize_simd(benchmark::State& state, Q q, unsigned threads) {
  const std::vector<float> w = qtl_bench::weights(rows * cols);
  const qtl::matrix_view<const float> x(w.data(), rows, cols);
  const qtl::kernel::simd_quantizer<Q> k(q, threads);
  for (auto _ : state) {
    const auto packed = k.quantize_packed(x);
    benchmark::DoNotOptimize(packed.bytes().data());
  }
  qtl_bench::set_gb_per_s(state, static_cast<double>(rows * cols * sizeof(float)));
}

template <class Q>
void quantize_scalar(benchmark::State& state, Q q, unsigned) {
  const std::vector<float> w = qtl_bench::weights(rows * cols);
  const qtl::matrix_view<const float> x(w.data(), rows, cols);
  for (auto _ : state) {
    const auto packed = qtl::packed_tensor<typename Q::format_type>::pack(q.quantize(x));
    benchmark::DoNotOptimize(packed.bytes().data());
  }
  qtl_bench::set_gb_per_s(state, static_cast<double>(rows * cols * sizeof(float)));
}

template <class Q>
void dequantize_simd(benchmark::State& state, Q q, unsigned threads) {
  const std::vector<float> w = qtl_bench::weights(rows * cols);
  const qtl::kernel::simd_quantizer<Q> k(q, threads);
  const auto packed = k.quantize_packed(qtl::matrix_view<const float>(w.data(), rows, cols));
  std::vector<float> out(rows * cols);
  for (auto _ : state) {
    k.dequantize(packed, qtl::matrix_view<float>(out.data(), rows, cols));
    benchmark::DoNotOptimize(out.data());
  }
  qtl_bench::set_gb_per_s(state, static_cast<double>(rows * cols * sizeof(float)));
}

template <class Q>
void dequantize_scalar(benchmark::State& state, Q q, unsigned) {
  const std::vector<float> w = qtl_bench::weights(rows * cols);
  const auto packed = qtl::packed_tensor<typename Q::format_type>::pack(q.quantize(qtl::matrix_view<const float>(w.data(), rows, cols)));
  std::vector<float> out(rows * cols);
  for (auto _ : state) {
    q.dequantize(packed.unpack(), qtl::matrix_view<float>(out.data(), rows, cols));
    benchmark::DoNotOptimize(out.data());
  }
  qtl_bench::set_gb_per_s(state, static_cast<double>(rows * cols * sizeof(float)));
}

template <class Q>
void add(const std::string& name, Q q) {
  const auto reg = [&](const std::string& kind, const std::string& path, auto fn, unsigned threads) {
    benchmark::RegisterBenchmark(("BM_composed_" + kind + "/" + name + "/" + path).c_str(), fn, q, threads)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  };
  reg("quantize", "simd", quantize_simd<Q>, 1);
  reg("quantize", "simd_2_threads", quantize_simd<Q>, 2);
  reg("quantize", "scalar", quantize_scalar<Q>, 1);
  reg("dequantize", "simd", dequantize_simd<Q>, 1);
  reg("dequantize", "simd_2_threads", dequantize_simd<Q>, 2);
  reg("dequantize", "scalar", dequantize_scalar<Q>, 1);
}

[[maybe_unused]] const int registered = [] {
  using namespace qtl;
  add("int8_per_channel_symmetric", int8_per_channel_symmetric{});
  add("int4_g32_symmetric", int4_g32_symmetric{});
  // Q8_0's codes as a composition (its hand-written kernel: BM_quantize_kernel/q8_0).
  add("int8_g32_symmetric_nearest_away", quantizer<int8, symmetric, per_group<32>, nearest_away>{});
  add("int4_g128_symmetric", int4_g128_symmetric{});
  add("int4_g128_symmetric_stochastic", quantizer<int4, symmetric, per_group<128>, stochastic<>>{});
  add("uint4_g32_affine", int4_g32_affine{});
  add("uint4_g128_affine", int4_g128_affine{});
  add("uint3_g128_affine", quantizer<int_format<3, false>, affine, per_group<128>>{});
  add("ternary_absmean", ternary_absmean{});
  add("nf4_g64_codebook", quantizer<nf4, codebook, per_group<64>>{});
  add("fp8_e4m3_per_tensor_codebook", quantizer<fp8_e4m3, codebook, per_tensor>{});
  add("mu_law8_g64_codebook", quantizer<mu_law<8>, codebook, per_group<64>>{});
  // Codebooks chosen at run time: Lloyd-Max levels of N(0, 1), 16 in registers, 256 by
  // gathers (the 256-level design stopped after 500 iterations: levels, not an optimum).
  lloyd_max::options few;
  few.max_iterations = 500;
  add("lut16_g64_lloyd_max", quantizer<uint4, lut_codebook, per_group<64>>{
                                 lut_codebook(lloyd_max::design(lloyd_max::gaussian{}, 16).codebook()), per_group<64>{}});
  add("lut256_per_tensor_lloyd_max",
      quantizer<uint8, lut_codebook, per_tensor>{lut_codebook(lloyd_max::design(lloyd_max::gaussian{}, 256, few).codebook())});
  add("int4_g128_symmetric_user_rounding_scalar_step", quantizer<int4, symmetric, per_group<128>, half_down>{});
  add("int4_g128_symmetric_user_rounding_batch_step", quantizer<int4, symmetric, per_group<128>, half_down_simd>{});
  return 0;
}();

}  // namespace
