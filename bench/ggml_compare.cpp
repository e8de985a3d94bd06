// Optional comparison with ggml, built only when CMake is given QTL_BENCH_GGML_DIR (an
// install prefix of a local ggml build; never in CI, no ggml code in this repository).
// The same bytes on both sides (qtl's ggml layouts are byte-identical):
//   BM_ggml_mul_mat/<type>/<plain|repack>/<M>x<K>/batch:<N>/threads:<T>: ggml's whole
//     mul_mat graph op on its CPU backend (activation quantization included), the weights
//     in the plain CPU buffer or in the CPU backend's repack buffer type (what llama.cpp
//     loads them into where ggml has an interleaved layout for the type on this CPU), on a
//     persistent ggml threadpool, next to BM_mul_mat/<type>/... (bench/gemv_bench.cpp);
//   BM_ggml_gemv/<type>/<M>x<K>/threads:<N>: ggml's vec_dot alone, with the same row split
//     over the same threads as BM_gemv/<type>/<arch>/...
#include <ggml-alloc.h>
#include <ggml-backend.h>
#include <ggml-cpu.h>
#include <ggml.h>
#include <qtl/kernel/gemv.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "gemv_weights.hpp"

namespace {

namespace kernel = qtl::kernel;
namespace ggml = qtl::ggml;

template <class W>
void BM_ggml_gemv(benchmark::State& state, ggml_type type, std::size_t rows, std::size_t cols, unsigned threads) {
  using A = typename kernel::gemv_traits<W>::activation;
  const auto* traits = ggml_get_type_traits_cpu(type);
  if (traits == nullptr || traits->vec_dot == nullptr ||
      traits->vec_dot_type != static_cast<ggml_type>(A::type)) {
    state.SkipWithError("ggml has no vec_dot for this pair");
    return;
  }
  std::vector<W> w(rows * cols / W::elements);
  ggml::quantize<W>(qtl_bench::weights(rows * cols), std::span<W>(w), cols);
  std::vector<A> a(cols / A::elements);
  ggml::quantize<A>(qtl_bench::weights(cols, 2), std::span<A>(a), cols);
  std::vector<float> y(rows);
  const std::size_t row_bytes = cols / W::elements * sizeof(W);
  for (auto _ : state) {
    kernel::parallel_for(rows, threads, [&](std::size_t begin, std::size_t end) {
      for (std::size_t r = begin; r < end; ++r)
        traits->vec_dot(static_cast<int>(cols), &y[r], 0, reinterpret_cast<const char*>(w.data()) + r * row_bytes, 0,
                        a.data(), 0, 1);
    });
    benchmark::DoNotOptimize(y.data());
  }
  qtl_bench::set_gb_per_s(state, static_cast<double>(w.size() * sizeof(W)));
  state.counters["GOP/s"] = benchmark::Counter(2.0 * static_cast<double>(rows * cols) / 1e9,
                                               benchmark::Counter::kIsIterationInvariantRate);
}

// The CPU backend's repack buffer type (llama.cpp's "extra" buffer for weights), or null.
ggml_backend_buffer_type_t repack_buffer_type() {
  ggml_backend_reg_t reg = ggml_backend_cpu_reg();
  const auto get = reinterpret_cast<ggml_backend_dev_get_extra_bufts_t>(
      ggml_backend_reg_get_proc_address(reg, "ggml_backend_dev_get_extra_bufts"));
  if (get == nullptr) return nullptr;
  for (ggml_backend_buffer_type_t* b = get(ggml_backend_reg_dev_get(reg, 0)); b != nullptr && *b != nullptr; ++b)
    if (std::strcmp(ggml_backend_buft_name(*b), "CPU_REPACK") == 0) return *b;
  return nullptr;
}

// y = W x through ggml's graph: W (rows x cols of `type`) in `weights` (the plain CPU
// buffer type or the repack one), x (batch x cols, f32) and y in the plain CPU buffer.
template <class W>
void BM_ggml_mul_mat(benchmark::State& state, ggml_type type, bool repack, std::size_t rows, std::size_t cols,
                     std::size_t batch, unsigned threads) {
  ggml_backend_buffer_type_t weights_type = repack ? repack_buffer_type() : ggml_backend_cpu_buffer_type();
  if (weights_type == nullptr) {
    state.SkipWithError("this ggml has no CPU repack buffer type");
    return;
  }
  const auto close_context = [](ggml_context* c) { ggml_free(c); };
  const auto free_buffer = [](ggml_backend_buffer_t b) { ggml_backend_buffer_free(b); };
  const ggml_init_params weights_params = {ggml_tensor_overhead(), nullptr, true};
  const ggml_init_params graph_params = {4 * ggml_tensor_overhead() + ggml_graph_overhead(), nullptr, true};
  std::unique_ptr<ggml_context, decltype(close_context)> wctx(ggml_init(weights_params), close_context);
  std::unique_ptr<ggml_context, decltype(close_context)> gctx(ggml_init(graph_params), close_context);
  ggml_tensor* wt = ggml_new_tensor_2d(wctx.get(), type, static_cast<std::int64_t>(cols), static_cast<std::int64_t>(rows));
  ggml_tensor* xt = ggml_new_tensor_2d(gctx.get(), GGML_TYPE_F32, static_cast<std::int64_t>(cols),
                                       static_cast<std::int64_t>(batch));
  ggml_tensor* yt = ggml_mul_mat(gctx.get(), wt, xt);
  ggml_cgraph* graph = ggml_new_graph(gctx.get());
  ggml_build_forward_expand(graph, yt);
  std::unique_ptr<ggml_backend_buffer, decltype(free_buffer)> wbuf(
      ggml_backend_alloc_ctx_tensors_from_buft(wctx.get(), weights_type), free_buffer);
  std::unique_ptr<ggml_backend_buffer, decltype(free_buffer)> gbuf(
      ggml_backend_alloc_ctx_tensors_from_buft(gctx.get(), ggml_backend_cpu_buffer_type()), free_buffer);
  ggml_backend_reg_t reg = ggml_backend_cpu_reg();
  if (repack && !ggml_backend_dev_supports_op(ggml_backend_reg_dev_get(reg, 0), yt)) {
    state.SkipWithError("ggml has no repacked layout for this type and shape on this CPU");
    return;
  }
  const std::vector<W>& w = qtl_bench::weights_of<W>(rows, cols);
  ggml_backend_tensor_set(wt, w.data(), 0, w.size() * sizeof(W));  // the repack buffer repacks here
  const auto x = qtl_bench::weights(batch * cols, 2);
  ggml_backend_tensor_set(xt, x.data(), 0, x.size() * sizeof(float));

  const auto close_backend = [](ggml_backend_t b) { ggml_backend_free(b); };
  const auto close_pool = [](ggml_threadpool* p) { ggml_threadpool_free(p); };
  std::unique_ptr<ggml_backend, decltype(close_backend)> backend(ggml_backend_cpu_init(), close_backend);
  ggml_threadpool_params pool_params = ggml_threadpool_params_default(static_cast<int>(threads));
  std::unique_ptr<ggml_threadpool, decltype(close_pool)> pool(ggml_threadpool_new(&pool_params), close_pool);
  ggml_backend_cpu_set_n_threads(backend.get(), static_cast<int>(threads));
  ggml_backend_cpu_set_threadpool(backend.get(), pool.get());
  for (auto _ : state) {
    if (ggml_backend_graph_compute(backend.get(), graph) != GGML_STATUS_SUCCESS) {
      state.SkipWithError("ggml_backend_graph_compute failed");
      return;
    }
  }
  qtl_bench::set_gb_per_s(state, static_cast<double>(w.size() * sizeof(W)));
  state.counters["GOP/s"] = benchmark::Counter(2.0 * static_cast<double>(batch * rows * cols) / 1e9,
                                               benchmark::Counter::kIsIterationInvariantRate);
}

// ggml's activation quantization (its CPU from_float, SIMD where it has it) of one row.
template <class A>
void BM_ggml_from_float(benchmark::State& state, ggml_type type, std::size_t cols) {
  const auto* traits = ggml_get_type_traits_cpu(type);
  if (traits == nullptr || traits->from_float == nullptr) {
    state.SkipWithError("ggml has no from_float for this type");
    return;
  }
  const auto x = qtl_bench::weights(cols, 2);
  std::vector<A> a(cols / A::elements);
  for (auto _ : state) {
    traits->from_float(x.data(), a.data(), static_cast<std::int64_t>(cols));
    benchmark::DoNotOptimize(a.data());
  }
  qtl_bench::set_gb_per_s(state, static_cast<double>(cols * sizeof(float)));
}

template <class W>
void register_type(ggml_type type) {
  for (const bool repack : {false, true})
    qtl_bench::register_mul_mat(
        "BM_ggml_mul_mat/" + std::string(W::name) + (repack ? "/repack" : "/plain"),
        [=](benchmark::State& s, std::size_t rows, std::size_t cols, std::size_t batch, unsigned threads) {
          BM_ggml_mul_mat<W>(s, type, repack, rows, cols, batch, threads);
        });
  const std::pair<std::size_t, std::size_t> shapes[] = {{4096, 4096}, {11008, 4096}, {4096, 11008}, {2560, 6912}};
  for (const auto& [rows, cols] : shapes)
    for (const unsigned threads : {1u, kernel::hardware_threads()}) {
      if (cols % W::elements != 0) continue;
      const std::string name = "BM_ggml_gemv/" + std::string(W::name) + "/" + std::to_string(rows) + "x" +
                               std::to_string(cols) + "/threads:" + std::to_string(threads);
      benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& s) { BM_ggml_gemv<W>(s, type, rows, cols, threads); })
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
    }
}

const bool registered = [] {
  ggml_cpu_init();
  ggml_log_set([](ggml_log_level level, const char* text, void*) {  // keep ggml's warnings and errors only
    if (level == GGML_LOG_LEVEL_WARN || level == GGML_LOG_LEVEL_ERROR) std::fputs(text, stderr);
  }, nullptr);
  register_type<ggml::block_q8_0>(GGML_TYPE_Q8_0);
  register_type<ggml::block_q4_0>(GGML_TYPE_Q4_0);
  register_type<ggml::block_q4_1>(GGML_TYPE_Q4_1);
  register_type<ggml::block_q5_0>(GGML_TYPE_Q5_0);
  register_type<ggml::block_q5_1>(GGML_TYPE_Q5_1);
  register_type<ggml::block_iq4_nl>(GGML_TYPE_IQ4_NL);
  register_type<ggml::block_tq2_0>(GGML_TYPE_TQ2_0);
  register_type<ggml::block_q2_k>(GGML_TYPE_Q2_K);
  register_type<ggml::block_q3_k>(GGML_TYPE_Q3_K);
  register_type<ggml::block_q4_k>(GGML_TYPE_Q4_K);
  register_type<ggml::block_q5_k>(GGML_TYPE_Q5_K);
  register_type<ggml::block_q6_k>(GGML_TYPE_Q6_K);
  for (const std::size_t cols : {std::size_t{4096}, std::size_t{11008}}) {
    const std::string k = "/" + std::to_string(cols);
    benchmark::RegisterBenchmark(("BM_ggml_from_float/q8_0" + k).c_str(), [=](benchmark::State& s) {
      BM_ggml_from_float<ggml::block_q8_0>(s, GGML_TYPE_Q8_0, cols);
    })->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("BM_ggml_from_float/q8_K" + k).c_str(), [=](benchmark::State& s) {
      BM_ggml_from_float<ggml::block_q8_k>(s, GGML_TYPE_Q8_K, cols);
    })->Unit(benchmark::kMicrosecond);
  }
  return true;
}();

}  // namespace
