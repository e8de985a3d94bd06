// libFuzzer target for qtl::io::gguf::parse. Besides "no crash, no leak, no UB, only
// qtl::error", it checks that whatever parses re-encodes, and that the re-encoded file
// parses back to the same bytes (encode(parse(x)) is a fixed point).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "qtl/io/gguf.hpp"

namespace gguf = qtl::io::gguf;

namespace {

std::vector<std::byte> reencode(const gguf::file& f) {
  const std::vector<gguf::tensor> tensors(f.tensors().begin(), f.tensors().end());
  return gguf::encode(f.metadata(), tensors);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  gguf::file f;
  try {
    f = gguf::parse(std::span(reinterpret_cast<const std::byte*>(data), size), "fuzz");
  } catch (const qtl::error&) {
    return 0;
  }
  const auto once = reencode(f);
  const auto twice = reencode(gguf::parse(once, "re-encoded"));
  if (once != twice) std::abort();
  return 0;
}
