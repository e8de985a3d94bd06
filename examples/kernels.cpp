// The SIMD kernels through runtime dispatch: one weight matrix in five layouts (ggml Q8_0,
// Q4_0, IQ4_NL, bitsandbytes NF4, BitNet ternary I2_S and TL) and as a composition
// (int4 g128, the composed kernels), y = W x with each (Q4_0 also on a kernel::thread_pool,
// row-major and prepared: 8 rows interleaved),
// the error against the float product and the time per call; then the quantize and dequantize kernels checked against
// the scalar reference path. Build: examples/CMakeLists.txt (qtl_add_runtime_dispatch,
// qtl_add_composed_dispatch); QTL_ARCH=avx2 (or scalar, ...) forces an arch.
#include <example_compositions.hpp>  // written by qtl_add_composed_dispatch: kernel/composed_dispatch.hpp
#include <qtl/kernel/dequantize.hpp>
#include <qtl/kernel/dispatch.hpp>
#include <qtl/kernel/gemv.hpp>
#include <qtl/kernel/gemv_i2_s.hpp>
#include <qtl/kernel/gemv_nf4.hpp>
#include <qtl/kernel/gemv_tl.hpp>
#include <qtl/kernel/prepared.hpp>
#include <qtl/kernel/quantize.hpp>
#include <qtl/kernel/thread_pool.hpp>
#include <qtl/layout/bitnet.hpp>
#include <qtl/layout/bitsandbytes.hpp>
#include <qtl/layout/ggml.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace kernel = qtl::kernel;
namespace ggml = qtl::ggml;

namespace {

constexpr std::size_t rows = 2048, cols = 4096;

// Relative L2 error of y against the float product, and microseconds per call of run().
template <class Run>
void report(const std::string& name, const std::vector<float>& exact, Run run) {
  std::vector<float> y(rows);
  run(y);  // warm-up
  const int calls = 20;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < calls; ++i) run(y);
  const double us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / calls;
  double err = 0.0, norm = 0.0;
  for (std::size_t r = 0; r < rows; ++r) {
    err += (y[r] - exact[r]) * (y[r] - exact[r]);
    norm += exact[r] * exact[r];
  }
  std::printf("  %-28s rel. error %.4f   %8.1f us/call\n", name.c_str(), std::sqrt(err / norm), us);
}

template <class W>
void ggml_gemv(const kernel::kernel_table& k, const std::vector<float>& w, const std::vector<float>& x,
               const std::vector<float>& exact) {
  std::vector<W> blocks(rows * cols / W::elements);
  ggml::quantize<W>(w, std::span<W>(blocks), cols);  // the GGUF bytes
  report(std::string(W::name) + " x Q8", exact, [&](std::vector<float>& y) {
    kernel::gemv<W>(k, blocks, rows, cols, x, y);
  });
}

}  // namespace

int main() {
  const kernel::kernel_table k = kernel::select_kernels();
  std::printf("kernels: %s (compiled and usable here:", std::string(kernel::arch_name(k.arch)).c_str());
  for (const auto a : kernel::usable_archs()) std::printf(" %s", std::string(kernel::arch_name(a)).c_str());
  std::printf(")\n");

  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> w(rows * cols), x(cols);
  for (auto& v : w) v = normal(rng);
  for (auto& v : x) v = normal(rng) * 50.0f;
  std::vector<float> exact(rows, 0.0f);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) exact[r] += w[r * cols + c] * x[c];

  std::printf("y = W x, W %zu x %zu, 1 thread:\n", rows, cols);
  ggml_gemv<ggml::block_q8_0>(k, w, x, exact);
  ggml_gemv<ggml::block_q4_0>(k, w, x, exact);
  ggml_gemv<ggml::block_iq4_nl>(k, w, x, exact);
  ggml_gemv<ggml::block_q6_k>(k, w, x, exact);  // the K-quants take Q8_K activations
  ggml_gemv<ggml::block_q4_k>(k, w, x, exact);
  ggml_gemv<ggml::block_q3_k>(k, w, x, exact);
  {  // the same Q4_0 product on a persistent pool of all hardware threads, as an engine keeps one
    kernel::thread_pool pool;
    std::vector<ggml::block_q4_0> blocks(rows * cols / ggml::block_q4_0::elements);
    ggml::quantize<ggml::block_q4_0>(w, std::span(blocks), cols);
    report("q4_0 x Q8 (thread_pool of " + std::to_string(pool.size()) + ")", exact,
           [&](std::vector<float>& y) { kernel::gemv<ggml::block_q4_0>(k, blocks, rows, cols, x, y, pool); });
    // Prepared once, as at load: 8 rows interleaved, one activation read per 8 rows.
    const kernel::prepared<ggml::block_q4_0> prepared(blocks, rows, cols);
    report("q4_0 x Q8 prepared (same pool)", exact, [&](std::vector<float>& y) { kernel::gemv(k, prepared, x, y, pool); });
    const auto back = prepared.blocks();
    const bool same = back.size() == blocks.size() && std::memcmp(back.data(), blocks.data(), sizeof blocks[0] * blocks.size()) == 0;
    std::printf("  prepared Q4_0 gives back the GGUF bytes exactly: %s\n", same ? "yes" : "NO");
  }

  // bitsandbytes NF4, blocks of 64, float activations dequantized in registers.
  std::vector<std::uint8_t> packed(qtl::bnb::packed_4bit_size(w.size()));
  std::vector<float> absmax(qtl::bnb::block_count(w.size(), 64));
  qtl::bnb::quantize_4bit<float>(w, qtl::bnb::quant_type::nf4, 64, packed, absmax);
  report("NF4 x f32", exact, [&](std::vector<float>& y) {
    kernel::gemv_4bit(k, qtl::bnb::quant_type::nf4, packed, absmax, 64, rows, cols, x, y);
  });

  // BitNet b1.58: ternary weights (absmean), int8 activations per token, two kernels.
  std::vector<std::int8_t> codes(rows * cols), a(cols);
  const auto ws = qtl::bitnet::quantize_weights(qtl::matrix_view<const float>(w.data(), rows, cols),
                                                qtl::matrix_view<std::int8_t>(codes.data(), rows, cols));
  float a_scale = 0.0f;
  kernel::quantize_activations(k, qtl::matrix_view<const float>(x.data(), 1, cols),
                               qtl::matrix_view<std::int8_t>(a.data(), 1, cols), std::span<float>(&a_scale, 1));
  const qtl::matrix_view<const std::int8_t> ternary(codes.data(), rows, cols);
  std::vector<std::uint8_t> i2_s(qtl::bitnet::i2_s::bytes(rows, cols)), tl(qtl::bitnet::tl::bytes(rows, cols));
  qtl::bitnet::pack_i2_s(ternary, ws.scale, i2_s);
  qtl::bitnet::pack_tl(ternary, ws.scale, tl);
  report("ternary I2_S x int8", exact, [&](std::vector<float>& y) {
    kernel::gemv_i2_s(k, i2_s, rows, cols, a, std::span<const float>(&a_scale, 1), y);
  });
  report("ternary TL x int8", exact, [&](std::vector<float>& y) {
    kernel::gemv_tl(k, tl, rows, cols, a, std::span<const float>(&a_scale, 1), y);
  });
  // Any composition, packed by the composed quantizer, through the composed GEMV. int4
  // g128 is listed in qtl_add_composed_dispatch (examples/CMakeLists.txt), so its kernels
  // exist for every arch and the running CPU's best is picked (or QTL_ARCH's).
  using q4 = qtl::int4_g128_symmetric;
  const auto c = kernel::select_composed_kernels<q4>();
  const auto w4 = c.quantize_packed(q4{}, qtl::matrix_view<const float>(w.data(), rows, cols),
                                    qtl::pack_order::sequential, kernel::executor(1));
  std::printf("composed int4 g128 kernels: %s\n", std::string(kernel::arch_name(c.arch)).c_str());
  report("int4 g128 (composed) x int8", exact, [&](std::vector<float>& y) {
    c.gemv_int8(q4{}, w4.view(), std::span<const float>(x), std::span<float>(y), kernel::executor(1));
  });
  report("int4 g128 (composed) x f32", exact, [&](std::vector<float>& y) {
    c.gemv(q4{}, w4.view(), std::span<const float>(x), std::span<float>(y), kernel::executor(1));
  });
  std::printf("  (ternary and 4-bit errors are the formats' own: the kernels add only float rounding)\n");

  // The quantize and dequantize kernels give the reference path's bytes and floats.
  std::vector<ggml::block_q4_0> fast(w.size() / 32), reference(w.size() / 32);
  kernel::quantize<ggml::block_q4_0>(k, w, std::span(fast), cols);
  ggml::quantize<ggml::block_q4_0>(w, std::span(reference), cols);
  std::vector<float> back_fast(w.size()), back_reference(w.size());
  kernel::dequantize<ggml::block_q4_0>(k, fast, back_fast);
  ggml::dequantize<ggml::block_q4_0>(std::span<const ggml::block_q4_0>(reference), back_reference);
  const bool same_bytes = std::memcmp(fast.data(), reference.data(), fast.size() * sizeof(fast[0])) == 0;
  std::printf("Q4_0 quantize + dequantize kernels equal the reference path: %s\n",
              same_bytes && back_fast == back_reference ? "yes" : "NO");
  return same_bytes && back_fast == back_reference ? 0 : 1;
}
