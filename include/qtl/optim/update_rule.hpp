// qtl::optim::update_rule: what an optimizer is to qtl, the per-element arithmetic of one
// step (Adam, Lion, ...) apart from where its state lives (optim/state.hpp) and how the
// tensor is walked (optim/optimizer.hpp). A rule holds its hyperparameters, turns them into
// the float constants of step t, and updates one parameter from its gradient and states.
//
// The update is one function template over the number type: float for the scalar path and
// an xsimd batch for the SIMD path, so both compute the same bits. Every operation rounds
// where bitsandbytes' CPU optimizer (torch ops on float32) rounds: fma() where torch fuses
// (add(alpha=), addcmul), product() where it must not (g++ contracts a * b + c under -mfma).
#pragma once

#include <array>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "qtl/core/error.hpp"
#include "qtl/core/simd.hpp"

namespace qtl::optim {

// The constants of one step and the update of one element.
template <class R>
concept update_rule = requires(R r, const R cr, std::int64_t step, float p, float g, std::array<float, R::states> s) {
  { R::name } -> std::convertible_to<std::string_view>;
  { R::states } -> std::convertible_to<int>;
  { R::signed_state } -> std::convertible_to<std::array<bool, R::states>>;  // the 8-bit map of each state
  { r.lr } -> std::same_as<double&>;
  { cr.validate() };                                                        // throws qtl::error when out of range
  { cr.constants(step) } -> std::same_as<typename R::step_constants>;
  { R::update(cr.constants(step), p, g, s) };
  r.for_each_hyperparameter([](std::string_view, auto&) {});
};

namespace arith {

// a * b + c rounded once, as torch's CPU kernels compute add(alpha=) and addcmul.
inline float fma(float a, float b, float c) noexcept { return std::fma(a, b, c); }
inline float sqrt(float v) noexcept { return std::sqrt(v); }
inline float divide(float a, float b) noexcept { return a / b; }

// a * b rounded on its own: never fused into the add that follows.
inline float product(float a, float b) noexcept { return qtl::detail::rounded_product(a, b); }

// A divisor that stays fixed over a step (Adam's bias correction) with its reciprocal: SIMD
// lanes divide by it without the divider (divide() below), with the same bits.
struct step_divisor {
  float value = 1.0f;
  float reciprocal = 1.0f;
  step_divisor() = default;
  explicit step_divisor(float d) noexcept : value(d), reciprocal(1.0f / d) {}
};
inline float divide(float a, step_divisor d) noexcept { return a / d.value; }

// torch.sign: -1, 0 or 1 (0 for both zeros).
inline float sign(float v) noexcept { return v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : 0.0f); }

#if QTL_HAS_SIMD
// The archs whose xsimd::fma rounds once (elsewhere xsimd computes a * b + c in two
// roundings, which would not give the scalar path's bits): the SIMD path runs only there.
template <class A>
concept fused_arch = std::is_base_of_v<xsimd::fma3<xsimd::sse4_2>, A> || std::is_base_of_v<xsimd::fma3<xsimd::avx>, A> ||
                     std::is_base_of_v<xsimd::fma3<xsimd::avx2>, A> || std::is_base_of_v<xsimd::avx512f, A>
#if defined(__aarch64__)
                     || std::is_base_of_v<xsimd::neon64, A>
#endif
    ;

template <class A>
simd::floats<A> fma(simd::floats<A> a, simd::floats<A> b, simd::floats<A> c) noexcept {
  return xsimd::fma(a, b, c);
}
// Correctly rounded, as std::sqrt and a / b: xsimd's float sqrt and division on AArch64 are
// reciprocal-estimate approximations, so NEON takes the instructions themselves.
template <class A>
simd::floats<A> sqrt(simd::floats<A> v) noexcept {
#if defined(__aarch64__)
  if constexpr (std::is_base_of_v<xsimd::neon64, A>) return simd::floats<A>(vsqrtq_f32(v));
#endif
  return xsimd::sqrt(v);
}
template <class A>
simd::floats<A> divide(simd::floats<A> a, simd::floats<A> b) noexcept {
#if defined(__aarch64__)
  if constexpr (std::is_base_of_v<xsimd::neon64, A>) return simd::floats<A>(vdivq_f32(a, b));
#endif
  return a / b;
}
// a / d correctly rounded, as a / d.value: q = a * (1/d), then two corrections
// q += (a - d·q) / d by fused multiply-add (the residual is exact). The first makes q
// faithful, the second correctly rounded (Markstein's theorem), for normal d and quotients
// above 2^-100; zero, Inf and NaN quotients keep a * (1/d), which is exact for them.
// Measured: 3.5e9 quotients (every mantissa over 417 divisors) equal a / d already after
// the first correction.
template <class A>
simd::floats<A> divide(simd::floats<A> a, step_divisor d) noexcept {
  using batch = simd::floats<A>;
  const batch divisor(-d.value), reciprocal(d.reciprocal), q = a * reciprocal;
  batch corrected = xsimd::fma(xsimd::fma(divisor, q, a), reciprocal, q);
  corrected = xsimd::fma(xsimd::fma(divisor, corrected, a), reciprocal, corrected);
  return xsimd::select(q - q == batch(0.0f) && q != batch(0.0f), corrected, q);
}
template <class A>
simd::floats<A> product(simd::floats<A> a, simd::floats<A> b) noexcept {
  return simd::rounded_product(a, b);
}
template <class A>
simd::floats<A> sign(simd::floats<A> v) noexcept {
  const simd::floats<A> zero(0.0f);
  return xsimd::select(v > zero, simd::floats<A>(1.0f), xsimd::select(v < zero, simd::floats<A>(-1.0f), zero));
}
#endif

}  // namespace arith

namespace detail {

// The check every rule's validate() shares: `what` (its value) must be `domain`.
inline void require(bool ok, std::string_view rule, std::string_view what, double value, std::string_view domain) {
  if (!ok)
    throw error(errc::invalid_argument, std::string(rule) + ": " + std::string(what) + " " + std::to_string(value) +
                                            " is not " + std::string(domain));
}
inline void require_nonnegative(std::string_view rule, std::string_view what, double value) {
  require(value >= 0 && value - value == 0, rule, what, value, "finite and >= 0");
}
inline void require_positive(std::string_view rule, std::string_view what, double value) {
  require(value > 0 && value - value == 0, rule, what, value, "finite and > 0");
}

}  // namespace detail

}  // namespace qtl::optim
