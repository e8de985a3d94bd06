// qtl::dpcm: differential PCM. Each sample is predicted from the previous reconstructed
// ones by a linear predictor (fixed, e.g. delta coding, or fitted by least squares), and
// the difference is quantized uniformly to a signed code. The decoder runs the same
// reconstruction, so errors do not accumulate: |x - reconstruction| <= step / 2 wherever
// the code does not clip. On 1-D signals and along the rows of a matrix. The least-squares
// predictor is in least_squares_predictor.hpp (it needs Eigen).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/core/view.hpp"
#include "qtl/predictive/row_streams.hpp"

namespace qtl::dpcm {

struct coder {
  // Prediction = sum over k of predictor[k] * (reconstruction k + 1 samples back).
  // {1}: delta coding; {2, -1}: a straight line through the last two.
  std::vector<double> predictor{1.0};
  double step = 1.0;  // the residual quantizer's step, > 0
  int bits = 8;       // 2..8: codes -2^(bits-1) .. 2^(bits-1) - 1

  void validate() const {
    if (predictor.empty() || predictor.size() > 32)
      throw error(errc::invalid_argument, "dpcm: predictor order " + std::to_string(predictor.size()) + ", need 1..32");
    for (const double a : predictor)
      if (!std::isfinite(a)) throw error(errc::non_finite, "dpcm: a predictor coefficient is not finite");
    if (!(step > 0) || !std::isfinite(step))
      throw error(errc::invalid_argument, "dpcm: step " + std::to_string(step) + " is not a finite positive number");
    if (bits < 2 || bits > 8) throw error(errc::invalid_argument, "dpcm: " + std::to_string(bits) + " bits, need 2..8");
  }
  [[nodiscard]] int min_code() const noexcept { return -(1 << (bits - 1)); }
  [[nodiscard]] int max_code() const noexcept { return (1 << (bits - 1)) - 1; }
};

// What both ends carry from one buffer to the next: the last reconstructed samples, the
// newest first. A fresh stream starts from zeros.
struct state {
  std::vector<double> history;
};

namespace detail {

inline void start(const coder& c, state& s) {
  c.validate();
  if (s.history.empty()) s.history.assign(c.predictor.size(), 0.0);
  if (s.history.size() != c.predictor.size())
    throw error(errc::shape_mismatch, "dpcm: state holds " + std::to_string(s.history.size()) +
                                          " samples, the predictor's order is " + std::to_string(c.predictor.size()));
}

inline double predict(const coder& c, const state& s) noexcept {
  double p = 0;
  for (std::size_t k = 0; k < c.predictor.size(); ++k) p += c.predictor[k] * s.history[k];
  return p;
}

// The reconstruction both ends run for a code: prediction + code * step, pushed into the
// history.
inline double advance(const coder& c, state& s, int code) noexcept {
  const double y = predict(c, s) + code * c.step;
  std::copy_backward(s.history.begin(), s.history.end() - 1, s.history.end());
  s.history.front() = y;
  return y;
}

}  // namespace detail

// One signed code per sample. Errors (nothing changes): a bad coder, a state of another
// order, a non-finite sample.
inline std::vector<std::int8_t> encode(std::span<const float> samples, const coder& c, state& s) {
  detail::start(c, s);
  for (std::size_t i = 0; i < samples.size(); ++i)
    if (!std::isfinite(samples[i]))
      throw error(errc::non_finite, "dpcm::encode: sample " + std::to_string(i) + " is not finite");
  std::vector<std::int8_t> codes(samples.size());
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const double q = std::nearbyint((samples[i] - detail::predict(c, s)) / c.step);
    const int code = static_cast<int>(std::clamp(q, double(c.min_code()), double(c.max_code())));
    codes[i] = static_cast<std::int8_t>(code);
    detail::advance(c, s, code);
  }
  return codes;
}

// The reconstruction, rounded to float. Errors: a bad coder or state, a code outside the
// coder's range.
inline std::vector<float> decode(std::span<const std::int8_t> codes, const coder& c, state& s) {
  detail::start(c, s);
  for (std::size_t i = 0; i < codes.size(); ++i)
    if (codes[i] < c.min_code() || codes[i] > c.max_code())
      throw error(errc::out_of_range, "dpcm::decode: code " + std::to_string(codes[i]) + " at index " +
                                          std::to_string(i) + " is outside the " + std::to_string(c.bits) +
                                          "-bit range");
  std::vector<float> out(codes.size());
  for (std::size_t i = 0; i < codes.size(); ++i) out[i] = static_cast<float>(detail::advance(c, s, codes[i]));
  return out;
}

// Each row coded on its own from a fresh state: rows x cols codes, row-major.
inline std::vector<std::int8_t> encode_rows(matrix_view<const float> x, const coder& c) {
  return predictive::join_row_streams<std::int8_t>(x.rows(), x.cols(), [&](std::size_t r) {
    state s;
    return encode(std::span(&x(r, 0), x.cols()), c, s);
  });
}
inline std::vector<float> decode_rows(std::span<const std::int8_t> codes, std::size_t rows, std::size_t cols,
                                      const coder& c) {
  if (codes.size() != rows * cols)
    throw error(errc::shape_mismatch, "dpcm::decode_rows: " + std::to_string(codes.size()) + " codes for " +
                                          std::to_string(rows) + "x" + std::to_string(cols));
  return predictive::join_row_streams<float>(rows, cols, [&](std::size_t r) {
    state s;
    return decode(codes.subspan(r * cols, cols), c, s);
  });
}

}  // namespace qtl::dpcm
