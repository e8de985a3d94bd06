// Observers: a one-batch calibration (construct, observe a 1024 x 1024 float batch, take
// the statistics) for every observer in include/qtl/observer/, per tensor, on weights-like
// data. GB/s counts the float input; summarize.py prints each case's ratio to minmax.
#include <qtl/observer/histogram.hpp>
#include <qtl/observer/kl.hpp>
#include <qtl/observer/minmax.hpp>
#include <qtl/observer/moving_average_minmax.hpp>
#include <qtl/observer/mse_observer.hpp>
#include <qtl/observer/percentile.hpp>
#include <qtl/observer/streaming_percentile.hpp>

#include <vector>

#include "bench_util.hpp"

namespace {

constexpr std::size_t rows = 1024, cols = 1024;

template <class Make>
void BM_observer(benchmark::State& state, Make make) {
  const std::vector<float> w = qtl_bench::weights(rows * cols, 3);
  const qtl::matrix_view<const float> x(w.data(), rows, cols);
  for (auto _ : state) {
    auto obs = make();
    obs.observe(x);
    const auto stats = obs.stats();
    benchmark::DoNotOptimize(stats.data());
  }
  qtl_bench::set_gb_per_s(state, static_cast<double>(rows * cols * sizeof(float)));
}

#define QTL_BENCH_OBSERVER(name, ...)                                              \
  BENCHMARK_CAPTURE(BM_observer, name, [] { return __VA_ARGS__; })                 \
      ->Name("BM_observer/" #name)                                                 \
      ->Unit(benchmark::kMillisecond)

QTL_BENCH_OBSERVER(minmax, qtl::minmax<>());
QTL_BENCH_OBSERVER(minmax_g128, qtl::minmax<qtl::per_group<128>>(qtl::per_group<128>{}));
QTL_BENCH_OBSERVER(moving_average_minmax, qtl::moving_average_minmax<>(0.01f));
QTL_BENCH_OBSERVER(percentile, qtl::percentile<>(99.99f));
QTL_BENCH_OBSERVER(streaming_percentile, qtl::streaming_percentile<>(99.99f));
QTL_BENCH_OBSERVER(histogram, qtl::histogram<qtl::uint8>());
QTL_BENCH_OBSERVER(mse_int8, qtl::mse_observer<qtl::int8>());
QTL_BENCH_OBSERVER(mse_int4, qtl::mse_observer<qtl::int4>());
QTL_BENCH_OBSERVER(kl, qtl::kl<qtl::int8>());

}  // namespace
