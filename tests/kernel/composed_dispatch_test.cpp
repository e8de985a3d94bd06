// kernel/composed_dispatch.hpp: compositions listed in qtl_add_composed_dispatch
// (tests/CMakeLists.txt: test_compositions) run on every arch this CPU has, each the
// same as the scalar path; unlisted ones get the build's own arch and scalar.
#include <catch2/catch_test_macros.hpp>
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <qtl/format/int_format.hpp>
#include <qtl/granularity.hpp>
#include <qtl/scheme.hpp>
#include <random>
#include <string>
#include <test_compositions.hpp>
#include <vector>

namespace {

namespace kernel = qtl::kernel;
using int4_g128 = qtl::int4_g128_symmetric;
using nf4_g64 = qtl::quantizer<qtl::nf4, qtl::codebook, qtl::per_group<64>>;
using unlisted = qtl::quantizer<qtl::int_format<3, true>, qtl::affine, qtl::per_group<32>>;

constexpr std::size_t rows = 37, cols = 256, batch = 3;

std::vector<float> normal(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// The environment's QTL_ARCH, put back when the test is done.
struct forced_arch {
  std::optional<std::string> saved;
  forced_arch() {
    if (const char* v = std::getenv("QTL_ARCH")) saved = v;
  }
  ~forced_arch() {
    if (saved) ::setenv("QTL_ARCH", saved->c_str(), 1);
    else ::unsetenv("QTL_ARCH");
  }
};

// y within a relative bound of the scalar path's: float sums in another order.
void require_close(const std::vector<float>& y, const std::vector<float>& ref, const std::vector<float>& magnitude) {
  for (std::size_t i = 0; i < y.size(); ++i) REQUIRE(std::fabs(y[i] - ref[i]) <= 1e-5f * magnitude[i]);
}

template <class Q>
void check_every_arch(const Q& q) {
  STATIC_REQUIRE(kernel::runtime_dispatched<Q>);
  const auto w = normal(rows * cols, 1), x = normal(batch * cols, 2);
  const qtl::matrix_view<const float> wv(w.data(), rows, cols);
  const kernel::simd_quantizer<Q, kernel::scalar> sq(q);
  const auto ref = sq.quantize_packed(wv);
  std::vector<float> wq(w.size());
  sq.dequantize(ref.view(), qtl::matrix_view<float>(wq.data(), rows, cols));
  std::vector<float> magnitude(batch * rows, 0.0f), y_ref(batch * rows), y8_ref(batch * rows);
  for (std::size_t b = 0; b < batch; ++b)
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < cols; ++c)
        magnitude[b * rows + r] += (std::fabs(wq[r * cols + c]) + 1.0f) * std::fabs(x[b * cols + c]);
  const kernel::composed_gemv<Q, kernel::scalar> mm(q);
  mm.gemv(ref, std::span<const float>(x), std::span<float>(y_ref));
  if constexpr (kernel::integer_weights<Q>) mm.gemv_int8(ref, std::span<const float>(x), std::span<float>(y8_ref));

  std::size_t archs = 0;
  for (const kernel::arch_id a : kernel::composed_archs<Q>()) {
    if (!kernel::cpu_supports(a)) {
      REQUIRE_THROWS_AS(kernel::composed_kernels_for<Q>(a), qtl::error);
      continue;
    }
    ++archs;
    const auto k = kernel::composed_kernels_for<Q>(a);
    INFO(kernel::arch_name(a));
    REQUIRE(k.arch == a);
    const auto packed = k.quantize_packed(q, wv, qtl::pack_order::sequential, kernel::executor(2));
    REQUIRE(packed.bytes() == ref.bytes());
    REQUIRE(packed.params().size() == ref.params().size());
    for (std::size_t i = 0; i < ref.params().size(); ++i) {
      REQUIRE(packed.params()[i].scale == ref.params()[i].scale);
      REQUIRE(packed.params()[i].zero_point == ref.params()[i].zero_point);
    }
    std::vector<float> out(w.size());
    k.dequantize_packed(q, packed.view(), qtl::matrix_view<float>(out.data(), rows, cols), kernel::executor(1));
    REQUIRE(out == wq);
    const auto codes = k.quantize(q, wv, kernel::executor(2));
    const auto codes_ref = sq.quantize(wv);
    REQUIRE(codes.codes == codes_ref.codes);
    std::fill(out.begin(), out.end(), 0.0f);
    k.dequantize(q, codes, qtl::matrix_view<float>(out.data(), rows, cols), kernel::executor(2));
    REQUIRE(out == wq);
    std::vector<float> y(batch * rows);
    k.gemv(q, packed.view(), std::span<const float>(x), std::span<float>(y), kernel::executor(2));
    require_close(y, y_ref, magnitude);
    if constexpr (kernel::integer_weights<Q>) {
      REQUIRE(k.gemv_int8 != nullptr);
      k.gemv_int8(q, packed.view(), std::span<const float>(x), std::span<float>(y), kernel::executor(1));
      require_close(y, y8_ref, magnitude);
    } else {
      REQUIRE(k.gemv_int8 == nullptr);
    }
  }
  REQUIRE(archs >= 1);
}

}  // namespace

TEST_CASE("composed dispatch: listed compositions match the scalar path on every arch this CPU runs", "[kernel]") {
#if defined(__x86_64__)
  const std::vector<kernel::arch_id> platform = {kernel::arch_id::avx512_vnni, kernel::arch_id::avx2,
                                                 kernel::arch_id::scalar};
#elif defined(__aarch64__)
  const std::vector<kernel::arch_id> platform = {kernel::arch_id::neon, kernel::arch_id::scalar};
#else
  const std::vector<kernel::arch_id> platform = {kernel::arch_id::scalar};
#endif
  REQUIRE(kernel::composed_archs<int4_g128>() == platform);
  REQUIRE(kernel::composed_archs<nf4_g64>() == platform);
  check_every_arch(int4_g128{});
  check_every_arch(nf4_g64{});
}

TEST_CASE("composed dispatch: QTL_ARCH picks the arch; unlisted compositions get the build's own", "[kernel]") {
  const forced_arch restore;
  ::setenv("QTL_ARCH", "scalar", 1);
  REQUIRE(kernel::select_composed_kernels<int4_g128>().arch == kernel::arch_id::scalar);
  REQUIRE(kernel::select_composed_kernels<unlisted>().arch == kernel::arch_id::scalar);
  ::setenv("QTL_ARCH", "avx9000", 1);
  REQUIRE_THROWS_AS(kernel::select_composed_kernels<int4_g128>(), qtl::error);
  ::unsetenv("QTL_ARCH");
  const auto best = kernel::select_composed_kernels<int4_g128>();
  REQUIRE(kernel::cpu_supports(best.arch));
  for (const kernel::arch_id a : kernel::composed_archs<int4_g128>())
    if (kernel::cpu_supports(a)) {
      REQUIRE(best.arch == a);  // the first usable one is the best
      break;
    }

  STATIC_REQUIRE(!kernel::runtime_dispatched<unlisted>);
  const std::vector<kernel::arch_id> own =
      kernel::id_of<kernel::default_arch>() == kernel::arch_id::scalar
          ? std::vector{kernel::arch_id::scalar}
          : std::vector{kernel::id_of<kernel::default_arch>(), kernel::arch_id::scalar};
  REQUIRE(kernel::composed_archs<unlisted>() == own);
  REQUIRE(kernel::select_composed_kernels<unlisted>().arch == own.front());
  for (const kernel::arch_id a : kernel::all_archs)
    if (a != kernel::arch_id::scalar && a != own.front()) {
      try {
        (void)kernel::composed_kernels_for<unlisted>(a);
        FAIL("no error for an arch the composition is not compiled for");
      } catch (const qtl::error& e) {
        REQUIRE(e.code() == qtl::errc::unsupported);
        REQUIRE(std::string(e.what()).find("qtl_add_composed_dispatch") != std::string::npos);
      }
    }
  // an unlisted composition still runs, through the same table
  const auto k = kernel::composed_kernels_for<unlisted>(kernel::arch_id::scalar);
  const auto w = normal(4 * 64, 3);
  const auto packed = k.quantize_packed(unlisted{}, qtl::matrix_view<const float>(w.data(), 4, 64),
                                        qtl::pack_order::sequential, kernel::executor(1));
  REQUIRE(packed.bytes() == kernel::simd_quantizer<unlisted, kernel::scalar>()
                                .quantize_packed(qtl::matrix_view<const float>(w.data(), 4, 64))
                                .bytes());
}
