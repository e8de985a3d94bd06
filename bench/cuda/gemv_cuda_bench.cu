// GPU GEMV timings at BitNet's shapes (the table of microsoft/BitNet gpu/README.md and the
// other shapes its kernel dispatches): qtl's W2A8 (gemv_w2a8.cuh) against cuBLAS BF16
// (cublasGemmEx, what torch.matmul runs for a BF16 Linear at batch 1), plus W4A8 (Q4_0 x
// Q8_0), NF4 x BF16 and the per-token activation quantization, at batch 1 and 8 (the
// kernels' largest; cuBLAS then multiplies by an 8-column matrix). Each time is the median
// over runs of the mean of `iters` back-to-back launches (CUDA events); the weights rotate
// over enough copies to span twice the L2 cache, so they come from DRAM as in decoding.
// GB/s counts the weight bytes each kernel must read (codes and scales; the activations
// and outputs are a few KiB); "of peak" divides by the memory bandwidth cudaDeviceProp
// implies (2 x memory clock x bus width).
//   gemv_cuda_bench [runs=21] [iters=50]
#include <qtl/cuda/act_quant.cuh>
#include <qtl/cuda/check.cuh>
#include <qtl/cuda/device_buffer.cuh>
#include <qtl/cuda/gemv_nf4.cuh>
#include <qtl/cuda/gemv_w2a8.cuh>
#include <qtl/cuda/gemv_w4a8.cuh>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "qtl/core/error.hpp"
#include "qtl/layout/bitnet/gpu_w2.hpp"
#include "qtl/layout/ggml/blocks.hpp"

namespace {

using qtl::cuda::check;
using qtl::cuda::device_buffer;

void check_cublas(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS)
    throw qtl::error(qtl::errc::device, std::string(what) + ": " + cublasGetStatusString(status));
}

struct shape {
  std::size_t n, k;  // output features x input features (BitNet's N x K)
};

// BitNet gpu/README.md's table, then the two further shapes of bitnet_kernels.cu.
constexpr shape shapes[] = {{2560, 2560}, {3840, 2560}, {13824, 2560}, {2560, 6912}, {3200, 3200},
                            {4800, 3200}, {3200, 10240}, {20480, 3200}, {5120, 27648}, {55296, 5120}};

struct timer_config {
  int runs;
  int iters;
};

// Median over runs of the mean time of one launch, in microseconds; launch(i) runs launch i.
template <class F>
double median_us(const timer_config& cfg, F&& launch) {
  cudaEvent_t start{}, stop{};
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  for (int i = 0; i < cfg.iters; ++i) launch(i);  // warm-up
  std::vector<double> times;
  for (int r = 0; r < cfg.runs; ++r) {
    check(cudaEventRecord(start), "cudaEventRecord");
    for (int i = 0; i < cfg.iters; ++i) launch(i);
    check(cudaEventRecord(stop), "cudaEventRecord");
    check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0.0f;
    check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    times.push_back(1000.0 * ms / cfg.iters);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
  return times[times.size() / 2];
}

// Copies of a weight buffer of `bytes` so that together they span twice the L2 cache.
std::size_t copies_for(std::size_t bytes, std::size_t l2) { return std::max<std::size_t>(1, (2 * l2 + bytes - 1) / bytes); }

struct result {
  double us, gb_per_s;
};

result measure(const timer_config& cfg, double bytes, auto&& launch) {
  const double us = median_us(cfg, launch);
  check(cudaGetLastError(), "kernel");
  return {us, bytes / (us * 1e3)};
}

}  // namespace

int main(int argc, char** argv) try {
  const timer_config cfg{argc > 1 ? std::atoi(argv[1]) : 21, argc > 2 ? std::atoi(argv[2]) : 50};
  int device = 0, clock_khz = 0, bus_bits = 0, l2 = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
  check(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, device), "cudaDeviceGetAttribute");
  check(cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, device), "cudaDeviceGetAttribute");
  check(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, device), "cudaDeviceGetAttribute");
  const double peak_gb_per_s = 2.0 * clock_khz * 1e3 * (bus_bits / 8.0) / 1e9;
  std::printf("device: %s (sm_%d%d), peak memory bandwidth %.0f GB/s, L2 %d MiB; median of %d runs x %d launches\n\n",
              prop.name, prop.major, prop.minor, peak_gb_per_s, l2 >> 20, cfg.runs, cfg.iters);
  std::printf("GB/s counts the weight bytes (codes and scales); x cuBLAS: cuBLAS BF16's time over the kernel's.\n\n");
  std::printf("| N x K | batch | W2A8 us | GB/s | of peak | x cuBLAS | W4A8 us | GB/s | of peak | x cuBLAS | NF4 us | GB/s |"
              " of peak | x cuBLAS | cuBLAS BF16 us | GB/s | of peak | act_quant us |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");

  cublasHandle_t handle{};
  check_cublas(cublasCreate(&handle), "cublasCreate");
  for (const auto [n, k] : shapes)
    for (const std::size_t batch : {std::size_t{1}, qtl::cuda::max_batch}) {
      // The weights' values do not change the work (tests/cuda check the numbers): any
      // byte pattern will do. Activations: batch rows of k; outputs: batch rows of n.
      device_buffer<__nv_bfloat16> x(batch * k), y(batch * n);
      check(cudaMemset(x.data(), 0x3c, 2 * x.size()), "cudaMemset");

      // cuBLAS BF16: W (N x K row-major = K x N column-major, transposed) times x.
      const std::size_t bf_elems = n * k;
      const std::size_t bf_copies = copies_for(2 * bf_elems, static_cast<std::size_t>(l2));
      device_buffer<__nv_bfloat16> wbf(bf_elems * bf_copies);
      check(cudaMemset(wbf.data(), 0x3c, 2 * wbf.size()), "cudaMemset");
      const float alpha = 1.0f, beta = 0.0f;
      const result bf16 = measure(cfg, static_cast<double>(2 * bf_elems), [&](int i) {
        check_cublas(cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(n), static_cast<int>(batch),
                                  static_cast<int>(k), &alpha, wbf.data() + (i % bf_copies) * bf_elems, CUDA_R_16BF,
                                  static_cast<int>(k), x.data(), CUDA_R_16BF, static_cast<int>(k), &beta, y.data(),
                                  CUDA_R_16BF, static_cast<int>(n), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                     "cublasGemmEx");
      });

      // The activation quantization that feeds W2A8 (batch tokens of K bf16 values).
      device_buffer<std::int8_t> a(batch * k);
      device_buffer<float> a_scale(batch);
      const result act = measure(cfg, static_cast<double>(3 * batch * k), [&](int) {
        qtl::cuda::quantize_activations(x.data(), batch, k, a.data(), a_scale.data());
      });

      // W2A8: codes and one scale against the int8 activations.
      const std::size_t w2_bytes = qtl::bitnet::gpu_w2::bytes(n, k);
      const std::size_t w2_copies = copies_for(w2_bytes, static_cast<std::size_t>(l2));
      device_buffer<std::uint8_t> w2(w2_bytes * w2_copies);
      check(cudaMemset(w2.data(), 0x9b, w2.size()), "cudaMemset");
      const result w2a8 = measure(cfg, static_cast<double>(w2_bytes + 4), [&](int i) {
        qtl::cuda::gemv_w2a8(w2.data() + (i % w2_copies) * w2_bytes, 0.5f, n, k, a.data(), a_scale.data(), batch,
                             y.data());
      });

      // W4A8: Q4_0 weight blocks against Q8_0 activation blocks.
      const std::size_t q4_blocks = n * k / 32;
      const std::size_t q4_copies = copies_for(q4_blocks * sizeof(qtl::ggml::block_q4_0), static_cast<std::size_t>(l2));
      device_buffer<qtl::ggml::block_q4_0> wq4(q4_blocks * q4_copies);
      check(cudaMemset(wq4.data(), 0x11, wq4.size() * sizeof(qtl::ggml::block_q4_0)), "cudaMemset");
      device_buffer<qtl::ggml::block_q8_0> aq8(batch * k / 32);
      check(cudaMemset(aq8.data(), 0x11, aq8.size() * sizeof(qtl::ggml::block_q8_0)), "cudaMemset");
      const result w4a8 = measure(cfg, static_cast<double>(q4_blocks * sizeof(qtl::ggml::block_q4_0)), [&](int i) {
        qtl::cuda::gemv_w4a8(wq4.data() + (i % q4_copies) * q4_blocks, n, k, aq8.data(), batch, y.data());
      });

      // NF4 x BF16, bnb's default block of 64.
      constexpr std::int64_t blocksize = 64;
      const std::size_t nf4_bytes = n * k / 2, absmax_count = n * k / blocksize;
      const std::size_t nf4_copies = copies_for(nf4_bytes + 4 * absmax_count, static_cast<std::size_t>(l2));
      device_buffer<std::uint8_t> wnf4(nf4_bytes * nf4_copies);
      check(cudaMemset(wnf4.data(), 0x5a, wnf4.size()), "cudaMemset");
      device_buffer<float> absmax(absmax_count * nf4_copies);
      check(cudaMemset(absmax.data(), 0x3c, 4 * absmax.size()), "cudaMemset");
      const result nf4 = measure(cfg, static_cast<double>(nf4_bytes + 4 * absmax_count), [&](int i) {
        const std::size_t c = i % nf4_copies;
        qtl::cuda::gemv_4bit(wnf4.data() + c * nf4_bytes, absmax.data() + c * absmax_count, blocksize, n, k, x.data(),
                             batch, y.data());
      });

      const auto row = [&](const result& r) {
        std::printf(" %.2f | %.0f | %.0f%% | %.2fx |", r.us, r.gb_per_s, 100 * r.gb_per_s / peak_gb_per_s, bf16.us / r.us);
      };
      std::printf("| %zu x %zu | %zu |", n, k, batch);
      row(w2a8), row(w4a8), row(nf4);
      std::printf(" %.2f | %.0f | %.0f%% | %.2f |\n", bf16.us, bf16.gb_per_s, 100 * bf16.gb_per_s / peak_gb_per_s, act.us);
      std::fflush(stdout);
    }
  cublasDestroy(handle);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "%s\n", e.what());
  return 1;
}
