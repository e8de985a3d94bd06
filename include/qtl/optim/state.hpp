// qtl::optim::state_tensor: where one optimizer state lives, as float32 values or, for the
// 8-bit optimizers, as blockwise codes of bitsandbytes' dynamic map with one float32 absmax
// per block (bnb's state1/absmax1 layout). A step decodes one block into floats, updates
// it and encodes it again (optim/optimizer.hpp); the codes are those of
// bnb::quantize_blockwise, found through a table of its 65536-point grid (AVX-512: read by
// gathers) instead of a search over the map per element.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#include "qtl/core/simd.hpp"
#include "qtl/format/dynamic_map.hpp"
#include "qtl/kernel/arch.hpp"
#include "qtl/optim/update_rule.hpp"

#if defined(QTL_KERNEL_AVX512_VNNI)
#include <immintrin.h>
#endif

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

// bnb's CPU encoder snaps v = x / absmax to a grid of 65536 points, g(i) = -1 + 2i / 65535,
// and takes the nearest code of the grid point (format/dynamic_map.hpp). Both rise, so the
// code of grid index i is the number of codes c whose threshold, the first index with
// midpoint(c) < g(i), is <= i: the thresholds, once per map.
template <bool Signed>
const std::array<std::uint16_t, 255>& grid_thresholds() {
  static const auto thresholds = [] {
    std::array<std::uint16_t, 255> t{};
    for (int c = 0; c < 255; ++c) {
      const float m = dynamic_map<Signed>::midpoint(c);
      int lo = 0, hi = 65535;  // midpoint(254) < 1 = g(65535)
      while (lo < hi) {
        const int i = (lo + hi) / 2;
        if (m < -1.0f + (2.0f * static_cast<float>(i)) / 65535.0f) hi = i;
        else lo = i + 1;
      }
      t[static_cast<std::size_t>(c)] = static_cast<std::uint16_t>(lo);
    }
    return t;
  }();
  return thresholds;
}

// The code of every grid index, once per map: the encoder's table. Three bytes of padding
// let a 4-byte gather read at the last index.
inline constexpr std::size_t grid_points = 65536;
template <bool Signed>
const std::array<std::uint8_t, grid_points + 3>& grid_codes() {
  static const auto table = [] {
    const auto& thresholds = grid_thresholds<Signed>();
    std::array<std::uint8_t, grid_points + 3> t{};
    std::size_t code = 0;
    for (std::size_t i = 0; i < grid_points; ++i) {
      while (code < thresholds.size() && thresholds[code] <= i) ++code;
      t[i] = static_cast<std::uint8_t>(code);
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
  const float inverse = 1.0f / amax;
  i = 0;
  const std::uint8_t* table = s.signed_map ? grid_codes<true>().data() : grid_codes<false>().data();
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
#if defined(QTL_KERNEL_AVX512_VNNI)
      if constexpr (std::is_same_v<Arch, kernel::avx512_vnni>) {
        // One gather of the table's bytes (4 read at each index, the low one kept): on an
        // Ice Lake core four times the scalar reads below.
        _mm_storeu_si128(reinterpret_cast<__m128i*>(codes + i), _mm512_cvtepi32_epi8(_mm512_i32gather_epi32(k, table, 1)));
        continue;
      }
#endif
      k.store_aligned(index);
      for (std::size_t j = 0; j < width; ++j) codes[i + j] = table[static_cast<std::size_t>(index[j])];
    }
  }
#endif
  for (; i < n; ++i) codes[i] = table[static_cast<std::size_t>(grid_index(x[i] * inverse))];
}

}  // namespace detail

}  // namespace qtl::optim
