// qtl::ptq::gptq: GPTQ weight quantization (Frantar et al. 2022): each input column of W
// rounded in turn, its error spread over the columns not yet rounded through the inverse
// Hessian of the layer's calibration inputs. Any format and scheme of qtl's quantizer.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "qtl/core/concepts.hpp"
#include "qtl/core/error.hpp"
#include "qtl/core/quant_params.hpp"
#include "qtl/core/view.hpp"
#include "qtl/granularity.hpp"
#include "qtl/kernel/executor.hpp"
#include "qtl/ptq/layer_error.hpp"  // Eigen/Core, with the compiler workaround
#include <Eigen/Cholesky>
#include "qtl/ptq/layer_inputs.hpp"
#include "qtl/quantizer.hpp"
#include "qtl/rounding.hpp"

namespace qtl::ptq {

struct gptq_config {
  std::size_t group_size = 0;    // input columns sharing a scale per output row; 0: the whole row
  std::size_t block_size = 128;  // columns rounded before the lazy update of the rest
  double damp_percent = 0.01;    // λ = damp_percent · mean(diag H) added to the diagonal
  bool act_order = false;        // round columns by decreasing diag(H)
  bool static_groups = false;    // with act_order: group scales from the unrotated W first, in column order
  std::size_t mse_grid = 0;      // > 0: each group's range shrunk by the best of 1 - i/mse_grid (the GPTQ reference's mse)
  double mse_norm = 2.4;         // the search's error: Σ|w - ŵ|^mse_norm over the group
  double max_shrink = 0.8;       // the factors stay above 1 - max_shrink
  kernel::executor exec{1};      // runs ranges of output rows (each row is rounded on its own)
};

// Codes [out, in] in W's column order; params[r * groups + g] is row r's for group g;
// group_of[c] is input column c's group (GPTQ's g_idx: not c / group_size under act_order
// without static groups); the dequantized weights; and the layer's reconstruction error
// tr((W - Ŵ) H (W - Ŵ)ᵀ) / 2 (the mean over calibration tokens of |x·(W - Ŵ)ᵀ|²) for
// GPTQ and for round-to-nearest with the same groups.
struct gptq_result {
  std::size_t rows = 0, cols = 0, groups = 0;
  std::vector<int> codes;
  std::vector<quant_params> params;
  std::vector<std::size_t> group_of;
  std::vector<float> dequantized;
  double error = 0.0, rtn_error = 0.0;
  std::string note;  // what the algorithm had to do (dead columns, damping raised)
};

// GPTQ of w [out, in] with the Hessian of its inputs, as the GPTQ paper and GPTQModel
// define it: dead inputs (diag H = 0) zeroed, damping, the upper Cholesky factor of H⁻¹,
// blocks of block_size columns with the lazy batch update, per-group parameters found
// when the group's first column comes (on the weights as updated so far; with mse_grid,
// the reference's search for the shrunk range with the least error), act-order and
// static groups. Quantizes with format F and scheme S (e.g. int4 + symmetric, uint4 + affine).
template <format F, scheme<F> S, rounding R = nearest_even>
gptq_result gptq(matrix_view<const float> w, const Eigen::MatrixXd& hessian, const gptq_config& cfg = {},
                 S scheme_policy = S{}, R round = R{}) {
  const std::size_t rows = w.rows(), cols = w.cols();
  Eigen::MatrixXd W = detail::finite_weights(w, "gptq");
  detail::check_hessian(hessian, cols, "gptq");
  const std::size_t group = detail::checked_group(cfg.group_size, cols, "gptq");
  if (cfg.block_size == 0) throw error(errc::invalid_argument, "gptq: block size 0");
  const auto block = static_cast<Eigen::Index>(std::min(cfg.block_size, cols));
  if (!(cfg.damp_percent > 0.0 && cfg.damp_percent < 1.0))
    throw error(errc::invalid_argument, "gptq: damp_percent " + std::to_string(cfg.damp_percent) + " is outside (0, 1)");
  if (cfg.mse_grid > 0 && (!(cfg.mse_norm > 0.0) || !(cfg.max_shrink > 0.0 && cfg.max_shrink < 1.0)))
    throw error(errc::invalid_argument, "gptq: the range search needs mse_norm > 0 and max_shrink in (0, 1)");

  const auto n = static_cast<Eigen::Index>(cols);
  const Eigen::MatrixXd original = W;
  Eigen::MatrixXd H = hessian;
  gptq_result out{rows, cols, cols / group, std::vector<int>(w.size()), std::vector<quant_params>(rows * (cols / group)),
                  std::vector<std::size_t>(cols), std::vector<float>(w.size()), 0.0, 0.0, {}};
  std::size_t dead = 0;
  for (Eigen::Index c = 0; c < n; ++c)
    if (H(c, c) == 0.0) H(c, c) = 1.0, W.col(c).setZero(), ++dead;
  if (dead > 0) out.note = std::to_string(dead) + " inputs never active: their weights are zero";

  // Per-row parameters of a group (columns first.. of m, whose row 0 is W's row r0).
  const quantizer<F, S, per_group<>, R> group_quantizer(scheme_policy, per_group<>{group}, round);
  const auto group_params = [&](const Eigen::MatrixXd& m, Eigen::Index first) {
    const auto n_rows = static_cast<std::size_t>(m.rows());
    std::vector<float> slice(n_rows * group);
    for (std::size_t r = 0; r < n_rows; ++r)
      for (std::size_t k = 0; k < group; ++k)
        slice[r * group + k] = static_cast<float>(m(static_cast<Eigen::Index>(r), first + static_cast<Eigen::Index>(k)));
    const matrix_view<const float> view(slice.data(), n_rows, group);
    std::vector<quant_params> best = group_quantizer.params(view);
    if (cfg.mse_grid == 0) return best;
    // The GPTQ reference's search: the scheme's parameters of the group scaled by p, for
    // p = 1, 1 - 1/grid, ... down to 1 - max_shrink, each row keeping its best.
    std::vector<double> best_error(n_rows, std::numeric_limits<double>::infinity());
    std::vector<float> shrunk(slice.size());
    const auto steps = static_cast<std::size_t>(cfg.max_shrink * static_cast<double>(cfg.mse_grid));
    for (std::size_t i = 0; i < steps; ++i) {
      const float p = 1.0f - static_cast<float>(i) / static_cast<float>(cfg.mse_grid);
      for (std::size_t k = 0; k < slice.size(); ++k) shrunk[k] = slice[k] * p;
      const auto candidate = group_quantizer.params(matrix_view<const float>(shrunk.data(), n_rows, group));
      for (std::size_t r = 0; r < n_rows; ++r) {
        double e = 0.0;
        for (std::size_t k = 0; k < group; ++k) {
          const float x = slice[r * group + k];
          const float q = scheme_policy.template dequantize<F>(
              scheme_policy.template quantize<F>(x, candidate[r], round, r * group + k), candidate[r]);
          e += std::pow(std::abs(static_cast<double>(q - x)), cfg.mse_norm);
        }
        if (e < best_error[r]) best_error[r] = e, best[r] = candidate[r];
      }
    }
    return best;
  };
  const auto store = [&](std::size_t r0, std::size_t g, const std::vector<quant_params>& p) {
    for (std::size_t r = 0; r < p.size(); ++r) out.params[(r0 + r) * out.groups + g] = p[r];
  };
  if (cfg.static_groups)
    for (std::size_t g = 0; g < out.groups; ++g) store(0, g, group_params(W, static_cast<Eigen::Index>(g * group)));

  std::vector<Eigen::Index> perm(cols);
  std::iota(perm.begin(), perm.end(), Eigen::Index{0});
  if (cfg.act_order) {
    std::stable_sort(perm.begin(), perm.end(), [&](Eigen::Index a, Eigen::Index b) { return H(a, a) > H(b, b); });
    Eigen::MatrixXd Wp(W.rows(), n), Hp(n, n);
    for (Eigen::Index i = 0; i < n; ++i) Wp.col(i) = W.col(perm[static_cast<std::size_t>(i)]);
    for (Eigen::Index i = 0; i < n; ++i)
      for (Eigen::Index j = 0; j < n; ++j) Hp(i, j) = H(perm[static_cast<std::size_t>(i)], perm[static_cast<std::size_t>(j)]);
    W = std::move(Wp), H = std::move(Hp);
  }

  // Hinv: the upper Cholesky factor of (H + λI)⁻¹; a Hessian still not positive definite
  // gets ten times the damping, up to three times.
  Eigen::MatrixXd Hinv;
  double damp = cfg.damp_percent, lambda = 0.0;
  for (int attempt = 0;; ++attempt) {
    Eigen::MatrixXd Hd = H;
    lambda = damp * H.diagonal().mean();
    Hd.diagonal().array() += lambda;
    Eigen::LLT<Eigen::MatrixXd> llt(Hd);
    if (llt.info() == Eigen::Success) {
      const Eigen::MatrixXd inverse = llt.solve(Eigen::MatrixXd::Identity(n, n));
      Eigen::LLT<Eigen::MatrixXd> upper(inverse);
      if (upper.info() == Eigen::Success) {
        Hinv = upper.matrixU();
        break;
      }
    }
    if (attempt == 3) throw error(errc::invalid_argument, "gptq: the Hessian is not positive definite even with damping " + std::to_string(damp));
    damp *= 10.0;
    out.note += (out.note.empty() ? "" : "; ") + std::string("Hessian singular: damping raised to ") + std::to_string(damp);
  }

  // Column c (in the rounding order) belongs to group c / group, or with static groups to
  // its original column's.
  std::vector<Eigen::Index> dead_columns;  // in the rounding order
  for (Eigen::Index c = 0; c < n; ++c) {
    const auto original_column = static_cast<std::size_t>(perm[static_cast<std::size_t>(c)]);
    out.group_of[original_column] = cfg.static_groups ? original_column / group : static_cast<std::size_t>(c) / group;
    if (hessian(perm[static_cast<std::size_t>(c)], perm[static_cast<std::size_t>(c)]) == 0.0) dead_columns.push_back(c);
  }

  // Rows never interact: each chunk of rows runs the whole column loop on its own copy.
  // Each rounding adds e²/2 (e: the column's error over its Cholesky diagonal, Err1) to
  // ½·ΔW (H + λI) ΔWᵀ, exactly (the OBS step): so a row's error against H is the sum of
  // those less ½·λ·|Δw|², with no out·in² product. A dead column's rounding (to a nonzero
  // level where 0 is none) counts ½·Δ² through the stand-in diagonal 1 and nothing
  // against the true H: taken back out.
  Eigen::MatrixXd Q(W.rows(), n);
  Eigen::VectorXd row_error(W.rows());
  const auto round_rows = [&](std::size_t r0, std::size_t r1) {
    const auto first_row = static_cast<Eigen::Index>(r0), count_rows = static_cast<Eigen::Index>(r1 - r0);
    Eigen::MatrixXd Wr = W.middleRows(first_row, count_rows), Qr(count_rows, n);
    std::vector<quant_params> current(r1 - r0);
    Eigen::VectorXd steps = Eigen::VectorXd::Zero(count_rows);
    for (Eigen::Index i1 = 0; i1 < n; i1 += block) {
      const Eigen::Index i2 = std::min(n, i1 + block), count = i2 - i1;
      Eigen::MatrixXd W1 = Wr.middleCols(i1, count), Err1(count_rows, count);
      for (Eigen::Index i = 0; i < count; ++i) {
        const Eigen::Index column = i1 + i;  // in the rounding order
        const auto original_column = static_cast<std::size_t>(perm[static_cast<std::size_t>(column)]);
        const std::size_t g = out.group_of[original_column];
        if (cfg.static_groups) {
          for (std::size_t r = r0; r < r1; ++r) current[r - r0] = out.params[r * out.groups + g];
        } else if (static_cast<std::size_t>(column) % group == 0) {  // the group's first column: W as earlier blocks left it
          current = group_params(Wr, column);
          store(r0, g, current);
        }
        const double d = Hinv(column, column);
        for (std::size_t r = r0; r < r1; ++r) {
          const auto ri = static_cast<Eigen::Index>(r - r0);
          const float v = static_cast<float>(W1(ri, i));
          const int code = scheme_policy.template quantize<F>(v, current[r - r0], round, r * cols + original_column);
          out.codes[r * cols + original_column] = code;
          Qr(ri, column) = scheme_policy.template dequantize<F>(code, current[r - r0]);
          Err1(ri, i) = (W1(ri, i) - Qr(ri, column)) / d;
        }
        W1.rightCols(count - i).noalias() -= Err1.col(i) * Hinv.row(column).segment(column, count - i);
      }
      Wr.rightCols(n - i2).noalias() -= Err1 * Hinv.block(i1, i2, count, n - i2);
      steps += Err1.rowwise().squaredNorm() / 2.0;
    }
    Q.middleRows(first_row, count_rows) = Qr;
    row_error.segment(first_row, count_rows) =
        steps - (W.middleRows(first_row, count_rows) - Qr).rowwise().squaredNorm() * (lambda / 2.0);
    for (const Eigen::Index c : dead_columns) row_error.segment(first_row, count_rows) -= Qr.col(c).cwiseAbs2() / 2.0;
  };
  detail::for_row_chunks(rows, cfg.exec, round_rows);

  Eigen::MatrixXd deq(W.rows(), n);
  for (Eigen::Index i = 0; i < n; ++i) deq.col(perm[static_cast<std::size_t>(i)]) = Q.col(i);
  out.dequantized = detail::to_floats(deq);
  for (Eigen::Index r = 0; r < row_error.size(); ++r) out.error += row_error[r];
  out.rtn_error = layer_error(original - round_to_nearest<F>(original, group, scheme_policy, round), hessian, cfg.exec);
  return out;
}

}  // namespace qtl::ptq
