// qtl::optim::state_tensor: where one optimizer state lives, as float32 values or, for the
// 8-bit optimizers, as blockwise codes of bitsandbytes' dynamic map with one float32 absmax
// per block (bnb's state1/absmax1 layout). A step decodes one block into floats, updates
// it and encodes it again (optim/optimizer.hpp); the codes are those of
// bnb::quantize_blockwise, found through a table of its 65536-point grid (AVX-512: read by
// gathers) instead of a search over the map per element.
#pragma once

#include <array>
#include <bit>
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

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>  // every unit: the VBMI decoder is enabled per function
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

#if defined(__x86_64__) && defined(__GNUC__)
// The map's values as four byte planes (plane k: byte k of each value's bits), the tables of
// the byte-permute decoder below.
using byte_planes = std::array<std::array<std::uint8_t, 256>, 4>;
template <bool Signed>
const byte_planes& value_planes() {
  static const byte_planes planes = [] {
    byte_planes p{};
    for (std::size_t c = 0; c < 256; ++c) {
      const auto bits = std::bit_cast<std::uint32_t>(map_values<Signed>()[c]);
      for (std::size_t k = 0; k < 4; ++k) p[k][c] = static_cast<std::uint8_t>(bits >> (8 * k));
    }
    return p;
  }();
  return planes;
}

// Whether this CPU runs AVX-512 VBMI (Ice Lake, Zen 4 and later), asked once.
inline bool cpu_has_vbmi() noexcept {
  static const bool has = xsimd::available_architectures().avx512vbmi;
  return has;
}

// g++ 12 reports a false -Wmaybe-uninitialized from its own self-initialised undefined
// vectors once the AVX-512 intrinsics are inlined (GCC bug 105593): silenced for this
// function only, and only on that compiler.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
// Decodes the whole runs of 64 codes of codes[0, n) and returns how many codes that was.
// Each byte of the 64 values comes from one 256-entry byte table (two 128-byte permutes,
// picked by the code's top bit); unpacking the four byte vectors into floats interleaves
// 128-bit lanes, which the codes' first permute undoes. Three times the scalar loop's
// speed on an Ice Lake core. A target attribute, not the translation unit's flags, enables
// VBMI, so every unit compiles this same function and only a CPU that has VBMI calls it.
__attribute__((target("avx512f,avx512bw,avx512vbmi"))) inline std::size_t decode_vbmi(
    const byte_planes& planes, const std::uint8_t* codes, std::size_t n, float amax, float* out) noexcept {
  // Code 16q + 4l + e goes to byte 16l + 4q + e: after the unpacks, output vector q holds
  // codes 16q .. 16q + 15 in order.
  alignas(64) static constexpr auto order = [] {
    std::array<std::uint8_t, 64> o{};
    for (std::size_t l = 0; l < 4; ++l)
      for (std::size_t q = 0; q < 4; ++q)
        for (std::size_t e = 0; e < 4; ++e) o[16 * l + 4 * q + e] = static_cast<std::uint8_t>(16 * q + 4 * l + e);
    return o;
  }();
  const __m512i shuffle = _mm512_load_si512(order.data());
  const __m512 scale = _mm512_set1_ps(amax);
  std::size_t i = 0;
  for (; n - i >= 64; i += 64) {
    const __m512i c = _mm512_permutexvar_epi8(shuffle, _mm512_loadu_si512(codes + i));
    const __mmask64 high = _mm512_movepi8_mask(c);
    __m512i b[4];
    for (std::size_t k = 0; k < 4; ++k) {
      const std::uint8_t* plane = planes[k].data();
      b[k] = _mm512_mask_blend_epi8(
          high, _mm512_permutex2var_epi8(_mm512_loadu_si512(plane), c, _mm512_loadu_si512(plane + 64)),
          _mm512_permutex2var_epi8(_mm512_loadu_si512(plane + 128), c, _mm512_loadu_si512(plane + 192)));
    }
    const __m512i low01 = _mm512_unpacklo_epi8(b[0], b[1]), high01 = _mm512_unpackhi_epi8(b[0], b[1]);
    const __m512i low23 = _mm512_unpacklo_epi8(b[2], b[3]), high23 = _mm512_unpackhi_epi8(b[2], b[3]);
    const __m512i words[4] = {_mm512_unpacklo_epi16(low01, low23), _mm512_unpackhi_epi16(low01, low23),
                                          _mm512_unpacklo_epi16(high01, high23), _mm512_unpackhi_epi16(high01, high23)};
    for (std::size_t q = 0; q < 4; ++q) _mm512_storeu_ps(out + i + 16 * q, _mm512_mul_ps(_mm512_castsi512_ps(words[q]), scale));
  }
  return i;
}
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic pop
#endif
#endif

// x[0, n) decoded: code value times the block's absmax.
inline void decode_block(const state_tensor& s, std::size_t begin, std::size_t n, float* out) noexcept {
  const float amax = s.absmax[begin / static_cast<std::size_t>(s.blocksize)];
  const std::uint8_t* codes = s.codes.data() + begin;
  std::size_t i = 0;
#if defined(__x86_64__) && defined(__GNUC__)
  if (cpu_has_vbmi()) i = decode_vbmi(s.signed_map ? value_planes<true>() : value_planes<false>(), codes, n, amax, out);
#endif
  const auto& values = s.signed_map ? map_values<true>() : map_values<false>();
  for (; i < n; ++i) out[i] = values[codes[i]] * amax;
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
