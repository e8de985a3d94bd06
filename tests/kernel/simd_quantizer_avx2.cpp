// The simd_quantizer cases on avx2, in an object compiled with that arch's flags
// (tests/CMakeLists.txt); kernel/simd_quantizer_test.cpp runs them where the CPU can.
#include "kernel/simd_quantizer_cases.hpp"

namespace qtl_test {

std::vector<std::string> simd_quantizer_failures_avx2(std::size_t& checks) {
  return simd_cases::failures<qtl::kernel::avx2>(checks);
}

}  // namespace qtl_test
