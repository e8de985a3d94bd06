// The bitsandbytes optimizer cases on avx512_vnni, in an object compiled with that arch's flags
// (tests/CMakeLists.txt); optim/optim_golden_test.cpp runs them where the CPU can.
#include "optim/bnb_cases.hpp"

namespace qtl_test {

std::vector<std::string> optim_failures_avx512_vnni(std::size_t& checks) {
  return optim_cases::failures<qtl::kernel::avx512_vnni>(2, checks);
}

}  // namespace qtl_test
