// bitsandbytes' blockwise layouts, bit-exact with bitsandbytes 0.50.2 on the CPU (x86-64):
// 4-bit NF4/FP4 with one float32 absmax per block, optionally "double quantized"
// (compress_statistics: the absmax values as 8-bit codes), and 8-bit blockwise codes of
// the dynamic map. The layout step after the formats nf4, bnb_fp4 and dynamic_map.
//
// Blocks are runs of `blocksize` consecutive elements of the flattened tensor; the last
// one may be partial. 4-bit codes are packed two per byte, the first element of a pair in
// the high nibble. Non-finite input: nonfinite_policy::error (the default) throws
// errc::non_finite naming the first NaN/Inf element before anything is written;
// nonfinite_policy::propagate leaves them out of the absmax, and then NaN quantizes like 0
// and +-Inf like +-absmax (bitsandbytes itself has no such rule: docs/formats.md).
#pragma once

#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ranges>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "qtl/core/bfloat16.hpp"
#include "qtl/core/config.hpp"
#include "qtl/core/error.hpp"
#include "qtl/core/half.hpp"
#include "qtl/core/nonfinite_policy.hpp"
#include "qtl/format/bnb_fp4.hpp"
#include "qtl/format/dynamic_map.hpp"
#include "qtl/format/nf4.hpp"
#include "qtl/layout/torch_sum.hpp"

namespace qtl::bnb {

enum class quant_type : std::uint8_t { nf4, fp4 };  // bnb's quant_type "nf4" / "fp4"
enum class dynamic_map_kind : std::uint8_t { signed_map, unsigned_map };  // create_dynamic_map(signed=...)
enum class source_dtype : std::uint8_t { float32, float16, bfloat16 };   // QuantState.dtype

// Element types the quantizers read and the dequantizers write.
template <class T>
concept element = std::same_as<T, float> || std::same_as<T, half> || std::same_as<T, bfloat16>;

// compress_statistics quantizes the absmax values in blocks of 256.
inline constexpr std::int64_t nested_blocksize = 256;

// Blocks of blocksize (> 0) covering n elements, the last one possibly partial.
constexpr std::size_t block_count(std::size_t n, std::int64_t blocksize) noexcept {
  const auto b = static_cast<std::size_t>(blocksize);
  return (n + b - 1) / b;
}
// Bytes of n packed 4-bit codes (an odd n leaves a pad nibble: the code of 0).
constexpr std::size_t packed_4bit_size(std::size_t n) noexcept { return (n + 1) / 2; }

// The absmax values of a double-quantized tensor (compress_statistics=True). The names
// transformers gives them in a safetensors file are in quotes.
struct nested_absmax {
  std::vector<std::uint8_t> codes;  // absmax - offset as dynamic_map_signed codes ("absmax", uint8)
  std::vector<float> absmax;        // one per `blocksize` codes ("nested_absmax")
  float offset = 0.0f;              // mean of the absmax values ("nested_offset")
  std::int64_t blocksize = nested_blocksize;  // ("nested_blocksize"; map: "nested_quant_map")
};

// Everything dequantize_4bit needs besides the packed codes: bnb's QuantState.
struct quant_state {
  quant_type type = quant_type::nf4;
  std::int64_t blocksize = 64;
  std::vector<std::size_t> shape;       // the original tensor's shape
  source_dtype dtype = source_dtype::float32;
  std::vector<float> absmax;            // one per block, when not nested
  std::optional<nested_absmax> nested;  // instead of absmax, when compress_statistics

  std::size_t size() const noexcept {
    std::size_t n = 1;
    for (const std::size_t d : shape) n *= d;
    return n;
  }
  std::size_t blocks() const noexcept { return block_count(size(), blocksize); }
};

struct quantize_4bit_options {
  quant_type type = quant_type::nf4;
  std::int64_t blocksize = 64;  // bnb: 32, 64, ..., 4096; qtl: any positive size
  bool compress_statistics = false;
  std::vector<std::size_t> shape;  // empty: one dimension of x.size()
  nonfinite_policy nonfinite = nonfinite_policy::error;
  int torch_threads = 1;  // torch.get_num_threads() of the run to match: the absmax mean
                          // depends on it from 32768 blocks on (layout/torch_sum.hpp)
};

namespace detail {

template <class T>
constexpr source_dtype dtype_of() noexcept {
  if constexpr (std::is_same_v<T, half>) return source_dtype::float16;
  else if constexpr (std::is_same_v<T, bfloat16>) return source_dtype::bfloat16;
  else return source_dtype::float32;
}

template <class R>
using range_element = std::remove_cv_t<std::ranges::range_value_t<R>>;

inline void check_blocksize(std::int64_t blocksize, const char* what) {
  if (blocksize <= 0)
    throw error(errc::invalid_argument, std::string(what) + ": block size " + std::to_string(blocksize) +
                                            " is not positive");
}

template <class T>
void check_finite(std::span<const T> x, nonfinite_policy policy) {
  if (policy != nonfinite_policy::error) return;
  for (std::size_t i = 0; i < x.size(); ++i) qtl::detail::check_finite(static_cast<float>(x[i]), policy, 0, i, x.size());
}

// The largest finite magnitude of x[begin, end) (0 for none); NaN/Inf are already refused
// or, under propagate, left out.
template <class T>
float block_absmax(std::span<const T> x, std::size_t begin, std::size_t end) noexcept {
  float amax = 0.0f;
  for (std::size_t i = begin; i < end; ++i) {
    const float a = std::fabs(static_cast<float>(x[i]));
    if (a <= 3.40282347e38f && a > amax) amax = a;
  }
  return amax;
}

QTL_STRICT_FP_BEGIN

// x / absmax as bnb computes it before the code lookup: x * (1 / max(absmax, 1e-38)) in a
// full block, x / max(absmax, 1e-38) in the partial last one (bnb's quantize_4bit takes the
// two branches), clamped to [-1, 1]. Under propagate NaN counts as 0 and +-Inf as +-absmax.
inline float scale_4bit(float x, float reciprocal, float divisor, bool full) noexcept {
  if (x != x) x = 0.0f;
  if (x - x != 0.0f) return x > 0 ? 1.0f : -1.0f;
  const float v = full ? x * reciprocal : x / divisor;
  return v < -1.0f ? -1.0f : (v > 1.0f ? 1.0f : v);
}

template <class Format, class T>
void quantize_4bit_codes(std::span<const T> x, std::int64_t blocksize, std::span<std::uint8_t> packed,
                         std::span<float> absmax) {
  const auto bs = static_cast<std::size_t>(blocksize);
  const std::size_t n = x.size();
  const std::size_t full_end = n - n % bs;  // bnb: A_flat[:n - n % blocksize] are full blocks
  constexpr float smallest = 1e-38f;        // bnb's absmax.clamp(min=1e-38), against 1 / 0
  std::uint8_t high = 0;
  for (std::size_t b = 0; b < block_count(n, blocksize); ++b) {
    const std::size_t begin = b * bs, end = begin + bs < n ? begin + bs : n;
    const bool full = end <= full_end;
    const float amax = block_absmax(x, begin, end);
    const float divisor = amax > smallest ? amax : smallest;
    absmax[b] = full ? amax : divisor;  // the partial block stores the clamped value
    const float reciprocal = 1.0f / divisor;
    for (std::size_t i = begin; i < end; ++i) {
      const std::uint8_t code = Format::encode(scale_4bit(static_cast<float>(x[i]), reciprocal, divisor, full));
      if (i % 2 == 0) high = code;
      else packed[i / 2] = static_cast<std::uint8_t>(high << 4 | code);
    }
  }
  if (n % 2 != 0) packed[n / 2] = static_cast<std::uint8_t>(high << 4 | Format::encode(0.0f));  // bnb pads with 0
}

template <class Format, class T>
void dequantize_4bit_codes(std::span<const std::uint8_t> packed, std::span<const float> absmax, std::int64_t blocksize,
                           std::span<T> out) noexcept {
  const auto bs = static_cast<std::size_t>(blocksize);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::uint8_t byte = packed[i / 2];
    const int code = i % 2 == 0 ? byte >> 4 : byte & 0x0F;
    out[i] = static_cast<T>(Format::decode(code) * absmax[i / bs]);
  }
}

template <class Map, class T>
void quantize_8bit_codes(std::span<const T> x, std::int64_t blocksize, std::span<std::uint8_t> codes,
                         std::span<float> absmax) {
  const auto bs = static_cast<std::size_t>(blocksize);
  const std::size_t n = x.size();
  for (std::size_t b = 0; b < block_count(n, blocksize); ++b) {
    const std::size_t begin = b * bs, end = begin + bs < n ? begin + bs : n;
    const float amax = block_absmax(x, begin, end);
    absmax[b] = amax;
    if (amax == 0.0f) {  // bnb writes code 0 (not the code of 0) in an all-zero block
      for (std::size_t i = begin; i < end; ++i) codes[i] = 0;
      continue;
    }
    const float inverse = 1.0f / amax;
    for (std::size_t i = begin; i < end; ++i) {
      float v = static_cast<float>(x[i]);
      if (v != v) v = 0.0f;                                      // propagate: NaN as 0
      else if (v - v != 0.0f) v = v > 0 ? amax : -amax;          // propagate: +-Inf saturates
      codes[i] = Map::encode(v * inverse);
    }
  }
}

template <class Map, class T>
void dequantize_8bit_codes(std::span<const std::uint8_t> codes, std::span<const float> absmax, std::int64_t blocksize,
                           std::span<T> out) noexcept {
  const auto bs = static_cast<std::size_t>(blocksize);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<T>(Map::decode(codes[i]) * absmax[i / bs]);
}

// offset + code value * block absmax: two roundings, as bnb (dequantize, then += offset).
inline void restore_absmax(const nested_absmax& nested, std::span<float> out) noexcept {
  const auto bs = static_cast<std::size_t>(nested.blocksize);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const float scaled = dynamic_map_signed::decode(nested.codes[i]) * nested.absmax[i / bs];
    out[i] = scaled + nested.offset;
  }
}

QTL_STRICT_FP_END

}  // namespace detail

// ---- 4-bit (bnb quantize_4bit / dequantize_4bit)

// Quantizes x (the flattened tensor) into packed (packed_4bit_size(n) bytes) and absmax
// (block_count(n, blocksize) floats). Sizes, block size and NaN/Inf are checked first.
template <element T>
void quantize_4bit(std::span<const T> x, quant_type type, std::int64_t blocksize, std::span<std::uint8_t> packed,
                   std::span<float> absmax, nonfinite_policy nonfinite = nonfinite_policy::error) {
  detail::check_blocksize(blocksize, "bnb::quantize_4bit");
  check_room(packed.size(), packed_4bit_size(x.size()), "bnb::quantize_4bit", "packed", "bytes");
  check_room(absmax.size(), block_count(x.size(), blocksize), "bnb::quantize_4bit", "absmax", "values");
  detail::check_finite(x, nonfinite);
  if (type == quant_type::nf4) detail::quantize_4bit_codes<nf4>(x, blocksize, packed, absmax);
  else detail::quantize_4bit_codes<bnb_fp4>(x, blocksize, packed, absmax);
}

// out[i] = level(code i) * absmax[i / blocksize], in float32, then converted to T.
template <element T>
void dequantize_4bit(std::span<const std::uint8_t> packed, std::span<const float> absmax, quant_type type,
                     std::int64_t blocksize, std::span<T> out) {
  detail::check_blocksize(blocksize, "bnb::dequantize_4bit");
  check_room(packed.size(), packed_4bit_size(out.size()), "bnb::dequantize_4bit", "packed", "bytes");
  check_room(absmax.size(), block_count(out.size(), blocksize), "bnb::dequantize_4bit", "absmax", "values");
  if (type == quant_type::nf4) detail::dequantize_4bit_codes<nf4>(packed, absmax, blocksize, out);
  else detail::dequantize_4bit_codes<bnb_fp4>(packed, absmax, blocksize, out);
}

// ---- 8-bit blockwise (bnb quantize_blockwise / dequantize_blockwise, CPU kernels)

// One code per element into codes (n bytes) and one absmax per block. bnb's default map
// is the signed one; its 8-bit optimizers use the unsigned one for Adam's second moment.
template <element T>
void quantize_blockwise(std::span<const T> x, std::int64_t blocksize, std::span<std::uint8_t> codes,
                        std::span<float> absmax, dynamic_map_kind map = dynamic_map_kind::signed_map,
                        nonfinite_policy nonfinite = nonfinite_policy::error) {
  detail::check_blocksize(blocksize, "bnb::quantize_blockwise");
  check_room(codes.size(), x.size(), "bnb::quantize_blockwise", "codes", "values");
  check_room(absmax.size(), block_count(x.size(), blocksize), "bnb::quantize_blockwise", "absmax", "values");
  detail::check_finite(x, nonfinite);
  if (map == dynamic_map_kind::signed_map) detail::quantize_8bit_codes<dynamic_map_signed>(x, blocksize, codes, absmax);
  else detail::quantize_8bit_codes<dynamic_map_unsigned>(x, blocksize, codes, absmax);
}

template <element T>
void dequantize_blockwise(std::span<const std::uint8_t> codes, std::span<const float> absmax, std::int64_t blocksize,
                          std::span<T> out, dynamic_map_kind map = dynamic_map_kind::signed_map) {
  detail::check_blocksize(blocksize, "bnb::dequantize_blockwise");
  check_room(codes.size(), out.size(), "bnb::dequantize_blockwise", "codes", "values");
  check_room(absmax.size(), block_count(out.size(), blocksize), "bnb::dequantize_blockwise", "absmax", "values");
  if (map == dynamic_map_kind::signed_map) detail::dequantize_8bit_codes<dynamic_map_signed>(codes, absmax, blocksize, out);
  else detail::dequantize_8bit_codes<dynamic_map_unsigned>(codes, absmax, blocksize, out);
}

// ---- Double quantization of the absmax values

// bnb's compress_statistics: offset = absmax.mean() (torch's float32 sum / count), then
// absmax - offset quantized blockwise with the signed dynamic map. bnb uses blocks of 256
// for 4-bit tensors and the tensor's own block size for quantize_blockwise(nested=True).
inline nested_absmax compress_statistics(std::span<const float> absmax, std::int64_t blocksize = nested_blocksize,
                                         int torch_threads = 1) {
  detail::check_blocksize(blocksize, "bnb::compress_statistics");
  detail::check_finite(absmax, nonfinite_policy::error);
  nested_absmax nested;
  nested.blocksize = blocksize;
  if (absmax.empty()) return nested;
  const float sum = torch_float32_sum(absmax.size(), [&](std::size_t i) { return absmax[i]; }, torch_threads);
  nested.offset = sum / static_cast<float>(absmax.size());
  std::vector<float> centered(absmax.size());
  for (std::size_t i = 0; i < absmax.size(); ++i) centered[i] = absmax[i] - nested.offset;
  nested.codes.resize(absmax.size());
  nested.absmax.resize(block_count(absmax.size(), blocksize));
  detail::quantize_8bit_codes<dynamic_map_signed>(std::span<const float>(centered), blocksize, nested.codes,
                                                  nested.absmax);
  return nested;
}

// The absmax values back (out: one per nested code): code value * block absmax + offset.
inline void decompress_statistics(const nested_absmax& nested, std::span<float> out) {
  detail::check_blocksize(nested.blocksize, "bnb::decompress_statistics");
  check_room(nested.codes.size(), out.size(), "bnb::decompress_statistics", "codes", "values");
  check_room(nested.absmax.size(), block_count(out.size(), nested.blocksize), "bnb::decompress_statistics", "nested absmax", "values");
  detail::restore_absmax(nested, out);
}

// ---- Whole tensors with their quant state (bnb.functional.quantize_4bit / dequantize_4bit)

// Quantizes x (any contiguous range of float, half or bfloat16) into packed and returns
// the state that dequantize_4bit needs, nested when options.compress_statistics.
template <std::ranges::contiguous_range R>
  requires std::ranges::sized_range<R> && element<detail::range_element<R>>
quant_state quantize_4bit(const R& x, std::span<std::uint8_t> packed, const quantize_4bit_options& options = {}) {
  using T = detail::range_element<R>;
  const std::span<const T> xs(std::ranges::data(x), std::ranges::size(x));
  quant_state state;
  state.type = options.type;
  state.blocksize = options.blocksize;
  state.dtype = detail::dtype_of<T>();
  state.shape = options.shape.empty() ? std::vector<std::size_t>{xs.size()} : options.shape;
  if (state.size() != xs.size())
    throw error(errc::shape_mismatch, "bnb::quantize_4bit: shape holds " + std::to_string(state.size()) +
                                          " elements, the input " + std::to_string(xs.size()));
  detail::check_blocksize(options.blocksize, "bnb::quantize_4bit");
  state.absmax.resize(block_count(xs.size(), options.blocksize));
  quantize_4bit(xs, options.type, options.blocksize, packed, std::span<float>(state.absmax), options.nonfinite);
  if (options.compress_statistics) {
    state.nested = compress_statistics(state.absmax, nested_blocksize, options.torch_threads);
    state.absmax.clear();
  }
  return state;
}

// out (any contiguous range of float, half or bfloat16 of state.size() elements).
template <std::ranges::contiguous_range R>
  requires std::ranges::sized_range<R> && element<detail::range_element<R>>
void dequantize_4bit(std::span<const std::uint8_t> packed, const quant_state& state, R&& out) {
  using T = detail::range_element<R>;
  const std::span<T> outs(std::ranges::data(out), std::ranges::size(out));
  if (outs.size() != state.size())
    throw error(errc::shape_mismatch, "bnb::dequantize_4bit: output holds " + std::to_string(outs.size()) +
                                          " elements, the state " + std::to_string(state.size()));
  detail::check_blocksize(state.blocksize, "bnb::dequantize_4bit");
  if (!state.nested) {
    dequantize_4bit(packed, std::span<const float>(state.absmax), state.type, state.blocksize, outs);
    return;
  }
  std::vector<float> absmax(state.blocks());
  decompress_statistics(*state.nested, absmax);
  dequantize_4bit(packed, std::span<const float>(absmax), state.type, state.blocksize, outs);
}

}  // namespace qtl::bnb
