// qtl_vq_compare: qtl's side of bench/vq_faiss.py. Trains k-means or a vector quantizer
// (PQ, OPQ, RQ, LSQ) on raw float32 rows, encodes them, searches held-out queries and prints one
// JSON line: train and encode seconds, the reconstruction's mean squared error per
// component, and the share of queries whose exact nearest neighbour is among the first 1
// and 10 found, by ADC (RQ's and LSQ's norms are computed from the codes inside the search time).
//   qtl_vq_compare base.f32 n d queries.f32 nq truth.i32 kmeans|kmeans_random K iterations threads
//     (kmeans_random: kmeans_init::random_rows, faiss's start; kmeans: k-means++)
//   qtl_vq_compare base.f32 n d queries.f32 nq truth.i32 pq|opq M nbits threads
//   qtl_vq_compare base.f32 n d queries.f32 nq truth.i32 rq|rq_geometric|lsq M nbits threads  (trained on the first 10,000 rows)
//     (rq_geometric: progressive_schedule::geometric, faiss's widths; rq: linear)
// An optional last argument sets the k-means seed (kmeans_options::seed, 1234 unless given).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "qtl/vq/local_search_quantizer.hpp"
#include "qtl/vq/optimized_product_quantizer.hpp"
#include "qtl/vq/product_quantizer.hpp"
#include "qtl/vq/residual_quantizer.hpp"

namespace {

template <class T>
std::vector<T> read_raw(const char* path, std::size_t count) {
  std::vector<T> v(count);
  std::ifstream in(path, std::ios::binary);
  if (!in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(count * sizeof(T)))) {
    std::fprintf(stderr, "qtl_vq_compare: %s holds fewer than %zu values\n", path, count);
    std::exit(2);
  }
  return v;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 11 && argc != 12) {
    std::fprintf(stderr, "usage: %s base.f32 n d queries.f32 nq truth.i32 kmeans|kmeans_random|pq|opq|rq|rq_geometric|lsq K|M iterations|nbits threads [seed]\n",
                 argv[0]);
    return 2;
  }
  const std::size_t n = std::stoul(argv[2]), d = std::stoul(argv[3]), nq = std::stoul(argv[5]);
  const auto base = read_raw<float>(argv[1], n * d);
  const auto queries = read_raw<float>(argv[4], nq * d);
  const auto truth = read_raw<std::int32_t>(argv[6], nq);
  const std::string method = argv[7];
  const std::size_t a = std::stoul(argv[8]);
  const int b = std::stoi(argv[9]);
  const auto threads = static_cast<unsigned>(std::stoul(argv[10]));
  const qtl::matrix_view<const float> x(base.data(), n, d), q(queries.data(), nq, d);
  qtl::vq::kmeans_options opt;
  opt.threads = threads;
  if (argc == 12) opt.seed = std::stoull(argv[11]);

  if (method == "kmeans" || method == "kmeans_random") {
    opt.iterations = b;
    if (method == "kmeans_random") opt.init = qtl::vq::kmeans_init::random_rows;
    auto t = std::chrono::steady_clock::now();
    const auto r = qtl::vq::kmeans(x, a, opt);
    const double train = seconds_since(t);
    t = std::chrono::steady_clock::now();
    const auto assigned = qtl::vq::nearest(x, r.centroids, threads);
    const double encode = seconds_since(t);
    double total = 0;
    for (const float e : assigned.distances) total += e;
    std::printf("{\"library\": \"qtl\", \"method\": \"%s\", \"k\": %zu, \"train_s\": %.4f, \"encode_s\": %.4f, "
                "\"mse\": %.6g}\n",
                method.c_str(), a, train, encode, total / static_cast<double>(n * d));
    return 0;
  }
  // Train, encode, decode and search with quantizer Q; `search` gives the 10 found per query.
  const auto run = [&](const auto& train_fn, const auto& search_fn) {
    auto t = std::chrono::steady_clock::now();
    const auto vq = train_fn();
    const double train = seconds_since(t);
    t = std::chrono::steady_clock::now();
    const auto codes = vq.encode(x, threads);
    const double encode = seconds_since(t);
    const qtl::vq::matrix back = vq.decode(codes, n);
    const double mse = (qtl::as_eigen(x) - back).squaredNorm() / static_cast<double>(n * d);
    t = std::chrono::steady_clock::now();
    const std::vector<std::size_t> found = search_fn(vq, codes, back);
    const double search = seconds_since(t);
    std::size_t at1 = 0, at10 = 0;
    for (std::size_t i = 0; i < nq; ++i)
      for (std::size_t r = 0; r < 10; ++r)
        if (found[i * 10 + r] == static_cast<std::size_t>(truth[i])) at1 += r == 0, ++at10;
    std::printf("{\"library\": \"qtl\", \"method\": \"%s\", \"m\": %zu, \"nbits\": %d, \"train_s\": %.4f, "
                "\"encode_s\": %.4f, \"search_s\": %.4f, \"mse\": %.6g, \"recall1\": %.4f, \"recall10\": %.4f}\n",
                method.c_str(), a, b, train, encode, search, mse, double(at1) / double(nq), double(at10) / double(nq));
  };
  const auto by_adc = [&](const auto& vq, const std::vector<std::uint8_t>& codes, const qtl::vq::matrix&) {
    return vq.search(q, codes, n, 10, threads).labels;
  };
  if (method == "pq") {
    run([&] { return qtl::vq::product_quantizer::train(x, a, b, opt); }, by_adc);
  } else if (method == "opq") {
    qtl::vq::opq_options o;  // faiss's defaults: 50 alternations, 40 then 4 PQ iterations
    o.kmeans = opt;
    run([&] { return qtl::vq::optimized_product_quantizer::train(x, a, b, o); }, by_adc);
  } else if (method == "rq" || method == "rq_geometric" || method == "lsq") {
    const qtl::matrix_view<const float> sample(base.data(), std::min<std::size_t>(n, 10000), d);
    const auto by_adc_with_norms = [&](const auto& aq, const std::vector<std::uint8_t>& codes, const qtl::vq::matrix&) {
      return aq.search(q, codes, aq.norms(codes, n), n, 10, threads).labels;
    };
    if (method != "lsq") {
      qtl::vq::rq_options o;  // beam 5 and 10 progressive steps, as faiss's defaults
      if (method == "rq_geometric") o.schedule = qtl::vq::progressive_schedule::geometric;
      o.kmeans.threads = threads;
      o.kmeans.seed = opt.seed;
      run([&] { return qtl::vq::residual_quantizer::train(sample, a, b, o); }, by_adc_with_norms);
    } else {
      qtl::vq::lsq_options o;  // 25 iterations, 8 and 16 local search rounds of 4 ICM sweeps, as faiss's defaults
      o.threads = threads;
      o.encode.seed = opt.seed;
      run([&] { return qtl::vq::local_search_quantizer::train(sample, a, b, o); }, by_adc_with_norms);
    }
  } else {
    std::fprintf(stderr, "qtl_vq_compare: unknown method %s\n", method.c_str());
    return 2;
  }
  return 0;
}
