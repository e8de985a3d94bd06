// GEMV y = W x with ggml-block weights (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, TQ2_0, Q2_K..Q6_K) or BitNet I2_S
// weights and int8-quantized activations, for every arch this machine runs (runtime
// dispatch), at the shapes of LLaMA-7B
// (4096x4096, 11008x4096, 4096x11008) and BitNet b1.58 2B (2560x6912), on 1 thread and
// on all hardware threads. GB/s counts the weight bytes read, GOP/s 2*M*K per GEMV.
// The activation quantization is done once, outside the timed loop, as an engine does it
// once per token for all the matrices that share x. BM_gemm: the small-batch GEMM, 1..8
// activation rows per weight pass, at 4096x4096 on 1 thread (GOP/s counts every row).
// BM_mul_mat: the whole public call, kernel::gemv<W> on the running CPU's best arch
// (activation quantization included) on a kernel::thread_pool, with the Q4_0 and IQ4_NL
// weights also prepared (BM_mul_mat/<type>_prepared, kernel/prepared.hpp), next to which the optional
// ggml comparison (ggml_compare.cpp) times ggml's whole mul_mat op at the same names.
#include <qtl/kernel/dispatch.hpp>
#include <qtl/kernel/gemv.hpp>
#include <qtl/kernel/gemv_i2_s.hpp>
#include <qtl/kernel/quantize.hpp>
#include <qtl/kernel/thread_pool.hpp>
#include <qtl/layout/bitnet/i2_s.hpp>
#include <qtl/layout/bitnet/quantize.hpp>

#include <concepts>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bench_util.hpp"
#include "gemv_weights.hpp"

namespace {

namespace kernel = qtl::kernel;
namespace ggml = qtl::ggml;

template <class W>
void BM_gemv(benchmark::State& state, kernel::arch_id arch, std::size_t rows, std::size_t cols, unsigned threads,
             std::size_t batch = 1) {
  using A = typename kernel::gemv_traits<W>::activation;
  const std::vector<W>& w = qtl_bench::weights_of<W>(rows, cols);
  std::vector<A> a(batch * cols / A::elements);
  ggml::quantize<A>(qtl_bench::weights(batch * cols, 2), std::span<A>(a), cols);
  std::vector<float> y(batch * rows);
  const kernel::kernel_table k = kernel::kernels_for(arch);
  const auto fn = kernel::gemv_traits<W>::fn(k);
  const std::size_t blocks = cols / W::elements;
  for (auto _ : state) {
    kernel::parallel_for(rows, threads, [&](std::size_t begin, std::size_t end) {
      fn(w.data(), rows, blocks, a.data(), batch, y.data(), begin, end);
    });
    benchmark::DoNotOptimize(y.data());
  }
  qtl_bench::set_gb_per_s(state, static_cast<double>(w.size() * sizeof(W)));
  state.counters["GOP/s"] = benchmark::Counter(2.0 * static_cast<double>(batch * rows * cols) / 1e9,
                                               benchmark::Counter::kIsIterationInvariantRate);
}

// kernel::gemv<W> as a user calls it: float activations in, float outputs out; w is the
// row-major blocks or, for BM_mul_mat/<type>_prepared, the same prepared once (as an engine
// does at load: kernel/prepared.hpp).
template <class W, class Weights>
void BM_mul_mat(benchmark::State& state, const Weights& w, std::size_t rows, std::size_t cols, std::size_t batch,
                unsigned threads) {
  const auto x = qtl_bench::weights(batch * cols, 2);
  std::vector<float> y(batch * rows);
  const kernel::kernel_table k = kernel::select_kernels();
  kernel::thread_pool pool(threads);  // started once, as an engine keeps it (ggml's side: its threadpool)
  for (auto _ : state) {
    if constexpr (std::same_as<Weights, std::vector<W>>) kernel::gemv<W>(k, w, rows, cols, x, y, pool);
    else kernel::gemv(k, w, x, y, pool);
    benchmark::DoNotOptimize(y.data());
  }
  qtl_bench::set_gb_per_s(state, static_cast<double>(rows * cols / W::elements * sizeof(W)));
  state.counters["GOP/s"] = benchmark::Counter(2.0 * static_cast<double>(batch * rows * cols) / 1e9,
                                               benchmark::Counter::kIsIterationInvariantRate);
}

// The I2_S bytes bitnet.cpp's x86 build stores (codes, then the scale) of one shape.
std::vector<std::uint8_t> i2_s_weights(std::size_t rows, std::size_t cols) {
  const auto wf = qtl_bench::weights(rows * cols);
  std::vector<std::int8_t> codes(rows * cols);
  const auto ws = qtl::bitnet::quantize_weights(qtl::matrix_view<const float>(wf.data(), rows, cols),
                                                qtl::matrix_view<std::int8_t>(codes.data(), rows, cols));
  std::vector<std::uint8_t> w(qtl::bitnet::i2_s::bytes(rows, cols));
  qtl::bitnet::pack_i2_s(qtl::matrix_view<const std::int8_t>(codes.data(), rows, cols), ws.scale, w);
  return w;
}

// I2_S: the bytes bitnet.cpp's x86 build stores (codes, then the scale) against one
// token of int8 activations.
void BM_gemv_i2_s(benchmark::State& state, kernel::arch_id arch, std::size_t rows, std::size_t cols,
                  unsigned threads) {
  const std::vector<std::uint8_t> w = i2_s_weights(rows, cols);
  const float w_scale = qtl::bitnet::i2_s_scale(std::span<const std::uint8_t>(w), rows, cols);
  const auto x = qtl_bench::weights(cols, 2);
  std::vector<std::int8_t> a(cols);
  float a_scale = 0.0f;
  qtl::bitnet::quantize_activations(qtl::matrix_view<const float>(x.data(), 1, cols),
                                    qtl::matrix_view<std::int8_t>(a.data(), 1, cols), std::span<float>(&a_scale, 1));
  std::vector<float> y(rows);
  const kernel::kernel_table k = kernel::kernels_for(arch);
  for (auto _ : state) {
    kernel::parallel_for(rows, threads, [&](std::size_t begin, std::size_t end) {
      k.gemv_i2_s(w.data(), w_scale, rows, cols, a.data(), &a_scale, 1, y.data(), begin, end);
    });
    benchmark::DoNotOptimize(y.data());
  }
  qtl_bench::set_gb_per_s(state, static_cast<double>(qtl::bitnet::i2_s::code_bytes(rows, cols)));
  state.counters["GOP/s"] = benchmark::Counter(2.0 * static_cast<double>(rows * cols) / 1e9,
                                               benchmark::Counter::kIsIterationInvariantRate);
}

// I2_S as a whole op: BitNet's per-token int8 activation quantization, then gemv_i2_s, on
// a kernel::thread_pool (next to BM_ggml_mul_mat/tq2_0, the ternary type ggml has).
void BM_mul_mat_i2_s(benchmark::State& state, std::size_t rows, std::size_t cols, std::size_t batch,
                     unsigned threads) {
  const std::vector<std::uint8_t> w = i2_s_weights(rows, cols);
  const auto x = qtl_bench::weights(batch * cols, 2);
  std::vector<std::int8_t> a(batch * cols);
  std::vector<float> a_scales(batch), y(batch * rows);
  const kernel::kernel_table k = kernel::select_kernels();
  kernel::thread_pool pool(threads);
  for (auto _ : state) {
    kernel::quantize_activations(k, qtl::matrix_view<const float>(x.data(), batch, cols),
                                 qtl::matrix_view<std::int8_t>(a.data(), batch, cols), a_scales);
    kernel::gemv_i2_s(k, w, rows, cols, a, a_scales, y, pool);
    benchmark::DoNotOptimize(y.data());
  }
  qtl_bench::set_gb_per_s(state, static_cast<double>(qtl::bitnet::i2_s::code_bytes(rows, cols)));
  state.counters["GOP/s"] = benchmark::Counter(2.0 * static_cast<double>(batch * rows * cols) / 1e9,
                                               benchmark::Counter::kIsIterationInvariantRate);
}

// name: the type's name in the benchmark's; elements: its block; bm(state, arch, rows, cols, threads).
template <class Bench>
void register_shapes(std::string_view name, std::size_t elements, Bench bm) {
  const std::pair<std::size_t, std::size_t> shapes[] = {{4096, 4096}, {11008, 4096}, {4096, 11008}, {2560, 6912}};
  for (const auto arch : kernel::usable_archs())
    for (const auto& [rows, cols] : shapes)
      for (const unsigned threads : {1u, kernel::hardware_threads()}) {
        if (cols % elements != 0) continue;
        const std::string full = "BM_gemv/" + std::string(name) + "/" + std::string(kernel::arch_name(arch)) + "/" +
                                 std::to_string(rows) + "x" + std::to_string(cols) + "/threads:" + std::to_string(threads);
        benchmark::RegisterBenchmark(full.c_str(), [=](benchmark::State& s) { bm(s, arch, rows, cols, threads); })
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
}

template <class W>
void register_type() {
  qtl_bench::register_mul_mat("BM_mul_mat/" + std::string(W::name), [](benchmark::State& s, std::size_t rows,
                                                                       std::size_t cols, std::size_t batch,
                                                                       unsigned threads) {
    BM_mul_mat<W>(s, qtl_bench::weights_of<W>(rows, cols), rows, cols, batch, threads);
  });
  if constexpr (kernel::groupable<W>)
    qtl_bench::register_mul_mat("BM_mul_mat/" + std::string(W::name) + "_prepared",
                                [](benchmark::State& s, std::size_t rows, std::size_t cols, std::size_t batch,
                                   unsigned threads) {
                                  const kernel::prepared<W> w(qtl_bench::weights_of<W>(rows, cols), rows, cols);
                                  BM_mul_mat<W>(s, w, rows, cols, batch, threads);
                                });
  register_shapes(W::name, W::elements, [](benchmark::State& s, kernel::arch_id arch, std::size_t rows,
                                           std::size_t cols, unsigned threads) { BM_gemv<W>(s, arch, rows, cols, threads); });
  for (const auto arch : kernel::usable_archs())
    for (const std::size_t batch : {1, 4, 8}) {
      const std::string full = "BM_gemm/" + std::string(W::name) + "/" + std::string(kernel::arch_name(arch)) +
                               "/4096x4096/batch:" + std::to_string(batch);
      benchmark::RegisterBenchmark(full.c_str(), [=](benchmark::State& s) { BM_gemv<W>(s, arch, 4096, 4096, 1, batch); })
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
    }
}

const bool registered = [] {
  register_type<ggml::block_q8_0>();
  register_type<ggml::block_q4_0>();
  register_type<ggml::block_q4_1>();
  register_type<ggml::block_q5_0>();
  register_type<ggml::block_q5_1>();
  register_type<ggml::block_iq4_nl>();
  register_type<ggml::block_tq2_0>();
  register_type<ggml::block_q2_k>();
  register_type<ggml::block_q3_k>();
  register_type<ggml::block_q4_k>();
  register_type<ggml::block_q5_k>();
  register_type<ggml::block_q6_k>();
  register_shapes("i2_s", qtl::bitnet::i2_s::block, &BM_gemv_i2_s);
  qtl_bench::register_mul_mat("BM_mul_mat/i2_s", &BM_mul_mat_i2_s);
  return true;
}();

}  // namespace
