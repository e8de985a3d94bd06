// Rounding policies: how a real value (already divided by the scale) becomes an
// integral one. Deterministic ones ignore the element index; stochastic uses it as its counter.
// Each has a batch step next to its scalar one (lane i is element first + i), bit for bit
// the scalar result in every floating-point rounding mode.
#pragma once

#include <cmath>
#include <concepts>
#include <cstdint>

#include "qtl/core/concepts.hpp"
#include "qtl/core/config.hpp"
#include "qtl/core/simd.hpp"

namespace qtl {

// Round to nearest, ties to even (IEEE default; torch.round, numpy.rint), independent
// of the floating-point environment's rounding mode.
namespace detail {
// Ties-to-even from floor alone, for compilers without __builtin_roundevenf.
QTL_HOST_DEVICE inline float round_half_even_portable(float v) noexcept {
  const float f = std::floor(v);
  const float d = v - f;  // exact for finite floats
  const float half_f = f * 0.5f;
  return f + ((d > 0.5f) | ((d == 0.5f) & (std::floor(half_f) != half_f)) ? 1.0f : 0.0f);
}
}  // namespace detail

struct nearest_even {
  QTL_HOST_DEVICE float operator()(float v, std::uint64_t = 0) const noexcept {
#if defined(__CUDA_ARCH__)
    return rintf(v);  // the GPU has no dynamic rounding mode: rint is ties-to-even
#elif QTL_HAS_BUILTIN(__builtin_roundevenf)
    return __builtin_roundevenf(v);  // roundss with an explicit mode on x86, frintn on ARM
#else
    return detail::round_half_even_portable(v);
#endif
  }
#if QTL_HAS_SIMD
  template <class A>
  simd::floats<A> operator()(simd::floats<A> v, std::uint64_t) const noexcept {
    return xsimd::nearbyint(v);  // the mode is in the instruction (roundps 0, frintn)
  }
#endif
};

// Round to nearest, ties away from zero (C's round(); ggml's roundf in its reference quantizers).
struct nearest_away {
  QTL_HOST_DEVICE float operator()(float v, std::uint64_t = 0) const noexcept { return std::round(v); }
#if QTL_HAS_SIMD
  // trunc(|v| + 0.49999997f) with v's sign: |v| + 1/2 - 2^-25 reaches the next integer
  // exactly when the fraction is >= 1/2 (floor(|v| + 0.5f) would send 0.49999997f to 1).
  template <class A>
  simd::floats<A> operator()(simd::floats<A> v, std::uint64_t) const noexcept {
    const simd::floats<A> sign = v & simd::floats<A>(-0.0f);
    return xsimd::trunc(xsimd::abs(v) + simd::floats<A>(0x1.fffffep-2f)) | sign;
  }
#endif
};

struct floor {
  QTL_HOST_DEVICE float operator()(float v, std::uint64_t = 0) const noexcept { return std::floor(v); }
#if QTL_HAS_SIMD
  template <class A>
  simd::floats<A> operator()(simd::floats<A> v, std::uint64_t) const noexcept { return simd::floor(v); }
#endif
};

struct ceil {
  QTL_HOST_DEVICE float operator()(float v, std::uint64_t = 0) const noexcept { return std::ceil(v); }
#if QTL_HAS_SIMD
  template <class A>
  simd::floats<A> operator()(simd::floats<A> v, std::uint64_t) const noexcept { return simd::ceil(v); }
#endif
};

struct toward_zero {
  QTL_HOST_DEVICE float operator()(float v, std::uint64_t = 0) const noexcept { return std::trunc(v); }
#if QTL_HAS_SIMD
  template <class A>
  simd::floats<A> operator()(simd::floats<A> v, std::uint64_t) const noexcept { return simd::trunc(v); }
#endif
};

// A counter-based generator: 64 random bits as a pure function of (seed, counter), so
// each element's draw depends on its index only, never on thread order.
template <class G>
concept counter_based_generator = requires(std::uint64_t seed, std::uint64_t counter) {
  { G::bits(seed, counter) } -> std::same_as<std::uint64_t>;
};

// SplitMix64's output function applied to seed + (counter + 1) * golden gamma.
struct splitmix64 {
  QTL_HOST_DEVICE static constexpr std::uint64_t bits(std::uint64_t seed, std::uint64_t counter) noexcept {
    std::uint64_t z = seed + (counter + 1) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
};

// Round up with probability equal to the fractional part: unbiased in expectation.
template <counter_based_generator Generator = splitmix64>
struct stochastic {
  std::uint64_t seed = 0;

  // The top 24 bits of element index's draw: u = draw * 2^-24 is uniform in [0, 1).
  QTL_HOST_DEVICE std::int32_t draw(std::uint64_t index) const noexcept {
    return static_cast<std::int32_t>(Generator::bits(seed, index) >> 40);
  }

  QTL_HOST_DEVICE float operator()(float v, std::uint64_t index) const noexcept {
    const float f = std::floor(v);
    const float u = static_cast<float>(draw(index)) * 0x1p-24f;
    return u < v - f ? f + 1.0f : f;
  }
#if QTL_HAS_SIMD
  // The same draws, element first + i in lane i; the 64-bit generator runs in scalar
  // registers (AVX2 and NEON have no 64-bit vector multiply).
  template <class A>
  simd::floats<A> operator()(simd::floats<A> v, std::uint64_t first) const noexcept {
    using floats = simd::floats<A>;
    alignas(64) std::int32_t draws[floats::size];
    for (std::size_t i = 0; i < floats::size; ++i) draws[i] = draw(first + i);
    const floats u = xsimd::batch_cast<float>(simd::ints<A>::load_aligned(draws)) * floats(0x1p-24f);
    const floats f = simd::floor(v);
    return xsimd::select(u < v - f, f + floats(1.0f), f);
  }
#endif
};

static_assert(rounding<nearest_even> && rounding<nearest_away> && rounding<floor> && rounding<ceil> &&
              rounding<toward_zero> && rounding<stochastic<>>);

}  // namespace qtl
