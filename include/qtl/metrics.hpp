// Error metrics between a reference tensor and its quantized reconstruction: MSE,
// SQNR (dB), cosine similarity, max abs error. Accumulate in double.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>

#include "qtl/core/concepts.hpp"
#include "qtl/core/view.hpp"

namespace qtl {

namespace detail {
// Calls fn(reference, approximation) for each element pair, after checking shapes.
template <element_tensor A, element_tensor B, class Fn>
void for_each_pair(const A& reference, const B& approx, const char* what, Fn&& fn) {
  const auto a = as_matrix(reference);
  const auto b = as_matrix(approx);
  require_same_shape(a, b, what);
  for (std::size_t r = 0; r < a.rows(); ++r)
    for (std::size_t c = 0; c < a.cols(); ++c)
      fn(static_cast<double>(static_cast<float>(a(r, c))), static_cast<double>(static_cast<float>(b(r, c))));
}
}  // namespace detail

// Mean squared error; 0 for empty tensors.
template <element_tensor A, element_tensor B>
double mse(const A& reference, const B& approx) {
  double sum = 0.0;
  std::size_t n = 0;
  detail::for_each_pair(reference, approx, "mse", [&](double x, double y) {
    sum += (x - y) * (x - y);
    ++n;
  });
  return n == 0 ? 0.0 : sum / static_cast<double>(n);
}

// Signal-to-quantization-noise ratio 10 log10(sum x^2 / sum (x - y)^2) in dB; +Inf when
// the reconstruction is exact.
template <element_tensor A, element_tensor B>
double sqnr_db(const A& reference, const B& approx) {
  double signal = 0.0, noise = 0.0;
  detail::for_each_pair(reference, approx, "sqnr_db", [&](double x, double y) {
    signal += x * x;
    noise += (x - y) * (x - y);
  });
  if (noise == 0.0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(signal / noise);
}

// Cosine of the angle between the two tensors as vectors; 1 when both are zero, 0 when
// exactly one is.
template <element_tensor A, element_tensor B>
double cosine_similarity(const A& reference, const B& approx) {
  double dot = 0.0, na = 0.0, nb = 0.0;
  detail::for_each_pair(reference, approx, "cosine_similarity", [&](double x, double y) {
    dot += x * y;
    na += x * x;
    nb += y * y;
  });
  if (na == 0.0 && nb == 0.0) return 1.0;
  if (na == 0.0 || nb == 0.0) return 0.0;
  return dot / (std::sqrt(na) * std::sqrt(nb));
}

template <element_tensor A, element_tensor B>
double max_abs_error(const A& reference, const B& approx) {
  double worst = 0.0;
  detail::for_each_pair(reference, approx, "max_abs_error", [&](double x, double y) {
    worst = std::fmax(worst, std::fabs(x - y));
  });
  return worst;
}

}  // namespace qtl
