// Test helper for tests/golden/safetensors_interop.py: reads a safetensors file with qtl
// (validating it) and writes its tensors and metadata back with qtl's writer, in file order.
// Exit 0 on success, 1 with the error on stderr when qtl refuses the input.
#include <cstdio>
#include <exception>

#include "qtl/io/safetensors.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s IN.safetensors OUT.safetensors\n", argv[0]);
    return 2;
  }
  try {
    const qtl::io::safetensors::file in(argv[1]);
    qtl::io::safetensors::write(argv[2], in.tensors(), in.metadata());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
