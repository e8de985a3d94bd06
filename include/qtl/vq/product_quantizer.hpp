// qtl::vq::product_quantizer: product quantization (Jégou, Douze and Schmid 2011). A vector
// is cut into m sub-vectors, each coded by the nearest of 2^nbits centroids learned by
// k-means (kmeans.hpp) on that sub-space; codes are packed nbits each. Distances from a
// query to coded vectors come from one m x 2^nbits table per query (ADC).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/core/view.hpp"
#include "qtl/kernel/parallel_for.hpp"
#include "qtl/vq/kmeans.hpp"
#include "qtl/vq/simd_nearest.hpp"

namespace qtl::vq {

namespace detail {

// Columns [j * sub, (j + 1) * sub) of every row.
inline matrix_view<const float> sub_space(matrix_view<const float> x, std::size_t j, std::size_t sub) {
  return {x.data() + j * sub, x.rows(), sub, x.rows() > 1 ? x.row_stride() : x.cols()};
}

// Code j of a vector's bytes: bits [j * nbits, (j + 1) * nbits), least significant first.
inline void write_code(std::uint8_t* bytes, std::size_t j, int nbits, std::uint32_t code) noexcept {
  for (int b = 0; b < nbits; ++b) {
    const std::size_t bit = j * static_cast<std::size_t>(nbits) + static_cast<std::size_t>(b);
    bytes[bit / 8] = static_cast<std::uint8_t>(bytes[bit / 8] | (((code >> b) & 1u) << (bit % 8)));
  }
}
[[nodiscard]] inline std::uint32_t read_code(const std::uint8_t* bytes, std::size_t j, int nbits) noexcept {
  std::uint32_t code = 0;
  for (int b = 0; b < nbits; ++b) {
    const std::size_t bit = j * static_cast<std::size_t>(nbits) + static_cast<std::size_t>(b);
    code |= static_cast<std::uint32_t>((bytes[bit / 8] >> (bit % 8)) & 1u) << b;
  }
  return code;
}

// A code buffer must hold n vectors of code_size bytes each.
inline void check_code_bytes(std::size_t bytes, std::size_t n, std::size_t code_size, const char* what) {
  if (bytes != n * code_size)
    throw error(errc::shape_mismatch, std::string(what) + ": " + std::to_string(bytes) + " bytes for " +
                                          std::to_string(n) + " vectors of " + std::to_string(code_size) + " bytes");
}

// out[i] = the sum over j of table(j, code j of vector i), for n vectors of m codes: the
// ADC step that PQ and RQ share. Errors: a table other than m x 2^nbits, or out shorter
// than n (shape_mismatch).
inline void table_sums(const matrix& table, std::size_t m, int nbits, std::span<const std::uint8_t> codes,
                       std::size_t n, std::span<float> out, const char* what) {
  const std::size_t stride = std::size_t{1} << nbits;
  if (static_cast<std::size_t>(table.rows()) != m || static_cast<std::size_t>(table.cols()) != stride)
    throw error(errc::shape_mismatch, std::string(what) + ": a " + std::to_string(table.rows()) + "x" +
                                          std::to_string(table.cols()) + " table, need " + std::to_string(m) + "x" +
                                          std::to_string(stride));
  check_room(out.size(), n, what, "out", "distances");
  const float* t = table.data();
  const std::size_t size = codes.size() / std::max<std::size_t>(n, 1);
  if (nbits == 8) {  // one byte per code: a table read per byte
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint8_t* c = &codes[i * size];
      float d = 0;
      for (std::size_t j = 0; j < m; ++j) d += t[j * stride + c[j]];
      out[i] = d;
    }
  } else {
    for (std::size_t i = 0; i < n; ++i) {
      float d = 0;
      for (std::size_t j = 0; j < m; ++j) d += t[j * stride + read_code(&codes[i * size], j, nbits)];
      out[i] = d;
    }
  }
}

}  // namespace detail

// The k nearest coded vectors of each query: row q of labels and distances (squared L2
// by ADC), nearest first, the lower index on a tie.
struct search_result {
  std::size_t k = 0;
  std::vector<std::size_t> labels;
  std::vector<float> distances;
};

namespace detail {

// The k nearest of n vectors for each of `queries` queries: distances(q, d) fills d with
// query q's n distances; queries are split over threads. The shape of every ADC search.
template <class Distances>
search_result search_by(std::size_t queries, std::size_t n, std::size_t k, unsigned threads, const char* what,
                        Distances distances) {
  if (k < 1 || k > n)
    throw error(errc::invalid_argument,
                std::string(what) + ": k = " + std::to_string(k) + " of " + std::to_string(n) + " vectors");
  search_result r{k, std::vector<std::size_t>(queries * k), std::vector<float>(queries * k)};
  kernel::parallel_for(queries, thread_count(threads), [&](std::size_t first, std::size_t last) {
    std::vector<float> d(n);
    std::vector<std::size_t> order(n);
    for (std::size_t q = first; q < last; ++q) {
      distances(q, std::span<float>(d));
      std::iota(order.begin(), order.end(), std::size_t{0});
      std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                        [&](std::size_t a, std::size_t b) { return d[a] < d[b] || (d[a] == d[b] && a < b); });
      for (std::size_t i = 0; i < k; ++i) r.labels[q * k + i] = order[i], r.distances[q * k + i] = d[order[i]];
    }
  });
  return r;
}

}  // namespace detail

class product_quantizer {
 public:
  // From trained or stored codebooks: m of them, each 2^nbits x (dim / m). Errors on any
  // shape that does not fit (shape_mismatch), non-finite centroids (non_finite).
  product_quantizer(std::size_t dim, std::size_t m, int nbits, std::vector<matrix> codebooks)
      : dim_(dim), m_(m), nbits_(nbits), codebooks_(std::move(codebooks)) {
    check_shape(dim, m, nbits, "vq::product_quantizer");
    if (codebooks_.size() != m)
      throw error(errc::shape_mismatch, "vq::product_quantizer: " + std::to_string(codebooks_.size()) +
                                            " codebooks for m = " + std::to_string(m));
    for (std::size_t j = 0; j < m; ++j) {
      const matrix& c = codebooks_[j];
      if (static_cast<std::size_t>(c.rows()) != ksub() || static_cast<std::size_t>(c.cols()) != sub_dim())
        throw error(errc::shape_mismatch, "vq::product_quantizer: codebook " + std::to_string(j) + " is " +
                                              std::to_string(c.rows()) + "x" + std::to_string(c.cols()) + ", need " +
                                              std::to_string(ksub()) + "x" + std::to_string(sub_dim()));
      if (!c.allFinite())
        throw error(errc::non_finite, "vq::product_quantizer: codebook " + std::to_string(j) + " is not finite");
    }
  }

  // m sub-quantizers of 2^nbits centroids trained on the rows of x (sub-space j with seed
  // opt.seed + j; opt.threads sub-spaces at a time, the same codebooks for any count).
  // Errors: dim not divisible by m, nbits outside 1..8, fewer rows than 2^nbits, no rows
  // (invalid_argument); non-finite values (non_finite).
  static product_quantizer train(matrix_view<const float> x, std::size_t m, int nbits = 8,
                                 const kmeans_options& opt = {}) {
    check_shape(x.cols(), m, nbits, "vq::product_quantizer::train");
    const std::size_t sub = x.cols() / m, k = std::size_t{1} << nbits;
    if (x.rows() < k)
      throw error(errc::invalid_argument, "vq::product_quantizer::train: " + std::to_string(x.rows()) +
                                              " rows for 2^" + std::to_string(nbits) + " centroids per sub-space");
    detail::check_points(x, "vq::product_quantizer::train");
    // The sub-spaces are trained side by side, one thread each: every one sees the same
    // single-threaded k-means, so the codebooks do not depend on the thread count.
    std::vector<matrix> books(m);
    kmeans_options one = opt;
    one.threads = 1;
    kernel::parallel_for(m, detail::thread_count(opt.threads), [&](std::size_t first, std::size_t last) {
      for (std::size_t j = first; j < last; ++j) {
        kmeans_options o = one;
        o.seed = opt.seed + j;
        const matrix part = as_eigen(detail::sub_space(x, j, sub));  // contiguous: every Lloyd pass reads it from cache
        books[j] = kmeans(view(part), k, o).centroids;
      }
    });
    return product_quantizer(x.cols(), m, nbits, std::move(books));
  }

  [[nodiscard]] std::size_t dim() const noexcept { return dim_; }
  [[nodiscard]] std::size_t m() const noexcept { return m_; }
  [[nodiscard]] int nbits() const noexcept { return nbits_; }
  [[nodiscard]] std::size_t ksub() const noexcept { return std::size_t{1} << nbits_; }
  [[nodiscard]] std::size_t sub_dim() const noexcept { return dim_ / m_; }
  // Bytes of one vector's codes: m codes of nbits, least significant bit first.
  [[nodiscard]] std::size_t code_size() const noexcept { return (m_ * static_cast<std::size_t>(nbits_) + 7) / 8; }
  [[nodiscard]] const matrix& codebook(std::size_t j) const { return codebooks_.at(j); }

  // rows x code_size bytes. Errors: a row length other than dim, non-finite values.
  [[nodiscard]] std::vector<std::uint8_t> encode(matrix_view<const float> x, unsigned threads = 1) const {
    check_rows(x, "vq::product_quantizer::encode");
    std::vector<std::uint8_t> codes(x.rows() * code_size(), 0);
    // Each codebook laid out for the search once here rather than once per block (the rows
    // were checked finite above).
    std::vector<prepared_centroids> books;
    for (const matrix& c : codebooks_) books.emplace_back(c);
    // Blocks of rows, each through every sub-space in turn, so a block is read from memory
    // once rather than once per sub-space; blocks are split over the threads.
    constexpr std::size_t block = 256;
    kernel::parallel_for((x.rows() + block - 1) / block, detail::thread_count(threads),
                         [&](std::size_t first, std::size_t last) {
                           assignment a{std::vector<std::uint32_t>(block), std::vector<float>(block)};
                           for (std::size_t b = first; b < last; ++b) {
                             const std::size_t r0 = b * block, n = std::min(block, x.rows() - r0);
                             const matrix_view<const float> rows(&x(r0, 0), n, dim_, n > 1 ? x.row_stride() : dim_);
                             for (std::size_t j = 0; j < m_; ++j) {
                               const matrix_view<const float> sub = detail::sub_space(rows, j, sub_dim());
                               books[j].assign(sub, 0, n, a.labels.data(), a.distances.data());
                               for (std::size_t i = 0; i < n; ++i)
                                 detail::write_code(&codes[(r0 + i) * code_size()], j, nbits_, a.labels[i]);
                             }
                           }
                         });
    return codes;
  }

  // The n vectors the codes stand for. Errors: a byte count other than n * code_size.
  [[nodiscard]] matrix decode(std::span<const std::uint8_t> codes, std::size_t n) const {
    check_codes(codes, n, "vq::product_quantizer::decode");
    matrix out(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(dim_));
    const auto sub = static_cast<Eigen::Index>(sub_dim());
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < m_; ++j)
        out.row(static_cast<Eigen::Index>(i)).segment(static_cast<Eigen::Index>(j) * sub, sub) =
            codebooks_[j].row(static_cast<Eigen::Index>(detail::read_code(&codes[i * code_size()], j, nbits_)));
    return out;
  }

  // The ADC table of a query: entry (j, c) is |query sub-vector j - centroid c of j|^2.
  [[nodiscard]] matrix distance_table(std::span<const float> query) const {
    if (query.size() != dim_)
      throw error(errc::shape_mismatch, "vq::product_quantizer::distance_table: a query of " +
                                            std::to_string(query.size()) + " values, dim is " + std::to_string(dim_));
    matrix table(static_cast<Eigen::Index>(m_), static_cast<Eigen::Index>(ksub()));
    const auto sub = static_cast<Eigen::Index>(sub_dim());
    const Eigen::Map<const Eigen::RowVectorXf> q(query.data(), static_cast<Eigen::Index>(dim_));
    for (std::size_t j = 0; j < m_; ++j)
      table.row(static_cast<Eigen::Index>(j)) =
          (codebooks_[j].rowwise() - q.segment(static_cast<Eigen::Index>(j) * sub, sub)).rowwise().squaredNorm().transpose();
    return table;
  }

  // Squared distances by ADC: out[i] = sum over j of table(j, code j of vector i).
  void adc(const matrix& table, std::span<const std::uint8_t> codes, std::size_t n, std::span<float> out) const {
    check_codes(codes, n, "vq::product_quantizer::adc");
    detail::table_sums(table, m_, nbits_, codes, n, out, "vq::product_quantizer::adc");
  }

  // The k nearest of n coded vectors for each query row, by ADC; queries split over threads.
  [[nodiscard]] search_result search(matrix_view<const float> queries, std::span<const std::uint8_t> codes,
                                     std::size_t n, std::size_t k, unsigned threads = 1) const {
    check_rows(queries, "vq::product_quantizer::search");
    check_codes(codes, n, "vq::product_quantizer::search");
    return detail::search_by(queries.rows(), n, k, threads, "vq::product_quantizer::search",
                             [&](std::size_t q, std::span<float> d) {
                               adc(distance_table(std::span(&queries(q, 0), dim_)), codes, n, d);
                             });
  }

 private:
  static void check_shape(std::size_t dim, std::size_t m, int nbits, const char* what) {
    if (m < 1 || dim == 0 || dim % m != 0)
      throw error(errc::invalid_argument, std::string(what) + ": dimension " + std::to_string(dim) +
                                              " is not divisible into m = " + std::to_string(m) + " sub-vectors");
    if (nbits < 1 || nbits > 8)
      throw error(errc::invalid_argument, std::string(what) + ": nbits = " + std::to_string(nbits) + ", need 1..8");
  }
  void check_rows(matrix_view<const float> x, const char* what) const {
    if (x.cols() != dim_)
      throw error(errc::shape_mismatch, std::string(what) + ": rows of " + std::to_string(x.cols()) + " values, dim is " +
                                            std::to_string(dim_));
    detail::check_points(x, what);
  }
  void check_codes(std::span<const std::uint8_t> codes, std::size_t n, const char* what) const {
    detail::check_code_bytes(codes.size(), n, code_size(), what);
  }
  std::size_t dim_, m_;
  int nbits_;
  std::vector<matrix> codebooks_;
};

}  // namespace qtl::vq
