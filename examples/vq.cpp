// Vector quantization with qtl: 20,000 vectors of dimension 64 (points around 50 random
// centres) coded by k-means, product quantization (PQ), optimized PQ, residual quantization
// (RQ) and local search quantization (LSQ), then searched by asymmetric distance (PQ, RQ and
// LSQ); the PQ saved with its codes and loaded back; the same rows coded by the E8 and Z^8
// lattices, and by their fixed-rate Voronoi codes (E8's saved and loaded back). Prints the
// bytes per vector, the reconstruction error and the recall of the exact nearest neighbour.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <random>
#include <utility>
#include <vector>

#include "qtl/vq/lattice.hpp"
#include "qtl/vq/optimized_product_quantizer.hpp"
#include "qtl/vq/product_quantizer.hpp"
#include "qtl/vq/local_search_quantizer.hpp"
#include "qtl/vq/residual_quantizer.hpp"
#include "qtl/vq/storage.hpp"
#include "qtl/vq/voronoi_code.hpp"

int main() {
  const Eigen::Index n = 20000, d = 64, nq = 200;
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  qtl::vq::matrix centres(50, d), x(n, d), queries(nq, d);
  for (Eigen::Index i = 0; i < centres.size(); ++i) centres.data()[i] = 3 * normal(rng);
  for (auto* m : {&x, &queries})
    for (Eigen::Index i = 0; i < m->rows(); ++i)
      for (Eigen::Index j = 0; j < d; ++j) (*m)(i, j) = centres(i % 50, j) + normal(rng);
  const qtl::matrix_view<const float> rows(x.data(), n, d), q(queries.data(), nq, d);

  qtl::vq::kmeans_options opt;
  opt.threads = 2;
  const auto km = qtl::vq::kmeans(rows, 256, opt);
  std::printf("k-means, k = 256:  1 byte a vector, mean squared error %.3f (start %.3f)\n", km.mse.back(),
              km.mse.front());

  const auto pq = qtl::vq::product_quantizer::train(rows, 16, 8, opt);
  const auto codes = pq.encode(rows, 2);
  const double error = (x - pq.decode(codes, static_cast<std::size_t>(n))).rowwise().squaredNorm().mean();
  // The share of queries whose exact nearest row is found first, and among the first 10.
  const auto recall = [&](const qtl::vq::search_result& hits) {
    int at1 = 0, at10 = 0;
    for (Eigen::Index i = 0; i < nq; ++i) {
      Eigen::Index exact = 0;
      (x.rowwise() - queries.row(i)).rowwise().squaredNorm().minCoeff(&exact);
      for (std::size_t r = 0; r < 10; ++r)
        if (hits.labels[static_cast<std::size_t>(i) * 10 + r] == static_cast<std::size_t>(exact)) at1 += r == 0, ++at10;
    }
    return std::pair(at1 / double(nq), at10 / double(nq));
  };
  const auto [pq_at1, pq_at10] = recall(pq.search(q, codes, static_cast<std::size_t>(n), 10, 2));
  std::printf("PQ 16 x 8 bits:    %zu bytes a vector (of %ld), mean squared error %.3f, recall@1 %.2f, @10 %.2f\n",
              pq.code_size(), static_cast<long>(d * 4), error, pq_at1, pq_at10);

  // OPQ learns a rotation first (the same 16 bytes a vector); RQ codes what each stage left.
  qtl::vq::opq_options opq_opt;
  opq_opt.iterations = 10;
  opq_opt.kmeans = opt;
  const auto opq = qtl::vq::optimized_product_quantizer::train(rows, 16, 8, opq_opt);
  const double opq_error = (x - opq.decode(opq.encode(rows, 2), static_cast<std::size_t>(n))).rowwise().squaredNorm().mean();
  std::printf("OPQ 16 x 8 bits:   %zu bytes a vector, mean squared error %.3f\n", opq.code_size(), opq_error);
  qtl::vq::rq_options rq_opt;
  rq_opt.kmeans.threads = 2;
  const auto rq = qtl::vq::residual_quantizer::train(qtl::matrix_view<const float>(x.data(), 5000, d), 4, 8, rq_opt);
  const auto rq_codes = rq.encode(rows, 2);
  const double rq_error = (x - rq.decode(rq_codes, static_cast<std::size_t>(n))).rowwise().squaredNorm().mean();
  // RQ's ADC search adds each vector's norm, computed once from its codes.
  const std::vector<float> norms = rq.norms(rq_codes, static_cast<std::size_t>(n));
  const auto [rq_at1, rq_at10] = recall(rq.search(q, rq_codes, norms, static_cast<std::size_t>(n), 10, 2));
  std::printf("RQ 4 x 8 bits:     %zu bytes a vector, mean squared error %.3f (trained on 5,000 rows), recall@1 %.2f, @10 %.2f\n",
              rq.code_size(), rq_error, rq_at1, rq_at10);
  // LSQ chooses the same kind of codes jointly, by local search; it searches as RQ does.
  qtl::vq::lsq_options lsq_opt;
  lsq_opt.iterations = 10;
  lsq_opt.threads = 2;
  const auto lsq = qtl::vq::local_search_quantizer::train(qtl::matrix_view<const float>(x.data(), 5000, d), 4, 8, lsq_opt);
  const auto lsq_codes = lsq.encode(rows, 2);
  const double lsq_error = (x - lsq.decode(lsq_codes, static_cast<std::size_t>(n))).rowwise().squaredNorm().mean();
  const auto [lsq_at1, lsq_at10] =
      recall(lsq.search(q, lsq_codes, lsq.norms(lsq_codes, static_cast<std::size_t>(n)), static_cast<std::size_t>(n), 10, 2));
  std::printf("LSQ 4 x 8 bits:    %zu bytes a vector, mean squared error %.3f (trained on 5,000 rows), recall@1 %.2f, @10 %.2f\n",
              lsq.code_size(), lsq_error, lsq_at1, lsq_at10);

  // Codebooks and codes in one safetensors file, and back.
  const auto file = std::filesystem::temp_directory_path() / "qtl_example_pq.safetensors";
  qtl::vq::save(file, pq, codes);
  const auto stored = qtl::vq::load<qtl::vq::product_quantizer>(file);
  std::printf("saved and loaded:  %zu vectors, the same codes: %s\n", stored.n,
              stored.codes == codes && stored.quantizer.encode(rows) == codes ? "yes" : "no");
  std::filesystem::remove(file);

  // Lattices need no training: at one scale E8 codes with less error than Z^8 (one int8 a value).
  std::vector<std::int8_t> lattice_codes(static_cast<std::size_t>(x.size()));
  qtl::vq::matrix back(n, d);
  const qtl::matrix_view<float> out(back.data(), static_cast<std::size_t>(n), static_cast<std::size_t>(d));
  const qtl::vq::lattice_quantizer<qtl::vq::lattice_e8> e8(1.0f);
  e8.encode(rows, lattice_codes);
  e8.decode(lattice_codes, out);
  const double e8_error = (x - back).rowwise().squaredNorm().mean();
  const qtl::vq::lattice_quantizer<qtl::vq::lattice_z<8>> z8(1.0f);
  z8.encode(rows, lattice_codes);
  z8.decode(lattice_codes, out);
  std::printf("lattices, scale 1: E8 mean squared error %.3f, Z^8 %.3f\n", e8_error, (x - back).rowwise().squaredNorm().mean());

  // Voronoi codes fix the rate: 4 bits a value (32 bytes a vector) whatever the values;
  // blocks outside the code's cell are drawn toward the origin (counted as overloads).
  const auto voronoi = [&](const auto& code, const char* name) {
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(n) * code.code_size(static_cast<std::size_t>(d)));
    const std::size_t overloads = code.encode(rows, bytes);
    code.decode(bytes, out);
    std::printf("Voronoi code %s, 4 bits a value, scale 1: %zu bytes a vector, mean squared error %.3f, %zu of %lld "
                "blocks overloaded\n",
                name, bytes.size() / static_cast<std::size_t>(n), (x - back).rowwise().squaredNorm().mean(), overloads,
                static_cast<long long>(n * d / 8));
    return bytes;
  };
  using e8_code = qtl::vq::voronoi_code<qtl::vq::lattice_e8, 4>;
  const e8_code e8_4(1.0f);
  const std::vector<std::uint8_t> e8_bytes = voronoi(e8_4, "E8 ");
  voronoi(qtl::vq::voronoi_code<qtl::vq::lattice_z<8>, 4>(1.0f), "Z^8");

  // A Voronoi code is stored as its lattice's basis, bits, scale and row length.
  qtl::vq::save(file, e8_4, static_cast<std::size_t>(d), e8_bytes);
  const auto e8_stored = qtl::vq::load<e8_code>(file);
  std::printf("Voronoi code saved and loaded: %zu rows of %zu values, scale %g, the same codes: %s\n", e8_stored.n,
              e8_stored.cols, e8_stored.quantizer.scale(), e8_stored.codes == e8_bytes ? "yes" : "no");
  std::filesystem::remove(file);
  return 0;
}
