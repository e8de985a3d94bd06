// qtl's 8-bit optimizers against bitsandbytes 0.50.2's CPU optimizers (optim/bnb_cases.hpp)
// on the compiler's default arch, on 1 and 2 threads, and on each x86 SIMD arch the CPU has.
#include <catch2/catch_test_macros.hpp>

#include <string>
#include <vector>

#include "optim/bnb_cases.hpp"

#if defined(QTL_TEST_X86_SIMD)
#include "kernel/require_cases.hpp"
#include "qtl/kernel/dispatch.hpp"

namespace qtl_test {
std::vector<std::string> optim_failures_avx2(std::size_t& checks);
std::vector<std::string> optim_failures_avx512_vnni(std::size_t& checks);
}  // namespace qtl_test
#endif

namespace {

// Per checked step: parameters, and codes and absmax of each state (44); the encoder's 4
// sweeps and 2 NaN/Inf blocks; on SIMD paths the 7 divisors of the step division.
void require_none(std::vector<std::string> (*cases)(std::size_t&), bool simd = true) {
  std::size_t checks = 0;
  const auto failures = cases(checks);
  for (const auto& f : failures) UNSCOPED_INFO(f);
  CHECK(failures.empty());
  CHECK(checks == 44 + 6 + (simd ? 7 : 0));
}

template <unsigned Threads>
std::vector<std::string> default_arch(std::size_t& checks) {
  return optim_cases::failures<qtl::kernel::default_arch>(Threads, checks);
}

}  // namespace

TEST_CASE("8-bit Adam, AdamW, Lion, SGD, RMSprop and AdaGrad keep bitsandbytes' state bytes", "[optim][golden]") {
  constexpr bool simd = qtl::optim::arith::fused_arch<qtl::kernel::default_arch>;
  require_none(default_arch<1>, simd);
  require_none(default_arch<2>, simd);
}

#if defined(QTL_TEST_X86_SIMD)
TEST_CASE("8-bit optimizers keep bitsandbytes' state bytes on avx2", "[optim][golden]") {
  if (!qtl::kernel::cpu_supports(qtl::kernel::arch_id::avx2)) SKIP("this CPU has no avx2");
  require_none(qtl_test::optim_failures_avx2);
}

TEST_CASE("8-bit optimizers keep bitsandbytes' state bytes on avx512_vnni", "[optim][golden]") {
  if (!qtl::kernel::cpu_supports(qtl::kernel::arch_id::avx512_vnni)) SKIP("this CPU has no avx512_vnni");
#if defined(QTL_TEST_AVX512_VNNI)
  require_none(qtl_test::optim_failures_avx512_vnni);
#else
  SKIP(qtl_test::avx512_vnni_cases_not_built);
#endif
}
#endif
