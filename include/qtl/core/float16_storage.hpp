// qtl::float16_storage<Codec>: a 2-byte floating-point storage type whose conversions
// to and from float are Codec's; qtl::half and qtl::bfloat16 are its two instances.
#pragma once

#include <cstdint>

#include "qtl/core/config.hpp"

namespace qtl {

template <class Codec>
struct float16_storage {
  std::uint16_t bits;

  float16_storage() = default;
  QTL_HOST_DEVICE constexpr explicit float16_storage(float value) noexcept : bits(Codec::encode(value)) {}
  QTL_HOST_DEVICE static constexpr float16_storage from_bits(std::uint16_t b) noexcept {
    float16_storage h{};
    h.bits = b;
    return h;
  }
  QTL_HOST_DEVICE constexpr operator float() const noexcept { return Codec::decode(bits); }
  QTL_HOST_DEVICE friend constexpr bool operator==(float16_storage a, float16_storage b) noexcept {
    return static_cast<float>(a) == static_cast<float>(b);
  }
};

}  // namespace qtl
