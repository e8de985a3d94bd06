// qtl::ptq::low_rank_correction: the truncated SVD of the residual (Eckart–Young: the
// error left is the sum of the dropped singular values squared), exact at full rank,
// activation-aware weighting that lowers the layer error, the budget rule, bad input.
#include "qtl/ptq/low_rank.hpp"

#include <catch2/catch_test_macros.hpp>
#include <cmath>
#include <vector>

#include "qtl/format/int_format.hpp"
#include "qtl/ptq/layer_error.hpp"
#include "qtl/scheme.hpp"
#include "synthetic_layer.hpp"

using namespace qtl_test;

namespace {

std::vector<float> int3_rtn(const layer& l) {
  std::vector<float> q(l.w.size());
  qtl::quantizer<qtl::int_format<3, true>, qtl::symmetric, qtl::per_group<32>>().fake_quantize(
      matrix_view<const float>(l.w.data(), l.out, l.in), matrix_view<float>(q.data(), l.out, l.in));
  return q;
}

Eigen::MatrixXd product(const qtl::ptq::low_rank_result& r) {
  const Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> a(
      r.a.data(), static_cast<Eigen::Index>(r.rows), static_cast<Eigen::Index>(r.rank));
  const Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> b(
      r.b.data(), static_cast<Eigen::Index>(r.rank), static_cast<Eigen::Index>(r.cols));
  return (a * b).cast<double>();
}

}  // namespace

TEST_CASE("low-rank correction keeps the largest singular directions of the residual", "[ptq][low_rank]") {
  const layer l = correlated(256, 96, 64, 11);
  const auto q = int3_rtn(l);
  const matrix_view<const float> w(l.w.data(), l.out, l.in), qv(q.data(), l.out, l.in);
  Eigen::MatrixXd residual(l.out, l.in);
  for (std::size_t i = 0; i < q.size(); ++i) residual(i / l.in, i % l.in) = double(l.w[i]) - q[i];
  const Eigen::VectorXd sigma = Eigen::JacobiSVD<Eigen::MatrixXd>(residual).singularValues();
  double previous = residual.squaredNorm();
  for (const std::size_t rank : {0, 1, 8, 32}) {
    const auto r = qtl::ptq::low_rank_correction(w, qv, rank);
    REQUIRE(r.a.size() == l.out * rank);
    REQUIRE(r.b.size() == rank * l.in);
    CHECK(std::abs(r.error_before - residual.squaredNorm()) <= 1e-9 * residual.squaredNorm());
    const double dropped = sigma.tail(sigma.size() - static_cast<Eigen::Index>(rank)).squaredNorm();
    CHECK(std::abs(r.error_after - dropped) <= 1e-6 * residual.squaredNorm());
    // The factors as stored (float) reproduce the reported error.
    CHECK(std::abs((residual - product(r)).squaredNorm() - dropped) <= 1e-5 * residual.squaredNorm());
    CHECK(r.error_after <= previous);
    previous = r.error_after;
  }
  const auto full = qtl::ptq::low_rank_correction(w, qv, 64);
  CHECK(full.error_after <= 1e-10 * full.error_before);
}

TEST_CASE("activation-aware low rank lowers the layer's output error more than plain SVD", "[ptq][low_rank]") {
  const layer l = correlated(512, 128, 64, 12);
  const auto in = inputs_of(l);
  const Eigen::MatrixXd h = in.hessian();
  const auto q = int3_rtn(l);
  const matrix_view<const float> w(l.w.data(), l.out, l.in), qv(q.data(), l.out, l.in);
  Eigen::MatrixXd residual(l.out, l.in);
  for (std::size_t i = 0; i < q.size(); ++i) residual(i / l.in, i % l.in) = double(l.w[i]) - q[i];
  for (const std::size_t rank : {4, 16}) {
    const auto aware = qtl::ptq::low_rank_correction(w, qv, rank, &in);
    const auto plain = qtl::ptq::low_rank_correction(w, qv, rank);
    CAPTURE(rank, aware.error_before, aware.error_after);
    CHECK(std::abs(aware.error_before - qtl::ptq::layer_error(residual, h)) <= 1e-9 * aware.error_before);
    CHECK(aware.error_after < qtl::ptq::layer_error(residual - product(plain), h));
    CHECK(aware.error_after < 0.9 * aware.error_before);
  }
}

TEST_CASE("low-rank budget and bad input", "[ptq][low_rank]") {
  STATIC_REQUIRE(qtl::ptq::low_rank_for_budget(4096, 4096, 1.0) == 128);  // 16-bit factors
  STATIC_REQUIRE(qtl::ptq::low_rank_for_budget(4096, 4096, 0.5, 8) == 128);
  STATIC_REQUIRE(qtl::ptq::low_rank_for_budget(384, 1536, 0.0) == 0);
  STATIC_REQUIRE(qtl::ptq::low_rank_for_budget(8, 8, 1000.0) == 8);
  STATIC_REQUIRE(qtl::ptq::low_rank_for_budget(8, 8, 1e300) == 8);  // past size_t: clamped before the cast
  std::vector<float> w(64, 0.5f), q(64, 0.25f);
  const matrix_view<const float> wv(w.data(), 8, 8), qv(q.data(), 8, 8);
  CHECK_THROWS_AS(qtl::ptq::low_rank_correction(wv, qv, 9), qtl::error);
  CHECK_THROWS_AS(qtl::ptq::low_rank_correction(wv, matrix_view<const float>(q.data(), 4, 16), 1), qtl::error);
  const qtl::ptq::layer_inputs other(16);
  CHECK_THROWS_AS(qtl::ptq::low_rank_correction(wv, qv, 1, &other), qtl::error);
  w[3] = INFINITY;
  CHECK_THROWS_AS(qtl::ptq::low_rank_correction(wv, qv, 1), qtl::error);
}
