// Who runs a kernel's row ranges. Every kernel is a function of a row range [begin, end),
// so any thread pool can drive it: an executor is called once per kernel call with the
// row count and a body, and must call body(begin, end) over ranges that cover [0, n)
// exactly once, in any order, on any threads, returning when all have run.
//   executor(4)                       the default: parallel_for on 4 std::threads
//   executor([&pool](std::size_t n, const range_body& body) { pool.split(n, body); })
// The type is erased once per kernel call (not per row), so it costs nothing measurable.
#pragma once

#include <concepts>
#include <cstddef>
#include <functional>
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

  template <range_executor E>
    requires(!std::convertible_to<E, unsigned>)
  executor(E e) : run_(std::move(e)) {}  // NOLINT: implicit, so kernels take any executor

  void operator()(std::size_t n, const range_body& body) const {
    if (run_) run_(n, body);
    else parallel_for(n, threads_, body);
  }

 private:
  unsigned threads_ = 1;
  std::function<void(std::size_t, const range_body&)> run_;
};

}  // namespace qtl::kernel
