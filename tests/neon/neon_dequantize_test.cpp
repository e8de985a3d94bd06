// The NEON dequantize steps against the scalar table, bit for bit, on aarch64 under qemu
// (tests/neon/CMakeLists.txt, scripts/test_neon.sh). A plain program: prints each
// failure, returns non-zero if any. The host's tests/kernel/dequantize_test.cpp covers
// the checks and the scalar path against the layouts; this covers the NEON steps.
// Only tests/neon/CMakeLists.txt defines QTL_NEON_TEST_PROGRAM (see neon_kernels_test.cpp).
#if defined(QTL_NEON_TEST_PROGRAM)
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "qtl/kernel/dequantize.hpp"
#include "qtl/kernel/dispatch.hpp"

namespace kernel = qtl::kernel;
namespace ggml = qtl::ggml;

namespace {

#if !defined(QTL_KERNEL_NEON)
#error "build for aarch64 with NEON (cmake/aarch64-linux-gnu.cmake)"
#endif

// Every format has a NEON step (not the scalar primary template, whose width is 1 or 2).
static_assert(kernel::dequantize_4bit_step<kernel::neon, qtl::nf4>::width == 32);
static_assert(kernel::minifloat_decode_step<kernel::neon, qtl::fp8_e4m3>::width == 16);

int failures = 0;

void check(bool ok, const std::string& what) {
  if (ok) return;
  if (++failures <= 20) std::printf("FAIL: %s\n", what.c_str());
}

void check_same_bits(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  check(got.size() == want.size() && std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0, what);
}

std::mt19937 rng(3);
std::uint8_t random_byte() { return static_cast<std::uint8_t>(std::uniform_int_distribution<int>(0, 255)(rng)); }

// Random codes; scales 0, -0, the largest half, a subnormal, Inf, NaN, then random ones
// (Q4_1's min stays finite: which of two NaNs a sum returns differs between ISAs).
template <class B>
void blocks_case(const kernel::kernel_table& neon, const kernel::kernel_table& scalar, const std::string& name) {
  constexpr std::uint16_t special[] = {0x0000, 0x8000, 0x7bff, 0x0001, 0x7c00, 0x7e00};
  std::vector<B> blocks(23);
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    auto* raw = reinterpret_cast<unsigned char*>(&blocks[i]);
    for (std::size_t k = 0; k < sizeof(B); ++k) raw[k] = random_byte();
    blocks[i].d = i < std::size(special) ? special[i] : qtl::float_to_half_bits(static_cast<float>(i) * 0.013f - 0.1f);
    if constexpr (requires { blocks[i].m; }) blocks[i].m = qtl::float_to_half_bits(0.25f - static_cast<float>(i) * 0.07f);
  }
  std::vector<float> got(blocks.size() * B::elements), want(got.size());
  kernel::dequantize<B>(neon, blocks, got);
  kernel::dequantize<B>(scalar, blocks, want);
  check_same_bits(got, want, name);
}

void four_bit_case(const kernel::kernel_table& neon, const kernel::kernel_table& scalar) {
  for (const auto type : {qtl::bnb::quant_type::nf4, qtl::bnb::quant_type::fp4})
    for (const std::size_t n : {std::size_t{1}, std::size_t{33}, std::size_t{64}, std::size_t{1001}})
      for (const std::int64_t bs : {std::int64_t{1}, std::int64_t{7}, std::int64_t{64}}) {
        std::vector<std::uint8_t> packed(qtl::bnb::packed_4bit_size(n));
        for (auto& p : packed) p = random_byte();
        std::vector<float> absmax(qtl::bnb::block_count(n, bs));
        for (std::size_t b = 0; b < absmax.size(); ++b) absmax[b] = b == 0 ? -0.0f : static_cast<float>(b) * 0.37f;
        std::vector<float> got(n), want(n);
        kernel::dequantize_4bit(neon, packed, absmax, type, bs, got);
        kernel::dequantize_4bit(scalar, packed, absmax, type, bs, want);
        check_same_bits(got, want, std::string(type == qtl::bnb::quant_type::nf4 ? "nf4" : "fp4") + " n " +
                                       std::to_string(n) + " blocksize " + std::to_string(bs));
      }
}

template <class F>
void fp8_case(const kernel::kernel_table& neon, const kernel::kernel_table& scalar, const std::string& name) {
  std::vector<std::uint8_t> codes(256 + 13);  // every code, then a tail
  for (std::size_t i = 0; i < codes.size(); ++i) codes[i] = static_cast<std::uint8_t>(i * 7);
  std::vector<float> got(codes.size()), want(codes.size());
  kernel::minifloat_decode<F>(neon, codes, got);
  kernel::minifloat_decode<F>(scalar, codes, want);
  check_same_bits(got, want, name);
}

void i2_s_case(const kernel::kernel_table& neon, const kernel::kernel_table& scalar) {
  const std::size_t rows = 2, cols = 256;
  std::vector<std::int8_t> codes(rows * cols);
  for (auto& c : codes) c = static_cast<std::int8_t>(random_byte() % 3) - 1;
  std::vector<std::uint8_t> w(qtl::bitnet::i2_s::bytes(rows, cols));
  qtl::bitnet::pack_i2_s(qtl::matrix_view<const std::int8_t>(codes.data(), rows, cols), 0.0173f, w);
  std::vector<float> got(rows * cols), want(rows * cols);
  kernel::dequantize_i2_s(neon, w, rows, cols, got);
  kernel::dequantize_i2_s(scalar, w, rows, cols, want);
  check_same_bits(got, want, "i2_s");
}

}  // namespace

int main() {
  const kernel::kernel_table neon = kernel::kernels_for(kernel::arch_id::neon);
  const kernel::kernel_table scalar = kernel::kernels_for(kernel::arch_id::scalar);
  blocks_case<ggml::block_q8_0>(neon, scalar, "q8_0");
  blocks_case<ggml::block_q4_0>(neon, scalar, "q4_0");
  blocks_case<ggml::block_q4_1>(neon, scalar, "q4_1");
  blocks_case<ggml::block_iq4_nl>(neon, scalar, "iq4_nl");
  blocks_case<ggml::block_tq2_0>(neon, scalar, "tq2_0");
  four_bit_case(neon, scalar);
  fp8_case<qtl::fp8_e4m3>(neon, scalar, "fp8_e4m3");
  fp8_case<qtl::fp8_e5m2>(neon, scalar, "fp8_e5m2");
  i2_s_case(neon, scalar);
  if (failures == 0) std::printf("neon dequantize: all passed\n");
  else std::printf("neon dequantize: %d failure(s)\n", failures);
  return failures == 0 ? 0 : 1;
}

#endif  // QTL_NEON_TEST_PROGRAM
