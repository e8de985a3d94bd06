// qtl::minifloat<E, M, Specials>: the small floating-point element types of FP8, FP6 and
// FP4 (OCP 8-bit floating point and OCP MX v1.0). A code is the format's bit pattern;
// decode() gives its value, encode() rounds a float to the nearest code, ties to even.
#pragma once

#include <cstdint>
#include <cmath>
#include <cstddef>
#include <span>
#include <string>

#include "qtl/core/bit_cast.hpp"
#include "qtl/core/concepts.hpp"
#include "qtl/core/config.hpp"
#include "qtl/core/simd.hpp"
#include "qtl/core/error.hpp"
#include "qtl/core/nonfinite_policy.hpp"

namespace qtl {

// Which bit patterns are not finite numbers.
enum class minifloat_specials {
  ieee,         // all-ones exponent: Inf (mantissa 0) and NaN, as IEEE 754 (E5M2)
  nan_only,     // only S.1111.111 is NaN, the rest of that binade is finite (E4M3 "fn")
  finite_only,  // every pattern is a number (FP6 E2M3/E3M2, FP4 E2M1)
};

// What encode() does with a finite value beyond the largest finite one (after rounding)
// and with +-Inf.
enum class minifloat_overflow {
  saturate,        // clamp to +-max (the OCP MX element conversion)
  non_saturating,  // Inf where the format has it, else NaN where it has that, else +-max
                   // (the IEEE cast of ml_dtypes, numpy and torch)
  error,           // array conversion (minifloat_encode) throws errc::out_of_range;
                   // the scalar encode() treats it as non_saturating
};

namespace detail {

// 2^e as a float for e in [-126, 127], built from its bits (constexpr, no libm).
QTL_HOST_DEVICE constexpr float exp2i(int e) noexcept {
  return qtl::bit_cast<float>(static_cast<std::uint32_t>(e + 127) << 23);
}

}  // namespace detail

template <int E, int M, minifloat_specials Specials>
  requires(E >= 2 && E <= 5 && M >= 1 && M <= 3 && 1 + E + M <= 8)
struct minifloat {
  using code_type = std::uint8_t;
  static constexpr int exponent_bits = E;
  static constexpr int mantissa_bits = M;
  static constexpr minifloat_specials specials = Specials;
  static constexpr int bits = 1 + E + M;
  static constexpr bool is_signed = false;  // codes are bit patterns, 0 .. 2^bits - 1
  static constexpr int min_code = 0;
  static constexpr int max_code = (1 << bits) - 1;
  static constexpr int levels = 1 << bits;
  static constexpr int bias = (1 << (E - 1)) - 1;
  static constexpr int min_exponent = 1 - bias;  // of the smallest normal
  static constexpr bool has_inf = Specials == minifloat_specials::ieee;
  static constexpr bool has_nan = Specials != minifloat_specials::finite_only;

  static constexpr std::uint32_t sign_bit = 1u << (E + M);
  static constexpr std::uint32_t top_field = Specials == minifloat_specials::ieee ? (1u << E) - 2 : (1u << E) - 1;
  static constexpr std::uint32_t top_mantissa =
      Specials == minifloat_specials::nan_only ? (1u << M) - 2 : (1u << M) - 1;
  static constexpr std::uint8_t max_finite_code = static_cast<std::uint8_t>(top_field << M | top_mantissa);
  static constexpr std::uint8_t inf_code = static_cast<std::uint8_t>(((1u << E) - 1) << M);  // ieee only
  static constexpr std::uint8_t nan_code = Specials == minifloat_specials::ieee
                                               ? static_cast<std::uint8_t>(inf_code | 1u << (M - 1))
                                               : static_cast<std::uint8_t>((1u << (E + M)) - 1);

  QTL_HOST_DEVICE static constexpr bool is_nan_code(int code) noexcept {
    const auto magnitude = static_cast<std::uint32_t>(code) & (sign_bit - 1);
    if constexpr (Specials == minifloat_specials::ieee) return magnitude > inf_code;
    else if constexpr (Specials == minifloat_specials::nan_only) return magnitude == nan_code;
    else return false;
  }

  QTL_HOST_DEVICE static constexpr float decode(int code) noexcept {
    const auto c = static_cast<std::uint32_t>(code);
    const std::uint32_t field = (c >> M) & ((1u << E) - 1);
    const std::uint32_t mantissa = c & ((1u << M) - 1);
    const bool negative = (c & sign_bit) != 0;
    float magnitude = 0.0f;
    if (is_nan_code(code)) {
      magnitude = qtl::bit_cast<float>(0x7fc00000u);
    } else if (has_inf && field == (1u << E) - 1) {
      magnitude = qtl::bit_cast<float>(0x7f800000u);
    } else if (field == 0) {
      magnitude = static_cast<float>(mantissa) * detail::exp2i(min_exponent - M);
    } else {
      magnitude = static_cast<float>(mantissa | 1u << M) * detail::exp2i(static_cast<int>(field) - bias - M);
    }
    return negative ? -magnitude : magnitude;
  }
#if QTL_HAS_SIMD
  template <class A>
  static simd::floats<A> decode(simd::ints<A> code) noexcept {
    return simd::lookup<minifloat, A>(code);
  }
#endif

  QTL_HOST_DEVICE static constexpr float max_value() noexcept { return decode(max_finite_code); }

  // True when x rounds beyond +-max (an IEEE overflow) or is +-Inf.
  QTL_HOST_DEVICE static constexpr bool overflows(float x) noexcept {
    const float a = x < 0 ? -x : x;
    const float limit = max_value() + detail::exp2i(static_cast<int>(top_field) - bias - M - 1);  // half a step up
    return (top_mantissa & 1) ? a >= limit : a > limit;  // at the midpoint, ties go to even
  }

  // Round to nearest, ties to even, on the float's bits (exact: no double rounding).
  // NaN gives the NaN code, or +0 in a format without NaN.
  QTL_HOST_DEVICE static constexpr std::uint8_t encode(float x,
                                                       minifloat_overflow overflow = minifloat_overflow::non_saturating) noexcept {
    const auto b = qtl::bit_cast<std::uint32_t>(x);
    const auto sign = static_cast<std::uint8_t>((b >> 31) ? sign_bit : 0u);
    const std::uint32_t a = b & 0x7fffffffu;
    if (a > 0x7f800000u) return has_nan ? static_cast<std::uint8_t>(sign | nan_code) : std::uint8_t{0};
    if (a == 0x7f800000u) return overflowed(sign, overflow);
    const int float_exponent = static_cast<int>(a >> 23);
    if (float_exponent == 0) return sign;  // |x| < 2^-126: below half of every format's smallest step
    const std::uint64_t significand = (a & 0x7fffffu) | 0x800000u;  // 24 bits, value * 2^(e - 23)
    const int e = float_exponent - 127;
    const int binade = e < min_exponent ? min_exponent : e;  // subnormals share the lowest binade's step
    const int drop = 23 - M + (binade - e);
    if (drop > 24) return sign;
    std::uint64_t q = significand >> drop;
    const std::uint64_t rest = significand & ((std::uint64_t{1} << drop) - 1);
    const std::uint64_t half = std::uint64_t{1} << (drop - 1);
    if (rest > half || (rest == half && (q & 1))) ++q;  // q counts steps of 2^(binade - M)
    int field = binade + bias;
    if (q >> (M + 1)) {  // rounded up into the next binade
      q >>= 1;
      ++field;
    }
    if (q < (1u << M)) field = 0;  // subnormal
    const auto mantissa = static_cast<std::uint32_t>(q) & ((1u << M) - 1);
    if (field > static_cast<int>(top_field) ||
        (field == static_cast<int>(top_field) && mantissa > top_mantissa))
      return overflowed(sign, overflow);
    return static_cast<std::uint8_t>(sign | static_cast<std::uint32_t>(field) << M | mantissa);
  }

#if QTL_HAS_SIMD
  // encode on every lane of a batch: the same integer steps on the float's bits (round to
  // nearest even at a shift of 23 - M bits, more below the smallest normal; carry into the
  // next binade; then the overflow, zero, Inf and NaN cases).
  template <class A>
  static simd::ints<A> encode(simd::floats<A> x, minifloat_overflow overflow = minifloat_overflow::non_saturating) noexcept {
    using ints = simd::ints<A>;
    const ints b = xsimd::bitwise_cast<std::int32_t>(x);
    const ints sign = xsimd::select(b < ints(0), ints(static_cast<std::int32_t>(sign_bit)), ints(0));
    const ints a = b & ints(0x7fffffff);
    const ints fexp = a >> 23;  // 0 .. 255
    const ints extra = xsimd::max(ints(min_exponent + 127) - fexp, ints(0));  // below the smallest normal
    const ints drop = xsimd::min(ints(23 - M) + extra, ints(25));             // 25: nothing is left
    const ints significand = (a & ints(0x7fffff)) | ints(0x800000);
    ints q = significand >> drop;
    const ints rest = significand & ((ints(1) << drop) - ints(1));
    const ints half = ints(1) << (drop - ints(1));
    const auto up = (rest > half) || ((rest == half) && ((q & ints(1)) != ints(0)));
    q = xsimd::select(up, q + ints(1), q);
    ints field = xsimd::max(fexp, ints(min_exponent + 127)) - ints(127 - bias);
    const auto carry = (q >> (M + 1)) != ints(0);
    q = xsimd::select(carry, q >> 1, q);
    field = xsimd::select(carry, field + ints(1), field);
    field = xsimd::select(q < ints(1 << M), ints(0), field);
    const ints mantissa = q & ints((1 << M) - 1);
    const auto over = (field > ints(static_cast<std::int32_t>(top_field))) ||
                      ((field == ints(static_cast<std::int32_t>(top_field))) &&
                       (mantissa > ints(static_cast<std::int32_t>(top_mantissa))));
    ints code = sign | (field << M) | mantissa;
    code = xsimd::select(over || (a == ints(0x7f800000)), sign | ints(overflowed(0, overflow)), code);
    code = xsimd::select(fexp == ints(0), sign, code);  // |x| < 2^-126, zeros included
    const ints nan = has_nan ? sign | ints(nan_code) : ints(0);
    return xsimd::select(a > ints(0x7f800000), nan, code);
  }
#endif

 private:
  QTL_HOST_DEVICE static constexpr std::uint8_t overflowed(std::uint8_t sign, minifloat_overflow overflow) noexcept {
    if (overflow != minifloat_overflow::saturate) {
      if constexpr (has_inf) return static_cast<std::uint8_t>(sign | inf_code);
      else if constexpr (has_nan) return static_cast<std::uint8_t>(sign | nan_code);
    }
    return static_cast<std::uint8_t>(sign | max_finite_code);
  }
};

using fp8_e4m3 = minifloat<4, 3, minifloat_specials::nan_only>;  // OCP E4M3: max 448, no Inf
using fp8_e5m2 = minifloat<5, 2, minifloat_specials::ieee>;      // OCP E5M2: max 57344, Inf, NaN
using fp6_e2m3 = minifloat<2, 3, minifloat_specials::finite_only>;  // max 7.5
using fp6_e3m2 = minifloat<3, 2, minifloat_specials::finite_only>;  // max 28
using fp4_e2m1 = minifloat<2, 1, minifloat_specials::finite_only>;  // max 6

template <class T>
concept minifloat_format = format<T> && requires { T::exponent_bits; T::mantissa_bits; T::specials; };

// Converts a float array to codes (one byte per code; pack FP6/FP4 with pack/bit_pack.hpp).
// Every value is checked before the first write: NaN/Inf per `nonfinite` (default: error
// naming the element; propagate: as encode()), and under minifloat_overflow::error a
// finite value that would round beyond +-max throws errc::out_of_range.
template <minifloat_format F>
void minifloat_encode(std::span<const float> x, std::span<std::uint8_t> codes,
                      minifloat_overflow overflow = minifloat_overflow::non_saturating,
                      nonfinite_policy nonfinite = nonfinite_policy::error) {
  if (codes.size() < x.size())
    throw error(errc::shape_mismatch, "minifloat_encode: " + std::to_string(codes.size()) + " codes for " +
                                          std::to_string(x.size()) + " values");
  for (std::size_t i = 0; i < x.size(); ++i) {
    detail::check_finite(x[i], nonfinite, 0, i, x.size());
    if (overflow == minifloat_overflow::error && std::isfinite(x[i]) && F::overflows(x[i]))
      throw error(errc::out_of_range, detail::where(0, i, x.size()) + " = " + std::to_string(x[i]) +
                                          " is beyond the format's largest value " + std::to_string(F::max_value()));
  }
  for (std::size_t i = 0; i < x.size(); ++i) codes[i] = F::encode(x[i], overflow);
}

template <minifloat_format F>
void minifloat_decode(std::span<const std::uint8_t> codes, std::span<float> out) {
  if (out.size() < codes.size())
    throw error(errc::shape_mismatch, "minifloat_decode: room for " + std::to_string(out.size()) + " values, " +
                                          std::to_string(codes.size()) + " codes");
  for (std::size_t i = 0; i < codes.size(); ++i) out[i] = F::decode(codes[i]);
}

static_assert(format<fp8_e4m3> && format<fp8_e5m2> && format<fp6_e2m3> && format<fp6_e3m2> && format<fp4_e2m1>);
static_assert(fp8_e4m3::max_value() == 448.0f && fp8_e5m2::max_value() == 57344.0f);
static_assert(fp6_e2m3::max_value() == 7.5f && fp6_e3m2::max_value() == 28.0f && fp4_e2m1::max_value() == 6.0f);
static_assert(fp8_e4m3::encode(464.0f) == 0x7e && fp8_e4m3::encode(465.0f) == 0x7f);  // tie to even; NaN
static_assert(!fp8_e4m3::overflows(464.0f) && fp8_e4m3::overflows(465.0f) && fp4_e2m1::overflows(7.0f) &&
              !fp4_e2m1::overflows(6.99f) && fp8_e5m2::overflows(61440.0f) && !fp8_e5m2::overflows(61439.0f));
static_assert(fp4_e2m1::encode(5.0f) == 0x6 && fp4_e2m1::encode(0.25f) == 0x0);      // ties to even

}  // namespace qtl
