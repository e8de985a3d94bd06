// OCP Microscaling (MX v1.0): blocks of 32 elements that share one E8M0 power-of-two
// scale. MXFP8 (E4M3, E5M2), MXFP6 (E2M3, E3M2), MXFP4 (E2M1) and MXINT8.
//
// Composition: element format (format/minifloat.hpp or mx::int8_element) + the mx_scale
// scheme + per_group<32> + round-to-nearest-even. The layout stores the element codes
// packed little end first (FP4: element 2i in the low nibble of byte i; FP6: four
// elements in three bytes) and the scales as one E8M0 byte per block, in a separate array.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "qtl/core/bit_cast.hpp"
#include "qtl/core/concepts.hpp"
#include "qtl/core/config.hpp"
#include "qtl/core/error.hpp"
#include "qtl/core/nonfinite_policy.hpp"
#include "qtl/core/quant_params.hpp"
#include "qtl/core/tensor_stats.hpp"
#include "qtl/format/e8m0.hpp"
#include "qtl/format/minifloat.hpp"
#include "qtl/pack/bit_pack.hpp"

namespace qtl {

namespace mx {

// MXINT8's element: two's complement int8 with an implicit scale of 2^-6 (range -2 ..
// 1.984375). Conversion saturates symmetrically to +-127, as the OCP reference does.
struct int8_element {
  using code_type = std::int8_t;
  static constexpr int bits = 8;
  static constexpr bool is_signed = true;
  static constexpr int min_code = -128;
  static constexpr int max_code = 127;
  static constexpr int levels = 256;
  static constexpr int emax = 0;

  QTL_HOST_DEVICE static constexpr float decode(int code) noexcept { return static_cast<float>(code) * 0x1p-6f; }
  QTL_HOST_DEVICE static constexpr float max_value() noexcept { return decode(max_code); }
};

// The largest power-of-two exponent of an element format's finite values (OCP: emax_elem).
template <class Element>
QTL_HOST_DEVICE constexpr int element_emax() noexcept {
  if constexpr (requires { Element::emax; }) return Element::emax;
  else return static_cast<int>(Element::top_field) - Element::bias;
}

// The element's byte for value v (already divided by the shared scale): round to
// nearest even, saturate to the largest finite element.
template <class Element>
QTL_HOST_DEVICE constexpr std::uint8_t encode_element(float v) noexcept {
  if constexpr (requires { Element::emax; }) {
    float r = v * 64.0f;
    r = r > 127.0f ? 127.0f : (r < -127.0f ? -127.0f : r);
    if (r != r) r = 0.0f;  // NaN (its block's scale is NaN anyway)
    const float even = static_cast<float>(static_cast<int>(r));  // |r| <= 127: exact truncation
    const float frac = r - even;
    int q = static_cast<int>(even);
    if (frac > 0.5f || (frac == 0.5f && (q & 1))) ++q;
    if (frac < -0.5f || (frac == -0.5f && (q & 1))) --q;
    return static_cast<std::uint8_t>(static_cast<std::int8_t>(q));
  } else {
    return Element::encode(v, minifloat_overflow::saturate);
  }
}

template <class Element>
QTL_HOST_DEVICE constexpr float decode_element(std::uint8_t bits) noexcept {
  if constexpr (requires { Element::emax; }) return Element::decode(static_cast<std::int8_t>(bits));
  else return Element::decode(bits);
}

// Exact floor(log2(a)) of a positive finite float, from its bits.
QTL_HOST_DEVICE constexpr int floor_log2(float a) noexcept {
  const auto b = qtl::bit_cast<std::uint32_t>(a);
  const int field = static_cast<int>(b >> 23);
  if (field != 0) return field - 127;
  int e = -127;  // subnormal: the position of the top set bit of the mantissa
  for (std::uint32_t m = b & 0x7fffffu; m < 0x400000u; m <<= 1) --e;
  return e;
}

// The shared scale of a block whose largest magnitude is amax (OCP MX v1.0, 6.3):
// X = 2^(floor(log2(amax)) - emax_elem), clamped to E8M0's range; an all-zero block gets
// the smallest scale, 2^-127.
template <class Element>
QTL_HOST_DEVICE constexpr std::uint8_t shared_scale(float amax) noexcept {
  if (!(amax > 0.0f)) return amax == 0.0f ? std::uint8_t{0} : e8m0::nan_code;
  if (amax > 3.4028235e38f) return e8m0::nan_code;  // Inf
  int e = floor_log2(amax) - element_emax<Element>();
  e = e < -127 ? -127 : (e > 127 ? 127 : e);
  return e8m0::from_exponent(e);
}

// An MX format: its element type and block size (32 in every format of v1.0).
template <class Element>
struct format_of {
  using element = Element;
  static constexpr std::size_t block_size = 32;
  static constexpr int element_bits = Element::bits;
  static constexpr std::size_t block_bytes = block_size * element_bits / 8;  // packed elements
};

using mxfp8_e4m3 = format_of<fp8_e4m3>;
using mxfp8_e5m2 = format_of<fp8_e5m2>;
using mxfp6_e2m3 = format_of<fp6_e2m3>;
using mxfp6_e3m2 = format_of<fp6_e3m2>;
using mxfp4 = format_of<fp4_e2m1>;
using mxint8 = format_of<int8_element>;

template <class T>
concept mx_format = requires {
  typename T::element;
  requires T::block_size == 32;
  requires format<typename T::element>;
};

template <mx_format T>
constexpr std::size_t element_bytes(std::size_t n) noexcept {
  return packed_size(n, T::element_bits);
}
template <mx_format T>
constexpr std::size_t scale_count(std::size_t n) noexcept {
  return n / T::block_size;
}

namespace detail {

template <mx_format T>
void check_sizes(std::size_t n, std::size_t element_buffer, std::size_t scale_buffer, const char* what) {
  if (n % T::block_size != 0)
    throw error(errc::group_size, std::string(what) + ": " + std::to_string(n) +
                                      " values is not a whole number of MX blocks of 32");
  check_room(element_buffer, element_bytes<T>(n), what, "element buffer");
  check_room(scale_buffer, scale_count<T>(n), what, "scale buffer", "scales");
}

}  // namespace detail

// Quantizes x (a whole number of blocks of 32) into packed elements and E8M0 scales.
// NaN/Inf: refused under nonfinite_policy::error (the default), before anything is
// written; under propagate a block holding one gets the NaN scale (0xFF), as the spec says.
template <mx_format T>
void quantize(std::span<const float> x, std::span<std::uint8_t> elements, std::span<std::uint8_t> scales,
              nonfinite_policy policy = nonfinite_policy::error) {
  using E = typename T::element;
  detail::check_sizes<T>(x.size(), elements.size(), scales.size(), "mx::quantize");
  if (policy == nonfinite_policy::error)
    for (std::size_t i = 0; i < x.size(); ++i) qtl::detail::check_finite(x[i], policy, 0, i, x.size());
  std::array<std::uint8_t, T::block_size> codes{};
  for (std::size_t b = 0; b < scale_count<T>(x.size()); ++b) {
    const auto block = x.subspan(b * T::block_size, T::block_size);
    float amax = 0.0f;
    bool finite = true;
    for (const float v : block) {
      finite = finite && std::isfinite(v);
      amax = std::fabs(v) > amax ? std::fabs(v) : amax;
    }
    const std::uint8_t scale = finite ? shared_scale<E>(amax) : e8m0::nan_code;
    scales[b] = scale;
    const float inverse = 1.0f / e8m0::decode(scale);  // a power of two: exact
    for (std::size_t i = 0; i < T::block_size; ++i) codes[i] = encode_element<E>(block[i] * inverse);
    if constexpr (E::bits == 8) {
      for (std::size_t i = 0; i < T::block_size; ++i) elements[b * T::block_size + i] = codes[i];
    } else {
      pack_sequential<E::bits>(codes, elements.subspan(b * T::block_bytes, T::block_bytes));
    }
  }
}

// Every element code's value: dequantization is a table lookup and one multiply.
template <class Element>
inline constexpr auto element_values = [] {
  std::array<float, std::size_t{1} << Element::bits> values{};
  for (std::size_t code = 0; code < values.size(); ++code)
    values[code] = decode_element<Element>(static_cast<std::uint8_t>(code));
  return values;
}();

// out[i] = element value * shared scale (NaN where the scale is NaN).
template <mx_format T>
void dequantize(std::span<const std::uint8_t> elements, std::span<const std::uint8_t> scales, std::span<float> out) {
  using E = typename T::element;
  detail::check_sizes<T>(out.size(), elements.size(), scales.size(), "mx::dequantize");
  const auto& values = element_values<E>;
  for (std::size_t b = 0; b < scale_count<T>(out.size()); ++b) {
    const float scale = e8m0::decode(scales[b]);
    const std::uint8_t* block = elements.data() + b * T::block_bytes;
    for (std::size_t i = 0; i < T::block_size; ++i) {
      const std::uint8_t bits = E::bits == 8 ? block[i] : read_sequential<E::bits>(block, i);
      out[b * T::block_size + i] = values[bits] * scale;
    }
  }
}

}  // namespace mx

// The MX scale as a Scheme policy, so quantizer<fp4_e2m1, mx_scale, per_group<32>> is
// MXFP4 fake quantization with the foundation's quantizer (codes are element bit patterns).
struct mx_scale {
  template <format F>
  constexpr quant_params params(const tensor_stats& s) const noexcept {
    const float scale = e8m0::decode(mx::shared_scale<F>(s.absmax()));
    return {scale, 1.0f / scale, 0};
  }
  template <format F, class Rounding>
  QTL_HOST_DEVICE int quantize(float x, const quant_params& p, const Rounding&, std::uint64_t) const noexcept {
    const std::uint8_t bits = mx::encode_element<F>(x * p.inv_scale);  // always ties to even
    return F::is_signed ? static_cast<std::int8_t>(bits) : bits;
  }
  template <format F>
  QTL_HOST_DEVICE float dequantize(int code, const quant_params& p) const noexcept {
    return F::decode(code) * p.scale;
  }
};

}  // namespace qtl
