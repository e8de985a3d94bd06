// qtl::vq::local_search_quantizer: additive quantization trained and encoded as in LSQ++
// (Martinez, Zakhmi, Hoos and Little, ECCV 2018; faiss's LocalSearchQuantizer). Like RQ, m
// codebooks of the full dimension and a vector stands for the sum of its m codewords; unlike
// RQ, the m codes are chosen jointly, not stage by stage. A row's error |x - sum_s c_s|^2 is
// |x|^2 plus unary terms u_s(a) = |c_s(a)|^2 - 2 x.c_s(a) plus pairwise terms
// 2 c_s(a).c_t(b), so codes are found by iterated local search: redraw a few codes at
// random, improve each code in turn with the others fixed (iterated conditional modes,
// ICM), and keep a row's new codes only where they lower its error. Training alternates the
// joint least-squares codebook step (additive_quantizer::refit) with that code step, adding
// noise to the codebooks that fades over the iterations (LSQ++'s stochastic relaxation).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numbers>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/core/view.hpp"
#include "qtl/kernel/parallel_for.hpp"
#include "qtl/vq/additive_quantizer.hpp"
#include "qtl/vq/kmeans.hpp"
#include "qtl/vq/simd_nearest.hpp"

namespace qtl::vq {

struct lsq_encode_options {
  std::size_t ils_iterations = 16;  // rounds of perturbing and descending per row (faiss's encode_ils_iters)
  std::size_t icm_iterations = 4;   // sweeps over the m codes in each round
  std::size_t perturbations = 4;    // codes redrawn at random before each round
  std::uint64_t seed = 1234;        // each row draws from (seed, row index): codes independent of threads
};

struct lsq_options {
  std::size_t iterations = 25;           // codebook steps, each followed by a code step
  std::size_t train_ils_iterations = 8;  // rounds of local search in each code step
  // Noise added to the codebooks before code step i: normal, with each dimension's standard
  // deviation over the rows, times (1 - (i + 1) / iterations)^annealing_power / m.
  double annealing_power = 0.5;
  lsq_encode_options encode;  // the code step's other settings, and what encode() uses after training
  unsigned threads = 1;       // 0: all hardware threads
};

namespace detail {

// The pairwise terms 2 c_s(a).c_t(b) of m codebooks of k codewords, laid out so that for a
// fixed code b of codebook t the k values over a are one row.
class lsq_pairs {
 public:
  explicit lsq_pairs(const std::vector<matrix>& books)
      : m_(books.size()), k_(static_cast<std::size_t>(books[0].rows())), values_(m_ * m_ * k_ * k_) {
    for (std::size_t t = 0; t < m_; ++t)
      for (std::size_t s = 0; s < m_; ++s) {
        if (s == t) continue;
        Eigen::Map<matrix> block(&values_[(t * m_ + s) * k_ * k_], static_cast<Eigen::Index>(k_),
                                 static_cast<Eigen::Index>(k_));
        block.noalias() = 2.0f * books[t] * books[s].transpose();  // (b, a)
      }
  }
  [[nodiscard]] const float* row(std::size_t s, std::size_t t, std::uint32_t b) const noexcept {
    return &values_[((t * m_ + s) * k_ + b) * k_];
  }

 private:
  std::size_t m_, k_;
  std::vector<float> values_;
};

// A row's error, less |x|^2, for codes c: the unary terms (u, m x k) and the pairwise ones.
inline float lsq_energy(const float* u, const lsq_pairs& pairs, std::span<const std::uint32_t> c, std::size_t k) {
  float e = 0;
  for (std::size_t s = 0; s < c.size(); ++s) {
    e += u[s * k + c[s]];
    for (std::size_t t = s + 1; t < c.size(); ++t) e += pairs.row(s, t, c[t])[c[s]];
  }
  return e;
}

// Iterated local search on one row from its codes `best`, which end as the best found.
inline void lsq_search_row(const float* u, const lsq_pairs& pairs, std::span<std::uint32_t> best, std::size_t k,
                           std::size_t rounds, const lsq_encode_options& opt, std::mt19937_64& rng,
                           std::vector<std::uint32_t>& codes, std::vector<float>& cost) {
  const std::size_t m = best.size();
  float best_energy = lsq_energy(u, pairs, best, k);
  for (std::size_t round = 0; round < rounds; ++round) {
    codes.assign(best.begin(), best.end());
    for (std::size_t p = 0; p < opt.perturbations; ++p)
      codes[uniform_index(rng, m)] = static_cast<std::uint32_t>(uniform_index(rng, k));
    for (std::size_t sweep = 0; sweep < opt.icm_iterations; ++sweep)
      for (std::size_t s = 0; s < m; ++s) {
        std::copy_n(u + s * k, k, cost.begin());
        for (std::size_t t = 0; t < m; ++t) {
          if (t == s) continue;
          const float* pair = pairs.row(s, t, codes[t]);
          for (std::size_t a = 0; a < k; ++a) cost[a] += pair[a];
        }
        codes[s] = static_cast<std::uint32_t>(argmin(cost.data(), k));
      }
    if (const float e = lsq_energy(u, pairs, codes, k); e < best_energy) {
      best_energy = e;
      std::copy(codes.begin(), codes.end(), best.begin());
    }
  }
}

// A row's own generator: the same draws for a row whatever the threads.
inline std::mt19937_64 row_generator(std::uint64_t seed, std::size_t row) {
  return std::mt19937_64(seed ^ (0x9E3779B97F4A7C15ull * (static_cast<std::uint64_t>(row) + 1)));
}

}  // namespace detail

class local_search_quantizer : public additive_quantizer {
 public:
  // From trained or stored codebooks: m of 2^nbits x dim. Errors: those of
  // additive_quantizer, and of set_encode_options.
  local_search_quantizer(std::size_t dim, int nbits, std::vector<matrix> codebooks, const lsq_encode_options& opt = {})
      : additive_quantizer("vq::local_search_quantizer", dim, nbits, std::move(codebooks)) {
    set_encode_options(opt);
  }

  // m codebooks trained on the rows of x: random codes, then opt.iterations rounds of the
  // codebook step, noise, and train_ils_iterations rounds of local search per row, then a
  // last codebook step. Deterministic for a seed, whatever the threads. Errors: those of
  // the constructor, nbits outside 1..8, m or iterations of 0 or fewer rows than 2^nbits
  // (invalid_argument), non-finite values (non_finite).
  static local_search_quantizer train(matrix_view<const float> x, std::size_t m, int nbits = 8,
                                      const lsq_options& opt = {}) {
    constexpr const char* what = "vq::local_search_quantizer::train";
    detail::check_points(x, what);
    if (nbits < 1 || nbits > 8 || m < 1 || opt.iterations < 1 || opt.train_ils_iterations < 1)
      throw error(errc::invalid_argument, std::string(what) + ": nbits = " + std::to_string(nbits) + " (1..8), m = " +
                                              std::to_string(m) + ", " + std::to_string(opt.iterations) +
                                              " iterations, " + std::to_string(opt.train_ils_iterations) +
                                              " local search rounds");
    const std::size_t k = std::size_t{1} << nbits;
    if (x.rows() < k)
      throw error(errc::invalid_argument, std::string(what) + ": " + std::to_string(x.rows()) + " rows for 2^" +
                                              std::to_string(nbits) + " codewords");
    local_search_quantizer q(x.cols(), nbits, std::vector<matrix>(m, matrix::Zero(static_cast<Eigen::Index>(k),
                                                                                  static_cast<Eigen::Index>(x.cols()))),
                             opt.encode);
    std::mt19937_64 rng(opt.encode.seed);
    std::vector<std::uint32_t> codes(x.rows() * m);
    for (std::uint32_t& c : codes) c = static_cast<std::uint32_t>(detail::uniform_index(rng, k));
    const Eigen::RowVectorXf deviation = standard_deviation(x);
    for (std::size_t it = 0; it < opt.iterations; ++it) {
      q.refit(x, codes);
      const double scale = std::pow(1.0 - static_cast<double>(it + 1) / static_cast<double>(opt.iterations),
                                    opt.annealing_power) / static_cast<double>(m);
      for (matrix& book : q.codebooks_)
        for (Eigen::Index a = 0; a < book.rows(); ++a)
          for (Eigen::Index j = 0; j < book.cols(); ++j)
            book(a, j) += static_cast<float>(scale * deviation(j) * normal(rng));
      q.local_search(x, codes, opt.train_ils_iterations, opt.encode.seed + it + 1, opt.threads);
    }
    q.refit(x, codes);
    return q;
  }

  [[nodiscard]] const lsq_encode_options& encode_options() const noexcept { return encode_; }
  // Errors: ils_iterations or icm_iterations of 0 (invalid_argument).
  void set_encode_options(const lsq_encode_options& opt) {
    if (opt.ils_iterations < 1 || opt.icm_iterations < 1)
      throw error(errc::invalid_argument, "vq::local_search_quantizer: " + std::to_string(opt.ils_iterations) +
                                              " local search rounds, " + std::to_string(opt.icm_iterations) +
                                              " ICM sweeps (at least 1 each)");
    encode_ = opt;
  }

  // rows x code_size bytes: from random codes, encode_options().ils_iterations rounds of
  // local search per row. The same codes for any thread count. Errors: a row length other
  // than dim, non-finite values.
  [[nodiscard]] std::vector<std::uint8_t> encode(matrix_view<const float> x, unsigned threads = 1) const {
    check_rows(x, "encode");
    std::vector<std::uint32_t> codes(x.rows() * m());
    for (std::size_t i = 0; i < x.rows(); ++i) {
      std::mt19937_64 rng = detail::row_generator(~encode_.seed, i);
      for (std::size_t s = 0; s < m(); ++s) codes[i * m() + s] = static_cast<std::uint32_t>(detail::uniform_index(rng, ksub()));
    }
    local_search(x, codes, encode_.ils_iterations, encode_.seed, threads);
    return pack(codes, x.rows());
  }

 private:
  // Local search on every row from its codes (rows x m), by blocks of rows over threads;
  // each block's unary terms are one product with the stacked codebooks.
  void local_search(matrix_view<const float> x, std::vector<std::uint32_t>& codes, std::size_t rounds, std::uint64_t seed,
              unsigned threads) const {
    const std::size_t k = ksub();
    const detail::lsq_pairs pairs(codebooks_);
    matrix stacked(static_cast<Eigen::Index>(m() * k), static_cast<Eigen::Index>(dim()));
    for (std::size_t s = 0; s < m(); ++s) stacked.middleRows(static_cast<Eigen::Index>(s * k), static_cast<Eigen::Index>(k)) = codebooks_[s];
    const Eigen::RowVectorXf norms = stacked.rowwise().squaredNorm().transpose();
    const auto rows = as_eigen(x);
    constexpr std::size_t block = 64;
    kernel::parallel_for((x.rows() + block - 1) / block, detail::thread_count(threads),
                         [&](std::size_t first, std::size_t last) {
                           matrix unary;
                           std::vector<std::uint32_t> scratch(m());
                           std::vector<float> cost(k);
                           for (std::size_t b = first; b < last; ++b) {
                             const std::size_t r0 = b * block, n = std::min(block, x.rows() - r0);
                             unary.noalias() = rows.middleRows(static_cast<Eigen::Index>(r0), static_cast<Eigen::Index>(n)) *
                                               stacked.transpose();
                             unary = (unary * -2.0f).rowwise() + norms;
                             for (std::size_t i = 0; i < n; ++i) {
                               std::mt19937_64 rng = detail::row_generator(seed, r0 + i);
                               detail::lsq_search_row(&unary(static_cast<Eigen::Index>(i), 0), pairs,
                                                      std::span(&codes[(r0 + i) * m()], m()), k, rounds, encode_, rng,
                                                      scratch, cost);
                             }
                           }
                         });
  }

  static Eigen::RowVectorXf standard_deviation(matrix_view<const float> x) {
    const auto rows = as_eigen(x);
    const Eigen::RowVectorXd mean = rows.cast<double>().colwise().mean();
    return ((rows.cast<double>().rowwise() - mean).array().square().colwise().mean().sqrt()).cast<float>();
  }
  // A standard normal draw by Box and Muller, from the project's own uniform draws.
  static double normal(std::mt19937_64& rng) {
    const double u = 1.0 - detail::uniform01(rng), v = detail::uniform01(rng);
    return std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * std::numbers::pi * v);
  }

  lsq_encode_options encode_;
};

}  // namespace qtl::vq
