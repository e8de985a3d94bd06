// qtl::vq::residual_quantizer: residual quantization (RQ). m stages of 2^nbits codewords of
// the full dimension: stage s codes what stages before it left, and a vector is the sum of
// its m codewords. Codes are chosen by beam search (as in faiss's ResidualQuantizer): the
// `beam` best partial sums are kept at each stage, each extended by every codeword. Stage
// s's codebook is trained by k-means on the residuals of the beams of stages before it,
// on progressively more principal components (and, optionally, all codebooks refitted
// together). Decoding and the ADC search are additive_quantizer's.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/core/view.hpp"
#include "qtl/kernel/parallel_for.hpp"
#include "qtl/vq/additive_quantizer.hpp"
#include "qtl/vq/kmeans.hpp"
#include "qtl/vq/product_quantizer.hpp"
#include "qtl/vq/progressive_kmeans.hpp"
#include "qtl/vq/simd_nearest.hpp"

namespace qtl::vq {

struct rq_options {
  std::size_t beam = 5;             // partial codes kept per vector while training (faiss's default)
  std::size_t progressive_steps = 10;  // each stage's k-means over more principal components in 10 steps
  // d/10, 2d/10, ... components; geometric: d^(1/10), d^(2/10), ... (faiss's), about half the time
  progressive_schedule schedule = progressive_schedule::linear;
  // Rounds of encoding the training rows and refitting every codebook at once. Off by
  // default: it lowers the error on the training rows but raised it on others (docs/vq.md).
  int refine_iterations = 0;
  kmeans_options kmeans{.iterations = 10};  // each stage's k-means, per step (stage s with seed + s)
};

namespace detail {

// The beam of every row after some stages: `width` paths per row, best first, each with
// its codes so far, its residual (row minus the codewords chosen) and its squared norm.
struct beams {
  std::size_t width = 1;
  matrix residuals;                  // rows * width x dim
  std::vector<float> errors;         // rows * width
  std::vector<std::uint32_t> codes;  // rows * width x stages
};

inline beams start_beams(matrix_view<const float> x, std::size_t stages) {
  beams b;
  b.residuals = as_eigen(x);
  b.errors.resize(x.rows());
  for (std::size_t i = 0; i < x.rows(); ++i) b.errors[i] = b.residuals.row(static_cast<Eigen::Index>(i)).squaredNorm();
  b.codes.assign(x.rows() * stages, 0);
  return b;
}

// Stage `stage` of the beam search: every path of a row is extended by every codeword and
// the `width` best extensions are kept (the lower path and codeword on a tie). The errors
// |r - c|^2 = |r|^2 + (|c|^2 - 2 r.c) come from the fused kernel's walk (simd_nearest.hpp)
// over the paths; each row keeps its best extensions so far in a short sorted list, and a
// batch of scores none of which beats the list's last is dropped with one comparison.
inline beams extend_beams(const beams& in, std::size_t rows, const matrix& book, std::size_t stage, std::size_t stages,
                          std::size_t width, unsigned threads) {
  const std::size_t k = static_cast<std::size_t>(book.rows()), w = in.width;
  width = std::min(width, w * k);
  beams out;
  out.width = width;
  out.residuals.resize(static_cast<Eigen::Index>(rows * width), book.cols());
  out.errors.resize(rows * width);
  out.codes.resize(rows * width * stages);
  const centroid_panels panels(book);
  const matrix_view<const float> paths = view(in.residuals);
  struct extension {
    float error;
    std::size_t candidate;  // path * k + codeword
    bool operator<(const extension& o) const {
      return error < o.error || (error == o.error && candidate < o.candidate);
    }
  };
  const std::size_t block = std::max<std::size_t>(1, 96 / w);  // rows a block of the walk (96 paths or one row)
  constexpr std::size_t task = 64;                               // rows a task
  kernel::parallel_for((rows + task - 1) / task, thread_count(threads), [&](std::size_t first, std::size_t last) {
    std::vector<extension> best(block * width);  // each row's best extensions so far, sorted
    std::vector<std::size_t> kept(block);
    std::vector<float> bar(block);  // the error an extension must not exceed to enter: the list's last
    alignas(64) std::array<float, batch_width> error{};
    std::size_t row0 = 0;
    panel_walk(
        paths, panels, first * task * w, std::min(last * task, rows) * w, block * w,
        [&](std::size_t start, std::size_t) {
          row0 = start / w;
          std::fill(kept.begin(), kept.end(), 0);
          std::fill(bar.begin(), bar.end(), std::numeric_limits<float>::infinity());
        },
        [&](std::size_t i, std::size_t word0, floats score) {
          const floats e = score + floats(in.errors[i]);
          const std::size_t r = i / w - row0;
          if (!xsimd::any(e <= floats(bar[r]))) return;
          e.store_aligned(error.data());
          extension* list = &best[r * width];
          for (std::size_t l = 0; l < batch_width && word0 + l < k; ++l) {
            const extension x{error[l], i % w * k + word0 + l};
            if (kept[r] == width && !(x < list[width - 1])) continue;
            std::size_t at = kept[r] < width ? kept[r]++ : width - 1;
            for (; at > 0 && x < list[at - 1]; --at) list[at] = list[at - 1];
            list[at] = x;
            if (kept[r] == width) bar[r] = list[width - 1].error;
          }
        },
        [&](std::size_t start, std::size_t n) {
          for (std::size_t row = start / w; row < (start + n) / w; ++row)
            for (std::size_t p = 0; p < width; ++p) {
              const extension& x = best[(row - row0) * width + p];
              const std::size_t path = x.candidate / k, word = x.candidate % k;
              const std::size_t to = row * width + p, from = row * w + path;
              out.residuals.row(static_cast<Eigen::Index>(to)) =
                  in.residuals.row(static_cast<Eigen::Index>(from)) - book.row(static_cast<Eigen::Index>(word));
              out.errors[to] = out.residuals.row(static_cast<Eigen::Index>(to)).squaredNorm();
              std::copy_n(&in.codes[from * stages], stage, &out.codes[to * stages]);
              out.codes[to * stages + stage] = static_cast<std::uint32_t>(word);
            }
        });
  });
  return out;
}

}  // namespace detail

class residual_quantizer : public additive_quantizer {
 public:
  // From trained or stored codebooks: m stages of 2^nbits x dim. Errors: those of
  // additive_quantizer, a beam of 0 (invalid_argument).
  residual_quantizer(std::size_t dim, int nbits, std::vector<matrix> codebooks, std::size_t beam = 5)
      : additive_quantizer("vq::residual_quantizer", dim, nbits, std::move(codebooks)), beam_(beam) {
    if (beam < 1) throw error(errc::invalid_argument, "vq::residual_quantizer: a beam of 0");
  }

  // m stages trained on the rows of x, each by progressive_kmeans on the residuals of every
  // path of the training beams; then refine_iterations rounds of encoding the rows and
  // refitting all codebooks at once. Errors: those of the constructor, fewer rows than 2^nbits
  // (invalid_argument), no rows (invalid_argument), non-finite values (non_finite).
  static residual_quantizer train(matrix_view<const float> x, std::size_t m, int nbits = 8, const rq_options& opt = {}) {
    detail::check_points(x, "vq::residual_quantizer::train");
    if (nbits < 1 || nbits > 8 || m < 1 || opt.beam < 1 || opt.refine_iterations < 0 || opt.progressive_steps < 1)
      throw error(errc::invalid_argument, "vq::residual_quantizer::train: nbits = " + std::to_string(nbits) +
                                              " (1..8), m = " + std::to_string(m) + ", beam " + std::to_string(opt.beam));
    const std::size_t k = std::size_t{1} << nbits;
    if (x.rows() < k)
      throw error(errc::invalid_argument, "vq::residual_quantizer::train: " + std::to_string(x.rows()) +
                                              " rows for 2^" + std::to_string(nbits) + " codewords");
    std::vector<matrix> books;
    detail::beams b = detail::start_beams(x, m);
    for (std::size_t s = 0; s < m; ++s) {
      kmeans_options o = opt.kmeans;
      o.seed = opt.kmeans.seed + s;
      const std::size_t steps = std::min<std::size_t>(opt.progressive_steps, x.cols());
      books.push_back(progressive_kmeans(view(b.residuals), k, steps, o, opt.schedule));
      b = detail::extend_beams(b, x.rows(), books.back(), s, m, opt.beam, opt.kmeans.threads);
    }
    residual_quantizer rq(x.cols(), nbits, std::move(books), opt.beam);
    for (int it = 0; it < opt.refine_iterations; ++it)
      rq.refit(x, rq.unpack(rq.encode(x, opt.kmeans.threads), x.rows()));
    return rq;
  }

  [[nodiscard]] std::size_t beam() const noexcept { return beam_; }
  void set_beam(std::size_t beam) {
    if (beam < 1) throw error(errc::invalid_argument, "vq::residual_quantizer: a beam of 0");
    beam_ = beam;
  }

  // rows x code_size bytes: the best path of a beam search of width beam(). The same codes
  // for any thread count. Errors: a row length other than dim, non-finite values.
  [[nodiscard]] std::vector<std::uint8_t> encode(matrix_view<const float> x, unsigned threads = 1) const {
    check_rows(x, "encode");
    detail::beams b = detail::start_beams(x, m());
    for (std::size_t s = 0; s < m(); ++s) b = detail::extend_beams(b, x.rows(), codebooks_[s], s, m(), beam_, threads);
    std::vector<std::uint32_t> best(x.rows() * m());
    for (std::size_t i = 0; i < x.rows(); ++i) std::copy_n(&b.codes[i * b.width * m()], m(), &best[i * m()]);
    return pack(best, x.rows());
  }

 private:
  std::size_t beam_;
};

}  // namespace qtl::vq
