// vq::nearest, the nearest of k centroids for 12,288 rows, at the shapes PQ and k-means
// meet on 384-value embeddings (sub-vectors of 8, 24, 48 values against 256 centroids,
// whole rows against 256 and 1,024), on 1 thread: qtl's fused kernel against the path it
// replaced, named eigen_argmin here (Eigen's product per block of about 2^18 scores, then
// detail::argmin over each row). GFLOP/s count the 2 n k d of the dot products.
#include <cstddef>
#include <cstdint>
#include <vector>

#include <qtl/vq/kmeans.hpp>

#include "bench_util.hpp"

namespace {

constexpr std::size_t rows = 12288;

struct problem {
  qtl::vq::matrix x, c;
  problem(std::size_t d, std::size_t k) : x(make(rows, d, 3)), c(make(k, d, 4)) {}
  static qtl::vq::matrix make(std::size_t n, std::size_t d, unsigned seed) {
    const auto v = qtl_bench::weights(n * d, seed);
    return Eigen::Map<const qtl::vq::matrix>(v.data(), static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(d));
  }
};

void set_gflops(benchmark::State& state, std::size_t d, std::size_t k) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * double(rows * k * d) / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_vq_nearest(benchmark::State& state) {
  const auto d = static_cast<std::size_t>(state.range(0)), k = static_cast<std::size_t>(state.range(1));
  const problem p(d, k);
  const qtl::vq::prepared_centroids book(p.c);
  std::vector<std::uint32_t> labels(rows);
  std::vector<float> distances(rows);
  for (auto _ : state) {
    book.assign(qtl::vq::view(p.x), 0, rows, labels.data(), distances.data());
    benchmark::DoNotOptimize(labels.data());
  }
  set_gflops(state, d, k);
}

void BM_vq_nearest_eigen_argmin(benchmark::State& state) {
  const auto d = static_cast<std::size_t>(state.range(0)), k = static_cast<std::size_t>(state.range(1));
  const problem p(d, k);
  const Eigen::RowVectorXf norms = p.c.rowwise().squaredNorm().transpose();
  const std::size_t block = std::max<std::size_t>(64, (std::size_t{1} << 18) / k);
  std::vector<std::uint32_t> labels(rows);
  std::vector<float> distances(rows);
  qtl::vq::matrix scores;
  for (auto _ : state) {
    for (std::size_t r0 = 0; r0 < rows; r0 += block) {
      const auto n = static_cast<Eigen::Index>(std::min(block, rows - r0));
      scores.noalias() = p.x.middleRows(static_cast<Eigen::Index>(r0), n) * p.c.transpose();
      scores = (scores * -2.0f).rowwise() + norms;
      for (Eigen::Index i = 0; i < n; ++i) {
        const std::size_t best = qtl::vq::detail::argmin(&scores(i, 0), k), r = r0 + static_cast<std::size_t>(i);
        labels[r] = static_cast<std::uint32_t>(best);
        distances[r] = std::max(0.0f, p.x.row(static_cast<Eigen::Index>(r)).squaredNorm() +
                                          scores(i, static_cast<Eigen::Index>(best)));
      }
    }
    benchmark::DoNotOptimize(labels.data());
  }
  set_gflops(state, d, k);
}

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"d", "k"})->Args({8, 256})->Args({24, 256})->Args({48, 256})->Args({384, 256})->Args({384, 1024});
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}

}  // namespace

BENCHMARK(BM_vq_nearest)->Apply(shapes);
BENCHMARK(BM_vq_nearest_eigen_argmin)->Apply(shapes);
