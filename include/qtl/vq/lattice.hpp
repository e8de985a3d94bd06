// qtl::vq lattices: Z^n, D_n and E8 with the nearest-point algorithms of Conway and Sloane
// ("Fast quantizing and decoding algorithms for lattice quantizers and codes", 1982), and
// lattice_quantizer, which codes rows block by block as scaled lattice points. A lattice
// needs no training and no table: the code of a block is its nearest point's coordinates.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/core/view.hpp"

namespace qtl::vq {

// A lattice of unit scale: nearest(x) is a point nearest to x; every point's coordinates
// times `denominator` are integers; `volume` is the volume of its Voronoi cell.
template <class L>
concept lattice = requires(const std::array<double, L::dimension>& x) {
  { L::nearest(x) } -> std::same_as<std::array<double, L::dimension>>;
  { L::denominator } -> std::convertible_to<int>;
  { L::volume } -> std::convertible_to<double>;
};

// A basis of an n-dimensional lattice: n rows of integer coordinates, each the basis
// vector times the lattice's denominator.
template <std::size_t N>
using lattice_basis = std::array<std::array<int, N>, N>;

// A lattice with a basis (`generator`) in lower-triangular form: row i has no entry right of
// column i and a non-zero one on the diagonal, so a point's coordinates in the basis come
// out of one back substitution. Fixed-rate codes (vq/voronoi_code.hpp) need it. A lattice
// may also list its shortest non-zero vectors (`shortest_vectors`, a range of points):
// those codes then improve an overloaded block's point by moving along them.
template <class L>
concept generated_lattice = lattice<L> && requires {
  { L::generator } -> std::convertible_to<lattice_basis<L::dimension>>;
};

namespace detail {

template <std::size_t N>
constexpr lattice_basis<N> identity_basis() noexcept {
  lattice_basis<N> b{};
  for (std::size_t i = 0; i < N; ++i) b[i][i] = 1;
  return b;
}

// D_n's basis 2 e_1, e_2 - e_1, ..., e_n - e_(n-1) (determinant 2), times `unit`.
template <std::size_t N>
constexpr lattice_basis<N> checkerboard_basis(int unit) noexcept {
  lattice_basis<N> b{};
  b[0][0] = 2 * unit;
  for (std::size_t i = 1; i < N; ++i) b[i][i - 1] = -unit, b[i][i] = unit;
  return b;
}

// E8's: the first seven rows of D_8's and (1/2, ..., 1/2) (determinant 2 * 1/2 = 1), times 2.
constexpr lattice_basis<8> e8_basis() noexcept {
  lattice_basis<8> b = checkerboard_basis<8>(2);
  b[7].fill(1);
  return b;
}

// The shortest non-zero vectors of Z^n (+-e_i), D_n (+-e_i +- e_j) and E8 (D_8's and the
// 128 (+-1/2, ..., +-1/2) with an even number of minus signs): 2n, 2n(n-1) and 240.
template <std::size_t N>
constexpr std::array<std::array<double, N>, 2 * N> unit_vectors() noexcept {
  std::array<std::array<double, N>, 2 * N> v{};
  for (std::size_t i = 0; i < N; ++i) v[2 * i][i] = 1, v[2 * i + 1][i] = -1;
  return v;
}

template <std::size_t N>
constexpr std::array<std::array<double, N>, 2 * N * (N - 1)> pair_vectors() noexcept {
  std::array<std::array<double, N>, 2 * N * (N - 1)> v{};
  std::size_t at = 0;
  for (std::size_t i = 0; i < N; ++i)
    for (std::size_t j = i + 1; j < N; ++j)
      for (const double a : {1.0, -1.0})
        for (const double b : {1.0, -1.0}) v[at][i] = a, v[at][j] = b, ++at;
  return v;
}

constexpr std::array<std::array<double, 8>, 240> e8_shortest_vectors() noexcept {
  std::array<std::array<double, 8>, 240> v{};
  const auto pairs = pair_vectors<8>();
  std::size_t at = 0;
  for (const auto& p : pairs) v[at++] = p;
  for (unsigned signs = 0; signs < 256; ++signs) {
    if (std::popcount(signs) % 2 != 0) continue;
    for (std::size_t i = 0; i < 8; ++i) v[at][i] = (signs >> i & 1u) != 0 ? -0.5 : 0.5;
    ++at;
  }
  return v;
}

// Block c of row r of x (N values from column c) divided by scale. Errors: a non-finite
// value (non_finite).
template <std::size_t N>
std::array<double, N> scaled_block(matrix_view<const float> x, std::size_t r, std::size_t c, float scale,
                                   const char* what) {
  std::array<double, N> block{};
  for (std::size_t i = 0; i < N; ++i) {
    const float v = x(r, c + i);
    if (!std::isfinite(v))
      throw error(errc::non_finite, std::string(what) + ": value (" + std::to_string(r) + ", " +
                                        std::to_string(c + i) + ") is not finite");
    block[i] = static_cast<double>(v) / scale;
  }
  return block;
}

// Rows must divide into blocks of n values. Errors: otherwise (invalid_argument).
inline void check_blocks(std::size_t cols, std::size_t n, const char* what) {
  if (cols % n != 0)
    throw error(errc::invalid_argument, std::string(what) + ": rows of " + std::to_string(cols) +
                                            " values do not divide into blocks of " + std::to_string(n));
}

template <std::size_t N>
double squared_distance(const std::array<double, N>& a, const std::array<double, N>& b) noexcept {
  double d = 0;
  for (std::size_t i = 0; i < N; ++i) d += (a[i] - b[i]) * (a[i] - b[i]);
  return d;
}

// D_n: every coordinate rounded (f(x)); if their sum is odd, the coordinate rounded with
// the largest error goes to its other neighbour instead (g(x)), which makes the sum even.
template <std::size_t N>
std::array<double, N> nearest_even_sum(const std::array<double, N>& x) noexcept {
  std::array<double, N> y{};
  std::size_t worst = 0;
  double worst_gap = -1;
  bool odd = false;
  for (std::size_t i = 0; i < N; ++i) {
    y[i] = std::nearbyint(x[i]);
    const double gap = std::fabs(x[i] - y[i]);
    if (gap > worst_gap) worst = i, worst_gap = gap;
    odd ^= std::fmod(std::fabs(y[i]), 2.0) == 1.0;  // exact for any double, unlike a cast
  }
  if (odd) y[worst] += x[worst] >= y[worst] ? 1.0 : -1.0;
  return y;
}

}  // namespace detail

// Z^n: the integer points; the nearest is each coordinate rounded.
template <std::size_t N>
  requires(N >= 1)
struct lattice_z {
  static constexpr std::size_t dimension = N;
  static constexpr int denominator = 1;
  static constexpr double volume = 1;
  static constexpr lattice_basis<N> generator = detail::identity_basis<N>();
  static constexpr auto shortest_vectors = detail::unit_vectors<N>();
  static std::array<double, N> nearest(const std::array<double, N>& x) noexcept {
    std::array<double, N> y{};
    for (std::size_t i = 0; i < N; ++i) y[i] = std::nearbyint(x[i]);
    return y;
  }
};

// D_n: the integer points whose coordinates sum to an even number (the checkerboard
// lattice; D_4 is the densest packing in four dimensions).
template <std::size_t N>
  requires(N >= 2)
struct lattice_d {
  static constexpr std::size_t dimension = N;
  static constexpr int denominator = 1;
  static constexpr double volume = 2;
  static constexpr lattice_basis<N> generator = detail::checkerboard_basis<N>(1);
  static constexpr auto shortest_vectors = detail::pair_vectors<N>();
  static std::array<double, N> nearest(const std::array<double, N>& x) noexcept { return detail::nearest_even_sum(x); }
};

// E8 = D_8 together with D_8 + (1/2, ..., 1/2): the nearer of the nearest point in each coset.
// Its cells have the smallest normalized second moment known in eight dimensions (0.0717,
// against 1/12 for Z^8).
struct lattice_e8 {
  static constexpr std::size_t dimension = 8;
  static constexpr int denominator = 2;
  static constexpr double volume = 1;
  static constexpr lattice_basis<8> generator = detail::e8_basis();
  static constexpr auto shortest_vectors = detail::e8_shortest_vectors();
  static std::array<double, 8> nearest(const std::array<double, 8>& x) noexcept {
    const std::array<double, 8> whole = detail::nearest_even_sum(x);
    std::array<double, 8> shifted{};
    for (std::size_t i = 0; i < 8; ++i) shifted[i] = x[i] - 0.5;
    std::array<double, 8> half = detail::nearest_even_sum(shifted);
    for (double& v : half) v += 0.5;
    return detail::squared_distance(x, half) < detail::squared_distance(x, whole) ? half : whole;
  }
};

// Rows coded block by block: each run of L::dimension values, divided by `scale`, becomes
// its nearest lattice point, stored as int8 coordinates times L::denominator (E8's
// half-integers as odd numbers). Decoding multiplies back. The scale sets the rate: points
// must fit in int8, so values reach about 127 * scale / denominator.
template <lattice L>
class lattice_quantizer {
 public:
  static constexpr std::size_t dimension = L::dimension;

  // Errors: a scale that is not finite and positive (invalid_argument).
  explicit lattice_quantizer(float scale) : scale_(scale) {
    if (!std::isfinite(scale) || scale <= 0)
      throw error(errc::invalid_argument, "vq::lattice_quantizer: scale " + std::to_string(scale) +
                                              " is not finite and positive");
  }

  [[nodiscard]] float scale() const noexcept { return scale_; }

  // One int8 per value, row after row. Errors: a row length that is not a multiple of the
  // dimension (invalid_argument), codes.size() other than rows * cols (shape_mismatch), a
  // non-finite value (non_finite), a point outside int8 (out_of_range: take a larger
  // scale). Nothing is written unless every row is coded.
  void encode(matrix_view<const float> x, std::span<std::int8_t> codes) const {
    check_shape(x.rows(), x.cols(), codes.size(), "vq::lattice_quantizer::encode");
    std::vector<std::int8_t> out(codes.size());
    for (std::size_t r = 0; r < x.rows(); ++r)
      for (std::size_t c = 0; c < x.cols(); c += dimension) {
        const std::array<double, dimension> point =
            L::nearest(detail::scaled_block<dimension>(x, r, c, scale_, "vq::lattice_quantizer::encode"));
        for (std::size_t i = 0; i < dimension; ++i) {
          const double code = point[i] * L::denominator;
          if (code < -128 || code > 127)
            throw error(errc::out_of_range, "vq::lattice_quantizer::encode: value (" + std::to_string(r) + ", " +
                                                std::to_string(c + i) + ") needs the code " +
                                                std::to_string(static_cast<long long>(code)) +
                                                ", outside int8; take a larger scale");
          out[r * x.cols() + c + i] = static_cast<std::int8_t>(code);
        }
      }
    std::copy(out.begin(), out.end(), codes.begin());
  }

  // The values the codes stand for. Errors as encode's for the shapes.
  void decode(std::span<const std::int8_t> codes, matrix_view<float> out) const {
    check_shape(out.rows(), out.cols(), codes.size(), "vq::lattice_quantizer::decode");
    const float step = scale_ / static_cast<float>(L::denominator);
    for (std::size_t r = 0; r < out.rows(); ++r)
      for (std::size_t c = 0; c < out.cols(); ++c) out(r, c) = static_cast<float>(codes[r * out.cols() + c]) * step;
  }

 private:
  static void check_shape(std::size_t rows, std::size_t cols, std::size_t codes, const char* what) {
    detail::check_blocks(cols, dimension, what);
    if (codes != rows * cols)
      throw error(errc::shape_mismatch, std::string(what) + ": " + std::to_string(codes) + " codes for " +
                                            std::to_string(rows) + "x" + std::to_string(cols) + " values");
  }

  float scale_;
};

}  // namespace qtl::vq
