// Scalar reference path of the interchange layouts: quantize float -> blocks and
// dequantize blocks -> float for ggml's block types, OCP MX, bitsandbytes NF4 and BitNet,
// on a 1024 x 4096 float matrix. GB/s counts the float side; compare with BM_stream_read of the same run.
#include <qtl/format/minifloat.hpp>
#include <qtl/layout/bitnet.hpp>
#include <qtl/layout/bitsandbytes.hpp>
#include <qtl/layout/ggml.hpp>
#include <qtl/layout/mx.hpp>

#include <cstdint>
#include <vector>

#include "bench_util.hpp"

namespace {

constexpr std::size_t count = 1024 * 4096;

template <class B>
void BM_ggml_quantize(benchmark::State& state) {
  const std::vector<float> w = qtl_bench::weights(count);
  std::vector<B> blocks(count / B::elements);
  for (auto _ : state) {
    qtl::ggml::quantize<B>(w, std::span(blocks), 4096);
    benchmark::DoNotOptimize(blocks.data());
  }
  qtl_bench::set_gb_per_s(state, static_cast<double>(count * sizeof(float)));
}

template <class B>
void BM_ggml_dequantize(benchmark::State& state) {
  const std::vector<float> w = qtl_bench::weights(count);
  std::vector<B> blocks(count / B::elements);
  qtl::ggml::quantize<B>(w, std::span(blocks), 4096);
  std::vector<float> out(count);
  for (auto _ : state) {
    qtl::ggml::dequantize<B>(std::span<const B>(blocks), out);
    benchmark::DoNotOptimize(out.data());
  }
  qtl_bench::set_gb_per_s(state, static_cast<double>(count * sizeof(float)));
}

template <class T>
void BM_mx_quantize(benchmark::State& state) {
  const std::vector<float> w = qtl_bench::weights(count);
  std::vector<std::uint8_t> elements(qtl::mx::element_bytes<T>(count)), scales(qtl::mx::scale_count<T>(count));
  for (auto _ : state) {
    qtl::mx::quantize<T>(w, elements, scales);
    benchmark::DoNotOptimize(elements.data());
  }
  qtl_bench::set_gb_per_s(state, static_cast<double>(count * sizeof(float)));
}

template <class T>
void BM_mx_dequantize(benchmark::State& state) {
  const std::vector<float> w = qtl_bench::weights(count);
  std::vector<std::uint8_t> elements(qtl::mx::element_bytes<T>(count)), scales(qtl::mx::scale_count<T>(count));
  qtl::mx::quantize<T>(w, elements, scales);
  std::vector<float> out(count);
  for (auto _ : state) {
    qtl::mx::dequantize<T>(elements, scales, out);
    benchmark::DoNotOptimize(out.data());
  }
  qtl_bench::set_gb_per_s(state, static_cast<double>(count * sizeof(float)));
}

void BM_bnb_quantize_nf4(benchmark::State& state) {
  const std::vector<float> w = qtl_bench::weights(count);
  std::vector<std::uint8_t> packed(qtl::bnb::packed_4bit_size(count));
  qtl::bnb::quantize_4bit_options options;
  options.compress_statistics = true;
  for (auto _ : state) benchmark::DoNotOptimize(qtl::bnb::quantize_4bit(w, packed, options));
  qtl_bench::set_gb_per_s(state, static_cast<double>(count * sizeof(float)));
}

void BM_bnb_dequantize_nf4(benchmark::State& state) {
  const std::vector<float> w = qtl_bench::weights(count);
  std::vector<std::uint8_t> packed(qtl::bnb::packed_4bit_size(count));
  qtl::bnb::quantize_4bit_options options;
  options.compress_statistics = true;
  const auto quant_state = qtl::bnb::quantize_4bit(w, packed, options);
  std::vector<float> out(count);
  for (auto _ : state) {
    qtl::bnb::dequantize_4bit(packed, quant_state, out);
    benchmark::DoNotOptimize(out.data());
  }
  qtl_bench::set_gb_per_s(state, static_cast<double>(count * sizeof(float)));
}

void BM_bitnet_quantize_i2_s(benchmark::State& state) {
  const std::vector<float> w = qtl_bench::weights(count);
  std::vector<std::int8_t> codes(count);
  std::vector<std::uint8_t> packed(qtl::bitnet::i2_s::bytes(1024, 4096));
  for (auto _ : state) {
    const auto ws = qtl::bitnet::quantize_weights(qtl::matrix_view<const float>(w.data(), 1024, 4096),
                                                  qtl::matrix_view<std::int8_t>(codes.data(), 1024, 4096));
    qtl::bitnet::pack_i2_s(qtl::matrix_view<const std::int8_t>(codes.data(), 1024, 4096), ws.scale, packed);
    benchmark::DoNotOptimize(packed.data());
  }
  qtl_bench::set_gb_per_s(state, static_cast<double>(count * sizeof(float)));
}

void BM_fp8_e4m3_encode(benchmark::State& state) {
  const std::vector<float> w = qtl_bench::weights(count);
  std::vector<std::uint8_t> out(count);
  for (auto _ : state) {
    for (std::size_t i = 0; i < count; ++i) out[i] = qtl::fp8_e4m3::encode(w[i] * 1000.0f);
    benchmark::DoNotOptimize(out.data());
  }
  qtl_bench::set_gb_per_s(state, static_cast<double>(count * sizeof(float)));
}

}  // namespace

#define QTL_BENCH_GGML(B)                                                                                        \
  BENCHMARK_TEMPLATE(BM_ggml_quantize, qtl::ggml::block_##B)->Name("BM_ggml_quantize/" #B)->Unit(benchmark::kMillisecond); \
  BENCHMARK_TEMPLATE(BM_ggml_dequantize, qtl::ggml::block_##B)->Name("BM_ggml_dequantize/" #B)->Unit(benchmark::kMillisecond)

QTL_BENCH_GGML(q8_0);
QTL_BENCH_GGML(q4_0);
QTL_BENCH_GGML(q4_1);
QTL_BENCH_GGML(q5_0);
QTL_BENCH_GGML(q2_k);
QTL_BENCH_GGML(q3_k);
QTL_BENCH_GGML(q4_k);
QTL_BENCH_GGML(q5_k);
QTL_BENCH_GGML(q6_k);
QTL_BENCH_GGML(iq4_nl);
QTL_BENCH_GGML(tq1_0);
QTL_BENCH_GGML(tq2_0);
QTL_BENCH_GGML(mxfp4);

#define QTL_BENCH_MX(T)                                                                                    \
  BENCHMARK_TEMPLATE(BM_mx_quantize, qtl::mx::T)->Name("BM_mx_quantize/" #T)->Unit(benchmark::kMillisecond); \
  BENCHMARK_TEMPLATE(BM_mx_dequantize, qtl::mx::T)->Name("BM_mx_dequantize/" #T)->Unit(benchmark::kMillisecond)

QTL_BENCH_MX(mxfp8_e4m3);
QTL_BENCH_MX(mxfp6_e2m3);
QTL_BENCH_MX(mxfp4);
QTL_BENCH_MX(mxint8);

BENCHMARK(BM_bnb_quantize_nf4)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_bnb_dequantize_nf4)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_bitnet_quantize_i2_s)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_fp8_e4m3_encode)->Unit(benchmark::kMillisecond);
