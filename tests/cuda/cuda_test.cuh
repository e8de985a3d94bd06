// Shared by the GPU tests (tests/cuda/*_test.cu): skip without a device, expect a
// qtl::error code, random data. Tests tagged [gpu] need a device; [args] ones never
// reach a CUDA call and run anywhere.
#pragma once

#include <catch2/catch_test_macros.hpp>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include <cuda_runtime.h>

#include "qtl/core/error.hpp"

namespace qtl::test {

inline bool has_cuda_device() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
}

// Catch2 exits with 4 when every test it ran was skipped: ctest's SKIP_RETURN_CODE.
#define QTL_REQUIRE_CUDA_DEVICE()                                          \
  do {                                                                     \
    if (!::qtl::test::has_cuda_device()) SKIP("no CUDA device present"); \
  } while (0)

template <class F>
void require_error(errc expected, F&& f) {
  try {
    f();
    FAIL("no qtl::error thrown");
  } catch (const error& e) {
    INFO(e.what());
    REQUIRE(e.code() == expected);
  }
}

inline std::vector<float> random_normal(std::size_t n, float stddev, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, stddev);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

inline std::vector<std::int8_t> random_int8(std::size_t n, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> dist(-128, 127);
  std::vector<std::int8_t> v(n);
  for (auto& x : v) x = static_cast<std::int8_t>(dist(gen));
  return v;
}

inline std::uint32_t bits_of(float x) {
  std::uint32_t b = 0;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

}  // namespace qtl::test
