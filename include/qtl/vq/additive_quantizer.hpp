// qtl::vq::additive_quantizer: what the additive quantizers (residual_quantizer.hpp,
// local_search_quantizer.hpp) share. m codebooks of 2^nbits codewords of the full
// dimension; a vector is coded as m indices, packed nbits each, and stands for the sum of
// its m codewords. Distances to coded vectors come by ADC from one m x 2^nbits table of
// inner products per query, plus each vector's norm, kept beside its codes. The quantizers
// differ only in how they choose codes and train codebooks.
#pragma once

#include <Eigen/Cholesky>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/core/view.hpp"
#include "qtl/vq/kmeans.hpp"
#include "qtl/vq/product_quantizer.hpp"

namespace qtl::vq {

class additive_quantizer {
 public:
  [[nodiscard]] std::size_t dim() const noexcept { return dim_; }
  [[nodiscard]] std::size_t m() const noexcept { return codebooks_.size(); }
  [[nodiscard]] int nbits() const noexcept { return nbits_; }
  [[nodiscard]] std::size_t ksub() const noexcept { return std::size_t{1} << nbits_; }
  // Bytes of one vector's codes: m codes of nbits, least significant bit first.
  [[nodiscard]] std::size_t code_size() const noexcept { return (m() * static_cast<std::size_t>(nbits_) + 7) / 8; }
  [[nodiscard]] const matrix& codebook(std::size_t s) const { return codebooks_.at(s); }

  // The n vectors the codes stand for: each the sum of its m codewords. Errors: a byte
  // count other than n * code_size.
  [[nodiscard]] matrix decode(std::span<const std::uint8_t> codes, std::size_t n) const {
    check_codes(codes, n, "decode");
    matrix out(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(dim_));
    for (std::size_t i = 0; i < n; ++i) out.row(static_cast<Eigen::Index>(i)) = sum_of(&codes[i * code_size()]);
    return out;
  }

  // |decoded vector|^2 of each of n coded vectors: what the ADC search adds to a query's
  // table sums. Compute them once, after encode, and keep them with the codes.
  [[nodiscard]] std::vector<float> norms(std::span<const std::uint8_t> codes, std::size_t n) const {
    check_codes(codes, n, "norms");
    std::vector<float> out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = sum_of(&codes[i * code_size()]).squaredNorm();
    return out;
  }

  // The ADC table of a query: entry (s, c) is -2 query . (codeword c of codebook s), and
  // codebook 0's entries also hold |query|^2, so that |query - decoded|^2 is the sum of a
  // vector's m entries plus its norm (|q - x|^2 = |q|^2 - 2 q.x + |x|^2, x the sum of its
  // codewords).
  [[nodiscard]] matrix distance_table(std::span<const float> query) const {
    if (query.size() != dim_)
      throw error(errc::shape_mismatch, where("distance_table") + ": a query of " + std::to_string(query.size()) +
                                            " values, dim is " + std::to_string(dim_));
    const Eigen::Map<const Eigen::VectorXf> q(query.data(), static_cast<Eigen::Index>(dim_));
    matrix table(static_cast<Eigen::Index>(m()), static_cast<Eigen::Index>(ksub()));
    for (std::size_t s = 0; s < m(); ++s) table.row(static_cast<Eigen::Index>(s)) = -2.0f * (codebooks_[s] * q).transpose();
    table.row(0).array() += q.squaredNorm();
    return table;
  }

  // Squared distances by ADC: out[i] = norms[i] + the sum over codebooks s of table(s, code
  // s of vector i). Errors: a table, norms or out of the wrong size (shape_mismatch).
  void adc(const matrix& table, std::span<const std::uint8_t> codes, std::size_t n, std::span<const float> norms,
           std::span<float> out) const {
    check_codes(codes, n, "adc");
    check_norms(norms, n, "adc");
    distances(table, codes, n, norms, out, where("adc").c_str());
  }

  // The k nearest of n coded vectors (with their norms()) for each query row, by ADC;
  // queries split over threads. Errors: query rows of another length or not finite, codes
  // or norms of the wrong size, k outside 1..n.
  [[nodiscard]] search_result search(matrix_view<const float> queries, std::span<const std::uint8_t> codes,
                                     std::span<const float> norms, std::size_t n, std::size_t k,
                                     unsigned threads = 1) const {
    check_rows(queries, "search");
    check_codes(codes, n, "search");
    check_norms(norms, n, "search");
    const std::string what = where("search");  // once, not per query
    return detail::search_by(queries.rows(), n, k, threads, what.c_str(), [&](std::size_t q, std::span<float> d) {
      distances(distance_table(std::span(&queries(q, 0), dim_)), codes, n, norms, d, what.c_str());
    });
  }

 protected:
  // name: the derived class, for messages ("vq::residual_quantizer"). Errors: nbits
  // outside 1..8, no codebook or a dimension of 0 (invalid_argument), codebooks of another
  // shape (shape_mismatch), non-finite codewords (non_finite).
  additive_quantizer(const char* name, std::size_t dim, int nbits, std::vector<matrix> codebooks)
      : codebooks_(std::move(codebooks)), name_(name), dim_(dim), nbits_(nbits) {
    if (nbits < 1 || nbits > 8 || codebooks_.empty() || dim == 0)
      throw error(errc::invalid_argument, std::string(name) + ": nbits = " + std::to_string(nbits) + " (1..8), " +
                                              std::to_string(codebooks_.size()) + " codebooks, dimension " +
                                              std::to_string(dim));
    for (std::size_t s = 0; s < codebooks_.size(); ++s) {
      const matrix& c = codebooks_[s];
      if (static_cast<std::size_t>(c.rows()) != ksub() || static_cast<std::size_t>(c.cols()) != dim)
        throw error(errc::shape_mismatch, std::string(name) + ": codebook " + std::to_string(s) + " is " +
                                              std::to_string(c.rows()) + "x" + std::to_string(c.cols()) + ", need " +
                                              std::to_string(ksub()) + "x" + std::to_string(dim));
      if (!c.allFinite())
        throw error(errc::non_finite, std::string(name) + ": codebook " + std::to_string(s) + " is not finite");
    }
  }

  [[nodiscard]] std::string where(const char* method) const { return std::string(name_) + "::" + method; }
  void check_rows(matrix_view<const float> x, const char* method) const {
    if (x.cols() != dim_)
      throw error(errc::shape_mismatch, where(method) + ": rows of " + std::to_string(x.cols()) + " values, dim is " +
                                            std::to_string(dim_));
    detail::check_points(x, where(method).c_str());
  }

  // Codes of n vectors, one index a codebook (n x m), packed nbits each.
  [[nodiscard]] std::vector<std::uint8_t> pack(std::span<const std::uint32_t> indices, std::size_t n) const {
    std::vector<std::uint8_t> codes(n * code_size(), 0);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t s = 0; s < m(); ++s) detail::write_code(&codes[i * code_size()], s, nbits_, indices[i * m() + s]);
    return codes;
  }
  [[nodiscard]] std::vector<std::uint32_t> unpack(std::span<const std::uint8_t> codes, std::size_t n) const {
    std::vector<std::uint32_t> indices(n * m());
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t s = 0; s < m(); ++s) indices[i * m() + s] = detail::read_code(&codes[i * code_size()], s, nbits_);
    return indices;
  }

  // The codebooks that minimise |x - B C|^2 for the given codes (n x m indices), all at once
  // (the codebook step of LSQ++, Martinez et al. 2018): B is the rows x (m 2^nbits) matrix
  // of one-hot codes, C the stacked codewords, solved from (B^T B + l I) C = B^T x + l C_old
  // by a Cholesky factorisation in double. The small l keeps a codeword no row uses as it was.
  void refit(matrix_view<const float> x, std::span<const std::uint32_t> indices) {
    const auto k = static_cast<Eigen::Index>(ksub()), total = static_cast<Eigen::Index>(m()) * k;
    constexpr double ridge = 1e-3;
    Eigen::MatrixXd gram = Eigen::MatrixXd::Identity(total, total) * ridge;
    Eigen::MatrixXd rhs(total, static_cast<Eigen::Index>(dim_));
    for (std::size_t s = 0; s < m(); ++s)
      rhs.middleRows(static_cast<Eigen::Index>(s) * k, k) = ridge * codebooks_[s].cast<double>();
    std::vector<Eigen::Index> at(m());
    for (std::size_t i = 0; i < x.rows(); ++i) {
      for (std::size_t s = 0; s < m(); ++s)
        at[s] = static_cast<Eigen::Index>(s) * k + static_cast<Eigen::Index>(indices[i * m() + s]);
      for (std::size_t s = 0; s < m(); ++s) {
        for (std::size_t t = 0; t < m(); ++t) gram(at[s], at[t]) += 1;
        for (std::size_t c = 0; c < dim_; ++c) rhs(at[s], static_cast<Eigen::Index>(c)) += x(i, c);
      }
    }
    const Eigen::MatrixXd fitted = gram.llt().solve(rhs);
    for (std::size_t s = 0; s < m(); ++s)
      codebooks_[s] = fitted.middleRows(static_cast<Eigen::Index>(s) * k, k).cast<float>();
  }

  std::vector<matrix> codebooks_;

 private:
  [[nodiscard]] Eigen::RowVectorXf sum_of(const std::uint8_t* code) const {
    Eigen::RowVectorXf sum = Eigen::RowVectorXf::Zero(static_cast<Eigen::Index>(dim_));
    for (std::size_t s = 0; s < m(); ++s)
      sum += codebooks_[s].row(static_cast<Eigen::Index>(detail::read_code(code, s, nbits_)));
    return sum;
  }
  // adc's sums without its checks of the codes and norms.
  void distances(const matrix& table, std::span<const std::uint8_t> codes, std::size_t n,
                 std::span<const float> norms, std::span<float> out, const char* what) const {
    detail::table_sums(table, m(), nbits_, codes, n, out, what);
    for (std::size_t i = 0; i < n; ++i) out[i] += norms[i];
  }
  void check_codes(std::span<const std::uint8_t> codes, std::size_t n, const char* method) const {
    detail::check_code_bytes(codes.size(), n, code_size(), where(method).c_str());
  }
  void check_norms(std::span<const float> norms, std::size_t n, const char* method) const {
    if (norms.size() != n)
      throw error(errc::shape_mismatch,
                  where(method) + ": " + std::to_string(norms.size()) + " norms for " + std::to_string(n) + " vectors");
  }

  const char* name_;
  std::size_t dim_;
  int nbits_;
};

}  // namespace qtl::vq
