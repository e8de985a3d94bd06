// kernel::composed_gemv on NEON against references from the unpacked codes, on aarch64
// under qemu (tests/neon/CMakeLists.txt, scripts/test_neon.sh): the cases of
// tests/kernel/composed_gemv_cases.hpp. A plain program: prints each failure, returns
// non-zero if any. Only tests/neon/CMakeLists.txt defines QTL_NEON_TEST_PROGRAM.
#if defined(QTL_NEON_TEST_PROGRAM)
#include <cstdio>

#include "kernel/composed_gemv_cases.hpp"

#if !defined(QTL_KERNEL_NEON)
#error "build for aarch64 with NEON (cmake/aarch64-linux-gnu.cmake)"
#endif

int main() {
  std::size_t checks = 0;
  const std::vector<std::string> failures = qtl_test::gemv_cases::failures<qtl::kernel::neon>(checks);
  for (const std::string& f : failures) std::printf("FAIL: %s\n", f.c_str());
  std::printf("composed_gemv on neon: %zu checks, %zu failures\n", checks, failures.size());
  return failures.empty() && checks > 250 ? 0 : 1;
}
#endif
