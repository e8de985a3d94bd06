// Writing your own policy: a rounding that rounds half toward zero, checked by the
// qtl::rounding concept and composed with the library's own format, scheme and granularity.
#include <qtl/quantizer.hpp>

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

int main() {
  using q8 = qtl::quantizer<qtl::int8, qtl::symmetric, qtl::per_tensor, nearest_toward_zero>;
  const std::vector<float> x{1.27f, -0.025f, 0.015f, 0.005f, -1.0f};  // scale 0.01: ties at 2.5, 1.5, 0.5
  const auto t = q8{}.quantize(std::span<const float>(x));
  for (std::size_t i = 0; i < x.size(); ++i) std::printf("%8.3f -> %4d\n", x[i], t.codes[i]);
  return 0;
}
