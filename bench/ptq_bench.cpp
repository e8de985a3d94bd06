// PTQ linear layers y = x·Wᵀ at 16 tokens x 4096 x 4096 on 1 thread: the fp32 reference
// (Eigen GEMM, the baseline), plain int8 (W8A8, dynamic per-token activation scales),
// LLM.int8 (8 outlier columns of x kept in float) and weight-only int8 per channel and
// int4 g128 (float activations, the composed GEMV two passes of 8 tokens). Each call
// includes quantizing x, as a layer does per forward. GOP/s counts 2·M·K·N, GB/s the
// weight bytes (4, 1 or 1/2 per weight); summarize.py prints each case's ratio to
// BM_ptq_linear/fp32 of the same run.
#include <cstddef>
#include <qtl/ptq/llm_int8.hpp>
#include <qtl/ptq/linear_reference.hpp>
#include <qtl/ptq/matmul.hpp>
#include <qtl/ptq/quantized_linear.hpp>
#include <vector>

#include "bench_util.hpp"

namespace {

constexpr std::size_t tokens = 16, in = 4096, out = 4096;

// Activations with 8 outlier feature columns (|x| around 20-60, above LLM.int8's 6).
std::vector<float> activations() {
  auto x = qtl_bench::weights(tokens * in, 3);
  for (auto& v : x) v *= 50.0f;  // weights() is normal(0, 0.02): now normal(0, 1)
  for (std::size_t k = 0; k < 8; ++k)
    for (std::size_t r = 0; r < tokens; ++r) x[r * in + 509 * k + 7] = 40.0f;
  return x;
}

void set_rates(benchmark::State& state, double weight_bytes) {
  qtl_bench::set_gb_per_s(state, static_cast<double>(out * in) * weight_bytes);
  state.counters["GOP/s"] =
      benchmark::Counter(2.0 * tokens * in * out / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

template <class Forward>
void run(benchmark::State& state, double weight_bytes, Forward forward) {
  const auto x = activations();
  std::vector<float> y(tokens * out);
  const qtl::matrix_view<const float> xv(x.data(), tokens, in);
  const qtl::matrix_view<float> yv(y.data(), tokens, out);
  for (auto _ : state) {
    forward(xv, yv);
    benchmark::DoNotOptimize(y.data());
  }
  set_rates(state, weight_bytes);
}

const std::vector<float>& weights() {
  static const std::vector<float> w = qtl_bench::weights(out * in);
  return w;
}
qtl::matrix_view<const float> weight_view() { return {weights().data(), out, in}; }

void BM_ptq_linear_fp32(benchmark::State& state) {
  run(state, sizeof(float), [w = weight_view()](auto x, auto y) { qtl::ptq::linear_reference(x, w, y); });
}

void BM_ptq_linear_int8_dynamic(benchmark::State& state) {
  const qtl::ptq::quantized_linear layer(weight_view(), {});
  run(state, 1, [&](auto x, auto y) { layer.forward(x, y); });
}

void BM_ptq_linear_llm_int8(benchmark::State& state) {
  const qtl::ptq::llm_int8_linear layer(weight_view());
  run(state, 1, [&](auto x, auto y) { (void)layer.forward(x, y); });
}

void BM_ptq_linear_weight_only(benchmark::State& state) {
  const int bits = static_cast<int>(state.range(0));
  const qtl::ptq::quantized_linear layer(
      weight_view(), {.mode = qtl::ptq::ptq_mode::weight_only, .weight_bits = bits, .weight_group = bits == 8 ? 0u : 128u});
  run(state, bits / 8.0, [&](auto x, auto y) { layer.forward(x, y); });
}

}  // namespace

BENCHMARK(BM_ptq_linear_fp32)->Name("BM_ptq_linear/fp32")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ptq_linear_int8_dynamic)->Name("BM_ptq_linear/int8_dynamic")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ptq_linear_llm_int8)->Name("BM_ptq_linear/llm_int8")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ptq_linear_weight_only)->Name("BM_ptq_linear/weight_only_int8")->Arg(8)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ptq_linear_weight_only)->Name("BM_ptq_linear/weight_only_int4_g128")->Arg(4)->Unit(benchmark::kMillisecond)->UseRealTime();
