// qtl::vq::voronoi_code: fixed-rate lattice codes, Conway and Sloane's Voronoi codes ("A fast
// encoding method for lattice codes and quantizers", 1983). The code is the set of points
// of a lattice L that lie in the Voronoi cell of the origin in the coarser lattice r L,
// r = 2^Bits. It has r^n points, one for each class of L modulo r L, so every block of n
// values costs n * Bits bits: a point's index is its coordinates in L's basis modulo r, and
// decoding finds the class's point in the cell with one more nearest-point search.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "qtl/core/concepts.hpp"
#include "qtl/core/error.hpp"
#include "qtl/core/view.hpp"
#include "qtl/pack/bit_pack.hpp"
#include "qtl/vq/lattice.hpp"

namespace qtl::vq {

namespace detail {

template <std::size_t N>
constexpr bool lower_triangular(const lattice_basis<N>& b) noexcept {
  for (std::size_t i = 0; i < N; ++i) {
    if (b[i][i] == 0) return false;
    for (std::size_t j = i + 1; j < N; ++j)
      if (b[i][j] != 0) return false;
  }
  return true;
}

// Half the sum of the basis rows' L1 norms, in lattice units: every point lies within the
// Euclidean half-diagonal of a basis cell of a lattice point, and this bounds it.
template <std::size_t N>
constexpr double half_l1_norm(const lattice_basis<N>& b, int denominator) noexcept {
  double sum = 0;
  for (const auto& row : b)
    for (const int v : row) sum += v < 0 ? -v : v;
  return sum / (2.0 * denominator);
}

}  // namespace detail

template <generated_lattice L, int Bits>
  requires code_width<Bits>
class voronoi_code {
  static_assert(detail::lower_triangular<L::dimension>(L::generator),
                "voronoi_code: the lattice's generator must be lower triangular with a non-zero diagonal");

 public:
  using lattice_type = L;
  static constexpr std::size_t dimension = L::dimension;
  static constexpr int bits = Bits;          // per value
  static constexpr int modulus = 1 << Bits;  // r
  using point_type = std::array<double, dimension>;
  using index_type = std::array<std::uint8_t, dimension>;

  // Errors: a scale that is not finite and positive (invalid_argument).
  explicit voronoi_code(float scale) : scale_(scale) {
    if (!std::isfinite(scale) || scale <= 0)
      throw error(errc::invalid_argument,
                  "vq::voronoi_code: scale " + std::to_string(scale) + " is not finite and positive");
  }

  [[nodiscard]] float scale() const noexcept { return scale_; }

  // Bytes that one row of `cols` values takes: its indices packed Bits each, in
  // pack_sequential's order (pack/bit_pack.hpp).
  [[nodiscard]] static constexpr std::size_t code_size(std::size_t cols) noexcept { return packed_size(cols, Bits); }

  // A lattice point's index: its coordinates in L's basis, each modulo r. Errors: p not a
  // point of L, or a coordinate beyond 2^40 (invalid_argument).
  [[nodiscard]] static index_type index(const point_type& p) {
    std::array<double, dimension> k{};
    for (std::size_t j = dimension; j-- > 0;) {
      if (!(std::fabs(p[j]) <= 0x1p40))
        throw error(errc::invalid_argument, "vq::voronoi_code::index: coordinate " + std::to_string(j) + " (" +
                                                std::to_string(p[j]) + ") is not finite or beyond 2^40");
      double rest = p[j] * L::denominator;  // exact: the integers times the basis, below 2^53
      for (std::size_t i = j + 1; i < dimension; ++i) rest -= k[i] * L::generator[i][j];
      k[j] = rest / L::generator[j][j];
      if (k[j] != std::floor(k[j]))
        throw error(errc::invalid_argument, "vq::voronoi_code::index: the point is not a point of the lattice");
    }
    index_type out{};
    for (std::size_t j = 0; j < dimension; ++j) out[j] = static_cast<std::uint8_t>(k[j] - modulus * std::floor(k[j] / modulus));
    return out;
  }

  // The code's point of an index: x = the index times the basis, moved into the cell as
  // x - r Q(x / r). Errors: an index entry of 2^Bits or more (out_of_range).
  [[nodiscard]] static point_type point(const index_type& k) {
    point_type x{}, coarse{};
    for (std::size_t j = 0; j < dimension; ++j) {
      if (k[j] >= modulus)
        throw error(errc::out_of_range, "vq::voronoi_code::point: index entry " + std::to_string(k[j]) +
                                            " does not fit in " + std::to_string(Bits) + " bits");
      for (std::size_t i = j; i < dimension; ++i) x[j] += static_cast<double>(k[i]) * L::generator[i][j];
      x[j] /= L::denominator;
      coarse[j] = x[j] / modulus;
    }
    const point_type q = L::nearest(coarse);
    for (std::size_t j = 0; j < dimension; ++j) x[j] -= modulus * q[j];
    return x;
  }

  // Whether a lattice point is one of the code's: the point its index decodes to.
  [[nodiscard]] static bool contains(const point_type& p) { return held_index(p).has_value(); }

  struct codeword {
    point_type point;
    index_type index;
    bool overload;  // x's nearest lattice point was outside the code
  };

  // The code's point for a block x (in units of the scale): x's nearest lattice point if the
  // code holds it; otherwise (an overload) the nearest point of t x for the largest t in
  // [0, 1) that bisection finds with a nearest point the code holds (it holds 0), then, if
  // L lists its shortest vectors, moved along them while a move that stays in the code
  // brings it nearer to x.
  [[nodiscard]] static codeword nearest(const point_type& x) {
    const point_type p = L::nearest(x);
    if (const auto k = held_index(p)) return {p, *k, false};
    double inside = 0, outside = 1;
    for (int step = 0; step < 24; ++step) {
      const double t = (inside + outside) / 2;
      if (contains(L::nearest(shrunk(x, t))))
        inside = t;
      else
        outside = t;
    }
    const point_type held = descend(x, L::nearest(shrunk(x, inside)));
    return {held, index(held), true};
  }

  // Rows coded block by block: each row's indices packed into code_size(cols) bytes.
  // Returns the number of overloaded blocks (a larger scale makes fewer). Errors: a row
  // length that is not a multiple of the dimension (invalid_argument), codes.size() other
  // than rows * code_size(cols) (shape_mismatch), a non-finite value (non_finite). Nothing
  // is written unless every row is coded.
  std::size_t encode(matrix_view<const float> x, std::span<std::uint8_t> codes) const {
    check_shape(x.rows(), x.cols(), codes.size(), "vq::voronoi_code::encode");
    std::vector<std::uint8_t> out(codes.size()), indices(x.cols());
    std::size_t overloads = 0;
    for (std::size_t r = 0; r < x.rows(); ++r) {
      for (std::size_t c = 0; c < x.cols(); c += dimension) {
        const codeword w = nearest(detail::scaled_block<dimension>(x, r, c, scale_, "vq::voronoi_code::encode"));
        overloads += w.overload;
        std::copy(w.index.begin(), w.index.end(), indices.begin() + static_cast<std::ptrdiff_t>(c));
      }
      qtl::detail::pack_sequential_unchecked<Bits>(indices.data(), x.cols(), &out[r * code_size(x.cols())]);
    }
    std::copy(out.begin(), out.end(), codes.begin());
    return overloads;
  }

  // The values the codes stand for. Errors as encode's for the shapes.
  void decode(std::span<const std::uint8_t> codes, matrix_view<float> out) const {
    check_shape(out.rows(), out.cols(), codes.size(), "vq::voronoi_code::decode");
    std::vector<std::uint8_t> indices(out.cols());
    index_type k{};
    for (std::size_t r = 0; r < out.rows(); ++r) {
      qtl::detail::unpack_sequential_unchecked<Bits>(&codes[r * code_size(out.cols())], out.cols(), indices.data());
      for (std::size_t c = 0; c < out.cols(); c += dimension) {
        std::copy_n(indices.begin() + static_cast<std::ptrdiff_t>(c), dimension, k.begin());
        const point_type p = point(k);
        for (std::size_t i = 0; i < dimension; ++i) out(r, c + i) = static_cast<float>(p[i] * scale_);
      }
    }
  }

 private:
  // p's index if the code holds p (the point its index decodes to), so that encoding does
  // not work it out twice. A point with a coordinate beyond r times L's covering-radius
  // bound lies outside the cell.
  static std::optional<index_type> held_index(const point_type& p) {
    constexpr double reach = modulus * detail::half_l1_norm(L::generator, L::denominator);
    if (std::any_of(p.begin(), p.end(), [](double v) { return !(std::fabs(v) <= reach); })) return std::nullopt;
    const index_type k = index(p);
    if (point(k) != p) return std::nullopt;
    return k;
  }

  // A local descent: each move lowers the distance to x, so it ends, at a point of the code
  // that no single shortest-vector move improves.
  static point_type descend(const point_type& x, point_type p) {
    if constexpr (requires { L::shortest_vectors; }) {
      double best = detail::squared_distance(x, p);
      for (bool moved = true; moved;) {
        moved = false;
        for (const auto& v : L::shortest_vectors) {
          point_type q = p;
          for (std::size_t i = 0; i < dimension; ++i) q[i] += v[i];
          const double d = detail::squared_distance(x, q);
          if (d < best && contains(q)) p = q, best = d, moved = true;
        }
      }
    }
    return p;
  }

  static point_type shrunk(point_type x, double t) noexcept {
    for (double& v : x) v *= t;
    return x;
  }

  static void check_shape(std::size_t rows, std::size_t cols, std::size_t codes, const char* what) {
    detail::check_blocks(cols, dimension, what);
    if (codes != rows * code_size(cols))
      throw error(errc::shape_mismatch, std::string(what) + ": " + std::to_string(codes) + " bytes for " +
                                            std::to_string(rows) + "x" + std::to_string(cols) + " values, need " +
                                            std::to_string(rows * code_size(cols)));
  }

  float scale_;
};

}  // namespace qtl::vq
