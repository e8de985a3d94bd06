// Writes a small safetensors "model" for tests/tools/qtl_tool.sh: Gaussian F32, BF16 and
// F16 weights, a norm vector and a tensor whose rows are not whole ggml blocks.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "qtl/core/bfloat16.hpp"
#include "qtl/core/half.hpp"
#include "qtl/io/safetensors.hpp"

namespace st = qtl::io::safetensors;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: qtl_make_model OUT.safetensors\n");
    return 1;
  }
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  struct spec {
    std::string name;
    st::dtype type;
    std::vector<std::uint64_t> shape;
  };
  const std::vector<spec> specs{
      {"model.embed_tokens.weight", st::dtype::f16, {16, 64}},
      {"model.layers.0.input_layernorm.weight", st::dtype::f32, {128}},
      {"model.layers.0.mlp.up_proj.weight", st::dtype::f32, {64, 128}},
      {"model.layers.0.self_attn.q_proj.weight", st::dtype::bf16, {32, 64}},
      {"model.layers.0.odd_proj.weight", st::dtype::f32, {4, 40}},
  };
  std::vector<std::vector<std::byte>> data;
  std::vector<st::tensor_view> views;
  for (const auto& s : specs) {
    st::tensor_view v;
    v.name = s.name;
    v.type = s.type;
    v.shape = s.shape;
    std::vector<std::byte> bytes(v.byte_size());
    const std::size_t n = bytes.size() / st::size_of(s.type);
    for (std::size_t i = 0; i < n; ++i) {
      const float x = s.name.find("norm") != std::string::npos ? 1.0f + normal(rng) : normal(rng);
      if (s.type == st::dtype::f32) std::memcpy(bytes.data() + 4 * i, &x, 4);
      if (s.type == st::dtype::f16) std::memcpy(bytes.data() + 2 * i, &static_cast<const qtl::half&>(qtl::half(x)), 2);
      if (s.type == st::dtype::bf16)
        std::memcpy(bytes.data() + 2 * i, &static_cast<const qtl::bfloat16&>(qtl::bfloat16(x)), 2);
    }
    data.push_back(std::move(bytes));
  }
  for (std::size_t i = 0; i < specs.size(); ++i) {
    st::tensor_view v;
    v.name = specs[i].name;
    v.type = specs[i].type;
    v.shape = specs[i].shape;
    v.data = data[i];
    views.push_back(v);
  }
  st::write(argv[1], views, {{"source", "qtl test model"}});
  return 0;
}
