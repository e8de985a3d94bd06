// qtl::g711: the ITU-T G.711 companders, μ-law and A-law, between 16-bit linear PCM and
// 8-bit codes. Each code is a sign, a 3-bit segment (a power-of-two range of magnitudes)
// and a 4-bit step inside it, with the transmitted bits inverted (μ-law) or every other
// bit toggled (A-law). μ-law takes the sample's top 14 bits, A-law its top 13, as Python's
// audioop and the reference tables do; the codes equal audioop's lin2ulaw/lin2alaw for
// every 16-bit sample and the decoded samples its ulaw2lin/alaw2lin.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "qtl/core/error.hpp"

namespace qtl::g711 {

enum class law { mu, a };

// μ-law: the magnitude of the 14-bit sample, clipped to 8159 and biased by 33, lies in
// segment s when it has 6 + s significant bits; the step is the 4 bits below the leading one.
constexpr std::uint8_t ulaw_encode(std::int16_t sample) noexcept {
  const int x = sample >> 2;  // arithmetic shift: the top 14 bits
  const std::uint8_t invert = x < 0 ? 0x7F : 0xFF;
  int magnitude = x < 0 ? -x : x;
  magnitude = (magnitude > 8159 ? 8159 : magnitude) + 33;  // 33..8192
  const int segment = std::bit_width(static_cast<unsigned>(magnitude)) - 6;
  if (segment >= 8) return static_cast<std::uint8_t>(0x7F ^ invert);  // 8192: the largest code
  const int s = segment < 0 ? 0 : segment;
  return static_cast<std::uint8_t>(((s << 4) | ((magnitude >> (s + 1)) & 0x0F)) ^ invert);
}

constexpr std::int16_t ulaw_decode(std::uint8_t code) noexcept {
  const int u = ~code & 0xFF;
  const int t = (((u & 0x0F) << 3) + 0x84) << ((u >> 4) & 0x07);
  return static_cast<std::int16_t>((u & 0x80) ? 0x84 - t : t - 0x84);
}

// A-law: the 13-bit sample's magnitude (one less for negatives, so both signs have 4096
// values) lies in segment s >= 1 when it has 4 + s significant bits (segment 0 below 32);
// the step is the 4 bits below the leading one (segment 0 and 1: bits 1..4).
constexpr std::uint8_t alaw_encode(std::int16_t sample) noexcept {
  const int x = sample >> 3;  // the top 13 bits
  const std::uint8_t toggle = x >= 0 ? 0xD5 : 0x55;
  const int magnitude = x >= 0 ? x : -x - 1;  // 0..4095: always within the eight segments
  const int wide = std::bit_width(static_cast<unsigned>(magnitude)) - 5;
  const int segment = wide < 0 ? 0 : wide;
  const int step = (magnitude >> (segment < 2 ? 1 : segment)) & 0x0F;
  return static_cast<std::uint8_t>(((segment << 4) | step) ^ toggle);
}

constexpr std::int16_t alaw_decode(std::uint8_t code) noexcept {
  const int a = code ^ 0x55;
  const int segment = (a >> 4) & 0x07;
  int t = (a & 0x0F) << 4;
  if (segment == 0) t += 8;
  else t = (t + 0x108) << (segment - 1);
  return static_cast<std::int16_t>((a & 0x80) ? t : -t);
}

template <law L>
constexpr std::uint8_t encode(std::int16_t sample) noexcept {
  if constexpr (L == law::mu) return ulaw_encode(sample);
  else return alaw_encode(sample);
}
template <law L>
constexpr std::int16_t decode(std::uint8_t code) noexcept {
  if constexpr (L == law::mu) return ulaw_decode(code);
  else return alaw_decode(code);
}

namespace detail {
inline void require_same_size(std::size_t in, std::size_t out, const char* what) {
  if (in != out)
    throw error(errc::shape_mismatch, std::string("g711::") + what + ": " + std::to_string(in) + " inputs, " +
                                          std::to_string(out) + " outputs");
}
}  // namespace detail

// Whole buffers: one code per sample and one sample per code; sizes must agree.
template <law L>
void encode(std::span<const std::int16_t> samples, std::span<std::uint8_t> codes) {
  detail::require_same_size(samples.size(), codes.size(), "encode");
  for (std::size_t i = 0; i < samples.size(); ++i) codes[i] = encode<L>(samples[i]);
}
template <law L>
void decode(std::span<const std::uint8_t> codes, std::span<std::int16_t> samples) {
  detail::require_same_size(codes.size(), samples.size(), "decode");
  for (std::size_t i = 0; i < codes.size(); ++i) samples[i] = decode<L>(codes[i]);
}

}  // namespace qtl::g711
