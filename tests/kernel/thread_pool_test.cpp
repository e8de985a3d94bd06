#include "qtl/kernel/thread_pool.hpp"

#include <atomic>
#include <catch2/catch_test_macros.hpp>
#include <cstddef>
#include <stdexcept>
#include <thread>
#include <vector>

#include "kernel/gemv_reference.hpp"
#include "qtl/kernel/dispatch.hpp"
#include "qtl/kernel/gemv.hpp"

namespace kernel = qtl::kernel;
namespace ggml = qtl::ggml;

TEST_CASE("thread_pool runs every row exactly once, call after call", "[kernel][thread_pool]") {
  for (const unsigned threads : {0u, 1u, 2u, 3u, 5u}) {
    kernel::thread_pool pool(threads);
    CHECK(pool.size() == (threads == 0 ? 1u : threads));
    for (int call = 0; call < 200; ++call)
      for (const std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{4}, std::size_t{37}}) {
        std::vector<std::atomic<int>> seen(n);
        std::atomic<int> ranges{0};
        pool(n, [&](std::size_t begin, std::size_t end) {
          ++ranges;
          for (std::size_t r = begin; r < end; ++r) ++seen[r];
        });
        for (std::size_t r = 0; r < n; ++r) REQUIRE(seen[r] == 1);
        REQUIRE(ranges == static_cast<int>(n < pool.size() ? (n == 0 ? 1 : n) : pool.size()));
      }
  }
}

TEST_CASE("thread_pool uses its threads and rethrows a body's exception", "[kernel][thread_pool]") {
  kernel::thread_pool pool(3);
  std::vector<std::thread::id> ids(3);
  pool(3, [&](std::size_t begin, std::size_t) { ids[begin] = std::this_thread::get_id(); });
  CHECK(ids[0] == std::this_thread::get_id());  // the caller runs the first range
  CHECK(ids[1] != ids[0]);
  CHECK(ids[2] != ids[0]);
  CHECK(ids[1] != ids[2]);

  std::atomic<int> ran{0};
  const auto throwing = [&](std::size_t begin, std::size_t) {
    ++ran;
    if (begin != 0) throw std::runtime_error("range failed");
  };
  CHECK_THROWS_AS(pool(3, throwing), std::runtime_error);
  CHECK(ran == 3);  // every range ran before the exception reached the caller
  std::atomic<int> after{0};
  pool(30, [&](std::size_t begin, std::size_t end) { after += static_cast<int>(end - begin); });
  CHECK(after == 30);  // still usable
}

TEST_CASE("thread_pool drives gemv from several calling threads: same bits as one thread", "[kernel][thread_pool]") {
  const std::size_t rows = 41, cols = 512;
  std::vector<ggml::block_q8_0> w(rows * cols / 32);
  ggml::quantize<ggml::block_q8_0>(qtl::test::random_floats(rows * cols, 5), std::span(w), cols);
  const auto x = qtl::test::random_floats(3 * cols, 6);
  const auto table = kernel::select_kernels();
  std::vector<float> expected(3 * rows);
  kernel::gemv<ggml::block_q8_0>(table, w, rows, cols, x, expected);

  kernel::thread_pool pool(2);
  std::atomic<int> mismatches{0};
  std::vector<std::jthread> callers;
  for (int c = 0; c < 3; ++c)
    callers.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        std::vector<float> y(3 * rows, -1.0f);
        kernel::gemv<ggml::block_q8_0>(table, w, rows, cols, x, y, pool);  // by reference
        if (y != expected) ++mismatches;
      }
    });
  callers.clear();  // join
  CHECK(mismatches == 0);
}
