// The C++20 concepts that check each policy kind of qtl::quantizer<Format, Scheme,
// Granularity, Rounding> and its observers; a wrong composition fails here, by name.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

#include "qtl/core/bfloat16.hpp"
#include "qtl/core/half.hpp"
#include "qtl/core/quant_params.hpp"
#include "qtl/core/tensor_stats.hpp"
#include "qtl/core/view.hpp"

namespace qtl {

// Element types a quantizer reads and writes.
template <class T>
concept element = std::same_as<std::remove_cv_t<T>, float> || std::same_as<std::remove_cv_t<T>, double> ||
                  std::same_as<std::remove_cv_t<T>, half> || std::same_as<std::remove_cv_t<T>, bfloat16>;

// A viewable (matrix_view, span, vector, ...) of real values, and one of integer codes.
template <class X>
concept element_tensor = viewable<X> && element<view_value_t<X>>;
template <class X>
concept code_tensor = viewable<X> && std::is_integral_v<view_value_t<X>>;

// Number of bits of one code: 1..8.
template <int Bits>
concept code_width = Bits >= 1 && Bits <= 8;

// Format: which integer codes exist (min_code..max_code, stored in `bits` bits) and the
// value each decodes to, in units of the group's scale.
template <class F>
concept format = requires(int code) {
  typename F::code_type;
  requires std::is_integral_v<typename F::code_type> && sizeof(typename F::code_type) == 1;
  { F::bits } -> std::convertible_to<int>;
  { F::min_code } -> std::convertible_to<int>;
  { F::max_code } -> std::convertible_to<int>;
  { F::levels } -> std::convertible_to<int>;
  { F::decode(code) } -> std::same_as<float>;
} && code_width<F::bits> && (F::min_code < F::max_code) && (F::levels == F::max_code - F::min_code + 1) &&
                 (F::levels <= (1 << F::bits));

// Format whose codes include negative values (needed by the symmetric schemes).
template <class F>
concept signed_format = format<F> && (F::min_code < 0);

// A format that finds the nearest code of a value itself (a codebook: NF4, FP4, the
// minifloats, a dynamic map): F::encode(x) picks the level and breaks ties.
template <class F>
concept encodable_format = format<F> && requires(float x) {
  { F::encode(x) } -> std::convertible_to<int>;
};

// Rounding: turns a real value into an integral one. The element's index in its tensor is
// passed so that stochastic rounding is reproducible whatever order threads run in.
template <class R>
concept rounding = std::copy_constructible<R> && requires(const R r, float value, std::uint64_t index) {
  { r(value, index) } -> std::same_as<float>;
};

namespace detail {
struct rounding_archetype {
  float operator()(float value, std::uint64_t) const { return value; }
};
}  // namespace detail

// Scheme for format F: maps a group's statistics to quant_params and a real value onto
// F's codes and back.
template <class S, class F>
concept scheme = format<F> && std::copy_constructible<S> &&
                 requires(const S s, const tensor_stats& stats, const quant_params& p, float x, int code,
                          detail::rounding_archetype round, std::uint64_t index) {
                   { s.template params<F>(stats) } -> std::same_as<quant_params>;
                   { s.template quantize<F>(x, p, round, index) } -> std::same_as<int>;
                   { s.template dequantize<F>(code, p) } -> std::same_as<float>;
                 };

// Extent of the rectangle of elements that share one quant_params.
struct group_shape {
  std::size_t rows = 1;
  std::size_t cols = 1;
  friend constexpr bool operator==(const group_shape&, const group_shape&) = default;
};

// Granularity: tiles a rows x cols matrix into groups; throws qtl::error when its
// groups do not tile the matrix.
template <class G>
concept granularity = std::copy_constructible<G> && requires(const G g, std::size_t rows, std::size_t cols) {
  { g.group(rows, cols) } -> std::same_as<group_shape>;
};

// Observer: watches batches of data and reports statistics per group.
template <class O>
concept observer = requires(O o, const O co, matrix_view<const float> batch) {
  o.observe(batch);
  { co.stats() } -> std::convertible_to<std::span<const tensor_stats>>;
};

}  // namespace qtl
