// qtl::vq::save and load: vector quantizers, and the codes they made, as safetensors files.
// Codebooks are one F32 tensor "codebooks" [m, 2^nbits, width] (width d/m for PQ, d for
// RQ and LSQ), OPQ's rotation an F32 "rotation" [d, d], codes an optional U8 "codes"
// [n, code_size]; the kind and nbits are metadata, "qtl.vq", "qtl.vq.nbits", and so are
// RQ's beam ("qtl.vq.beam") and LSQ's encode options ("qtl.vq.ils_iterations",
// "qtl.vq.icm_iterations", "qtl.vq.perturbations", "qtl.vq.seed"). A Voronoi code has no
// codebook: its lattice's basis is an F32 "generator" [n, n], its scale and the row length
// its codes were made for are metadata ("qtl.vq.scale", "qtl.vq.cols").
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/io/safetensors.hpp"
#include "qtl/vq/local_search_quantizer.hpp"
#include "qtl/vq/optimized_product_quantizer.hpp"
#include "qtl/vq/product_quantizer.hpp"
#include "qtl/vq/residual_quantizer.hpp"
#include "qtl/vq/voronoi_code.hpp"

namespace qtl::vq {

// A loaded quantizer and the codes stored with it (none: n == 0).
template <class Q>
struct stored {
  Q quantizer;
  std::vector<std::uint8_t> codes;  // n codes of equal size
  std::size_t n = 0;
  std::size_t cols = 0;  // the values a code stands for: dim(), or a Voronoi code's row length
};

namespace detail {

namespace st = io::safetensors;

template <class Q>
inline constexpr bool is_voronoi_code = false;
template <generated_lattice L, int Bits>
  requires code_width<Bits>
inline constexpr bool is_voronoi_code<voronoi_code<L, Bits>> = true;

template <class Q>
constexpr std::string_view kind_of() {
  if constexpr (std::is_same_v<Q, product_quantizer>) return "product_quantizer";
  else if constexpr (std::is_same_v<Q, optimized_product_quantizer>) return "optimized_product_quantizer";
  else if constexpr (std::is_same_v<Q, residual_quantizer>) return "residual_quantizer";
  else if constexpr (is_voronoi_code<Q>) return "voronoi_code";
  else return "local_search_quantizer";
}

// The trained quantizers (codebooks), and all that save and load know.
template <class Q>
concept trained = std::is_same_v<Q, product_quantizer> || std::is_same_v<Q, optimized_product_quantizer> ||
                  std::is_same_v<Q, residual_quantizer> || std::is_same_v<Q, local_search_quantizer>;
template <class Q>
concept storable = trained<Q> || is_voronoi_code<Q>;

// A lattice's basis in its own units, the generator divided by the denominator.
template <generated_lattice L>
std::vector<float> generator_values() {
  std::vector<float> out;
  for (const auto& row : L::generator)
    for (const int v : row) out.push_back(static_cast<float>(v) / static_cast<float>(L::denominator));
  return out;
}

struct float_tensor {
  std::string name;
  std::vector<std::uint64_t> shape;
  std::vector<float> values;
};

inline float_tensor stack(std::string name, const std::vector<matrix>& books) {
  float_tensor t{std::move(name), {books.size(), static_cast<std::uint64_t>(books[0].rows()),
                                   static_cast<std::uint64_t>(books[0].cols())}, {}};
  for (const matrix& b : books) t.values.insert(t.values.end(), b.data(), b.data() + b.size());
  return t;
}

inline void save_file(const std::filesystem::path& path, st::metadata_map metadata, const std::vector<float_tensor>& tensors,
                      std::span<const std::uint8_t> codes, std::size_t code_size) {
  if (codes.size() % code_size != 0)
    throw error(errc::shape_mismatch, path.string() + ": " + std::to_string(codes.size()) +
                                          " code bytes are not a whole number of " + std::to_string(code_size) +
                                          "-byte codes");
  std::vector<st::tensor_view> views;
  for (const auto& t : tensors) {
    st::tensor_view v;
    v.name = t.name, v.type = st::dtype::f32, v.shape = t.shape;
    v.data = std::as_bytes(std::span(t.values));
    views.push_back(std::move(v));
  }
  if (!codes.empty()) {
    st::tensor_view v;
    v.name = "codes", v.type = st::dtype::u8, v.shape = {codes.size() / code_size, code_size};
    v.data = std::as_bytes(codes);
    views.push_back(std::move(v));
  }
  st::write(path, views, metadata);
}

[[noreturn]] inline void corrupt(const st::file& f, const std::string& what) {
  throw error(errc::corrupt_file, f.path().string() + ": " + what);
}

inline const std::string& meta(const st::file& f, std::string_view key) {
  const auto it = f.metadata().find(key);
  if (it == f.metadata().end()) corrupt(f, "no \"" + std::string(key) + "\" in the metadata: not a qtl vq file");
  return it->second;
}

inline std::size_t meta_number(const st::file& f, std::string_view key, std::size_t low, std::size_t high) {
  const std::string& text = meta(f, key);
  std::size_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || v < low || v > high)
    corrupt(f, "\"" + std::string(key) + "\" is \"" + text + "\", need " + std::to_string(low) + ".." + std::to_string(high));
  return v;
}

// An F32 tensor of the given rank whose dimensions are not zero.
inline float_tensor read_floats(const st::file& f, std::string_view name, std::size_t rank) {
  const st::tensor_view* t = f.find(name);
  if (t == nullptr) corrupt(f, "no tensor \"" + std::string(name) + "\"");
  if (t->type != st::dtype::f32 || t->shape.size() != rank)
    corrupt(f, "tensor \"" + std::string(name) + "\" is " + std::string(st::name(t->type)) + " of rank " +
                   std::to_string(t->shape.size()) + ", need F32 of rank " + std::to_string(rank));
  for (const auto s : t->shape)
    if (s == 0) corrupt(f, "tensor \"" + std::string(name) + "\" is empty");
  float_tensor out{std::string(name), t->shape, std::vector<float>(t->data.size() / sizeof(float))};
  std::memcpy(out.values.data(), t->data.data(), t->data.size());  // the file need not align floats
  return out;
}

// Stage s of a [m, rows, cols] tensor as a matrix.
inline std::vector<matrix> unstack(const float_tensor& t) {
  const auto rows = static_cast<Eigen::Index>(t.shape[1]), cols = static_cast<Eigen::Index>(t.shape[2]);
  std::vector<matrix> books;
  for (std::size_t s = 0; s < t.shape[0]; ++s)
    books.emplace_back(Eigen::Map<const matrix>(t.values.data() + s * t.shape[1] * t.shape[2], rows, cols));
  return books;
}

inline std::vector<matrix> read_codebooks(const st::file& f, int nbits) {
  const float_tensor t = read_floats(f, "codebooks", 3);
  if (t.shape[1] != (std::uint64_t{1} << nbits))
    corrupt(f, "\"codebooks\" holds " + std::to_string(t.shape[1]) + " codewords per book, nbits " +
                   std::to_string(nbits) + " needs " + std::to_string(1 << nbits));
  return unstack(t);
}

}  // namespace detail

// Writes the quantizer, and the codes of n vectors when given (n * code_size bytes), to
// `path`, all or nothing. Errors: a byte count that is not a whole number of codes
// (shape_mismatch); the file errors of io::safetensors::write.
template <detail::trained Q>
void save(const std::filesystem::path& path, const Q& q, std::span<const std::uint8_t> codes = {}) {
  io::safetensors::metadata_map metadata{{"qtl.vq", std::string(detail::kind_of<Q>())},
                                         {"qtl.vq.nbits", std::to_string(q.nbits())}};
  std::vector<matrix> books;
  std::vector<detail::float_tensor> tensors;
  if constexpr (std::is_base_of_v<additive_quantizer, Q>) {
    if constexpr (std::is_same_v<Q, residual_quantizer>) {
      metadata["qtl.vq.beam"] = std::to_string(q.beam());
    } else {
      const lsq_encode_options& e = q.encode_options();
      metadata["qtl.vq.ils_iterations"] = std::to_string(e.ils_iterations);
      metadata["qtl.vq.icm_iterations"] = std::to_string(e.icm_iterations);
      metadata["qtl.vq.perturbations"] = std::to_string(e.perturbations);
      metadata["qtl.vq.seed"] = std::to_string(e.seed);
    }
    for (std::size_t s = 0; s < q.m(); ++s) books.push_back(q.codebook(s));
  } else {
    const product_quantizer& pq = [&]() -> const product_quantizer& {
      if constexpr (std::is_same_v<Q, product_quantizer>) return q;
      else return q.pq();
    }();
    for (std::size_t j = 0; j < pq.m(); ++j) books.push_back(pq.codebook(j));
  }
  tensors.push_back(detail::stack("codebooks", books));
  if constexpr (std::is_same_v<Q, optimized_product_quantizer>) {
    const auto d = static_cast<std::uint64_t>(q.dim());
    tensors.push_back({"rotation", {d, d}, std::vector<float>(q.rotation().data(), q.rotation().data() + d * d)});
  }
  detail::save_file(path, std::move(metadata), tensors, codes, q.code_size());
}

// Writes a Voronoi code (its lattice's basis, its bits and scale) and, when given, the codes
// of rows of `cols` values (n * code_size(cols) bytes), all or nothing. Errors: a row length
// that is not a positive multiple of the dimension (invalid_argument); codes that are not
// whole rows (shape_mismatch); the file errors of io::safetensors::write.
template <generated_lattice L, int Bits>
void save(const std::filesystem::path& path, const voronoi_code<L, Bits>& code, std::size_t cols,
          std::span<const std::uint8_t> codes = {}) {
  if (cols == 0 || cols % L::dimension != 0)
    throw error(errc::invalid_argument, path.string() + ": rows of " + std::to_string(cols) +
                                            " values for a Voronoi code of dimension " + std::to_string(L::dimension));
  char scale[32];
  const auto printed = std::to_chars(scale, scale + sizeof scale, code.scale());  // the shortest exact text
  io::safetensors::metadata_map metadata{{"qtl.vq", "voronoi_code"},
                                         {"qtl.vq.nbits", std::to_string(Bits)},
                                         {"qtl.vq.scale", std::string(scale, printed.ptr)},
                                         {"qtl.vq.cols", std::to_string(cols)}};
  const std::vector<detail::float_tensor> tensors{{"generator", {L::dimension, L::dimension}, detail::generator_values<L>()}};
  detail::save_file(path, std::move(metadata), tensors, codes, voronoi_code<L, Bits>::code_size(cols));
}

namespace detail {

// A Voronoi code of Q's lattice and bits, its scale and row length from the metadata.
template <class Q>
  requires is_voronoi_code<Q>
stored<Q> read_quantizer(const st::file& f, int nbits) {
  if (nbits != Q::bits)
    throw error(errc::invalid_argument, f.path().string() + ": holds a " + std::to_string(nbits) +
                                            "-bit Voronoi code, not a " + std::to_string(Q::bits) + "-bit one");
  const float_tensor g = read_floats(f, "generator", 2);
  if (g.shape[0] != Q::dimension || g.shape[1] != Q::dimension || g.values != generator_values<typename Q::lattice_type>())
    throw error(errc::invalid_argument, f.path().string() + ": holds a Voronoi code on another lattice");
  const std::string& text = meta(f, "qtl.vq.scale");
  float scale = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), scale);
  if (ec != std::errc{} || end != text.data() + text.size()) corrupt(f, "\"qtl.vq.scale\" is \"" + text + "\", not a number");
  const std::size_t cols = meta_number(f, "qtl.vq.cols", Q::dimension, std::size_t{1} << 40);
  if (cols % Q::dimension != 0)
    corrupt(f, "\"qtl.vq.cols\" is " + std::to_string(cols) + ", not a multiple of the dimension " + std::to_string(Q::dimension));
  return {Q(scale), {}, 0, cols};
}

// A trained quantizer from its codebooks (and OPQ's rotation).
template <class Q>
  requires trained<Q>
stored<Q> read_quantizer(const st::file& f, int nbits) {
  std::vector<matrix> books = read_codebooks(f, nbits);
  const auto make = [&]() -> Q {
    const std::size_t m = books.size(), width = static_cast<std::size_t>(books[0].cols());
    if constexpr (std::is_same_v<Q, residual_quantizer>) {
      return residual_quantizer(width, nbits, std::move(books), meta_number(f, "qtl.vq.beam", 1, 1u << 20));
    } else if constexpr (std::is_same_v<Q, local_search_quantizer>) {
      constexpr std::size_t most = 1u << 20;  // as for the beam: a lying file must not make encode run for ever
      const lsq_encode_options e{.ils_iterations = meta_number(f, "qtl.vq.ils_iterations", 1, most),
                                 .icm_iterations = meta_number(f, "qtl.vq.icm_iterations", 1, most),
                                 .perturbations = meta_number(f, "qtl.vq.perturbations", 0, most),
                                 .seed = meta_number(f, "qtl.vq.seed", 0, std::numeric_limits<std::size_t>::max())};
      return local_search_quantizer(width, nbits, std::move(books), e);
    } else {
      product_quantizer pq(m * width, m, nbits, std::move(books));
      if constexpr (std::is_same_v<Q, product_quantizer>) {
        return pq;
      } else {
        const float_tensor r = read_floats(f, "rotation", 2);
        if (r.shape[0] != pq.dim() || r.shape[1] != pq.dim())
          corrupt(f, "\"rotation\" is " + std::to_string(r.shape[0]) + "x" + std::to_string(r.shape[1]) +
                         " for dimension " + std::to_string(pq.dim()));
        return optimized_product_quantizer(
            Eigen::Map<const matrix>(r.values.data(), static_cast<Eigen::Index>(pq.dim()), static_cast<Eigen::Index>(pq.dim())),
            std::move(pq));
      }
    }
  };
  Q q = make();
  const std::size_t dim = q.dim();
  return {std::move(q), {}, 0, dim};
}

}  // namespace detail

// Reads a quantizer of kind Q (and its codes, if stored) written by save. Errors: another
// kind of quantizer in the file, or a Voronoi code of other bits or on another lattice
// (invalid_argument); missing or ill-shaped tensors or metadata (corrupt_file); what the
// quantizer's constructor refuses (non-finite codewords, a rotation that is not orthogonal,
// a scale that is not finite and positive); the file errors of io::safetensors::file.
template <detail::storable Q>
stored<Q> load(const std::filesystem::path& path) {
  const io::safetensors::file f(path);
  const std::string& kind = detail::meta(f, "qtl.vq");
  if (kind != detail::kind_of<Q>())
    throw error(errc::invalid_argument, path.string() + ": holds a " + kind + ", not a " +
                                            std::string(detail::kind_of<Q>()));
  const int nbits = static_cast<int>(detail::meta_number(f, "qtl.vq.nbits", 1, 8));
  stored<Q> out = detail::read_quantizer<Q>(f, nbits);
  const std::size_t width = [&] {
    if constexpr (detail::is_voronoi_code<Q>) return Q::code_size(out.cols);
    else return out.quantizer.code_size();
  }();
  if (const auto* codes = f.find("codes")) {
    if (codes->type != io::safetensors::dtype::u8 || codes->shape.size() != 2 || codes->shape[1] != width)
      detail::corrupt(f, "\"codes\" must be U8 [n, " + std::to_string(width) + "]");
    out.n = codes->shape[0];
    out.codes.assign(reinterpret_cast<const std::uint8_t*>(codes->data.data()),
                     reinterpret_cast<const std::uint8_t*>(codes->data.data()) + codes->data.size());
  }
  return out;
}


}  // namespace qtl::vq
