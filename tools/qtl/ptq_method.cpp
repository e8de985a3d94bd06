#include "ptq_method.hpp"

#include <fstream>

#include "model_file.hpp"
#include "qtl/layout/compressed_tensors.hpp"
#include "qtl/ptq/bert_ptq.hpp"
#include "qtl/ptq/calibration_text.hpp"

namespace qtl::tool {
namespace {

ptq::weight_method method_of(const std::string& name) {
  for (const auto m : {ptq::weight_method::gptq, ptq::weight_method::awq, ptq::weight_method::adaround})
    if (name == ptq::name(m)) return m;
  throw failure("--method", "\"" + name + "\" is not rtn, gptq, awq or adaround");
}

template <int Bits>
std::vector<ptq::quantized_weights> quantize(ptq::bert& model, const std::vector<std::string>& text,
                                             const ptq::weight_ptq_config& cfg, bool asymmetric) {
  return ptq::quantize_bert<int_format<Bits, true>>(model, text, cfg, compressed_tensors::rtn{asymmetric});
}

}  // namespace

std::map<std::string, method_weights> ptq_method_weights(const std::filesystem::path& model, const method_options& o) {
  const auto method = method_of(o.method);
  const auto dir = model.has_parent_path() ? model.parent_path() : std::filesystem::path(".");
  if (model.filename() != "model.safetensors" || !std::filesystem::exists(dir / "config.json"))
    throw failure(model, "--method " + o.method +
                             " runs the model: give the model.safetensors of a Hugging Face BERT directory "
                             "(config.json and the tokenizer beside it)");
  std::ifstream in(o.calibration);
  if (!in) throw failure(o.calibration, "cannot open the calibration text");
  const auto text = ptq::sentences(in, o.samples);
  if (text.empty())
    throw failure(o.calibration, "has no sentence of 6 to 60 words (plain text, sentences ending in '.')");

  ptq::weight_ptq_config cfg{.method = method, .group_size = o.group};
  // Groups in column order (GPTQModel's and llm-compressor's static groups): no g_idx to store.
  cfg.gptq = {.act_order = true, .static_groups = true, .exec = kernel::executor(o.threads)};
  try {
    ptq::bert bert(dir);
    const auto layers = o.bits == 8 ? quantize<8>(bert, text, cfg, o.asymmetric) : quantize<4>(bert, text, cfg, o.asymmetric);
    const auto linears = bert.linears();
    std::map<std::string, method_weights> out;
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const auto& q = layers[i];
      method_weights m;
      m.codes.assign(q.codes.begin(), q.codes.end());
      for (const auto& p : q.params) m.scale.push_back(p.scale), m.zero.push_back(static_cast<std::int8_t>(p.zero_point));
      // In the float model's frame (what the SQNR compares): AWQ's folded scales undone.
      m.dequantized = q.weights;
      const std::size_t cols = static_cast<std::size_t>(linears[i].weight.cols());
      for (std::size_t k = 0; k < m.dequantized.size(); ++k) {
        if (!q.output_scales.empty()) m.dequantized[k] *= q.output_scales[k / cols];
        if (!q.input_scales.empty()) m.dequantized[k] /= q.input_scales[k % cols];
      }
      out.emplace(linears[i].name + ".weight", std::move(m));
      if (!q.bias_shift.empty()) {  // AWQ's scales folded into value: its new bias
        method_weights b;
        for (std::size_t o = 0; o < q.bias_shift.size(); ++o)
          b.dequantized.push_back(linears[i].bias[static_cast<Eigen::Index>(o)] + q.bias_shift[o]);
        out.emplace(linears[i].name + ".bias", std::move(b));
      }
    }
    return out;
  } catch (const qtl::error& e) {
    throw failure(dir, "--method " + o.method + ": " + problem_of(e));
  }
}

}  // namespace qtl::tool
