// qtl::qat::save_peft_adapters: LoRA adapters written in PEFT's layout (a directory with
// adapter_model.safetensors and adapter_config.json), so peft.PeftModel.from_pretrained loads them.
#pragma once

#include <cstddef>
#include <filesystem>
#include <set>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "qtl/core/error.hpp"
#include "qtl/io/output_file.hpp"
#include "qtl/io/safetensors.hpp"

namespace qtl::qat {

// One adapted module: its name in the base model (transformers' module path, e.g.
// "encoder.layer.0.attention.self.query") and A [rank, in], B [out, rank], row-major F32.
struct peft_adapter {
  std::string module;
  std::vector<float> a, b;
  std::size_t rank = 0, in = 0, out = 0;
};

struct peft_config {
  float alpha = 16.0f;                  // lora_alpha: the update is scaled by alpha / rank
  std::string base_model_name_or_path;  // recorded for PEFT; may be empty
};

// Writes dir/adapter_model.safetensors (base_model.model.<module>.lora_A.weight and
// .lora_B.weight, F32) and dir/adapter_config.json (peft_type LORA, r, lora_alpha, the
// target modules by their full names, bias "none"). Every adapter must share one rank;
// each file appears whole or not at all. Throws qtl::error for an empty list, mismatched
// sizes or ranks, a module named twice.
inline void save_peft_adapters(const std::filesystem::path& dir, std::span<const peft_adapter> adapters,
                               const peft_config& config) {
  if (adapters.empty()) throw error(errc::invalid_argument, "save_peft_adapters: no adapters");
  const std::size_t rank = adapters.front().rank;
  std::set<std::string> modules;
  std::vector<io::safetensors::tensor_view> tensors;
  const auto bytes = [](const std::vector<float>& v) { return std::as_bytes(std::span<const float>(v)); };
  for (const auto& p : adapters) {
    if (p.rank != rank || p.rank == 0)
      throw error(errc::invalid_argument, "save_peft_adapters: " + p.module + " has rank " + std::to_string(p.rank) +
                                              ", the others " + std::to_string(rank) + " (one LoRA config)");
    if (p.a.size() != p.rank * p.in || p.b.size() != p.out * p.rank)
      throw error(errc::shape_mismatch, "save_peft_adapters: " + p.module + ": A has " + std::to_string(p.a.size()) +
                                            " values, B " + std::to_string(p.b.size()) + " for rank " +
                                            std::to_string(p.rank) + ", " + std::to_string(p.out) + "x" +
                                            std::to_string(p.in));
    if (p.module.empty() || !modules.insert(p.module).second)
      throw error(errc::invalid_argument, "save_peft_adapters: module \"" + p.module + "\" is empty or named twice");
    const std::string prefix = "base_model.model." + p.module;
    tensors.push_back({{prefix + ".lora_A.weight", io::safetensors::dtype::f32, {p.rank, p.in}}, bytes(p.a)});
    tensors.push_back({{prefix + ".lora_B.weight", io::safetensors::dtype::f32, {p.out, p.rank}}, bytes(p.b)});
  }
  std::filesystem::create_directories(dir);
  const nlohmann::json json = {
      {"peft_type", "LORA"},
      {"r", rank},
      {"lora_alpha", config.alpha},
      {"target_modules", std::vector<std::string>(modules.begin(), modules.end())},  // full names: nothing else matches
      {"lora_dropout", 0.0},
      {"bias", "none"},
      {"fan_in_fan_out", false},
      {"init_lora_weights", true},
      {"inference_mode", true},
      {"modules_to_save", nullptr},
      {"task_type", nullptr},
      {"base_model_name_or_path", config.base_model_name_or_path},
  };
  io::safetensors::write(dir / "adapter_model.safetensors", tensors, {{"format", "pt"}});
  const std::string text = json.dump(2) + "\n";
  io::output_file out(dir / "adapter_config.json");
  out.write(std::as_bytes(std::span<const char>(text)));
  out.commit();
}

}  // namespace qtl::qat
