// qtl::nf4: bitsandbytes' NormalFloat4, 16 fixed levels in [-1, 1] (quantiles of N(0, 1),
// QLoRA), as the float32 values bitsandbytes uses. A format: layout/bitsandbytes.hpp scales.
#pragma once

#include <array>
#include <cstdint>

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
// bucketize_16 on every lane of a batch.
template <class A, class Level>
simd::ints<A> bucketize_16(simd::floats<A> x, Level level) noexcept {
  using ints = simd::ints<A>;
  ints below(0);
  for (int i = 0; i < 15; ++i) {
    const simd::floats<A> midpoint((level(i) + level(i + 1)) / 2.0f);
    below += xsimd::select(xsimd::batch_bool_cast<std::int32_t>(midpoint < x), ints(1), ints(0));
  }
  return below;
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
