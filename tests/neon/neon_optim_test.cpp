// The 8-bit optimizers' NEON path against bitsandbytes' bytes, on aarch64 under qemu
// (tests/neon/CMakeLists.txt, scripts/test_neon.sh): the cases of tests/optim/bnb_cases.hpp.
// A plain program: prints each failure, returns non-zero if any. Only
// tests/neon/CMakeLists.txt defines QTL_NEON_TEST_PROGRAM.
#if defined(QTL_NEON_TEST_PROGRAM)
#include "optim/bnb_cases.hpp"
#include "neon/case_program.hpp"

int main() {
  return qtl_test::run_neon_cases("optim (bitsandbytes 8-bit state)", 56, [](std::size_t& checks) {
    return optim_cases::failures<qtl::kernel::neon>(2, checks);
  });
}
#endif
