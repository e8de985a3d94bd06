// qtl::pow2<Bits>: signed powers of two and zero, the log2 quantizer. With K = 2^(Bits-1) - 1,
// code ±k (1 <= k <= K) is ±2^(k - K) and code 0 is 0: the levels 1, 1/2, ..., 2^(1-K) of
// each sign, so a group's absmax maps to 1 (the codebook scheme) and a multiply by a level
// is a shift of the exponent. decode builds the float's exponent field directly.
//
// encode(x) is the nearest level, as every codebook format's: between 2^e and 2^(e+1) the
// midpoint 1.5 · 2^e, read from the float's mantissa; between 0 and the smallest level
// 2^(1-K) the midpoint 2^-K; an exact midpoint goes to the larger magnitude; beyond 1 the
// largest level; NaN 0.
#pragma once

#include <cstdint>

#include "qtl/core/bit_cast.hpp"
#include "qtl/core/concepts.hpp"
#include "qtl/core/config.hpp"
#include "qtl/core/simd.hpp"
#include "qtl/format/symmetric_codes.hpp"

namespace qtl {

template <int Bits>
  requires(Bits >= 2 && Bits <= 7)  // 7 bits reach 2^-62; 8 would need subnormal levels
struct pow2 : symmetric_codes<Bits> {
  using symmetric_codes<Bits>::top;

  QTL_HOST_DEVICE static constexpr float decode(int code) noexcept {
    if (code == 0) return 0.0f;
    const int k = code < 0 ? -code : code;
    const auto bits_of = static_cast<std::uint32_t>(127 + k - top) << 23;  // 2^(k - K): exponent field only
    return qtl::bit_cast<float>(bits_of | (code < 0 ? 0x80000000u : 0u));
  }

  QTL_HOST_DEVICE static constexpr int encode(float x) noexcept {
    const std::uint32_t u = qtl::bit_cast<std::uint32_t>(x);
    const std::uint32_t magnitude = u & 0x7fffffffu;
    if (magnitude > 0x7f800000u) return 0;  // NaN
    return (u >> 31) ? -magnitude_code(magnitude) : magnitude_code(magnitude);
  }

#if QTL_HAS_SIMD
  template <class A>
  static simd::floats<A> decode(simd::ints<A> code) noexcept {
    using ints = simd::ints<A>;
    const ints sign = xsimd::select(code < ints(0), ints(INT32_MIN), ints(0));
    const ints bits_of = ((xsimd::abs(code) + ints(127 - top)) << 23) | sign;
    return xsimd::select(xsimd::batch_bool_cast<float>(code == ints(0)), simd::floats<A>(0.0f),
                         xsimd::bitwise_cast<float>(bits_of));
  }
  // magnitude_code() on every lane.
  template <class A>
  static simd::ints<A> encode(simd::floats<A> x) noexcept {
    using ints = simd::ints<A>;
    const ints u = xsimd::bitwise_cast<std::int32_t>(x), magnitude = u & ints(0x7fffffff);
    const ints t = (magnitude >> 23) - ints(127 - top);
    ints k = t + xsimd::select((magnitude & ints(0x7fffff)) >= ints(0x400000), ints(1), ints(0));
    k = xsimd::select(t == ints(0), ints(1), k);
    k = xsimd::select(t < ints(0), ints(0), k);
    k = xsimd::select(t >= ints(top), ints(top), k);
    k = xsimd::select(xsimd::batch_bool_cast<std::int32_t>(x != x), ints(0), k);
    return xsimd::select(u < ints(0), -k, k);
  }
#endif

 private:
  // t = floor(log2 |x|) + K: t < 0 is below 2^-K (zero), t = 0 lies between 2^-K and the
  // smallest level (which it takes), 1 <= t < K rounds up from 1.5 · 2^e, t >= K is the top.
  QTL_HOST_DEVICE static constexpr int magnitude_code(std::uint32_t magnitude) noexcept {
    const int t = static_cast<int>(magnitude >> 23) - 127 + top;
    if (t < 0) return 0;
    if (t == 0) return 1;
    if (t >= top) return top;
    return t + ((magnitude & 0x7fffffu) >= 0x400000u ? 1 : 0);
  }
};

static_assert(format<pow2<4>> && encodable_format<pow2<4>>);
static_assert(pow2<4>::decode(7) == 1.0f && pow2<4>::decode(-1) == -0x1p-6f && pow2<4>::decode(0) == 0.0f);
static_assert(pow2<4>::encode(0.75f) == 7 && pow2<4>::encode(0.74f) == 6 && pow2<4>::encode(-3.0f) == -7);
static_assert(pow2<4>::encode(0x1p-7f) == 1 && pow2<4>::encode(0x1.fffffep-8f) == 0);

}  // namespace qtl
