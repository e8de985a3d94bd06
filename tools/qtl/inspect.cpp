// qtl inspect FILE: every tensor (name, dtype, shape, bytes), the metadata, and totals.
#include <fmt/format.h>

#include <cstdint>
#include <map>

#include "commands.hpp"
#include "model_file.hpp"
#include "terminal.hpp"

namespace qtl::tool {

int run_inspect(const inspect_options& options) {
  const model_file file(options.input);
  fmt::print("{}: {}, {} tensors\n", options.input, file.kind() == container::gguf ? "GGUF" : "safetensors",
             file.tensors().size());
  if (const auto* g = file.gguf()) fmt::print("GGUF version {}, alignment {}\n", g->version(), g->alignment());

  const auto metadata = file.metadata_text();
  if (!metadata.empty()) {
    fmt::print("\nmetadata ({} keys)\n", metadata.size());
    for (const auto& [key, value] : metadata)
      fmt::print("  {} = {}\n", key, value.size() > 120 ? value.substr(0, 117) + "..." : value);
  }

  table t({"tensor", "dtype", "shape", "elements", "bytes"});
  std::uint64_t elements = 0, bytes = 0;
  std::map<std::string, std::uint64_t> by_dtype;  // bytes per dtype
  for (const auto& e : file.tensors()) {
    t.add({e.name, e.dtype, shape_text(e.shape), fmt::format("{}", e.elements()), bytes_text(e.data.size())});
    elements += e.elements();
    bytes += e.data.size();
    by_dtype[e.dtype] += e.data.size();
  }
  fmt::print("\n");
  t.print();
  fmt::print("\ntotal: {} tensors, {} elements, {}", file.tensors().size(), elements, bytes_text(bytes));
  for (const auto& [dtype, n] : by_dtype) fmt::print("; {} {}", dtype, bytes_text(n));
  fmt::print("\n");
  return 0;
}

}  // namespace qtl::tool
