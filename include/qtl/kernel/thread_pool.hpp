// thread_pool: a persistent executor (kernel/executor.hpp) for engines that call kernels
// many times a second. parallel_for starts its std::threads at every call, which costs tens
// of microseconds: a large part of a GEMV that fits in the cache. The pool's threads live
// as long as the pool; between calls they spin briefly (the next matrix of a layer usually
// follows at once), then sleep on an atomic wait.
//   kernel::thread_pool pool(8);                       // the caller plus 7 threads
//   kernel::gemv<ggml::block_q4_0>(k, w, rows, cols, x, y, pool);
// One call runs at a time (calls from several threads take turns); a body must not call
// the same pool again (it would wait for itself). An exception thrown by a body is
// rethrown to the caller once every range has returned; the pool stays usable.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "qtl/kernel/executor.hpp"
#include "qtl/kernel/parallel_for.hpp"

namespace qtl::kernel {

class thread_pool {
 public:
  // threads in all, the calling thread included (0 is taken as 1).
  explicit thread_pool(unsigned threads = hardware_threads()) {
    const unsigned workers = std::max(1u, threads) - 1;
    workers_.reserve(workers);
    for (unsigned i = 0; i < workers; ++i) workers_.emplace_back([this, i] { work(i); });
  }
  ~thread_pool() {
    stop_.store(true, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
  }  // the jthreads join here
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;

  // Threads in all, the calling thread included.
  [[nodiscard]] unsigned size() const noexcept { return static_cast<unsigned>(workers_.size()) + 1; }

  // body(begin, end) over [0, n) in min(size(), n) contiguous ranges, as parallel_for
  // splits them; the calling thread runs the first.
  void operator()(std::size_t n, const range_body& body) {
    const std::lock_guard<std::mutex> one_call(call_);
    const std::size_t parts = std::min<std::size_t>(size(), std::max<std::size_t>(n, 1));
    if (parts <= 1) {
      body(std::size_t{0}, n);
      return;
    }
    body_ = &body;
    n_ = n;
    parts_ = parts;
    error_ = nullptr;
    // Every worker acknowledges every call (those without a range too), so no worker can
    // still be reading this call's fields when the next one writes them.
    pending_.store(static_cast<unsigned>(workers_.size()), std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    run_part(0);
    for (unsigned left = spin_until([&] { return pending_.load(std::memory_order_acquire); }); left != 0;
         left = pending_.load(std::memory_order_acquire))
      pending_.wait(left, std::memory_order_acquire);
    if (error_) std::rethrow_exception(error_);
  }

 private:
  // Spins on read() while it returns its first value, for a few microseconds; returns the
  // last value read.
  template <class Read>
  static auto spin_until(Read read) noexcept -> decltype(read()) {
    const auto first = read();
    auto now = first;
    for (int i = 0; i < spin_reads && now == first; ++i) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#elif defined(__aarch64__)
      asm volatile("yield");
#endif
      now = read();
    }
    return now;
  }

  void run_part(std::size_t p) noexcept {
    try {
      (*body_)(n_ * p / parts_, n_ * (p + 1) / parts_);
    } catch (...) {
      const std::lock_guard<std::mutex> lock(error_mutex_);
      if (!error_) error_ = std::current_exception();
    }
  }

  void work(unsigned index) noexcept {
    std::uint64_t seen = 0;
    for (;;) {
      std::uint64_t now = spin_until([&] { return generation_.load(std::memory_order_acquire); });
      if (now == seen) {
        generation_.wait(seen, std::memory_order_acquire);
        continue;
      }
      seen = now;
      if (stop_.load(std::memory_order_relaxed)) return;
      if (index + 1 < parts_) run_part(index + 1);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
    }
  }

  // About 10-40 us of pause instructions. Longer spins measured slower on a 2-vCPU VM (at
  // 2^14 a call took 1.2x, at 2^20 25x a plain parallel_for's): a spinning thread that
  // shares its CPU with the one it waits for holds it until its time slice ends.
  static constexpr int spin_reads = 1 << 10;

  std::mutex call_;  // one call at a time
  const range_body* body_ = nullptr;
  std::size_t n_ = 0, parts_ = 0;
  std::mutex error_mutex_;
  std::exception_ptr error_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<unsigned> pending_{0};
  std::atomic<bool> stop_{false};
  std::vector<std::jthread> workers_;  // last: they start after every field above exists
};

}  // namespace qtl::kernel
