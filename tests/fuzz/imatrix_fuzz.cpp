// libFuzzer target for qtl::io::imatrix::parse (both forms: GGUF and legacy .dat). Besides
// "no crash, no leak, no UB, only qtl::error", every weight it returns is finite and >= 0.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "qtl/io/imatrix.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  qtl::io::imatrix::matrix m;
  try {
    m = qtl::io::imatrix::parse(std::span(reinterpret_cast<const std::byte*>(data), size), "fuzz");
  } catch (const qtl::error&) {
    return 0;
  }
  for (const auto& [name, weights] : m.entries)
    for (const float w : weights)
      if (!(w >= 0.0f) || !std::isfinite(w)) std::abort();
  return 0;
}
