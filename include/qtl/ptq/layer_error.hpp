// What every weight-rounding algorithm measures: the layer's reconstruction error with
// the Hessian of its inputs, and round-to-nearest with the same groups as the baseline.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/core/view.hpp"
#include "qtl/granularity.hpp"
#include "qtl/kernel/executor.hpp"
#include "qtl/ptq/linear_reference.hpp"  // Eigen/Core, with the compiler workaround
#include "qtl/quantizer.hpp"

namespace qtl::ptq {

namespace detail {

// body(r0, r1) for the chunks of 64 rows of [0, rows), chunk ranges on exec's threads.
// The chunks do not depend on the thread count, nor then the bits of what each computes
// (Eigen's products round differently for differently sized blocks).
template <class Body>
void for_row_chunks(std::size_t rows, const kernel::executor& exec, Body&& body) {
  constexpr std::size_t chunk = 64;
  exec((rows + chunk - 1) / chunk, [&](std::size_t c0, std::size_t c1) {
    for (std::size_t c = c0; c < c1; ++c) body(c * chunk, std::min(rows, (c + 1) * chunk));
  });
}

// w in double; a weight that is not finite is an error naming the algorithm.
inline Eigen::MatrixXd finite_weights(matrix_view<const float> w, const char* who) {
  if (w.empty()) throw error(errc::invalid_argument, std::string(who) + ": empty weight matrix");
  Eigen::MatrixXd m(static_cast<Eigen::Index>(w.rows()), static_cast<Eigen::Index>(w.cols()));
  for (std::size_t r = 0; r < w.rows(); ++r)
    for (std::size_t c = 0; c < w.cols(); ++c) {
      if (!std::isfinite(w(r, c)))
        throw error(errc::non_finite, std::string(who) + ": weight at row " + std::to_string(r) + ", column " +
                                          std::to_string(c) + " is not finite");
      m(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c)) = w(r, c);
    }
  return m;
}

inline std::vector<float> to_floats(const Eigen::MatrixXd& m) {
  std::vector<float> out(static_cast<std::size_t>(m.size()));
  for (Eigen::Index r = 0; r < m.rows(); ++r)
    for (Eigen::Index c = 0; c < m.cols(); ++c) out[static_cast<std::size_t>(r * m.cols() + c)] = static_cast<float>(m(r, c));
  return out;
}

// The group size along the inputs (0: the whole row), checked to divide them.
inline std::size_t checked_group(std::size_t group_size, std::size_t cols, const char* who) {
  const std::size_t group = group_size == 0 ? cols : group_size;
  if (cols % group != 0)
    throw error(errc::group_size, std::string(who) + ": group size " + std::to_string(group) + " does not divide the " +
                                      std::to_string(cols) + " inputs");
  return group;
}

inline void check_hessian(const Eigen::MatrixXd& h, std::size_t cols, const char* who) {
  if (h.rows() != static_cast<Eigen::Index>(cols) || h.cols() != static_cast<Eigen::Index>(cols))
    throw error(errc::shape_mismatch, std::string(who) + ": Hessian of " + std::to_string(h.rows()) + "x" +
                                          std::to_string(h.cols()) + " for " + std::to_string(cols) + " inputs");
  if (!h.allFinite()) throw error(errc::non_finite, std::string(who) + ": the Hessian is not finite");
}

}  // namespace detail

// ½·tr(ΔW H ΔWᵀ) for H = layer_inputs::hessian(): the mean over calibration tokens of
// |x·ΔWᵀ|², the squared output error a quantized layer makes. Rows (out·in² work) on
// exec's threads, the per-row terms summed in row order: the same bits on any count.
inline double layer_error(const Eigen::MatrixXd& delta, const Eigen::MatrixXd& hessian,
                          const kernel::executor& exec = kernel::executor(1)) {
  Eigen::VectorXd per_row(delta.rows());
  detail::for_row_chunks(static_cast<std::size_t>(delta.rows()), exec, [&](std::size_t r0, std::size_t r1) {
    const auto first = static_cast<Eigen::Index>(r0), count = static_cast<Eigen::Index>(r1 - r0);
    per_row.segment(first, count) =
        (delta.middleRows(first, count) * hessian).cwiseProduct(delta.middleRows(first, count)).rowwise().sum();
  });
  double sum = 0.0;
  for (Eigen::Index r = 0; r < per_row.size(); ++r) sum += per_row[r];
  return sum / 2.0;
}

// Round-to-nearest of m with format F, scheme S and groups of `group` inputs, dequantized.
template <format F, scheme<F> S, rounding R = nearest_even>
Eigen::MatrixXd round_to_nearest(const Eigen::MatrixXd& m, std::size_t group, S scheme_policy = S{}, R round = R{}) {
  const auto rows = static_cast<std::size_t>(m.rows()), cols = static_cast<std::size_t>(m.cols());
  const std::vector<float> values = detail::to_floats(m);
  std::vector<float> out(values.size());
  quantizer<F, S, per_group<>, R>(scheme_policy, per_group<>{group}, round)
      .fake_quantize(matrix_view<const float>(values.data(), rows, cols), matrix_view<float>(out.data(), rows, cols));
  Eigen::MatrixXd q(m.rows(), m.cols());
  for (std::size_t i = 0; i < out.size(); ++i) q(static_cast<Eigen::Index>(i / cols), static_cast<Eigen::Index>(i % cols)) = out[i];
  return q;
}

}  // namespace qtl::ptq
