// qtl::optim::state_tensor: where one optimizer state lives, as float32 values or, for the
// 8-bit optimizers, as blockwise codes of bitsandbytes' dynamic map with one float32 absmax
// per block (bnb's state1/absmax1 layout). A step decodes one block into floats, updates
// it and encodes it again (optim/optimizer.hpp); the codes are those of
// bnb::quantize_blockwise, found through a table of its 65536-point grid instead of a
// search per element.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "qtl/core/simd.hpp"
#include "qtl/format/dynamic_map.hpp"
#include "qtl/optim/update_rule.hpp"

namespace qtl::optim {

enum class state_bits { eight = 8, thirty_two = 32 };

struct state_tensor {
  bool quantized = false;
  bool signed_map = true;        // which dynamic map the codes index (8-bit only)
  std::int64_t blocksize = 256;  // elements per absmax (8-bit only)
  std::vector<float> values;     // 32-bit: one per element
  std::vector<std::uint8_t> codes;  // 8-bit: one per element
  std::vector<float> absmax;        // 8-bit: one per block

  [[nodiscard]] std::size_t size() const noexcept { return quantized ? codes.size() : values.size(); }
  [[nodiscard]] std::size_t bytes() const noexcept {
    return values.size() * sizeof(float) + codes.size() + absmax.size() * sizeof(float);
  }

  // A zero state of n elements: 32-bit zeros, or code 0 with absmax 0 in every block (what
  // bitsandbytes allocates; it decodes to zeros).
  static state_tensor zeros(std::size_t n, state_bits bits, bool signed_map, std::int64_t blocksize) {
    state_tensor s;
    s.quantized = bits == state_bits::eight;
    s.signed_map = signed_map;
    s.blocksize = blocksize;
    if (s.quantized) {
      s.codes.assign(n, 0);
      s.absmax.assign((n + static_cast<std::size_t>(blocksize) - 1) / static_cast<std::size_t>(blocksize), 0.0f);
    } else {
      s.values.assign(n, 0.0f);
    }
    return s;
  }
};

namespace detail {

// bnb's CPU encoder snaps v = x / absmax to a grid of 65536 points and takes the nearest
// code of the grid point (format/dynamic_map.hpp): the code of every grid point, once.
template <bool Signed>
const std::array<std::uint8_t, 65536>& grid_codes() {
  static const auto table = [] {
    std::array<std::uint8_t, 65536> t{};
    int code = 0;  // grid points rise, so their codes do
    for (int i = 0; i < 65536; ++i) {
      const float g = -1.0f + (2.0f * static_cast<float>(i)) / 65535.0f;
      while (code < 255 && dynamic_map<Signed>::midpoint(code) < g) ++code;
      t[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(code);
    }
    return t;
  }();
  return table;
}

// The grid index of v (already x / absmax): clamp to [-1, 1], NaN as -1 (code 0, as bnb).
inline std::int32_t grid_index(float v) noexcept {
  v = v != v ? -1.0f : (v < -1.0f ? -1.0f : (v > 1.0f ? 1.0f : v));
  return static_cast<std::int32_t>(std::fma((v + 1.0f) * 0.5f, 65535.0f, 0.5f));
}

// The map's 256 values, once (dynamic_map::decode builds its table on the stack per call
// where it is not evaluated at compile time).
template <bool Signed>
const std::array<float, 256>& map_values() {
  static const std::array<float, 256> values = dynamic_map<Signed>::values();
  return values;
}

// x[0, n) decoded: code value times the block's absmax.
inline void decode_block(const state_tensor& s, std::size_t begin, std::size_t n, float* out) noexcept {
  const float amax = s.absmax[begin / static_cast<std::size_t>(s.blocksize)];
  const std::uint8_t* codes = s.codes.data() + begin;
  const auto& values = s.signed_map ? map_values<true>() : map_values<false>();
  for (std::size_t i = 0; i < n; ++i) out[i] = values[codes[i]] * amax;  // (xsimd's gather is slower here)
}

// Encodes x[0, n) as the block at `begin`, as bnb::quantize_blockwise does one block: the
// largest finite magnitude is the absmax, an all-zero block is all code 0.
template <class Arch>
void encode_block(const float* x, std::size_t n, state_tensor& s, std::size_t begin) noexcept {
  float amax = 0.0f;
  std::size_t i = 0;
#if QTL_HAS_SIMD
  if constexpr (arith::fused_arch<Arch>) {
    using batch = simd::floats<Arch>;
    batch m(0.0f);
    for (; i + batch::size <= n; i += batch::size) {
      const batch a = xsimd::abs(batch::load_unaligned(x + i));
      m = xsimd::select(a > m && a <= batch(3.40282347e38f), a, m);  // NaN and Inf stay out
    }
    alignas(64) float lanes[batch::size];
    m.store_aligned(lanes);
    for (const float a : lanes) amax = a > amax ? a : amax;
  }
#endif
  for (; i < n; ++i) {
    const float a = std::fabs(x[i]);
    if (a <= 3.40282347e38f && a > amax) amax = a;
  }
  s.absmax[begin / static_cast<std::size_t>(s.blocksize)] = amax;
  std::uint8_t* codes = s.codes.data() + begin;
  if (amax == 0.0f) {
    for (std::size_t j = 0; j < n; ++j) codes[j] = 0;
    return;
  }
  const auto& table = s.signed_map ? grid_codes<true>() : grid_codes<false>();
  const float inverse = 1.0f / amax;
  i = 0;
#if QTL_HAS_SIMD
  if constexpr (arith::fused_arch<Arch>) {
    using batch = simd::floats<Arch>;
    using ints = simd::ints<Arch>;
    constexpr std::size_t width = batch::size;
    alignas(64) std::int32_t index[width];
    for (; i + width <= n; i += width) {
      batch v = batch::load_unaligned(x + i) * batch(inverse);
      v = xsimd::select(v != v, batch(-1.0f), xsimd::clip(v, batch(-1.0f), batch(1.0f)));
      const ints k = xsimd::batch_cast<std::int32_t>(xsimd::fma((v + batch(1.0f)) * batch(0.5f), batch(65535.0f), batch(0.5f)));
      k.store_aligned(index);
      for (std::size_t j = 0; j < width; ++j) codes[i + j] = table[static_cast<std::size_t>(index[j])];
    }
  }
#endif
  for (; i < n; ++i) codes[i] = table[static_cast<std::size_t>(grid_index(x[i] * inverse))];
}

}  // namespace detail

}  // namespace qtl::optim
