#include <algorithm>
#include <catch2/catch_test_macros.hpp>
#include <cfloat>
#include <cmath>
#include <limits>
#include <qtl/ptq/llm_int8.hpp>
#include <vector>

#include "ptq/outlier_data.hpp"

namespace {

using qtl::matrix_view;
using qtl::ptq::llm_int8_linear;
using qtl::ptq::outlier_weights;

ptq_test::matrix run(const llm_int8_linear& layer, const ptq_test::matrix& x,
                     std::vector<std::size_t>* outliers = nullptr) {
  ptq_test::matrix y{x.rows, layer.out_features(), std::vector<float>(x.rows * layer.out_features())};
  const auto cols = layer.forward(x.view(), y.view());
  if (outliers) *outliers = cols;
  return y;
}

double frobenius_error(const ptq_test::matrix& y, const std::vector<double>& exact) {
  double s = 0.0;
  for (std::size_t i = 0; i < exact.size(); ++i) s += (y.data[i] - exact[i]) * (y.data[i] - exact[i]);
  return std::sqrt(s);
}

bool contains(const std::vector<std::size_t>& v, std::size_t x) { return std::find(v.begin(), v.end(), x) != v.end(); }

}  // namespace

TEST_CASE("int8_vectorwise_quant: bitsandbytes' numerics on a small case", "[ptq]") {
  // |x| >= 6 is an outlier (bitsandbytes compares with >=): (0, 1) and (1, 2). The row
  // absmax leaves outliers out, codes round half to even (torch.round), and every code
  // of an outlier column is zeroed, outlier or not (3 at (1, 1)).
  const std::vector<float> x{1.0f, -7.0f, 0.5f, 2.0f, 3.0f, -6.0f};
  const auto q = qtl::ptq::int8_vectorwise_quant(matrix_view<const float>(x.data(), 2, 3), 6.0f);
  REQUIRE(q.outlier_cols == std::vector<std::size_t>{1, 2});
  REQUIRE(q.row_absmax == std::vector<float>{1.0f, 3.0f});
  REQUIRE(q.codes == std::vector<std::int8_t>{127, 0, 0, 85, 0, 0});  // 2 * 127 / 3 = 84.67
  const std::vector<float> ties{2.5f, 3.5f, -0.5f, 127.0f};
  const auto t = qtl::ptq::int8_vectorwise_quant(matrix_view<const float>(ties.data(), 1, 4));
  REQUIRE(t.codes == std::vector<std::int8_t>{2, 4, 0, 127});
  REQUIRE(t.outlier_cols.empty());
  const std::vector<float> zero(4, 0.0f);  // an all-zero row: codes 0 (bitsandbytes divides by 0)
  REQUIRE(qtl::ptq::int8_vectorwise_quant(matrix_view<const float>(zero.data(), 1, 4)).codes ==
          std::vector<std::int8_t>(4, 0));
}

TEST_CASE("llm_int8_linear: finds the outlier columns and its error is far below plain int8", "[ptq]") {
  const auto x = ptq_test::outlier_activations();
  const auto w = ptq_test::small_weights();
  const auto exact = ptq_test::exact_linear(x, w);
  std::vector<std::size_t> found;
  const auto y = run(llm_int8_linear(w.view()), x, &found);
  REQUIRE(found == ptq_test::planted_columns);
  // Plain vector-wise int8: the same layer with a threshold no value reaches.
  std::vector<std::size_t> none;
  const auto plain = run(llm_int8_linear(w.view(), {.threshold = 1e30f}), x, &none);
  REQUIRE(none.empty());
  const double e_llm = frobenius_error(y, exact), e_plain = frobenius_error(plain, exact);
  const auto original = run(llm_int8_linear(w.view(), {.weights = outlier_weights::original}), x);
  const double e_original = frobenius_error(original, exact);
  // The paper's LLM.int8 (outlier columns with the float weights): >= 10x below plain int8.
  REQUIRE(e_original * 10.0 <= e_plain);
  // bitsandbytes' (outlier columns with the int8 weights dequantized): the weights' own
  // quantization error, times the large outlier inputs, stays in both; >= 5x below plain,
  // and >= 10x on the activation side, measured against x times the dequantized weights.
  REQUIRE(e_llm * 5.0 <= e_plain);
  ptq_test::matrix wq{w.rows, w.cols, std::vector<float>(w.data.size())};
  const llm_int8_linear layer(w.view());
  const auto& q = layer.weights();
  for (std::size_t i = 0; i < wq.data.size(); ++i) wq.data[i] = q.codes[i] * (q.row_absmax[i / w.cols] / 127.0f);
  const auto exact_wq = ptq_test::exact_linear(x, wq);
  REQUIRE(frobenius_error(y, exact_wq) * 10.0 <= frobenius_error(plain, exact_wq));
}

TEST_CASE("llm_int8_linear: within the int8 step bound of fp32", "[ptq]") {
  // Each product term x w becomes x̂ ŵ with |x - x̂| <= dx/2 (dx = row absmax / 127, outliers
  // excluded) and |w - ŵ| <= dw/2 (dw = output channel absmax / 127), so
  //   |y - y_fp32| <= sum_k |x_k| dw/2 + sum_{k not outlier} |ŵ_k| dx/2 + float rounding,
  // with no weight term for outlier columns kept with the original weights.
  const auto x = ptq_test::outlier_activations();
  const auto w = ptq_test::small_weights();
  const auto exact = ptq_test::exact_linear(x, w);
  for (const auto mode : {outlier_weights::dequantized, outlier_weights::original}) {
    const llm_int8_linear layer(w.view(), {.weights = mode});
    const auto y = run(layer, x);
    const auto a = qtl::ptq::int8_vectorwise_quant(x.view(), 6.0f);
    const auto& wq = layer.weights();
    for (std::size_t m = 0; m < x.rows; ++m)
      for (std::size_t n = 0; n < w.rows; ++n) {
        const double dx = a.row_absmax[m] / 127.0, dw = wq.row_absmax[n] / 127.0;
        double bound = 0.0, magnitude = 0.0;
        for (std::size_t k = 0; k < x.cols; ++k) {
          const bool outlier = contains(a.outlier_cols, k);
          const double what = wq.codes[n * x.cols + k] * dw;
          if (!(outlier && mode == outlier_weights::original)) bound += std::fabs(x(m, k)) * dw / 2;
          if (!outlier) bound += std::fabs(what) * dx / 2;
          magnitude += std::fabs(x(m, k) * what);
        }
        bound += 8 * x.cols * FLT_EPSILON * magnitude;
        REQUIRE(std::fabs(y(m, n) - exact[m * w.rows + n]) <= bound);
      }
  }
}

TEST_CASE("llm_int8_linear: the outlier columns' contribution is exact fp32", "[ptq]") {
  // Only the outlier columns are non-zero: the int8 part is exactly 0 and y is their float
  // product, within the rounding of a 4-term float sum.
  auto x = ptq_test::outlier_activations();
  for (std::size_t r = 0; r < x.rows; ++r)
    for (std::size_t c = 0; c < x.cols; ++c)
      if (!contains(ptq_test::planted_columns, c)) x(r, c) = 0.0f;
  const auto w = ptq_test::small_weights();
  for (const auto mode : {outlier_weights::dequantized, outlier_weights::original}) {
    const llm_int8_linear layer(w.view(), {.weights = mode});
    const auto y = run(layer, x);
    const auto& wq = layer.weights();
    for (std::size_t m = 0; m < x.rows; ++m)
      for (std::size_t n = 0; n < w.rows; ++n) {
        double exact = 0.0, magnitude = 0.0;
        for (std::size_t k : ptq_test::planted_columns) {
          // bitsandbytes' subB: code * absmax * (1/127), in float
          const float wk = mode == outlier_weights::original
                               ? w(n, k)
                               : static_cast<float>(wq.codes[n * x.cols + k]) * wq.row_absmax[n] * (1.0f / 127.0f);
          exact += static_cast<double>(x(m, k)) * wk;
          magnitude += std::fabs(static_cast<double>(x(m, k)) * wk);
        }
        REQUIRE(std::fabs(y(m, n) - exact) <= 4 * FLT_EPSILON * magnitude);
      }
  }
}

TEST_CASE("llm_int8_linear: bad thresholds, shapes and NaN are errors", "[ptq]") {
  const auto w = ptq_test::normal(8, 16, 0.1f, 1);
  auto x = ptq_test::normal(2, 16, 1.0f, 2);
  std::vector<float> y(2 * 8);
  for (float bad : {0.0f, -1.0f, std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    REQUIRE_THROWS_AS(llm_int8_linear(w.view(), {.threshold = bad}), qtl::error);
    REQUIRE_THROWS_AS(qtl::ptq::int8_vectorwise_quant(x.view(), bad), qtl::error);
  }
  const llm_int8_linear layer(w.view());
  REQUIRE_THROWS_AS(layer.forward(x.view(), matrix_view<float>(y.data(), 2, 7)), qtl::error);
  REQUIRE_THROWS_AS(layer.forward(w.view(), matrix_view<float>(y.data(), 2, 8)), qtl::error);
  x(1, 2) = std::numeric_limits<float>::quiet_NaN();
  try {
    (void)layer.forward(x.view(), matrix_view<float>(y.data(), 2, 8));
    FAIL("no error");
  } catch (const qtl::error& e) {
    REQUIRE(e.code() == qtl::errc::non_finite);
  }
}
