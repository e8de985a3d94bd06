// Who runs a kernel's row ranges. Every kernel is a function of a row range [begin, end),
// so any thread pool can drive it: an executor is called once per kernel call with the
// row count and a body, and must call body(begin, end) over ranges that cover [0, n)
// exactly once, in any order, on any threads, returning when all have run.
//   executor(4)                       the default: parallel_for on 4 std::threads
//   executor([&pool](std::size_t n, const range_body& body) { pool.split(n, body); })
//   executor(qtl_pool)                a kernel::thread_pool (kernel/thread_pool.hpp), by reference
// The type is erased once per kernel call (not per row), so it costs nothing measurable.
#pragma once

#include <concepts>
#include <cstddef>
#include <functional>
#include <type_traits>
#include <utility>

#include "qtl/kernel/parallel_for.hpp"

namespace qtl::kernel {

// What a kernel hands to its executor: runs rows [begin, end).
using range_body = std::function<void(std::size_t begin, std::size_t end)>;

// A user-supplied way to run range bodies: e(n, body).
template <class E>
concept range_executor = std::invocable<E&, std::size_t, const range_body&>;

class executor {
 public:
  // threads std::threads (0 is taken as 1): the calling thread runs the first range.
  executor(unsigned threads = 1) : threads_(threads) {}  // NOLINT: implicit, so kernels take a thread count

  // Any executor e: copied when it can be (a lambda), held by reference when it cannot
  // (a kernel::thread_pool), so it must outlive the kernel call.
  template <class E>
    requires range_executor<std::remove_cvref_t<E>> && (!std::convertible_to<E, unsigned>) &&
             (!std::same_as<std::remove_cvref_t<E>, executor>)
  executor(E&& e) {  // NOLINT: implicit, so kernels take any executor
    if constexpr (std::copy_constructible<std::remove_cvref_t<E>>)
      run_ = std::forward<E>(e);
    else
      run_ = [&e](std::size_t n, const range_body& body) { e(n, body); };
  }

  void operator()(std::size_t n, const range_body& body) const {
    if (run_) run_(n, body);
    else parallel_for(n, threads_, body);
  }

 private:
  unsigned threads_ = 1;
  std::function<void(std::size_t, const range_body&)> run_;
};

}  // namespace qtl::kernel
