// The optimizers (qtl/optim/): one step over 100 M parameters, 8-bit and 32-bit state, 1
// and 2 threads. GB/s counts the bytes a step must touch: parameters read and written,
// gradients read, every state read and written (codes and block absmax for 8-bit); the
// gradient's non-finite check reads it once more and is not counted, so the ratio to
// BM_stream_read is what the step achieves of memory speed.
#include <cstddef>
#include <vector>

#include "bench_util.hpp"
#include "qtl/optim/adam.hpp"
#include "qtl/optim/lion.hpp"
#include "qtl/optim/optimizer.hpp"

namespace {

constexpr std::size_t parameters = 100'000'000;

template <class Rule>
void step_case(benchmark::State& state, qtl::optim::state_bits bits) {
  const auto threads = static_cast<unsigned>(state.range(0));
  qtl::optim::optimizer<Rule> opt(parameters, Rule{}, {.bits = bits, .threads = threads});
  std::vector<float> params = qtl_bench::weights(parameters), grads = qtl_bench::weights(parameters, 2);
  opt.step(params, grads);  // the state's first values (and its pages)
  for (auto _ : state) {
    opt.step(params, grads);
    benchmark::DoNotOptimize(params.data());
  }
  const double state_bytes = static_cast<double>(opt.state_bytes());
  qtl_bench::set_gb_per_s(state, 3.0 * sizeof(float) * parameters + 2.0 * state_bytes);
  state.counters["Gparams/s"] =
      benchmark::Counter(static_cast<double>(parameters) / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

static void BM_optim_adam8(benchmark::State& state) { step_case<qtl::optim::adam>(state, qtl::optim::state_bits::eight); }
static void BM_optim_adam32(benchmark::State& state) {
  step_case<qtl::optim::adam>(state, qtl::optim::state_bits::thirty_two);
}
static void BM_optim_lion8(benchmark::State& state) { step_case<qtl::optim::lion>(state, qtl::optim::state_bits::eight); }
static void BM_optim_lion32(benchmark::State& state) {
  step_case<qtl::optim::lion>(state, qtl::optim::state_bits::thirty_two);
}
BENCHMARK(BM_optim_adam8)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_optim_adam32)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_optim_lion8)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_optim_lion32)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
