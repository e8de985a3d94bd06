// qtl/vq/storage.hpp: PQ, OPQ, RQ and Voronoi codes saved with their codes and loaded back
// code the same way; files of the wrong kind, missing or ill-shaped tensors and bad metadata
// refused.
#include <catch2/catch_test_macros.hpp>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "error_code.hpp"
#include "qtl/core/error.hpp"
#include "qtl/io/safetensors.hpp"
#include "qtl/vq/storage.hpp"

namespace {

namespace fs = std::filesystem;
namespace st = qtl::io::safetensors;
using qtl::vq::matrix;
using qtl::vq::view;

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / "qtl-vq-storage-test";
  fs::create_directories(dir);
  return dir / name;
}

matrix gaussian(Eigen::Index n, Eigen::Index d, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  matrix x(n, d);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = normal(rng);
  return x;
}

// A file with these tensors (F32 unless named "codes") and metadata.
void write_file(const fs::path& path, const std::vector<std::pair<std::string, std::vector<std::uint64_t>>>& shapes,
                const st::metadata_map& metadata) {
  std::vector<std::vector<float>> values;
  std::vector<st::tensor_view> views;
  for (const auto& [name, shape] : shapes) {
    std::uint64_t n = 1;
    for (const auto s : shape) n *= s;
    values.emplace_back(n, 0.5f);
  }
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    st::tensor_view v;
    v.name = shapes[i].first, v.type = st::dtype::f32, v.shape = shapes[i].second;
    v.data = std::as_bytes(std::span(values[i]));
    views.push_back(v);
  }
  st::write(path, views, metadata);
}

}  // namespace

TEST_CASE("vector quantizers and their codes survive save and load", "[vq][storage]") {
  const matrix x = gaussian(600, 8, 1);
  qtl::vq::kmeans_options k;
  k.iterations = 3;

  const auto pq = qtl::vq::product_quantizer::train(view(x), 4, 5, k);
  const auto pq_codes = pq.encode(view(x));
  qtl::vq::save(scratch("pq.safetensors"), pq, pq_codes);
  const auto pq_back = qtl::vq::load<qtl::vq::product_quantizer>(scratch("pq.safetensors"));
  CHECK(pq_back.n == 600);
  CHECK(pq_back.cols == 8);  // each code stands for a vector of dim() values
  CHECK(pq_back.codes == pq_codes);
  CHECK(pq_back.quantizer.nbits() == 5);
  for (std::size_t j = 0; j < 4; ++j) CHECK(pq_back.quantizer.codebook(j) == pq.codebook(j));
  CHECK(pq_back.quantizer.encode(view(x)) == pq_codes);

  qtl::vq::opq_options o;
  o.iterations = 2;
  o.first_pq_iterations = 3;
  const auto opq = qtl::vq::optimized_product_quantizer::train(view(x), 2, 4, o);
  qtl::vq::save(scratch("opq.safetensors"), opq);  // no codes
  const auto opq_back = qtl::vq::load<qtl::vq::optimized_product_quantizer>(scratch("opq.safetensors"));
  CHECK(opq_back.n == 0);
  CHECK(opq_back.codes.empty());
  CHECK(opq_back.quantizer.rotation() == opq.rotation());
  CHECK(opq_back.quantizer.encode(view(x)) == opq.encode(view(x)));

  qtl::vq::rq_options r;
  r.beam = 3;
  r.kmeans = k;
  const auto rq = qtl::vq::residual_quantizer::train(view(x), 3, 3, r);
  const auto rq_codes = rq.encode(view(x));
  qtl::vq::save(scratch("rq.safetensors"), rq, rq_codes);
  const auto rq_back = qtl::vq::load<qtl::vq::residual_quantizer>(scratch("rq.safetensors"));
  CHECK(rq_back.quantizer.beam() == 3);
  CHECK(rq_back.quantizer.m() == 3);
  CHECK(rq_back.codes == rq_codes);
  CHECK(rq_back.quantizer.decode(rq_back.codes, rq_back.n) == rq.decode(rq_codes, 600));

  qtl::vq::lsq_options l;
  l.iterations = 2;
  l.encode = {.ils_iterations = 3, .icm_iterations = 2, .perturbations = 1, .seed = 77};
  const auto lsq = qtl::vq::local_search_quantizer::train(view(x), 2, 3, l);
  const auto lsq_codes = lsq.encode(view(x));
  qtl::vq::save(scratch("lsq.safetensors"), lsq, lsq_codes);
  const auto lsq_back = qtl::vq::load<qtl::vq::local_search_quantizer>(scratch("lsq.safetensors"));
  CHECK(lsq_back.quantizer.encode_options().ils_iterations == 3);
  CHECK(lsq_back.quantizer.encode_options().icm_iterations == 2);
  CHECK(lsq_back.quantizer.encode_options().perturbations == 1);
  CHECK(lsq_back.quantizer.encode_options().seed == 77);
  CHECK(lsq_back.codes == lsq_codes);
  CHECK(lsq_back.quantizer.encode(view(x)) == lsq_codes);  // the same options give the same codes
  CHECK(qtl::test::error_code_of([&] { (void)qtl::vq::load<qtl::vq::residual_quantizer>(scratch("lsq.safetensors")); }) ==
        qtl::errc::invalid_argument);
}

TEST_CASE("vq files of the wrong kind or shape are refused", "[vq][storage][errors]") {
  using qtl::test::error_code_of;
  const matrix x = gaussian(300, 4, 2);
  qtl::vq::kmeans_options k;
  k.iterations = 2;
  const auto pq = qtl::vq::product_quantizer::train(view(x), 2, 5, k);  // 2-byte codes
  const auto path = scratch("kind.safetensors");
  qtl::vq::save(path, pq);
  CHECK(error_code_of([&] { (void)qtl::vq::load<qtl::vq::residual_quantizer>(path); }) == qtl::errc::invalid_argument);
  CHECK(error_code_of([&] { (void)qtl::vq::load<qtl::vq::optimized_product_quantizer>(path); }) ==
        qtl::errc::invalid_argument);
  const auto codes = pq.encode(view(x));
  fs::remove(scratch("odd.safetensors"));
  CHECK(error_code_of([&] { qtl::vq::save(scratch("odd.safetensors"), pq, std::span(codes).first(3)); }) ==
        qtl::errc::shape_mismatch);
  CHECK(!fs::exists(scratch("odd.safetensors")));

  const auto bad = scratch("bad.safetensors");
  const auto refused = [&](const std::vector<std::pair<std::string, std::vector<std::uint64_t>>>& shapes,
                           const st::metadata_map& metadata) {
    write_file(bad, shapes, metadata);
    return error_code_of([&] { (void)qtl::vq::load<qtl::vq::product_quantizer>(bad); });
  };
  const st::metadata_map good{{"qtl.vq", "product_quantizer"}, {"qtl.vq.nbits", "3"}};
  CHECK(refused({{"codebooks", {2, 8, 2}}}, {}) == qtl::errc::corrupt_file);  // no metadata
  CHECK(refused({{"codebooks", {2, 8, 2}}}, {{"qtl.vq", "product_quantizer"}, {"qtl.vq.nbits", "9"}}) ==
        qtl::errc::corrupt_file);
  CHECK(refused({{"codebooks", {2, 8, 2}}}, {{"qtl.vq", "product_quantizer"}, {"qtl.vq.nbits", "3x"}}) ==
        qtl::errc::corrupt_file);
  CHECK(refused({{"books", {2, 8, 2}}}, good) == qtl::errc::corrupt_file);
  CHECK(refused({{"codebooks", {2, 7, 2}}}, good) == qtl::errc::corrupt_file);  // 7 codewords for 3 bits
  CHECK(refused({{"codebooks", {16, 2}}}, good) == qtl::errc::corrupt_file);
  CHECK(refused({{"codebooks", {0, 8, 2}}}, good) == qtl::errc::corrupt_file);
  CHECK(refused({{"codebooks", {2, 8, 2}}, {"codes", {300, 1}}}, good) == qtl::errc::corrupt_file);  // F32 codes
  // An OPQ file whose rotation has another size.
  write_file(bad, {{"codebooks", {2, 8, 2}}, {"rotation", {3, 3}}},
             {{"qtl.vq", "optimized_product_quantizer"}, {"qtl.vq.nbits", "3"}});
  CHECK(error_code_of([&] { (void)qtl::vq::load<qtl::vq::optimized_product_quantizer>(bad); }) ==
        qtl::errc::corrupt_file);
  // Truncated: the safetensors reader's error.
  qtl::vq::save(path, pq);
  fs::resize_file(path, fs::file_size(path) - 5);
  CHECK(error_code_of([&] { (void)qtl::vq::load<qtl::vq::product_quantizer>(path); }) == qtl::errc::corrupt_file);
}

TEST_CASE("Voronoi codes and their codes survive save and load", "[vq][storage][voronoi]") {
  using qtl::test::error_code_of;
  using e8_code = qtl::vq::voronoi_code<qtl::vq::lattice_e8, 4>;
  const matrix x = gaussian(10, 16, 3);
  const e8_code code(std::nextafter(0.37f, 1.0f));  // not 0.37f: six digits would not write it exactly
  std::vector<std::uint8_t> codes(10 * e8_code::code_size(16));
  (void)code.encode(view(x), codes);
  const auto path = scratch("voronoi.safetensors");
  qtl::vq::save(path, code, 16, codes);

  const qtl::vq::stored<e8_code> back = qtl::vq::load<e8_code>(path);
  CHECK(back.quantizer.scale() == code.scale());
  CHECK(back.n == 10);
  CHECK(back.cols == 16);
  CHECK(back.codes == codes);
  matrix decoded(10, 16), decoded_back(10, 16);
  code.decode(codes, qtl::matrix_view<float>(decoded.data(), 10, 16));
  back.quantizer.decode(back.codes, qtl::matrix_view<float>(decoded_back.data(), 10, 16));
  CHECK(decoded_back == decoded);

  qtl::vq::save(path, code, 24);  // the code alone
  const auto alone = qtl::vq::load<e8_code>(path);
  CHECK((alone.n == 0 && alone.codes.empty() && alone.cols == 24));

  // Other bits, another lattice of the same dimension, another kind: refused as such.
  CHECK(error_code_of([&] { (void)qtl::vq::load<qtl::vq::voronoi_code<qtl::vq::lattice_e8, 3>>(path); }) ==
        qtl::errc::invalid_argument);
  CHECK(error_code_of([&] { (void)qtl::vq::load<qtl::vq::voronoi_code<qtl::vq::lattice_d<8>, 4>>(path); }) ==
        qtl::errc::invalid_argument);
  CHECK(error_code_of([&] { (void)qtl::vq::load<qtl::vq::product_quantizer>(path); }) == qtl::errc::invalid_argument);
  // Rows that are not whole blocks, codes that are not whole rows: nothing is written.
  fs::remove(scratch("odd.safetensors"));
  CHECK(error_code_of([&] { qtl::vq::save(scratch("odd.safetensors"), code, 12); }) == qtl::errc::invalid_argument);
  CHECK(error_code_of([&] { qtl::vq::save(scratch("odd.safetensors"), code, 16, std::span(codes).first(5)); }) ==
        qtl::errc::shape_mismatch);
  CHECK(!fs::exists(scratch("odd.safetensors")));

  // Lying metadata and tensors (write_file's generator is all 0.5: not E8's, so the good
  // file for these checks is E8's own basis, written by save, with the metadata replaced).
  const st::file saved(path);
  const auto generator = saved.find("generator");
  REQUIRE(generator != nullptr);
  const auto bad = scratch("bad_voronoi.safetensors");
  const auto write_bad = [&](const st::metadata_map& metadata, std::vector<std::uint64_t> code_shape = {}) {
    std::vector<st::tensor_view> views{*generator};
    const std::vector<std::uint8_t> bytes(code_shape.empty() ? 0 : code_shape[0] * code_shape[1]);
    if (!code_shape.empty()) {
      st::tensor_view c;
      c.name = "codes", c.type = st::dtype::u8, c.shape = code_shape, c.data = std::as_bytes(std::span(bytes));
      views.push_back(c);
    }
    st::write(bad, views, metadata);
  };
  const auto refused = [&](const st::metadata_map& metadata, std::vector<std::uint64_t> code_shape = {}) {
    write_bad(metadata, std::move(code_shape));
    return error_code_of([&] { (void)qtl::vq::load<e8_code>(bad); });
  };
  const auto with = [](std::string key, std::string value) {
    st::metadata_map m{{"qtl.vq", "voronoi_code"}, {"qtl.vq.nbits", "4"}, {"qtl.vq.scale", "0.5"}, {"qtl.vq.cols", "16"}};
    m[key] = std::move(value);
    return m;
  };
  write_bad(with("qtl.vq.cols", "16"), {10, 8});  // the control: this file loads
  CHECK(qtl::vq::load<e8_code>(bad).n == 10);
  CHECK(refused(with("qtl.vq.scale", "wide")) == qtl::errc::corrupt_file);
  CHECK(refused(with("qtl.vq.scale", "-1")) == qtl::errc::invalid_argument);  // the constructor's refusal
  CHECK(refused(with("qtl.vq.scale", "inf")) == qtl::errc::invalid_argument);
  CHECK(refused(with("qtl.vq.cols", "12")) == qtl::errc::corrupt_file);
  CHECK(refused(with("qtl.vq.cols", "0")) == qtl::errc::corrupt_file);
  CHECK(refused(with("qtl.vq.cols", "16"), {10, 9}) == qtl::errc::corrupt_file);  // 8 bytes a row of 16 at 4 bits
  write_file(bad, {{"generator", {8, 8}}}, with("qtl.vq.cols", "16"));
  CHECK(error_code_of([&] { (void)qtl::vq::load<e8_code>(bad); }) == qtl::errc::invalid_argument);  // another basis
}
