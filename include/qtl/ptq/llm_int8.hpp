// LLM.int8 (bitsandbytes' MatMul8bitLt): input columns holding an |x| >= threshold stay in
// floating point, the rest is int8 vector-wise (absmax per row of x, per output channel
// of W) with int32 accumulation; the product is the sum of both parts.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/core/nonfinite_policy.hpp"
#include "qtl/core/view.hpp"
#include "qtl/format/int_format.hpp"
#include "qtl/granularity.hpp"
#include "qtl/ptq/matmul.hpp"
#include "qtl/quantizer.hpp"
#include "qtl/scheme.hpp"

namespace qtl::ptq {

// bitsandbytes' int8_vectorwise_quant result: codes = round_half_even(x * 127 / row_absmax),
// with the outlier columns' codes zeroed.
struct vectorwise_int8 {
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::vector<std::int8_t> codes;         // rows x cols, row-major
  std::vector<float> row_absmax;          // bitsandbytes' row_stats (outliers excluded)
  std::vector<std::size_t> outlier_cols;  // ascending; empty without a threshold

  [[nodiscard]] matrix_view<const std::int8_t> code_view() const noexcept { return {codes.data(), rows, cols}; }
};

namespace detail {

// threshold <= 0 disables the outlier split (bitsandbytes' threshold=0.0).
inline vectorwise_int8 vectorwise_quant(matrix_view<const float> a, float threshold) {
  vectorwise_int8 q{a.rows(), a.cols(), std::vector<std::int8_t>(a.size()), {}, {}};
  std::vector<float> kept(a.size());  // a with its outliers zeroed
  std::vector<bool> outlier(a.cols(), false);
  for (std::size_t r = 0; r < a.rows(); ++r)
    for (std::size_t c = 0; c < a.cols(); ++c) {
      const float v = a(r, c);
      qtl::detail::check_finite(v, nonfinite_policy::error, r, c, a.cols());
      const bool out = threshold > 0.0f && std::fabs(v) >= threshold;
      kept[r * a.cols() + c] = out ? 0.0f : v;
      if (out) outlier[c] = true;
    }
  using rows_absmax = quantizer<int8, absmax, per_token>;  // multiplier 127 / absmax, round half to even
  const rows_absmax quant;
  const matrix_view<const float> k(kept.data(), a.rows(), a.cols());
  const auto stats = quant.statistics(k);
  const auto params = quant.params(std::span<const tensor_stats>(stats));
  quant.quantize_into(k, params, matrix_view<std::int8_t>(q.codes.data(), a.rows(), a.cols()));
  for (const tensor_stats& s : stats) q.row_absmax.push_back(s.absmax());
  for (std::size_t c = 0; c < a.cols(); ++c) {
    if (!outlier[c]) continue;
    q.outlier_cols.push_back(c);
    for (std::size_t r = 0; r < a.rows(); ++r) q.codes[r * a.cols() + c] = 0;
  }
  return q;
}

}  // namespace detail

// Per-row absmax int8 of a (the weights' quantization: no outlier split).
inline vectorwise_int8 int8_vectorwise_quant(matrix_view<const float> a) { return detail::vectorwise_quant(a, 0.0f); }

// Per-row absmax int8 of a without the elements |x| >= threshold (threshold > 0); the
// columns that hold one are listed and their codes zeroed.
inline vectorwise_int8 int8_vectorwise_quant(matrix_view<const float> a, float threshold) {
  if (!(threshold > 0.0f) || !std::isfinite(threshold))
    throw error(errc::invalid_argument,
                "int8_vectorwise_quant: outlier threshold " + std::to_string(threshold) + " must be finite and > 0");
  return detail::vectorwise_quant(a, threshold);
}

// Which weights the floating-point outlier columns multiply.
enum class outlier_weights {
  dequantized,  // W's int8 codes times its row scale (bitsandbytes: only int8 weights are kept)
  original,     // W as given (the LLM.int8 paper's fp16 weights; keeps a float copy of W)
};

struct llm_int8_config {
  float threshold = 6.0f;  // |x| >= threshold makes a column an outlier column; > 0
  outlier_weights weights = outlier_weights::dequantized;
};

class llm_int8_linear {
 public:
  // w [out, in]: quantized per output channel (absmax / 127).
  explicit llm_int8_linear(matrix_view<const float> w, llm_int8_config cfg = {})
      : cfg_(checked(cfg)), w_(int8_vectorwise_quant(w)) {
    if (cfg.weights == outlier_weights::original) {
      original_.resize(w.size());
      for (std::size_t r = 0; r < w.rows(); ++r)
        for (std::size_t c = 0; c < w.cols(); ++c) original_[r * w.cols() + c] = w(r, c);
    }
  }

  [[nodiscard]] const llm_int8_config& config() const noexcept { return cfg_; }
  [[nodiscard]] const vectorwise_int8& weights() const noexcept { return w_; }
  [[nodiscard]] std::size_t out_features() const noexcept { return w_.rows; }
  [[nodiscard]] std::size_t in_features() const noexcept { return w_.cols; }

  // y [tokens, out] = x [tokens, in]·Wᵀ; returns x's outlier columns (computed in float).
  std::vector<std::size_t> forward(matrix_view<const float> x, matrix_view<float> y) const {
    check_linear_shapes(x.rows(), x.cols(), w_.rows, w_.cols, y.rows(), y.cols(), "llm_int8_linear");
    if (x.rows() == 0) return {};
    const vectorwise_int8 a = int8_vectorwise_quant(x, cfg_.threshold);
    std::vector<std::int32_t> acc(x.rows() * w_.rows);
    const matrix_view<std::int32_t> acc_view(acc.data(), x.rows(), w_.rows);
    matmul_s8(a.code_view(), w_.code_view(), acc_view);
    rescale_accumulators(acc_view, a.row_absmax, w_.row_absmax, 1.0f / (127.0f * 127.0f), y);
    if (!a.outlier_cols.empty()) add_outlier_product(x, a.outlier_cols, y);
    return a.outlier_cols;
  }

 private:
  static llm_int8_config checked(llm_int8_config cfg) {
    if (!(cfg.threshold > 0.0f) || !std::isfinite(cfg.threshold))
      throw error(errc::invalid_argument,
                  "llm_int8_linear: outlier threshold " + std::to_string(cfg.threshold) + " must be finite and > 0");
    return cfg;
  }

  // y += x[:, cols]·W[:, cols]ᵀ in float (bitsandbytes' addmm of subA and subB). The
  // outlier columns are few: W's are gathered once as [cols, out] rows, so that the inner
  // loop runs along y's row, one multiply-add per output, which compilers vectorize.
  void add_outlier_product(matrix_view<const float> x, std::span<const std::size_t> cols, matrix_view<float> y) const {
    const std::size_t out = w_.rows;
    std::vector<float> wt(cols.size() * out);
    for (std::size_t j = 0; j < cols.size(); ++j)
      for (std::size_t n = 0; n < out; ++n)
        wt[j * out + n] = cfg_.weights == outlier_weights::original
                              ? original_[n * w_.cols + cols[j]]
                              : static_cast<float>(w_.codes[n * w_.cols + cols[j]]) * w_.row_absmax[n] * (1.0f / 127.0f);
    for (std::size_t m = 0; m < x.rows(); ++m) {
      float* ym = &y(m, 0);
      for (std::size_t j = 0; j < cols.size(); ++j) {
        const float xv = x(m, cols[j]);
        const float* wj = &wt[j * out];
        for (std::size_t n = 0; n < out; ++n) ym[n] += xv * wj[n];
      }
    }
  }

  llm_int8_config cfg_;
  vectorwise_int8 w_;
  std::vector<float> original_;  // outlier_weights::original only
};

}  // namespace qtl::ptq
