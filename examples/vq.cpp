// Vector quantization with qtl: 20,000 vectors of dimension 64 (points around 50 random
// centres) coded by k-means and by product quantization, then searched by asymmetric
// distance; prints the bytes per vector, the reconstruction error and the recall of the
// exact nearest neighbour.
#include <cstdio>
#include <random>

#include "qtl/vq/product_quantizer.hpp"

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
  const auto hits = pq.search(q, codes, static_cast<std::size_t>(n), 10, 2);
  int at1 = 0, at10 = 0;
  for (Eigen::Index i = 0; i < nq; ++i) {
    Eigen::Index exact = 0;
    (x.rowwise() - queries.row(i)).rowwise().squaredNorm().minCoeff(&exact);
    for (std::size_t r = 0; r < 10; ++r)
      if (hits.labels[static_cast<std::size_t>(i) * 10 + r] == static_cast<std::size_t>(exact)) at1 += r == 0, ++at10;
  }
  std::printf("PQ 16 x 8 bits:    %zu bytes a vector (of %ld), mean squared error %.3f, recall@1 %.2f, @10 %.2f\n",
              pq.code_size(), static_cast<long>(d * 4), error, at1 / double(nq), at10 / double(nq));
  return 0;
}
