#include "qtl/kernel/gemv_nf4.hpp"

#include <catch2/catch_test_macros.hpp>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "qtl/core/bfloat16.hpp"
#include "qtl/core/error.hpp"
#include "qtl/kernel/dispatch.hpp"
#include "qtl/layout/bitsandbytes.hpp"
#include "kernel/gemv_reference.hpp"

namespace kernel = qtl::kernel;
namespace bnb = qtl::bnb;

using qtl::test::random_floats;

namespace {

// A rows x cols matrix quantized by bnb::quantize_4bit, and the same matrix dequantized by
// bnb::dequantize_4bit: the reference weights, not through the kernels' code.
struct matrix_4bit {
  std::vector<std::uint8_t> packed;
  std::vector<float> absmax;
  std::vector<float> dequantized;
};

matrix_4bit quantize(bnb::quant_type type, std::size_t rows, std::size_t cols, std::int64_t blocksize,
                     unsigned seed) {
  std::vector<float> w = random_floats(rows * cols, seed);
  // An all-zero block (absmax 0) in the first row wherever the row holds two blocks.
  if (cols >= 2 * static_cast<std::size_t>(blocksize))
    for (std::int64_t j = 0; j < blocksize; ++j) w[static_cast<std::size_t>(blocksize + j)] = 0.0f;
  matrix_4bit m;
  m.packed.resize(bnb::packed_4bit_size(w.size()));
  m.absmax.resize(bnb::block_count(w.size(), blocksize));
  m.dequantized.resize(w.size());
  bnb::quantize_4bit(std::span<const float>(w), type, blocksize, m.packed, m.absmax);
  bnb::dequantize_4bit(std::span<const std::uint8_t>(m.packed), std::span<const float>(m.absmax), type, blocksize,
                       std::span<float>(m.dequantized));
  return m;
}

template <class X>
std::vector<X> activations(std::size_t n, unsigned seed) {
  const std::vector<float> f = random_floats(n, seed);
  return std::vector<X>(f.begin(), f.end());  // bfloat16: rounded to nearest even
}

// The exact (double) sum of w_j * x_j, w_j the dequantized float weight, and the bound:
// 8 float ulps (8 * FLT_EPSILON) of the sum of the terms' magnitudes for the SIMD paths
// (16 or 32 float lanes, each summing a few hundred terms; at most 2.3 ulps measured),
// 32 for the scalar path (one chain of up to 8192 terms; at most 11.5 ulps measured). A
// wrong code, nibble order or absmax moves a term by a large fraction of the sum. The
// scalar path also equals, bit for bit, its defined order written out: sum += w_j * x_j
// in element order, each product and sum rounded to float.
QTL_STRICT_FP_BEGIN  // the in-order float loop below rounds each product and each sum

template <class X>
void check_all_archs(bnb::quant_type type, std::size_t rows, std::size_t cols, std::int64_t blocksize,
                     std::size_t batch) {
  const matrix_4bit m = quantize(type, rows, cols, blocksize, static_cast<unsigned>(rows * 131 + cols + batch));
  const std::vector<X> x = activations<X>(batch * cols, static_cast<unsigned>(cols + 7 * batch));
  INFO("rows " << rows << " cols " << cols << " blocksize " << blocksize << " batch " << batch << " type "
               << (type == bnb::quant_type::nf4 ? "nf4" : "fp4"));
  std::vector<double> exact(batch * rows), bound(batch * rows);
  std::vector<float> in_order(batch * rows);
  for (std::size_t n = 0; n < batch; ++n)
    for (std::size_t r = 0; r < rows; ++r) {
      double sum = 0.0, magnitude = 0.0;
      float sum_float = 0.0f;
      for (std::size_t j = 0; j < cols; ++j) {
        const float w = m.dequantized[r * cols + j], xj = static_cast<float>(x[n * cols + j]);
        sum_float += w * xj;
        sum += static_cast<double>(w) * xj;
        magnitude += std::fabs(static_cast<double>(w) * xj);
      }
      exact[n * rows + r] = sum;
      bound[n * rows + r] = 8.0 * FLT_EPSILON * magnitude;
      in_order[n * rows + r] = sum_float;
    }
  for (const auto arch : kernel::usable_archs()) {
    INFO("arch " << kernel::arch_name(arch));
    const kernel::kernel_table k = kernel::kernels_for(arch);
    std::vector<float> y(batch * rows, -1.0f), y3(batch * rows, -2.0f);
    kernel::gemv_4bit(k, type, m.packed, m.absmax, blocksize, rows, cols, std::span<const X>(x), y);
    kernel::gemv_4bit(k, type, m.packed, m.absmax, blocksize, rows, cols, std::span<const X>(x), y3, 3);
    CHECK(y == y3);  // rows are independent: the thread count does not change a bit
    if (arch == kernel::arch_id::scalar) CHECK(y == in_order);
    for (std::size_t i = 0; i < y.size(); ++i) {
      INFO("output " << i << ": " << y[i] << " vs exact " << exact[i]);
      CHECK(std::fabs(y[i] - exact[i]) <= (arch == kernel::arch_id::scalar ? 4.0 : 1.0) * bound[i]);
    }
  }
}

QTL_STRICT_FP_END

}  // namespace

TEST_CASE("4-bit GEMV of every arch matches the double reference (NF4, FP4; float, bfloat16; batch 1..8)",
          "[kernel]") {
  // (rows, cols, blocksize): bnb's block sizes 64..4096 dividing the rows, odd row counts,
  // and small blocks: 32 and 16 (one or two AVX-512 vectors per block), 8 (AVX-512 falls
  // back to the scalar step) and 3 (odd: rows start in the middle of a byte).
  const std::tuple<std::size_t, std::size_t, std::int64_t> shapes[] = {
      {1, 4096, 4096}, {3, 4096, 64},  {17, 1024, 128}, {17, 2048, 256}, {3, 4096, 512},
      {1, 8192, 1024}, {3, 4096, 2048}, {5, 96, 32},     {7, 48, 16},     {3, 24, 8},     {3, 9, 3}};
  for (const auto type : {bnb::quant_type::nf4, bnb::quant_type::fp4})
    for (const auto& [rows, cols, blocksize] : shapes)
      for (std::size_t batch = 1; batch <= kernel::max_gemv_batch; ++batch) {
        check_all_archs<float>(type, rows, cols, blocksize, batch);
        check_all_archs<qtl::bfloat16>(type, rows, cols, blocksize, batch);
      }
}

TEST_CASE("4-bit GEMV reads unaligned buffers and only its rows of the output", "[kernel]") {
  const std::size_t rows = 5, cols = 320, batch = 2;
  const std::int64_t blocksize = 64;
  const matrix_4bit m = quantize(bnb::quant_type::nf4, rows, cols, blocksize, 3);
  const std::vector<float> x = activations<float>(batch * cols, 4);
  // The same bytes one byte (one float) past an aligned start.
  std::vector<std::uint8_t> packed(m.packed.size() + 1);
  std::copy(m.packed.begin(), m.packed.end(), packed.begin() + 1);
  std::vector<float> absmax(m.absmax.size() + 1), xs(x.size() + 1);
  std::copy(m.absmax.begin(), m.absmax.end(), absmax.begin() + 1);
  std::copy(x.begin(), x.end(), xs.begin() + 1);
  for (const auto arch : kernel::usable_archs()) {
    INFO("arch " << kernel::arch_name(arch));
    const kernel::kernel_table k = kernel::kernels_for(arch);
    std::vector<float> y(batch * rows), y_unaligned(batch * rows + 1);
    kernel::gemv_4bit(k, bnb::quant_type::nf4, m.packed, m.absmax, blocksize, rows, cols, x, y);
    kernel::gemv_4bit(k, bnb::quant_type::nf4, std::span<const std::uint8_t>(packed).subspan(1),
                      std::span<const float>(absmax).subspan(1), blocksize, rows, cols,
                      std::span<const float>(xs).subspan(1), std::span<float>(y_unaligned).subspan(1));
    CHECK(std::vector<float>(y_unaligned.begin() + 1, y_unaligned.end()) == y);
    // A row range writes those rows only.
    std::vector<float> part(batch * rows, 42.0f);
    k.gemv_4bit_f32(m.packed.data(), m.absmax.data(), qtl::nf4_values.data(), blocksize, rows, cols, x.data(), batch,
                    part.data(), 1, 3);
    for (std::size_t n = 0; n < batch; ++n)
      for (std::size_t r = 0; r < rows; ++r)
        CHECK(part[n * rows + r] == (r >= 1 && r < 3 ? y[n * rows + r] : 42.0f));
  }
}

TEST_CASE("4-bit GEMV with NF4 levels of +-1 and one activation gives the absmax exactly", "[kernel]") {
  // Codes 15 (+1) and 0 (-1) against a one-hot activation: y is +-absmax of that block,
  // which pins the nibble order (first value in the high nibble) and the absmax index.
  const std::size_t rows = 3, cols = 128;
  const std::int64_t blocksize = 32;
  std::vector<std::uint8_t> packed(rows * cols / 2, 0x77);  // code 7: 0.0
  std::vector<float> absmax(rows * cols / blocksize);
  for (std::size_t b = 0; b < absmax.size(); ++b) absmax[b] = 0.5f + static_cast<float>(b);
  packed[(1 * cols + 70) / 2] = 0xF7;  // row 1, value 70 (block 2 of the row): +1
  packed[(2 * cols + 33) / 2] = 0x70;  // row 2, value 33 (block 1): -1
  for (const auto arch : kernel::usable_archs()) {
    INFO("arch " << kernel::arch_name(arch));
    const kernel::kernel_table k = kernel::kernels_for(arch);
    for (const std::size_t hot : {std::size_t{70}, std::size_t{33}, std::size_t{71}}) {
      std::vector<qtl::bfloat16> x(cols, qtl::bfloat16(0.0f));
      x[hot] = qtl::bfloat16(1.0f);
      std::vector<float> y(rows);
      kernel::gemv_4bit(k, bnb::quant_type::nf4, packed, absmax, blocksize, rows, cols,
                        std::span<const qtl::bfloat16>(x), y);
      CHECK(y[0] == 0.0f);
      CHECK(y[1] == (hot == 70 ? absmax[4 + 2] : 0.0f));
      CHECK(y[2] == (hot == 33 ? -absmax[8 + 1] : 0.0f));
    }
  }
}

TEST_CASE("4-bit GEMV rejects bad block sizes, sizes that do not fit and null data", "[kernel]") {
  const auto k = kernel::kernels_for(kernel::arch_id::scalar);
  const auto nf4 = bnb::quant_type::nf4;
  const std::size_t rows = 2, cols = 128;
  std::vector<std::uint8_t> packed(rows * cols / 2);
  std::vector<float> absmax(rows * cols / 64), x(cols), y(rows);
  const std::span<const float> xs(x);
  CHECK_NOTHROW(kernel::gemv_4bit(k, nf4, packed, absmax, 64, rows, cols, xs, y));
  try {  // a block size that does not divide the row: group_size, saying so
    kernel::gemv_4bit(k, nf4, packed, absmax, 96, rows, cols, xs, y);
    FAIL("no error");
  } catch (const qtl::error& e) {
    CHECK(e.code() == qtl::errc::group_size);
    CHECK(std::string(e.what()).find("does not divide") != std::string::npos);
  }
  CHECK_THROWS_AS(kernel::gemv_4bit(k, nf4, packed, absmax, 0, rows, cols, xs, y), qtl::error);
  CHECK_THROWS_AS(kernel::gemv_4bit(k, nf4, packed, absmax, -64, rows, cols, xs, y), qtl::error);
  CHECK_THROWS_AS(kernel::gemv_4bit(k, nf4, std::span<const std::uint8_t>(packed).first(127), absmax, 64, rows, cols,
                                    xs, y),
                  qtl::error);
  CHECK_THROWS_AS(kernel::gemv_4bit(k, nf4, packed, std::span<const float>(absmax).first(3), 64, rows, cols, xs, y),
                  qtl::error);
  CHECK_THROWS_AS(kernel::gemv_4bit(k, nf4, packed, absmax, 64, rows, cols, xs.first(100), y), qtl::error);
  CHECK_THROWS_AS(kernel::gemv_4bit(k, nf4, packed, absmax, 64, rows, cols, std::span<const float>(), y), qtl::error);
  std::vector<float> x9(9 * cols);  // more than max_gemv_batch rows
  CHECK_THROWS_AS(kernel::gemv_4bit(k, nf4, packed, absmax, 64, rows, cols, std::span<const float>(x9), y),
                  qtl::error);
  CHECK_THROWS_AS(kernel::gemv_4bit(k, nf4, packed, absmax, 64, rows, cols, xs, std::span<float>(y).first(1)),
                  qtl::error);
  CHECK_THROWS_AS(kernel::gemv_4bit(k, nf4, packed, absmax, 64, rows, 0, std::span<const float>(), y), qtl::error);
  // Null data with a nonzero size, and a table without the entry.
  CHECK_THROWS_AS(kernel::gemv_4bit(k, nf4, std::span<const std::uint8_t>(static_cast<const std::uint8_t*>(nullptr),
                                                                           packed.size()),
                                    absmax, 64, rows, cols, xs, y),
                  qtl::error);
  CHECK_THROWS_AS(kernel::gemv_4bit(k, nf4, packed, absmax, 64, rows, cols, xs,
                                    std::span<float>(static_cast<float*>(nullptr), y.size())),
                  qtl::error);
  CHECK_THROWS_AS(kernel::gemv_4bit(kernel::kernel_table{}, nf4, packed, absmax, 64, rows, cols, xs, y), qtl::error);
}
