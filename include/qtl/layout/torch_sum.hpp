// qtl::torch_float32_sum: the sum of float32 values in the exact order torch's CPU sum kernel
// adds them. BitNet's absmean scale and bitsandbytes' nested-absmax offset are torch means.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <vector>

namespace qtl {

// torch (aten/src/ATen/native/cpu/SumKernel.cpp, cascade_sum) sums a contiguous float32
// tensor of n values as follows; every addition below is one float32 addition.
//  - Lanes: Vectorized<float> of the kernel torch dispatches, 8 lanes (AVX2, NEON and the
//    default build; the sum kernel is not registered for AVX-512, so it falls back to AVX2).
//  - n < 8: row_sum over scalars. n >= 8: row_sum over the n / 8 vectors of 8 lanes, then
//    a scalar total = 0 + the n % 8 tail values in order + lanes 0..7 in order.
//  - row_sum(size): 4 interleaved accumulators (value i goes to accumulator i % 4) over the
//    first size / 4 * 4 values, through a 4-level cascade: level 0 takes 2^p values
//    (p = max(4, ceil_log2(size / 4) / 4)) and is then folded into level 1, level 1 into
//    level 2 every 2^p folds, and so on; leftovers go to accumulator 0, then levels fold
//    down (acc0 += acc1, += acc2, += acc3) and accumulators 1..3 are added to accumulator 0.
//  - Threads: below 32768 values (at::internal::GRAIN_SIZE) or with one thread, the whole
//    tensor is one such sum. Otherwise at::parallel_for splits it into
//    t = min(threads, ceil(n / 32768)) chunks of ceil(n / t) values, each summed as above
//    into a buffer of `threads` zeros, and the buffer is summed the same way.
inline constexpr std::size_t torch_sum_lanes = 8;
inline constexpr std::size_t torch_grain_size = 32768;

namespace detail {

struct torch_lanes {
  std::array<float, torch_sum_lanes> v{};
  torch_lanes& operator+=(const torch_lanes& o) noexcept {
    for (std::size_t l = 0; l < torch_sum_lanes; ++l) v[l] += o.v[l];
    return *this;
  }
};

// c10's CeilLog2 as SumKernel uses it: 1 for x <= 2.
constexpr std::size_t torch_ceil_log2(std::size_t x) noexcept { return x <= 2 ? 1 : std::bit_width(x - 1); }

// row_sum of `size` values load(i), accumulated in Acc (a float or 8 lanes).
template <class Acc, class Load>
Acc torch_row_sum(std::size_t size, const Load& load) {
  constexpr std::size_t ilp = 4, levels = 4;
  const std::size_t rows = size / ilp;  // multi_row_sum over rows of ilp values
  const std::size_t power = std::max<std::size_t>(4, torch_ceil_log2(rows) / levels);
  const std::size_t step = std::size_t{1} << power;
  const std::size_t mask = step - 1;
  std::array<std::array<Acc, ilp>, levels> acc{};
  std::size_t i = 0;
  while (i + step <= rows) {
    for (std::size_t j = 0; j < step; ++j, ++i)
      for (std::size_t k = 0; k < ilp; ++k) acc[0][k] += load(i * ilp + k);
    for (std::size_t j = 1; j < levels; ++j) {
      for (std::size_t k = 0; k < ilp; ++k) {
        acc[j][k] += acc[j - 1][k];
        acc[j - 1][k] = Acc{};
      }
      if ((i & (mask << (j * power))) != 0) break;
    }
  }
  for (; i < rows; ++i)
    for (std::size_t k = 0; k < ilp; ++k) acc[0][k] += load(i * ilp + k);
  for (std::size_t j = 1; j < levels; ++j)
    for (std::size_t k = 0; k < ilp; ++k) acc[0][k] += acc[j][k];
  for (std::size_t t = rows * ilp; t < size; ++t) acc[0][0] += load(t);
  for (std::size_t k = 1; k < ilp; ++k) acc[0][0] += acc[0][k];
  return acc[0][0];
}

// One contiguous run of n values load(i), as one call of cascade_sum's loop sums it.
template <class Load>
float torch_run_sum(std::size_t n, const Load& load) {
  if (n < torch_sum_lanes) return torch_row_sum<float>(n, load);
  const std::size_t vectors = n / torch_sum_lanes;
  const torch_lanes lanes = torch_row_sum<torch_lanes>(vectors, [&](std::size_t v) {
    torch_lanes x;
    for (std::size_t l = 0; l < torch_sum_lanes; ++l) x.v[l] = load(v * torch_sum_lanes + l);
    return x;
  });
  float total = 0.0f;
  for (std::size_t t = vectors * torch_sum_lanes; t < n; ++t) total += load(t);
  for (std::size_t l = 0; l < torch_sum_lanes; ++l) total += lanes.v[l];
  return total;
}

}  // namespace detail

// Sum of load(0), ..., load(n - 1) (each a float) as torch.sum of a contiguous float32
// CPU tensor computes it with torch.get_num_threads() == threads.
template <class Load>
float torch_float32_sum(std::size_t n, const Load& load, int threads = 1) {
  const std::size_t t = threads < 1 ? 1 : static_cast<std::size_t>(threads);
  if (t == 1 || n < torch_grain_size) return 0.0f + detail::torch_run_sum(n, load);
  const std::size_t used = std::min(t, (n + torch_grain_size - 1) / torch_grain_size);
  const std::size_t chunk = (n + used - 1) / used;
  std::vector<float> partial(t, 0.0f);
  for (std::size_t c = 0; c < used && c * chunk < n; ++c) {
    const std::size_t begin = c * chunk;
    partial[c] += detail::torch_run_sum(std::min(chunk, n - begin), [&](std::size_t i) { return load(begin + i); });
  }
  return 0.0f + detail::torch_run_sum(t, [&](std::size_t i) { return partial[i]; });
}

}  // namespace qtl
