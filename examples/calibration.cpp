// Calibrate int8 and int4 quantizers with every observer on heavy-tailed data and print
// the SQNR each reaches: which observer to pick when the data has outliers.
#include <qtl/metrics.hpp>
#include <qtl/observer/histogram.hpp>
#include <qtl/observer/kl.hpp>
#include <qtl/observer/minmax.hpp>
#include <qtl/observer/moving_average_minmax.hpp>
#include <qtl/observer/mse_observer.hpp>
#include <qtl/observer/percentile.hpp>
#include <qtl/observer/streaming_percentile.hpp>
#include <qtl/quantizer.hpp>

#include <cstdio>
#include <random>
#include <span>
#include <vector>

namespace {

constexpr std::size_t rows = 256, cols = 1024, batch_rows = 32;

// Student-t with 3 degrees of freedom: a few values 10-50x the typical one.
std::vector<float> student_t(unsigned seed) {
  std::mt19937 rng(seed);
  std::student_t_distribution<float> t(3.0f);
  std::vector<float> v(rows * cols);
  for (auto& x : v) x = t(rng);
  return v;
}

// LLM-style activations: normal values, and 4 of the 1024 channels 30-60x larger.
std::vector<float> outlier_channels(unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(rows * cols);
  for (auto& x : v) x = normal(rng);
  for (std::size_t c = 3; c < cols; c += cols / 4)
    for (std::size_t r = 0; r < rows; ++r) v[r * cols + c] *= 30.0f + static_cast<float>(c % 31);
  return v;
}

// Feeds x to obs in batches of batch_rows rows, quantizes x with the params it chose and
// returns the SQNR in dB.
template <class Quantizer, class Observer>
double calibrated_sqnr(const Quantizer& q, Observer obs, const std::vector<float>& x) {
  for (std::size_t r = 0; r < rows; r += batch_rows)
    obs.observe(qtl::matrix_view<const float>(x.data() + r * cols, batch_rows, cols));
  const auto p = q.params_from(obs);
  std::vector<float> out(x.size());
  const qtl::matrix_view<const float> in(x.data(), rows, cols);
  q.fake_quantize(in, std::span<const qtl::quant_params>(p), qtl::matrix_view<float>(out.data(), rows, cols));
  return qtl::sqnr_db(in, qtl::matrix_view<const float>(out.data(), rows, cols));
}

// One row of the table: the observer of format F on both data sets.
template <class F, class Make>
void row(const std::vector<float>& t, const std::vector<float>& o, Make make, double out[2]) {
  const qtl::quantizer<F, qtl::symmetric, qtl::per_tensor> q;
  out[0] = calibrated_sqnr(q, make(), t);
  out[1] = calibrated_sqnr(q, make(), o);
}

template <class F>
void table(const std::vector<float>& t, const std::vector<float>& o, double (*result)[2]) {
  row<F>(t, o, [] { return qtl::minmax<>(); }, result[0]);
  row<F>(t, o, [] { return qtl::moving_average_minmax<>(0.01f); }, result[1]);
  row<F>(t, o, [] { return qtl::percentile<>(99.999f); }, result[2]);
  row<F>(t, o, [] { return qtl::percentile<>(99.99f); }, result[3]);
  row<F>(t, o, [] { return qtl::percentile<>(99.9f); }, result[4]);
  row<F>(t, o, [] { return qtl::streaming_percentile<>(99.9f); }, result[5]);
  row<F>(t, o, [] { return qtl::histogram<F>(); }, result[6]);
  row<F>(t, o, [] { return qtl::mse_observer<F>(); }, result[7]);
  row<F>(t, o, [] { return qtl::kl<F>(); }, result[8]);
}

}  // namespace

int main() {
  const auto t = student_t(1);
  const auto o = outlier_channels(2);
  const char* names[] = {"minmax",          "moving_average_minmax 0.01", "percentile 99.999",
                         "percentile 99.99", "percentile 99.9",            "streaming_percentile 99.9",
                         "histogram (torch.ao)", "mse_observer",          "kl (TensorRT)"};
  constexpr int observers = 9;
  double int8[observers][2], int4[observers][2];
  table<qtl::int8>(t, o, int8);
  table<qtl::int4>(t, o, int4);
  std::printf("\nSQNR (dB) of per-tensor symmetric quantization, %zu x %zu values in batches of %zu rows\n\n", rows,
              cols, batch_rows);
  std::printf("| observer | int8 Student-t | int8 outlier channels | int4 Student-t | int4 outlier channels |\n");
  std::printf("|---|---:|---:|---:|---:|\n");
  for (int i = 0; i < observers; ++i)
    std::printf("| %s | %.2f | %.2f | %.2f | %.2f |\n", names[i], int8[i][0], int8[i][1], int4[i][0], int4[i][1]);
  return 0;
}
