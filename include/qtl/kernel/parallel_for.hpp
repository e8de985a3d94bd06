// parallel_for(n, threads, body): body(begin, end) over [0, n) split into `threads`
// contiguous ranges, each on its own std::thread (the calling thread takes the first).
// Kernels take row ranges, so any executor can drive them; this is the default one.
#pragma once

#include <algorithm>
#include <cstddef>
#include <thread>
#include <vector>

namespace qtl::kernel {

// All hardware threads (at least 1).
inline unsigned hardware_threads() noexcept { return std::max(1u, std::thread::hardware_concurrency()); }

template <class Body>
void parallel_for(std::size_t n, unsigned threads, Body&& body) {
  const std::size_t parts = std::min<std::size_t>(std::max(1u, threads), std::max<std::size_t>(n, 1));
  if (parts <= 1) {
    body(std::size_t{0}, n);
    return;
  }
  const auto bounds = [&](std::size_t p) { return n * p / parts; };
  std::vector<std::jthread> workers;
  workers.reserve(parts - 1);
  for (std::size_t p = 1; p < parts; ++p) workers.emplace_back([&, p] { body(bounds(p), bounds(p + 1)); });
  body(bounds(0), bounds(1));
}  // the jthreads join here

}  // namespace qtl::kernel
