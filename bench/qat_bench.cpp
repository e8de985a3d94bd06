// Quantization-aware training (qtl/qat/): one forward and one backward of a 4096 x 4096
// weight on one thread. GB/s counts every byte each pass reads and writes (x, y, dy, dx),
// so the ratio to BM_stream_read says how close a training step's quantizer runs to memory speed.
#include <cstddef>
#include <vector>

#include "bench_util.hpp"
#include "qtl/kernel/simd_quantizer.hpp"
#include "qtl/qat/bitnet.hpp"
#include "qtl/qat/dorefa.hpp"
#include "qtl/qat/lsq.hpp"
#include "qtl/qat/straight_through.hpp"
#include "qtl/quantizer.hpp"

namespace {

constexpr std::size_t side = 4096;

struct training_tensors {
  std::vector<float> x = qtl_bench::weights(side * side), y = std::vector<float>(side * side),
                     dy = qtl_bench::weights(side * side, 2), dx = std::vector<float>(side * side);
  qtl::matrix_view<const float> in() const { return {x.data(), side, side}; }
  qtl::matrix_view<const float> out() const { return {y.data(), side, side}; }
  qtl::matrix_view<const float> upstream() const { return {dy.data(), side, side}; }
  qtl::matrix_view<float> forward_out() { return {y.data(), side, side}; }
  qtl::matrix_view<float> grad() { return {dx.data(), side, side}; }
};

// forward reads x and writes y; backward reads x, y (when it needs it) and dy, and writes dx.
void count_bytes(benchmark::State& state, int backward_streams) {
  qtl_bench::set_gb_per_s(state, static_cast<double>(sizeof(float) * side * side * (2 + backward_streams)));
}

template <class Q>
void straight_through_case(benchmark::State& state, qtl::qat::straight_through<Q> ste) {
  training_tensors t;
  for (auto _ : state) {
    ste.forward(t.in(), t.forward_out());
    ste.backward(t.in(), t.out(), t.upstream(), t.grad());
    benchmark::DoNotOptimize(t.dx.data());
  }
  count_bytes(state, 4);
}

}  // namespace

static void BM_qat_straight_through_int4_g128_scalar(benchmark::State& state) {
  straight_through_case(state, qtl::qat::straight_through<qtl::int4_g128_symmetric>{});
}
static void BM_qat_straight_through_int4_g128_simd(benchmark::State& state) {
  straight_through_case(state, qtl::qat::straight_through<qtl::kernel::simd_quantizer<qtl::int4_g128_symmetric>>{});
}
static void BM_qat_bitnet_weights(benchmark::State& state) { straight_through_case(state, qtl::qat::bitnet_weights()); }

static void BM_qat_lsq_int4(benchmark::State& state) {
  training_tensors t;
  const auto q = qtl::qat::lsq::signed_bits(4, qtl::qat::lsq::initial_step(t.in(), 7));
  for (auto _ : state) {
    q.forward(t.in(), t.forward_out());
    benchmark::DoNotOptimize(q.backward(t.in(), t.upstream(), t.grad()));
  }
  count_bytes(state, 3);
}

static void BM_qat_dorefa_weights_4(benchmark::State& state) {
  training_tensors t;
  const qtl::qat::dorefa_weights q(4);
  for (auto _ : state) {
    q.forward(t.in(), t.forward_out());
    q.backward(t.in(), t.upstream(), t.grad());
    benchmark::DoNotOptimize(t.dx.data());
  }
  count_bytes(state, 3);
}

BENCHMARK(BM_qat_straight_through_int4_g128_scalar)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_qat_straight_through_int4_g128_simd)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_qat_bitnet_weights)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_qat_lsq_int4)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_qat_dorefa_weights_4)->Unit(benchmark::kMillisecond);
