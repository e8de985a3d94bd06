// main() of the NEON case programs (tests/neon/*_test.cpp, plain programs under qemu):
// runs a kernel case list, prints each failure and a summary line, and returns non-zero
// on a failure or on fewer checks than expected. Include it after the case list (which
// brings qtl/kernel/arch.hpp). The Catch2 counterpart is tests/kernel/require_cases.hpp.
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

#if !defined(QTL_KERNEL_NEON)
#error "build for aarch64 with NEON (cmake/aarch64-linux-gnu.cmake)"
#endif

namespace qtl_test {

template <class Run>
int run_neon_cases(const char* what, std::size_t min_checks, Run&& run) {
  std::size_t checks = 0;
  const std::vector<std::string> failures = run(checks);
  for (const std::string& f : failures) std::printf("FAIL: %s\n", f.c_str());
  std::printf("%s on neon: %zu checks, %zu failures\n", what, checks, failures.size());
  return failures.empty() && checks > min_checks ? 0 : 1;
}

}  // namespace qtl_test
