// Scalar reference path: quantize (statistics + params + codes) and dequantize of a
// 4096 x 4096 float matrix for the named quantizers. GB/s counts the float side.
#include <qtl/quantizer.hpp>

#include <vector>

#include "bench_util.hpp"

namespace {

constexpr std::size_t rows = 4096, cols = 4096;

template <class Q>
void BM_quantize(benchmark::State& state) {
  const std::vector<float> w = qtl_bench::weights(rows * cols);
  const qtl::matrix_view<const float> x(w.data(), rows, cols);
  std::vector<typename Q::code_type> codes(rows * cols);
  const Q q;
  for (auto _ : state) {
    const auto p = q.params(x);
    q.quantize_into(x, p, qtl::matrix_view<typename Q::code_type>(codes.data(), rows, cols));
    benchmark::DoNotOptimize(codes.data());
  }
  qtl_bench::set_gb_per_s(state, static_cast<double>(rows * cols * sizeof(float)));
}

template <class Q>
void BM_dequantize(benchmark::State& state) {
  const std::vector<float> w = qtl_bench::weights(rows * cols);
  const Q q;
  const auto t = q.quantize(qtl::matrix_view<const float>(w.data(), rows, cols));
  std::vector<float> out(rows * cols);
  for (auto _ : state) {
    q.dequantize(t, qtl::matrix_view<float>(out.data(), rows, cols));
    benchmark::DoNotOptimize(out.data());
  }
  qtl_bench::set_gb_per_s(state, static_cast<double>(rows * cols * sizeof(float)));
}

}  // namespace

#define QTL_BENCH_QUANTIZER(Q)                                                                      \
  BENCHMARK_TEMPLATE(BM_quantize, qtl::Q)->Name("BM_quantize/" #Q)->Unit(benchmark::kMillisecond);   \
  BENCHMARK_TEMPLATE(BM_dequantize, qtl::Q)->Name("BM_dequantize/" #Q)->Unit(benchmark::kMillisecond)

QTL_BENCH_QUANTIZER(int8_per_tensor_symmetric);
QTL_BENCH_QUANTIZER(int8_per_channel_affine);
QTL_BENCH_QUANTIZER(int8_per_token_absmax);
QTL_BENCH_QUANTIZER(int4_g32_symmetric);
QTL_BENCH_QUANTIZER(int4_g128_affine);
QTL_BENCH_QUANTIZER(ternary_absmean);
