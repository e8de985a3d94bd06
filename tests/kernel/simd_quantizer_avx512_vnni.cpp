// The simd_quantizer cases on avx512_vnni, in an object compiled with that arch's flags
// (tests/CMakeLists.txt); kernel/simd_quantizer_test.cpp runs them where the CPU can.
#include "kernel/simd_quantizer_cases.hpp"

namespace qtl_test {

std::vector<std::string> simd_quantizer_failures_avx512_vnni(std::size_t& checks) {
  return simd_cases::failures<qtl::kernel::avx512_vnni>(checks);
}

}  // namespace qtl_test
