// libFuzzer target: qtl::io::safetensors::reader over arbitrary bytes must either accept
// them, with every tensor view inside the input, or throw qtl::error; nothing else.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "qtl/io/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto bytes = std::as_bytes(std::span(data, size));
  try {
    const qtl::io::safetensors::reader r(bytes);
    std::size_t covered = 0;
    for (const auto& t : r.tensors()) {
      if (t.data.data() < bytes.data() || t.data.data() + t.data.size() > bytes.data() + bytes.size()) std::abort();
      if (t.data.size() != t.byte_size() || r.find(t.name) != &t) std::abort();
      covered += t.data.size();
    }
    if (covered > size) std::abort();
  } catch (const qtl::error&) {
  }
  return 0;
}
