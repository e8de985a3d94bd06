#include "qtl/kernel/executor.hpp"

#include <atomic>
#include <catch2/catch_test_macros.hpp>
#include <cstddef>
#include <utility>
#include <vector>

#include "kernel/gemv_reference.hpp"
#include "qtl/kernel/dispatch.hpp"
#include "qtl/kernel/gemv.hpp"

namespace kernel = qtl::kernel;
namespace ggml = qtl::ggml;

TEST_CASE("executor(threads) runs every row exactly once", "[kernel][executor]") {
  for (const unsigned threads : {0u, 1u, 2u, 3u, 8u})
    for (const std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{17}}) {
      std::vector<std::atomic<int>> seen(n);
      const kernel::executor run(threads);
      run(n, [&](std::size_t begin, std::size_t end) {
        for (std::size_t r = begin; r < end; ++r) ++seen[r];
      });
      for (std::size_t r = 0; r < n; ++r) CHECK(seen[r] == 1);
    }
}

TEST_CASE("a user's executor drives gemv: same result as one thread", "[kernel][executor]") {
  const std::size_t rows = 37, cols = 256;
  std::vector<ggml::block_q4_0> w(rows * cols / 32);
  ggml::quantize<ggml::block_q4_0>(qtl::test::random_floats(rows * cols, 3), std::span(w), cols);
  const auto x = qtl::test::random_floats(2 * cols, 4);
  const auto table = kernel::select_kernels();

  std::vector<float> expected(2 * rows), y(2 * rows, -1.0f);
  kernel::gemv<ggml::block_q4_0>(table, w, rows, cols, x, expected);

  // Chunks of 5 rows, last chunk first: ranges in any order must give the same bits.
  int calls = 0;
  std::vector<std::pair<std::size_t, std::size_t>> ranges;
  const kernel::executor reverse_chunks([&](std::size_t n, const kernel::range_body& body) {
    ++calls;
    std::vector<std::size_t> starts;
    for (std::size_t b = 0; b < n; b += 5) starts.push_back(b);
    for (auto it = starts.rbegin(); it != starts.rend(); ++it) {
      ranges.emplace_back(*it, std::min(n, *it + 5));
      body(*it, std::min(n, *it + 5));
    }
  });
  kernel::gemv<ggml::block_q4_0>(table, w, rows, cols, x, y, reverse_chunks);
  CHECK(calls == 1);
  CHECK(ranges.size() == 8);
  CHECK(ranges.front() == std::pair<std::size_t, std::size_t>{35, 37});
  CHECK(y == expected);

  std::vector<float> threaded(2 * rows);
  kernel::gemv<ggml::block_q4_0>(table, w, rows, cols, x, threaded, 3);  // a thread count converts
  CHECK(threaded == expected);
}
