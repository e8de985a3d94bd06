// qtl/cuda/arguments.hpp on the CPU: every rule the CUDA host wrappers check before their
// first CUDA call (the GPU tests' [args] cases check that each wrapper calls its rules).
#include <qtl/cuda/arguments.hpp>

#include <catch2/catch_test_macros.hpp>
#include <cstddef>
#include <cstdint>

namespace {

template <class F>
void require_error(qtl::errc expected, F&& f) {
  try {
    f();
    FAIL("no qtl::error thrown");
  } catch (const qtl::error& e) {
    INFO(e.what());
    REQUIRE(e.code() == expected);
  }
}

alignas(16) unsigned char buffer[64];
const void* const aligned = buffer;
const void* const odd = buffer + 2;  // 2-byte but not 4- or 16-byte aligned

}  // namespace

using qtl::errc;

TEST_CASE("cuda arguments: quantize_activations needs a non-empty shape, a launchable grid and pointers",
          "[cuda][args]") {
  using qtl::cuda::check_quantize_activations;
  REQUIRE_NOTHROW(check_quantize_activations(3, 7, odd, odd, aligned));
  require_error(errc::invalid_argument, [] { check_quantize_activations(0, 7, aligned, aligned, aligned); });
  require_error(errc::invalid_argument, [] { check_quantize_activations(3, 0, aligned, aligned, aligned); });
  require_error(errc::out_of_range, [] { check_quantize_activations(qtl::cuda::max_grid_blocks + 1, 1, aligned, aligned, aligned); });
  require_error(errc::invalid_argument, [] { check_quantize_activations(3, 7, nullptr, aligned, aligned); });
  require_error(errc::invalid_argument, [] { check_quantize_activations(3, 7, aligned, nullptr, aligned); });
  require_error(errc::invalid_argument, [] { check_quantize_activations(3, 7, aligned, aligned, nullptr); });
}

TEST_CASE("cuda arguments: gemv_w2a8 needs whole tiles, K steps of 128, batch 1..8, aligned pointers", "[cuda][args]") {
  using qtl::cuda::check_gemv_w2a8;
  REQUIRE_NOTHROW(check_gemv_w2a8(16, 128, 1, aligned, aligned, odd, odd));
  REQUIRE_NOTHROW(check_gemv_w2a8(13824, 2560, 8, aligned, aligned, aligned, aligned));
  require_error(errc::invalid_argument, [] { check_gemv_w2a8(0, 128, 1, aligned, aligned, aligned, aligned); });
  require_error(errc::shape_mismatch, [] { check_gemv_w2a8(24, 128, 1, aligned, aligned, aligned, aligned); });
  require_error(errc::shape_mismatch, [] { check_gemv_w2a8(16, 80, 1, aligned, aligned, aligned, aligned); });
  require_error(errc::group_size, [] { check_gemv_w2a8(16, 96, 1, aligned, aligned, aligned, aligned); });
  require_error(errc::out_of_range,
                [] { check_gemv_w2a8(16, 2 * qtl::cuda::max_w2a8_cols, 1, aligned, aligned, aligned, aligned); });
  require_error(errc::shape_mismatch, [] { check_gemv_w2a8(16, 128, 0, aligned, aligned, aligned, aligned); });
  require_error(errc::shape_mismatch, [] { check_gemv_w2a8(16, 128, 9, aligned, aligned, aligned, aligned); });
  require_error(errc::invalid_argument, [] { check_gemv_w2a8(16, 128, 1, odd, aligned, aligned, aligned); });
  require_error(errc::invalid_argument, [] { check_gemv_w2a8(16, 128, 1, aligned, buffer + 4, aligned, aligned); });
  require_error(errc::invalid_argument, [] { check_gemv_w2a8(16, 128, 1, aligned, aligned, nullptr, aligned); });
  require_error(errc::invalid_argument, [] { check_gemv_w2a8(16, 128, 1, aligned, aligned, aligned, nullptr); });
}

TEST_CASE("cuda arguments: gemv_w4a8 needs whole blocks of 32, batch 1..8, 2-byte aligned blocks", "[cuda][args]") {
  using qtl::cuda::check_gemv_w4a8;
  REQUIRE_NOTHROW(check_gemv_w4a8(5, 32, 3, odd, odd, odd));
  require_error(errc::invalid_argument, [] { check_gemv_w4a8(5, 0, 1, aligned, aligned, aligned); });
  require_error(errc::group_size, [] { check_gemv_w4a8(5, 48, 1, aligned, aligned, aligned); });
  require_error(errc::shape_mismatch, [] { check_gemv_w4a8(5, 64, 9, aligned, aligned, aligned); });
  require_error(errc::invalid_argument, [] { check_gemv_w4a8(5, 64, 1, buffer + 1, aligned, aligned); });
  require_error(errc::invalid_argument, [] { check_gemv_w4a8(5, 64, 1, aligned, buffer + 1, aligned); });
  require_error(errc::invalid_argument, [] { check_gemv_w4a8(5, 64, 1, aligned, aligned, nullptr); });
}

TEST_CASE("cuda arguments: gemv_4bit needs blocks of a multiple of 8 dividing the row, aligned vectors", "[cuda][args]") {
  using qtl::cuda::check_gemv_4bit;
  REQUIRE_NOTHROW(check_gemv_4bit(3, 8, 8, 1, aligned, aligned, aligned, odd));
  REQUIRE_NOTHROW(check_gemv_4bit(3, 4096, 4096, 8, aligned, aligned, aligned, aligned));
  require_error(errc::invalid_argument, [] { check_gemv_4bit(0, 64, 64, 1, aligned, aligned, aligned, aligned); });
  require_error(errc::group_size, [] { check_gemv_4bit(3, 64, 0, 1, aligned, aligned, aligned, aligned); });
  require_error(errc::group_size, [] { check_gemv_4bit(3, 64, -64, 1, aligned, aligned, aligned, aligned); });
  require_error(errc::group_size, [] { check_gemv_4bit(3, 60, 12, 1, aligned, aligned, aligned, aligned); });
  require_error(errc::group_size, [] { check_gemv_4bit(3, 96, 64, 1, aligned, aligned, aligned, aligned); });
  require_error(errc::shape_mismatch, [] { check_gemv_4bit(3, 64, 64, 0, aligned, aligned, aligned, aligned); });
  require_error(errc::invalid_argument, [] { check_gemv_4bit(3, 64, 64, 1, odd, aligned, aligned, aligned); });
  require_error(errc::invalid_argument, [] { check_gemv_4bit(3, 64, 64, 1, aligned, odd, aligned, aligned); });
  require_error(errc::invalid_argument, [] { check_gemv_4bit(3, 64, 64, 1, aligned, aligned, buffer + 8, aligned); });
  require_error(errc::invalid_argument, [] { check_gemv_4bit(3, 64, 64, 1, aligned, aligned, aligned, nullptr); });
}
