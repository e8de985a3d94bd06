// kernel::composed_gemv against references from the unpacked codes (the cases:
// kernel/composed_gemv_cases.hpp): the scalar path here, every x86 arch this CPU runs in
// objects compiled per arch (kernel/composed_gemv_<arch>.cpp); NEON under qemu (tests/neon/).
#include <qtl/kernel/arch.hpp>

#include <catch2/catch_test_macros.hpp>
#include <cstddef>
#include <string>
#include <vector>

#include "kernel/composed_gemv_cases.hpp"
#include "kernel/require_cases.hpp"

TEST_CASE("composed_gemv on the scalar path matches the dequantized and the integer references", "[composed_gemv]") {
  qtl_test::require_cases(250, qtl_test::gemv_cases::failures<qtl::kernel::scalar>);
}

TEST_CASE("composed_gemv takes only integer weights under a mid-tread scheme for int8 activations",
          "[composed_gemv]") {
  using namespace qtl;
  STATIC_REQUIRE(kernel::integer_weights<quantizer<int4, symmetric, per_group<128>>>);
  STATIC_REQUIRE(kernel::integer_weights<quantizer<uint4, affine, per_channel<0>>>);
  STATIC_REQUIRE(kernel::integer_weights<quantizer<ternary, absmean, per_tensor>>);
  STATIC_REQUIRE_FALSE(kernel::integer_weights<quantizer<nf4, codebook, per_group<64>>>);
  STATIC_REQUIRE_FALSE(kernel::integer_weights<quantizer<fp8_e4m3, codebook, per_tensor>>);
  STATIC_REQUIRE_FALSE(kernel::integer_weights<quantizer<int4, mid_rise, per_group<64>>>);
  // A user's format whose decode is not constexpr, and a user's scheme: the float path only.
  using user_format = qtl_test::odd_format;
  using user_scheme = qtl_test::gemv_cases::half_scale;
  STATIC_REQUIRE_FALSE(kernel::integer_codes<user_format>);
  STATIC_REQUIRE_FALSE(kernel::integer_weights<quantizer<int4, user_scheme, per_group<>>>);
  STATIC_REQUIRE(kernel::integer_codes<int4>);
}

#if defined(QTL_TEST_X86_SIMD)
namespace qtl_test {
std::vector<std::string> composed_gemv_failures_avx2(std::size_t& checks);
std::vector<std::string> composed_gemv_failures_avx512_vnni(std::size_t& checks);
}  // namespace qtl_test

TEST_CASE("composed_gemv on avx2 matches the references", "[composed_gemv]") {
  if (!qtl::kernel::cpu_supports(qtl::kernel::arch_id::avx2)) SKIP("this CPU has no avx2");
  qtl_test::require_cases(250, qtl_test::composed_gemv_failures_avx2);
}

TEST_CASE("composed_gemv on avx512_vnni matches the references", "[composed_gemv]") {
  if (!qtl::kernel::cpu_supports(qtl::kernel::arch_id::avx512_vnni)) SKIP("this CPU has no avx512_vnni");
#if defined(QTL_TEST_AVX512_VNNI)
  qtl_test::require_cases(250, qtl_test::composed_gemv_failures_avx512_vnni);
#else
  SKIP(qtl_test::avx512_vnni_cases_not_built);
#endif
}
#endif
