// qtl::nf4: bitsandbytes' NormalFloat4, 16 fixed levels in [-1, 1] (quantiles of N(0, 1),
// QLoRA), as the float32 values bitsandbytes uses. A format: layout/bitsandbytes.hpp scales.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "qtl/core/config.hpp"
#include "qtl/core/simd.hpp"

namespace qtl {

namespace detail {

// Index of a value among 16 sorted levels as torch.bucketize(x, midpoints) picks it:
// the number of midpoints (a + b) / 2, in float32, that lie below x. A value exactly on
// a midpoint takes the lower level; NaN takes level 0. Shared by nf4 and bnb_fp4.
template <class Level>
QTL_HOST_DEVICE constexpr int bucketize_16(float x, Level level) noexcept {
  int below = 0;
  for (int i = 0; i < 15; ++i) below += (level(i) + level(i + 1)) / 2.0f < x ? 1 : 0;
  return below;
}

#if QTL_HAS_SIMD
// The 15 midpoints of Level's sorted levels as bucketize_16 computes them, then +Inf
// (Level: a captureless lambda, rank -> level).
template <class Level>
inline constexpr std::array<float, 16> midpoints_16 = [] {
  std::array<float, 16> m{};
  for (int i = 0; i < 15; ++i) m[static_cast<std::size_t>(i)] = (Level{}(i) + Level{}(i + 1)) / 2.0f;
  m[15] = std::numeric_limits<float>::infinity();
  return m;
}();

// bucketize_16 on every lane of a batch, with its own comparisons (a tie takes the lower
// level, NaN rank 0). 16 lanes (AVX-512): a binary search, rank += s where midpoint
// rank + s - 1 < x for s = 8, 4, 2, 1, the midpoints looked up per lane (one permute,
// simd::lookup16). 4 or 8 lanes: all 15 comparisons, counted; on AVX2 the lookup takes two
// permutes and a blend, and counting measured 1.5x faster (docs/kernels.md).
template <class A, class Level>
simd::ints<A> bucketize_16(simd::floats<A> x, Level) noexcept {
  using floats = simd::floats<A>;
  constexpr const std::array<float, 16>& m = midpoints_16<Level>;
  if constexpr (floats::size >= 16) {
    using uints = xsimd::batch<std::uint32_t, A>;
    static constexpr auto shifted = [] {  // shifted[k][r] = m[r + s - 1] for s = 4 >> k
      std::array<std::array<float, 16>, 3> t{};
      for (std::size_t k = 0; k < 3; ++k)
        for (std::size_t r = 0; r < 16; ++r) t[k][r] = m[std::min<std::size_t>(r + (4u >> k) - 1, 15)];
      return t;
    }();
    uints rank = xsimd::select(xsimd::batch_bool_cast<std::uint32_t>(floats(m[7]) < x), uints(8), uints(0));
    for (std::size_t k = 0; k < 3; ++k) {
      const auto below = xsimd::batch_bool_cast<std::uint32_t>(simd::lookup16<A>(shifted[k].data(), rank) < x);
      rank = xsimd::select(below, rank + uints(4u >> k), rank);
    }
    return xsimd::bitwise_cast<std::int32_t>(rank);
  } else {
    simd::ints<A> rank(0);
    for (std::size_t i = 0; i < 15; ++i) rank = xsimd::incr_if(rank, xsimd::batch_bool_cast<std::int32_t>(floats(m[i]) < x));
    return rank;
  }
}
#endif

}  // namespace detail

struct nf4 {
  using code_type = std::uint8_t;
  static constexpr int bits = 4;
  static constexpr bool is_signed = false;  // codes 0..15; code 7 is 0.0
  static constexpr int min_code = 0;
  static constexpr int max_code = 15;
  static constexpr int levels = 16;

  // bitsandbytes get_4bit_type("nf4") (= create_normal_map(0.9677083)), sorted, in float32:
  // -1, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
  // -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0,
  // 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
  // 0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.
  // The table lives in the function so that CUDA device code can read it.
  QTL_HOST_DEVICE static constexpr float decode(int code) noexcept {
    constexpr float table[16] = {
        -0x1p0f,         -0x1.647362p-1f, -0x1.0cd66p-1f,  -0x1.94654p-2f,
        -0x1.23449ap-2f, -0x1.7a6a7ep-3f, -0x1.74f0e2p-4f, 0.0f,
        0x1.45f5fep-4f,  0x1.4995c6p-3f,  0x1.f809bap-3f,  0x1.5a0674p-2f,
        0x1.c3497p-2f,   0x1.200f56p-1f,  0x1.722766p-1f,  0x1p0f,
    };
    return table[code & 15];
  }
#if QTL_HAS_SIMD
  template <class A>
  static simd::floats<A> decode(simd::ints<A> code) noexcept {
    return simd::lookup<nf4, A>(code);
  }
#endif

  // The nearest level to x (x already divided by its block's absmax); on an exact
  // midpoint the lower level, as bitsandbytes' quantize_4bit.
  QTL_HOST_DEVICE static constexpr std::uint8_t encode(float x) noexcept {
    return static_cast<std::uint8_t>(detail::bucketize_16(x, [](int i) { return decode(i); }));
  }
#if QTL_HAS_SIMD
  template <class A>
  static simd::ints<A> encode(simd::floats<A> x) noexcept {
    return detail::bucketize_16(x, [](int i) { return decode(i); });
  }
#endif
};

inline constexpr std::array<float, 16> nf4_values = [] {
  std::array<float, 16> v{};
  for (int i = 0; i < 16; ++i) v[static_cast<std::size_t>(i)] = nf4::decode(i);
  return v;
}();

static_assert(nf4::decode(7) == 0.0f && nf4::decode(0) == -1.0f && nf4::decode(15) == 1.0f);
static_assert([] {
  for (int i = 0; i < 15; ++i)
    if (!(nf4::decode(i) < nf4::decode(i + 1))) return false;
  return true;
}(), "NF4 levels are sorted");
static_assert(nf4::encode(0.0f) == 7 && nf4::encode(1.0f) == 15 && nf4::encode(-1.0f) == 0);

}  // namespace qtl
