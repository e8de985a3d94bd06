// qtl quantize --method gptq|awq|adaround --calibration FILE (docs/tool.md): the int8/int4
// codes of a BERT model's linear layers chosen by a weight PTQ algorithm of qtl::ptq, run
// through qtl's C++ forward on calibration text (the layers in order, each from the inputs
// the quantized layers before it give: ptq::quantize_bert), in compressed-tensors' scheme,
// so that quantize stores them in place of round-to-nearest's.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace qtl::tool {

// One weight as encode_integer's outputs take it: codes, per (row, group) scales and zero
// points, and what they compute in the float model's frame (AWQ's folded scales undone:
// what the SQNR compares); or a bias the method changed (no codes: its new values).
struct method_weights {
  std::vector<std::int8_t> codes, zero;
  std::vector<float> scale, dequantized;
};

struct method_options {
  std::string method;                // gptq, awq or adaround
  std::filesystem::path calibration; // plain text, split into sentences (qtl::ptq::sentences)
  std::size_t samples = 128;         // sentences used
  int bits = 4;
  std::size_t group = 0;             // 0: a whole row
  bool asymmetric = false;
  unsigned threads = 1;
};

// model: the model.safetensors of a BERT directory. Keyed by the tensor names (transformers',
// without a "bert." prefix): every linear layer's weight, and with AWQ each value's bias
// (its scales are folded between value and the attention output, so the two weights and
// that bias belong together). Throws failure naming the file at fault.
std::map<std::string, method_weights> ptq_method_weights(const std::filesystem::path& model, const method_options& o);

}  // namespace qtl::tool
