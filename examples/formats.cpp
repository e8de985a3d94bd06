// The interchange formats side by side: quantize one weight row into ggml blocks, OCP MX,
// bitsandbytes NF4, BitNet ternary and FP8, dequantize it, and print the bits per value
// and the signal-to-noise ratio.
#include <qtl/format/minifloat.hpp>
#include <qtl/layout/bitnet.hpp>
#include <qtl/layout/bitsandbytes.hpp>
#include <qtl/layout/ggml.hpp>
#include <qtl/layout/mx.hpp>
#include <qtl/metrics.hpp>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

namespace {

std::vector<float> weights(std::size_t n) {
  std::mt19937 rng(7);
  std::student_t_distribution<float> heavy(4.0f);  // weights have heavier tails than a normal
  std::vector<float> w(n);
  for (auto& v : w) v = 0.02f * heavy(rng);
  return w;
}

void report(const char* name, double bytes, const std::vector<float>& x, const std::vector<float>& y) {
  std::printf("%-14s %6.3f bits/value  SQNR %5.1f dB\n", name, 8.0 * bytes / static_cast<double>(x.size()),
              qtl::sqnr_db(x, y));
}

template <class Block>
void ggml_format(const std::vector<float>& x) {
  std::vector<std::uint8_t> bytes(qtl::ggml::row_size<Block>(x.size()));
  qtl::ggml::quantize<Block>(x, bytes);
  std::vector<float> y(x.size());
  qtl::ggml::dequantize<Block>(bytes, y);
  report(Block::name.data(), static_cast<double>(bytes.size()), x, y);
}

// llama-quantize's importance matrix: per column, the mean square of the activations the
// column meets. The weighted quantizer lowers the error the layer's output sees.
template <class Block>
void importance_demo(const std::vector<float>& x, const std::vector<float>& imatrix, const char* name) {
  const auto output_error = [&](const std::vector<float>& y) {
    double e = 0;
    for (std::size_t j = 0; j < x.size(); ++j) e += imatrix[j] * (x[j] - y[j]) * (x[j] - y[j]);
    return e;
  };
  std::vector<std::uint8_t> plain(qtl::ggml::row_size<Block>(x.size())), weighted(plain.size());
  qtl::ggml::quantize<Block>(x, plain);
  qtl::ggml::quantize<Block>(x, weighted, x.size(), imatrix);
  std::vector<float> y_plain(x.size()), y_weighted(x.size());
  qtl::ggml::dequantize<Block>(plain, y_plain);
  qtl::ggml::dequantize<Block>(weighted, y_weighted);
  std::printf("%s with an imatrix: importance-weighted error %.3g -> %.3g\n", name, output_error(y_plain),
              output_error(y_weighted));
}

void importance_demo(const std::vector<float>& x) {
  std::mt19937 rng(11);
  std::lognormal_distribution<float> activation_power(0.0f, 1.5f);  // a few loud channels
  std::vector<float> imatrix(x.size());
  for (auto& v : imatrix) v = activation_power(rng);
  importance_demo<qtl::ggml::block_q4_k>(x, imatrix, "q4_K");
  importance_demo<qtl::ggml::block_q4_0>(x, imatrix, "q4_0");
}

template <class T>
void mx_format(const char* name, const std::vector<float>& x) {
  std::vector<std::uint8_t> elements(qtl::mx::element_bytes<T>(x.size())), scales(qtl::mx::scale_count<T>(x.size()));
  qtl::mx::quantize<T>(x, elements, scales);
  std::vector<float> y(x.size());
  qtl::mx::dequantize<T>(elements, scales, y);
  report(name, static_cast<double>(elements.size() + scales.size()), x, y);
}

}  // namespace

int main() {
  const std::vector<float> x = weights(4096);
  ggml_format<qtl::ggml::block_q8_0>(x);
  ggml_format<qtl::ggml::block_q6_k>(x);
  ggml_format<qtl::ggml::block_q5_k>(x);
  ggml_format<qtl::ggml::block_q5_0>(x);
  ggml_format<qtl::ggml::block_q4_k>(x);
  ggml_format<qtl::ggml::block_iq4_nl>(x);
  ggml_format<qtl::ggml::block_q4_0>(x);
  ggml_format<qtl::ggml::block_mxfp4>(x);
  ggml_format<qtl::ggml::block_q3_k>(x);
  ggml_format<qtl::ggml::block_q2_k>(x);
  ggml_format<qtl::ggml::block_tq2_0>(x);
  importance_demo(x);
  mx_format<qtl::mx::mxfp8_e4m3>("mxfp8_e4m3", x);
  mx_format<qtl::mx::mxfp6_e2m3>("mxfp6_e2m3", x);
  mx_format<qtl::mx::mxfp4>("mxfp4 (OCP)", x);
  mx_format<qtl::mx::mxint8>("mxint8", x);

  // bitsandbytes NF4, blocks of 64, absmax double-quantized (QLoRA's setting).
  std::vector<std::uint8_t> packed(qtl::bnb::packed_4bit_size(x.size()));
  qtl::bnb::quantize_4bit_options nf4;
  nf4.compress_statistics = true;
  const qtl::bnb::quant_state state = qtl::bnb::quantize_4bit(x, packed, nf4);
  std::vector<float> y(x.size());
  qtl::bnb::dequantize_4bit(packed, state, y);
  report("nf4 (bnb)", static_cast<double>(packed.size() + state.nested->codes.size() + 4 * state.nested->absmax.size() + 4),
         x, y);

  // BitNet b1.58 ternary weights (one absmean scale), packed as bitnet.cpp's I2_S.
  std::vector<std::int8_t> codes(x.size());
  const qtl::matrix_view<const float> w(x.data(), 1, x.size());
  const auto ws = qtl::bitnet::quantize_weights(w, qtl::matrix_view<std::int8_t>(codes.data(), 1, x.size()));
  std::vector<std::uint8_t> i2s(qtl::bitnet::i2_s::bytes(1, x.size()));
  qtl::bitnet::pack_i2_s(qtl::matrix_view<const std::int8_t>(codes.data(), 1, x.size()), ws.scale, i2s);
  for (std::size_t i = 0; i < x.size(); ++i) y[i] = static_cast<float>(codes[i]) * ws.scale;
  report("i2_s (bitnet)", static_cast<double>(i2s.size()), x, y);

  // FP8 E4M3 per tensor: scale so the largest magnitude lands on 448.
  float amax = 0.0f;
  for (const float v : x) amax = std::fmax(amax, std::fabs(v));
  const float scale = amax / qtl::fp8_e4m3::max_value();
  for (std::size_t i = 0; i < x.size(); ++i) y[i] = qtl::fp8_e4m3::decode(qtl::fp8_e4m3::encode(x[i] / scale)) * scale;
  report("fp8_e4m3", static_cast<double>(x.size() + sizeof(float)), x, y);
}
