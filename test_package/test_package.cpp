// Conan test_package: qtl from the Conan package through find_package(qtl), with the
// kernels of every arch compiled in by qtl_add_runtime_dispatch(). One Q8_0 GEMV on the
// best arch this CPU runs, checked against the float product.
#include <qtl/kernel/dispatch.hpp>
#include <qtl/kernel/gemv.hpp>
#include <qtl/layout/ggml.hpp>

#include <cmath>
#include <cstdio>
#include <span>
#include <vector>

int main() {
  using block = qtl::ggml::block_q8_0;
  constexpr std::size_t rows = 8, cols = 256;
  std::vector<float> w(rows * cols), x(cols), y(rows);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::sin(0.11f * static_cast<float>(i));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.07f * static_cast<float>(i));

  std::vector<block> blocks(rows * cols / block::elements);
  qtl::ggml::quantize<block>(w, std::span<block>(blocks), cols);
  const qtl::kernel::kernel_table kernels = qtl::kernel::select_kernels();
  qtl::kernel::gemv<block>(kernels, blocks, rows, cols, x, y);

  double err = 0.0, norm = 0.0;
  for (std::size_t r = 0; r < rows; ++r) {
    double exact = 0.0;
    for (std::size_t c = 0; c < cols; ++c) exact += double{w[r * cols + c]} * x[c];
    err += (y[r] - exact) * (y[r] - exact);
    norm += exact * exact;
  }
  const double rel = std::sqrt(err / norm);
  std::printf("qtl %d.%d.%d test_package: Q8_0 GEMV on %s, relative error %.4f\n", QTL_VERSION_MAJOR,
              QTL_VERSION_MINOR, QTL_VERSION_PATCH, qtl::kernel::arch_name(kernels.arch).data(), rel);
  return rel < 0.02 ? 0 : 1;
}
