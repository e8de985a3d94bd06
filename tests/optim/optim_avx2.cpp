// The bitsandbytes optimizer cases on avx2, in an object compiled with that arch's flags
// (tests/CMakeLists.txt); optim/optim_golden_test.cpp runs them where the CPU can.
#include "optim/bnb_cases.hpp"

namespace qtl_test {

std::vector<std::string> optim_failures_avx2(std::size_t& checks) {
  return optim_cases::failures<qtl::kernel::avx2>(2, checks);
}

}  // namespace qtl_test
