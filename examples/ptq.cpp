// Post-training quantization of one linear layer y = x·Wᵀ on LLM-style activations (a
// few feature columns 20-60x larger than the rest): every PTQ mode of qtl/ptq/ measured
// against the fp32 product on held-out tokens.
#include <cmath>
#include <cstdio>
#include <qtl/ptq/linear_reference.hpp>  // fp32 reference product (Eigen): outside the umbrella
#include <qtl/qtl.hpp>
#include <random>
#include <vector>

namespace {

constexpr std::size_t features = 1024, outputs = 1024, tokens = 32;

struct matrix {
  std::size_t rows, cols;
  std::vector<float> data;
  qtl::matrix_view<const float> view() const { return {data.data(), rows, cols}; }
  qtl::matrix_view<float> view() { return {data.data(), rows, cols}; }
};

// Normal features, tokens of varying scale, and the same 8 outlier columns in every batch.
matrix activations(std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> token_scale(0.3f, 3.0f);
  matrix x{tokens, features, std::vector<float>(tokens * features)};
  for (std::size_t r = 0; r < tokens; ++r) {
    const float s = token_scale(rng);
    for (std::size_t c = 0; c < features; ++c) x.data[r * features + c] = s * normal(rng);
  }
  for (std::size_t k = 0; k < 8; ++k)
    for (std::size_t r = 0; r < tokens; ++r) x.data[r * features + 127 * k + 5] *= 20.0f + 5.0f * k;
  return x;
}

void row(const char* name, const matrix& ref, const matrix& y) {
  double diff = 0.0, norm = 0.0;
  for (std::size_t i = 0; i < ref.data.size(); ++i) {
    diff += (y.data[i] - ref.data[i]) * (y.data[i] - ref.data[i]);
    norm += ref.data[i] * ref.data[i];
  }
  std::printf("| %-38s | %8.2f | %10.2e |\n", name, qtl::sqnr_db(ref.view(), y.view()), std::sqrt(diff / norm));
}

}  // namespace

int main() {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  matrix w{outputs, features, std::vector<float>(outputs * features)};
  for (auto& v : w.data) v = normal(rng);
  std::vector<matrix> calibration;
  for (int b = 0; b < 8; ++b) calibration.push_back(activations(rng));
  std::vector<qtl::matrix_view<const float>> batches;
  for (const auto& b : calibration) batches.push_back(b.view());
  const matrix x = activations(rng);  // held out

  matrix ref{tokens, outputs, std::vector<float>(tokens * outputs)}, y = ref;
  qtl::ptq::linear_reference(x.view(), w.view(), ref.view());
  std::printf("y = x·Wᵀ, x %zux%zu (8 outlier columns 20-55x the rest), W %zux%zu; against fp32\n\n", tokens, features,
              outputs, features);
  std::printf("| %-38s | %8s | %10s |\n|%s|%s|%s|\n", "mode", "SQNR dB", "rel. error",
              "----------------------------------------", "----------", "------------");

  using qtl::ptq::ptq_mode;
  qtl::ptq::quantized_linear stat(w.view(), {.mode = ptq_mode::static_activations});
  stat.calibrate(batches);  // minmax over the calibration set
  stat.forward(x.view(), y.view());
  row("int8 static per-tensor (W8A8)", ref, y);
  qtl::ptq::quantized_linear(w.view(), {.mode = ptq_mode::dynamic_activations}).forward(x.view(), y.view());
  row("int8 dynamic per-token (W8A8)", ref, y);
  qtl::ptq::quantized_linear(w.view(), {.mode = ptq_mode::weight_only}).forward(x.view(), y.view());
  row("weight-only int8 per channel", ref, y);
  qtl::ptq::quantized_linear(w.view(), {.mode = ptq_mode::weight_only, .weight_bits = 4, .weight_group = 128})
      .forward(x.view(), y.view());
  row("weight-only int4 g128", ref, y);
  (void)qtl::ptq::llm_int8_linear(w.view()).forward(x.view(), y.view());
  row("LLM.int8 (threshold 6, bitsandbytes)", ref, y);
  (void)qtl::ptq::llm_int8_linear(w.view(), {.weights = qtl::ptq::outlier_weights::original})
      .forward(x.view(), y.view());
  row("LLM.int8 (fp32 outlier weights)", ref, y);

  // SmoothQuant: per-channel max|X| from the calibration set, s folded into W's columns
  // and (here, with no previous op at hand) divided out of x.
  qtl::minmax<qtl::per_channel<1>> channels;
  const auto s =
      qtl::ptq::smoothing_scales(qtl::ptq::channel_absmax(qtl::ptq::observe_all(channels, batches)), w.view(), 0.5f);
  matrix ws = w, xs = x;
  qtl::ptq::scale_weight_columns(ws.view(), s);
  qtl::ptq::divide_columns(xs.view(), s);
  std::vector<matrix> smoothed = calibration;
  std::vector<qtl::matrix_view<const float>> smoothed_batches;
  for (auto& b : smoothed) {
    qtl::ptq::divide_columns(b.view(), s);
    smoothed_batches.push_back(b.view());
  }
  qtl::ptq::quantized_linear smooth_static(ws.view(), {.mode = ptq_mode::static_activations});
  smooth_static.calibrate(smoothed_batches);
  smooth_static.forward(xs.view(), y.view());
  row("SmoothQuant a=0.5 + int8 static", ref, y);
  qtl::ptq::quantized_linear(ws.view(), {.mode = ptq_mode::dynamic_activations}).forward(xs.view(), y.view());
  row("SmoothQuant a=0.5 + int8 per-token", ref, y);

  // Which observer calibrates the static activation scale best, by SQNR on the
  // calibration set: any observer plugs in (docs/calibration.md).
  const auto report = qtl::ptq::calibrate_best(
      qtl::int8_per_tensor_symmetric{}, batches, qtl::ptq::named("minmax", qtl::minmax<>{}),
      qtl::ptq::named("histogram", qtl::histogram<qtl::int8>{}),
      qtl::ptq::named("mse_observer", qtl::mse_observer<qtl::int8, qtl::symmetric>{}),
      qtl::ptq::named("percentile 99.99", qtl::percentile<>(99.99f)), qtl::ptq::named("kl", qtl::kl<qtl::int8>{}));
  std::printf("\nstatic activation scale, candidates scored on the calibration set:\n");
  for (const auto& c : report.candidates) std::printf("  %-16s %6.2f dB\n", c.name.c_str(), c.sqnr_db);
  std::printf("  winner: %s (%+.2f dB over %s)\n", report.winner().name.c_str(), report.gain_db(),
              report.candidates[0].name.c_str());
}
