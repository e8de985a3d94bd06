// GPTQ at a LLaMA-7B MLP shape: the Hessian of 128 x 2048 calibration tokens of 4096
// features (layer_inputs::add, 2048 tokens per call) and GPTQ of an 11008 x 4096 layer
// at int4 g128 with act-order (the column loop, lazy updates, and the layer errors of
// GPTQ and round to nearest), each on 1 and 2 threads. One iteration each: a run takes
// tens of seconds; the time is what a user waits for one layer.
#include <cstddef>
#include <qtl/format/int_format.hpp>
#include <qtl/ptq/gptq.hpp>
#include <qtl/scheme.hpp>
#include <vector>

#include "bench_util.hpp"

namespace {

constexpr std::size_t in = 4096, out = 11008, batch = 2048, batches = 128;

// One batch of tokens, normal(0, 1) with a few large features as LLM activations have.
const std::vector<float>& tokens() {
  static const std::vector<float> x = [] {
    auto v = qtl_bench::weights(batch * in, 5);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] *= (i % in) % 97 == 0 ? 500.0f : 50.0f;
    return v;
  }();
  return x;
}

void BM_gptq_hessian(benchmark::State& state) {
  const auto threads = static_cast<unsigned>(state.range(0));
  const qtl::matrix_view<const float> x(tokens().data(), batch, in);
  for (auto _ : state) {
    qtl::ptq::layer_inputs inputs(in);
    for (std::size_t b = 0; b < batches; ++b) inputs.add(x, threads);
    benchmark::DoNotOptimize(inputs.tokens());
  }
  state.counters["tokens/s"] = benchmark::Counter(double(batch * batches), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_gptq(benchmark::State& state) {
  const auto threads = static_cast<unsigned>(state.range(0));
  static const Eigen::MatrixXd hessian = [] {
    qtl::ptq::layer_inputs inputs(in);
    inputs.add(qtl::matrix_view<const float>(tokens().data(), batch, in), qtl::kernel::hardware_threads());
    return inputs.hessian();  // rank 2048 of 4096: GPTQ's damping makes it definite
  }();
  static const std::vector<float> w = qtl_bench::weights(out * in, 7);
  const qtl::matrix_view<const float> wv(w.data(), out, in);
  for (auto _ : state) {
    const auto r = qtl::ptq::gptq<qtl::int4, qtl::symmetric>(wv, hessian, {.group_size = 128, .act_order = true, .exec = threads});
    benchmark::DoNotOptimize(r.error);
  }
  qtl_bench::set_gb_per_s(state, double(out * in) * sizeof(float));
}

}  // namespace

BENCHMARK(BM_gptq_hessian)->Name("BM_gptq/hessian_4096_128x2048")->ArgName("threads")->Arg(1)->Arg(2)
    ->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();
BENCHMARK(BM_gptq)->Name("BM_gptq/int4_g128_11008x4096")->ArgName("threads")->Arg(1)->Arg(2)
    ->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();
