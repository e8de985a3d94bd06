// qtl::ima_adpcm: IMA/DVI ADPCM, 4 bits per 16-bit sample. The coder predicts each sample
// as the previous reconstructed one and sends the difference as a sign and three bits in
// units of an adaptive step: large differences raise the step (an index into the 89-entry
// IMA table), small ones lower it. Encoder and decoder run the same reconstruction, so the
// decoder ends where the encoder's state does. Codes are packed two per byte, the first
// sample in the high nibble: the bytes and states of Python's audioop lin2adpcm/adpcm2lin.
// encode_rows/decode_rows code each row of a matrix as its own stream.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/core/view.hpp"
#include "qtl/predictive/row_streams.hpp"

namespace qtl::ima_adpcm {

// The IMA step sizes, about 1.1 apart.
inline constexpr std::array<std::int32_t, 89> step_sizes = {
    7,     8,     9,     10,    11,    12,    13,    14,    16,    17,    19,    21,    23,    25,    28,
    31,    34,    37,    41,    45,    50,    55,    60,    66,    73,    80,    88,    97,    107,   118,
    130,   143,   157,   173,   190,   209,   230,   253,   279,   307,   337,   371,   408,   449,   494,
    544,   598,   658,   724,   796,   876,   963,   1060,  1166,  1282,  1411,  1552,  1707,  1878,  2066,
    2272,  2499,  2749,  3024,  3327,  3660,  4026,  4428,  4871,  5358,  5894,  6484,  7132,  7845,  8630,
    9493,  10442, 11487, 12635, 13899, 15289, 16818, 18500, 20350, 22385, 24623, 27086, 29794, 32767};
// How a code's magnitude bits move the step index.
inline constexpr std::array<std::int32_t, 8> index_moves = {-1, -1, -1, -1, 2, 4, 6, 8};

// What both ends carry from one buffer to the next: the last reconstructed sample and the
// step index (audioop's (valpred, index); a fresh stream starts at (0, 0)).
struct state {
  std::int32_t predicted = 0;
  std::int32_t index = 0;

  void validate() const {
    if (predicted < -32768 || predicted > 32767 || index < 0 || index >= static_cast<std::int32_t>(step_sizes.size()))
      throw error(errc::invalid_argument, "ima_adpcm: state (" + std::to_string(predicted) + ", " + std::to_string(index) +
                                              ") is not a 16-bit prediction and a step index in [0, 88]");
  }
};

// The reconstruction both ends run for code c (sign bit 8, magnitude bits 4, 2, 1):
// the prediction moves by (magnitude + 1/2) / 4 steps, in the steps' integer halves.
constexpr void advance(state& s, int code) noexcept {
  const std::int32_t step = step_sizes[static_cast<std::size_t>(s.index)];
  std::int32_t delta = step >> 3;
  if (code & 4) delta += step;
  if (code & 2) delta += step >> 1;
  if (code & 1) delta += step >> 2;
  const std::int32_t p = (code & 8) ? s.predicted - delta : s.predicted + delta;
  s.predicted = p < -32768 ? -32768 : (p > 32767 ? 32767 : p);
  const std::int32_t index = s.index + index_moves[static_cast<std::size_t>(code & 7)];
  s.index = index < 0 ? 0 : (index > 88 ? 88 : index);
}

// The code of one sample: its difference from the prediction, compared with the step,
// half and a quarter of it in turn (what advance() adds back).
constexpr int encode_sample(state& s, std::int16_t sample) noexcept {
  std::int32_t step = step_sizes[static_cast<std::size_t>(s.index)];
  std::int32_t difference = sample - s.predicted;
  int code = difference < 0 ? 8 : 0;
  if (difference < 0) difference = -difference;
  for (int bit = 4; bit != 0; bit >>= 1, step >>= 1)
    if (difference >= step) code |= bit, difference -= step;
  advance(s, code);
  return code;
}

// ceil(n / 2) bytes for n samples; an odd count leaves the last byte's low nibble 0
// (audioop drops that last code instead).
inline std::vector<std::uint8_t> encode(std::span<const std::int16_t> samples, state& s) {
  s.validate();
  std::vector<std::uint8_t> packed((samples.size() + 1) / 2, 0);
  for (std::size_t i = 0; i < samples.size(); ++i)
    packed[i / 2] |= static_cast<std::uint8_t>(encode_sample(s, samples[i]) << (i % 2 == 0 ? 4 : 0));
  return packed;
}

// `samples` of the codes in packed: 2 per byte, or one fewer (the last byte's low nibble
// unused).
inline std::vector<std::int16_t> decode(std::span<const std::uint8_t> packed, std::size_t samples, state& s) {
  s.validate();
  if (samples > 2 * packed.size() || samples + 1 < 2 * packed.size())
    throw error(errc::shape_mismatch, "ima_adpcm::decode: " + std::to_string(packed.size()) + " bytes hold " +
                                          std::to_string(2 * packed.size()) + " or " +
                                          std::to_string(2 * packed.size() - (packed.empty() ? 0 : 1)) +
                                          " codes, not " + std::to_string(samples));
  std::vector<std::int16_t> out(samples);
  for (std::size_t i = 0; i < samples; ++i) {
    advance(s, (packed[i / 2] >> (i % 2 == 0 ? 4 : 0)) & 0x0F);
    out[i] = static_cast<std::int16_t>(s.predicted);
  }
  return out;
}
inline std::vector<std::int16_t> decode(std::span<const std::uint8_t> packed, state& s) {
  return decode(packed, 2 * packed.size(), s);
}

// Each row of a matrix coded on its own from a fresh state: ceil(cols / 2) bytes per row,
// rows one after another.
inline std::vector<std::uint8_t> encode_rows(matrix_view<const std::int16_t> samples) {
  return predictive::join_row_streams<std::uint8_t>(samples.rows(), (samples.cols() + 1) / 2, [&](std::size_t r) {
    state s;
    return encode(std::span(&samples(r, 0), samples.cols()), s);
  });
}
inline std::vector<std::int16_t> decode_rows(std::span<const std::uint8_t> packed, std::size_t rows,
                                             std::size_t cols) {
  const std::size_t row_bytes = (cols + 1) / 2;
  if (packed.size() != rows * row_bytes)
    throw error(errc::shape_mismatch, "ima_adpcm::decode_rows: " + std::to_string(packed.size()) + " bytes for " +
                                          std::to_string(rows) + "x" + std::to_string(cols) + " samples (" +
                                          std::to_string(row_bytes) + " bytes a row)");
  return predictive::join_row_streams<std::int16_t>(rows, cols, [&](std::size_t r) {
    state s;
    return decode(packed.subspan(r * row_bytes, row_bytes), cols, s);
  });
}

}  // namespace qtl::ima_adpcm
