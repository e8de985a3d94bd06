// What the policies' batch steps are written with: xsimd batches of float and int32 for
// an arch tag, the concepts that say whether a rounding or a format has a batch step, and
// the lane-by-lane fallbacks that run a policy's scalar step on each lane when it has
// none. kernel/simd_quantizer.hpp walks the tensors; the policies only see batches.
// CUDA device code never sees any of it (QTL_HAS_SIMD is 0 under nvcc).
#pragma once

#include "qtl/core/config.hpp"

#if !defined(__CUDACC__) && !defined(__HIPCC__)
#define QTL_HAS_SIMD 1
#else
#define QTL_HAS_SIMD 0
#endif

namespace qtl::detail {

// a * b rounded on its own, never fused into an add that follows (as simd::rounded_product).
QTL_HOST_DEVICE inline float rounded_product(float a, float b) noexcept {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);  // never contracted into an FMA
#elif defined(__CUDACC__)
  return a * b;  // nvcc's front end does not know the builtin below
#elif QTL_HAS_BUILTIN(__builtin_assoc_barrier)
  return __builtin_assoc_barrier(a * b);
#else
  return a * b;
#endif
}

}  // namespace qtl::detail

#if QTL_HAS_SIMD
#include <array>
#include <cstddef>
#include <cstdint>

#include <xsimd/xsimd.hpp>

#include "qtl/core/quant_params.hpp"

namespace qtl::simd {

template <class Arch>
using floats = xsimd::batch<float, Arch>;
template <class Arch>
using ints = xsimd::batch<std::int32_t, Arch>;

// a * b rounded to float on its own: never fused into an add that follows (g++ contracts
// vector arithmetic into FMA under -mfma; the scalar step it must match may not). The
// product passes through an empty asm the optimizer cannot see into, which costs no
// instruction; g++ 12 splits __builtin_assoc_barrier on a vector into its lanes (about 30
// shuffles per AVX-512 product).
template <class Arch>
QTL_FORCEINLINE floats<Arch> rounded_product(floats<Arch> a, floats<Arch> b) noexcept {
  auto p = (a * b).data;
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  asm("" : "+v"(p));
#elif defined(__GNUC__) && defined(__aarch64__)
  asm("" : "+w"(p));
#elif QTL_HAS_BUILTIN(__builtin_assoc_barrier)
  p = __builtin_assoc_barrier(p);
#endif
  return floats<Arch>(p);
}

// floor, ceil and trunc as IEEE has them: the result keeps the argument's sign, also when
// it is zero (ceil(-0.5) is -0; xsimd's NEON forms return +0 there).
template <class Arch>
QTL_FORCEINLINE floats<Arch> keep_sign(floats<Arch> result, floats<Arch> v) noexcept {
  return result | (v & floats<Arch>(-0.0f));
}
template <class Arch>
QTL_FORCEINLINE floats<Arch> floor(floats<Arch> v) noexcept {
  return keep_sign(xsimd::floor(v), v);
}
template <class Arch>
QTL_FORCEINLINE floats<Arch> ceil(floats<Arch> v) noexcept {
  return keep_sign(xsimd::ceil(v), v);
}
template <class Arch>
QTL_FORCEINLINE floats<Arch> trunc(floats<Arch> v) noexcept {
  return keep_sign(xsimd::trunc(v), v);
}

// A rounding with a batch step: lane i of v rounds as the scalar step would round element
// first + i (stochastic rounding draws from that index).
template <class R, class Arch>
concept batch_rounding = requires(const R r, floats<Arch> v, std::uint64_t first) {
  { r(v, first) } -> std::same_as<floats<Arch>>;
};

// A format with a batch decode: F::decode of every lane of a batch of codes.
template <class F, class Arch>
concept batch_format = requires(ints<Arch> codes) {
  { F::decode(codes) } -> std::same_as<floats<Arch>>;
};

// A format with a batch encode: F::encode of every lane of a batch of floats.
template <class F, class Arch>
concept batch_encode = requires(floats<Arch> x) {
  { F::encode(x) } -> std::same_as<ints<Arch>>;
};

// Every level of a format with a constexpr decode, indexed by code - min_code, padded to
// at least 16 entries: the batch decode of a codebook (NF4, FP4, FP8, E8M0, ...).
template <class F>
inline constexpr auto decode_table = [] {
  std::array<float, (F::levels < 16 ? 16 : F::levels)> t{};
  for (int i = 0; i < F::levels; ++i) t[static_cast<std::size_t>(i)] = F::decode(F::min_code + i);
  return t;
}();

// t[idx] lane by lane for a table of 16 floats: dynamic swizzles of its vector-sized parts.
template <class Arch>
QTL_FORCEINLINE floats<Arch> lookup16(const float* t, xsimd::batch<std::uint32_t, Arch> idx) noexcept {
  using uints = xsimd::batch<std::uint32_t, Arch>;
  constexpr std::uint32_t n = floats<Arch>::size;
  if constexpr (n == 16) {
    return xsimd::swizzle(floats<Arch>::load_unaligned(t), idx);
  } else {
    const uints low = idx & uints(n - 1);
    const ints<Arch> signed_idx = xsimd::bitwise_cast<std::int32_t>(idx);  // < 16: a signed compare (AVX2 has no unsigned one)
    floats<Arch> r = xsimd::swizzle(floats<Arch>::load_unaligned(t), low);
    for (std::int32_t k = n; k < 16; k += n)
      r = xsimd::select(xsimd::batch_bool_cast<float>(signed_idx >= ints<Arch>(k)),
                        xsimd::swizzle(floats<Arch>::load_unaligned(t + k), low), r);
    return r;
  }
}

// t[idx] lane by lane for a table of n floats (at least 16 of them readable): register
// swizzles for up to 16 entries (a gather costs several times more on AMD cores), one
// gather for more.
template <class Arch>
QTL_FORCEINLINE floats<Arch> lookup(const float* t, std::size_t n, ints<Arch> idx) noexcept {
  if (n <= 16) return lookup16<Arch>(t, xsimd::bitwise_cast<std::uint32_t>(idx));
  return floats<Arch>::gather(t, idx);
}

// The batch decode through decode_table.
template <class F, class Arch>
QTL_FORCEINLINE floats<Arch> lookup(ints<Arch> codes) noexcept {
  return lookup<Arch>(decode_table<F>.data(), F::levels, codes - ints<Arch>(F::min_code));
}

// f(lane value, lane) on every lane, through memory: the fallback for a policy without a
// batch step.
template <class Out, class In, class Fn>
QTL_FORCEINLINE Out lanewise(const In& in, Fn&& f) {
  using arch = typename In::arch_type;
  alignas(64) typename In::value_type from[In::size];
  alignas(64) typename Out::value_type to[In::size];
  in.store_aligned(from);
  for (std::size_t i = 0; i < In::size; ++i) to[i] = static_cast<typename Out::value_type>(f(from[i], i));
  return xsimd::batch<typename Out::value_type, arch>::load_aligned(to);
}

// r(v, first): the rounding's batch step, or its scalar step lane by lane.
template <class R, class Arch>
QTL_FORCEINLINE floats<Arch> round(const R& r, floats<Arch> v, std::uint64_t first) {
  if constexpr (batch_rounding<R, Arch>) return r(v, first);
  else return lanewise<floats<Arch>>(v, [&](float x, std::size_t i) { return r(x, first + i); });
}

// F::decode(codes): the format's batch step, or its scalar step lane by lane.
template <class F, class Arch>
QTL_FORCEINLINE floats<Arch> decode(ints<Arch> codes) {
  if constexpr (batch_format<F, Arch>) return F::decode(codes);
  else return lanewise<floats<Arch>>(codes, [](std::int32_t c, std::size_t) { return F::decode(c); });
}

// F::encode(x): the format's batch step, or its scalar step lane by lane.
template <class F, class Arch>
QTL_FORCEINLINE ints<Arch> encode(floats<Arch> x) {
  if constexpr (batch_encode<F, Arch>) return F::encode(x);
  else return lanewise<ints<Arch>>(x, [](float v, std::size_t) { return F::encode(v); });
}

// A scheme with batch steps for format F and rounding R: quantize a batch of floats to
// int32 codes, dequantize a batch of codes.
template <class S, class F, class R, class Arch>
concept batch_scheme = requires(const S s, floats<Arch> x, ints<Arch> codes, const quant_params& p, const R& r,
                                std::uint64_t first) {
  { s.template quantize<F>(x, p, r, first) } -> std::same_as<ints<Arch>>;
  { s.template dequantize<F>(codes, p) } -> std::same_as<floats<Arch>>;
};

// The scheme's batch steps, or its scalar steps lane by lane.
template <class F, class S, class R, class Arch>
QTL_FORCEINLINE ints<Arch> quantize(const S& s, floats<Arch> x, const quant_params& p, const R& r, std::uint64_t first) {
  if constexpr (batch_scheme<S, F, R, Arch>) return s.template quantize<F>(x, p, r, first);
  else
    return lanewise<ints<Arch>>(x, [&](float v, std::size_t i) { return s.template quantize<F>(v, p, r, first + i); });
}
template <class F, class S, class R, class Arch>
QTL_FORCEINLINE floats<Arch> dequantize(const S& s, ints<Arch> codes, const quant_params& p) {
  if constexpr (batch_scheme<S, F, R, Arch>) return s.template dequantize<F>(codes, p);
  else return lanewise<floats<Arch>>(codes, [&](std::int32_t c, std::size_t) { return s.template dequantize<F>(c, p); });
}

}  // namespace qtl::simd
#endif
