// The steps of one GPU thread that have a CUDA intrinsic (__dp4a, __vsub4, __fmul_rn,
// vector loads, bfloat16 bits) as functions that compile for the device, where they are the
// intrinsic, and for the host, where plain C++ computes the same bits. The kernels' lane
// functions (cuda/lanes/) are written with them, so the same code runs on the GPU and,
// launch by launch, on the CPU (tests/cuda/host_launch.hpp): a layout or index mistake
// shows up against the CPU path, and an out-of-bounds read under AddressSanitizer.
#pragma once

#include <cmath>
#include <concepts>
#include <cstdint>
#include <cstring>

#include "qtl/core/bfloat16.hpp"
#include "qtl/core/bit_cast.hpp"
#include "qtl/core/config.hpp"
#include "qtl/core/half.hpp"
#include "qtl/core/simd.hpp"

#if defined(__CUDACC__)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#endif

// "#pragma unroll" for device code; host compilers do not know the pragma.
#if defined(__CUDA_ARCH__)
#define QTL_CUDA_UNROLL _Pragma("unroll")
#else
#define QTL_CUDA_UNROLL
#endif

namespace qtl::cuda::lanes {

// c plus the products of a's and b's four signed bytes (__dp4a; the sum wraps as int32).
QTL_HOST_DEVICE inline int dp4a(int a, int b, int c) noexcept {
#if defined(__CUDA_ARCH__)
  return __dp4a(a, b, c);
#else
  auto sum = static_cast<std::uint32_t>(c);
  for (int i = 0; i < 4; ++i) {
    const auto x = static_cast<std::int8_t>(static_cast<std::uint32_t>(a) >> (8 * i));
    const auto y = static_cast<std::int8_t>(static_cast<std::uint32_t>(b) >> (8 * i));
    sum += static_cast<std::uint32_t>(static_cast<int>(x) * static_cast<int>(y));
  }
  return static_cast<int>(sum);
#endif
}

// Each byte of a minus the same byte of b, modulo 256 (__vsub4).
QTL_HOST_DEVICE inline std::uint32_t vsub4(std::uint32_t a, std::uint32_t b) noexcept {
#if defined(__CUDA_ARCH__)
  return __vsub4(a, b);
#else
  std::uint32_t r = 0;
  for (int i = 0; i < 4; ++i) r |= ((((a >> (8 * i)) & 0xFFu) - ((b >> (8 * i)) & 0xFFu)) & 0xFFu) << (8 * i);
  return r;
#endif
}

// a * b rounded on its own, never contracted into an FMA (__fmul_rn on the device).
QTL_HOST_DEVICE inline float mul_rn(float a, float b) noexcept { return qtl::detail::rounded_product(a, b); }

// a * b + c rounded once.
QTL_HOST_DEVICE inline float fma_rn(float a, float b, float c) noexcept {
#if defined(__CUDA_ARCH__)
  return fmaf(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}

// max(m, |v|), NaN losing to a number (fmaxf).
QTL_HOST_DEVICE inline float max_abs(float m, float v) noexcept {
#if defined(__CUDA_ARCH__)
  return fmaxf(m, fabsf(v));
#else
  return std::fmax(m, std::fabs(v));
#endif
}

// The float whose bits these are.
QTL_HOST_DEVICE inline float float_from_bits(std::uint32_t bits) noexcept {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(bits);
#else
  return qtl::bit_cast<float>(bits);
#endif
}

// An aligned T at p (the kernels' vector loads: T of 4 or 16 bytes; the caller checked the
// alignment): one load instruction on the device, a copy on the host.
template <class T>
QTL_HOST_DEVICE inline T load(const void* p) noexcept {
#if defined(__CUDA_ARCH__)
  return *reinterpret_cast<const T*>(p);
#else
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
#endif
}

// Four 32-bit words from a 16-byte aligned address (an int4 load on the device).
struct words4 {
  std::uint32_t w[4];
};
QTL_HOST_DEVICE inline words4 load_words4(const void* p) noexcept {
#if defined(__CUDA_ARCH__)
  const uint4 v = *reinterpret_cast<const uint4*>(p);
  return {{v.x, v.y, v.z, v.w}};
#else
  return load<words4>(p);
#endif
}

// The kernels' element types to and from float (round to nearest even, as the CPU's).
QTL_HOST_DEVICE inline float to_float(float x) noexcept { return x; }
QTL_HOST_DEVICE inline float to_float(half x) noexcept { return static_cast<float>(x); }
QTL_HOST_DEVICE inline float to_float(bfloat16 x) noexcept { return static_cast<float>(x); }
#if defined(__CUDACC__)
QTL_HOST_DEVICE inline float to_float(__half x) noexcept { return __half2float(x); }
QTL_HOST_DEVICE inline float to_float(__nv_bfloat16 x) noexcept { return __bfloat162float(x); }
#endif

template <class T>
QTL_HOST_DEVICE inline T from_float(float v) noexcept {
  if constexpr (std::same_as<T, float>) return v;
  else if constexpr (std::same_as<T, bfloat16>) return bfloat16(v);
#if defined(__CUDACC__)
  else return __float2bfloat16_rn(v);
#endif
}

}  // namespace qtl::cuda::lanes
