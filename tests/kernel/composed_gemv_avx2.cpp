// The composed_gemv cases on avx2, in an object compiled with that arch's flags
// (tests/CMakeLists.txt); kernel/composed_gemv_test.cpp runs them where the CPU can.
#include "kernel/composed_gemv_cases.hpp"

namespace qtl_test {

std::vector<std::string> composed_gemv_failures_avx2(std::size_t& checks) {
  return gemv_cases::failures<qtl::kernel::avx2>(checks);
}

}  // namespace qtl_test
