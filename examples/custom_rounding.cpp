// Writing your own policy: a rounding that rounds half toward zero, checked by the
// qtl::rounding concept and composed with the library's own format, scheme and granularity;
// then the same rounding with a batch step, which keeps kernel::simd_quantizer fully on
// SIMD registers (without one, the kernel runs the scalar step lane by lane).
#include <qtl/kernel/simd_quantizer.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <span>
#include <vector>

// Any copyable type callable as float(float value, uint64_t index) is a rounding policy.
struct nearest_toward_zero {
  float operator()(float v, std::uint64_t /*index*/) const noexcept {
    const float away = std::round(v);  // ties away from zero...
    return std::fabs(away - v) == 0.5f ? std::trunc(v) : away;  // ...except ties, which go toward it
  }
};
static_assert(qtl::rounding<nearest_toward_zero>);

// The batch step: the same operations on a batch of floats (lane i is element first + i).
struct nearest_toward_zero_simd : nearest_toward_zero {
  using nearest_toward_zero::operator();
  template <class Arch>
  qtl::simd::floats<Arch> operator()(qtl::simd::floats<Arch> v, std::uint64_t first) const noexcept {
    const auto away = qtl::nearest_away{}(v, first);
    return xsimd::select(xsimd::abs(away - v) == qtl::simd::floats<Arch>(0.5f), qtl::simd::trunc(v), away);
  }
};
static_assert(qtl::rounding<nearest_toward_zero_simd>);

int main() {
  using q8 = qtl::quantizer<qtl::int8, qtl::symmetric, qtl::per_tensor, nearest_toward_zero>;
  using q8_simd = qtl::quantizer<qtl::int8, qtl::symmetric, qtl::per_tensor, nearest_toward_zero_simd>;
  const std::vector<float> x{1.27f, -0.025f, 0.015f, 0.005f, -1.0f};  // scale 0.01: ties at 2.5, 1.5, 0.5
  const auto t = q8{}.quantize(std::span<const float>(x));
  // The SIMD path of this program's arch (kernel::default_arch; build with -march=native),
  // byte-identical to the scalar one, with or without the batch step.
  const auto fast = qtl::kernel::simd_quantizer<q8_simd>{}.quantize(std::span<const float>(x));
  for (std::size_t i = 0; i < x.size(); ++i) std::printf("%8.3f -> %4d %4d\n", x[i], t.codes[i], fast.codes[i]);
  return t.codes == fast.codes ? 0 : 1;
}
