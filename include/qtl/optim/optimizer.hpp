// qtl::optim::optimizer<Rule>: one parameter tensor's optimizer, any update rule (adam,
// adamw, lion, sgd, rmsprop, adagrad) over 32-bit or blockwise 8-bit state. A step walks
// the tensor block by block, threads taking runs of blocks: decode the block's states,
// update every element (SIMD where the arch fuses multiply-add, else the same arithmetic
// lane by lane), encode the states again. Parameters may be float, half or bfloat16 (the
// update runs in float32 and rounds back once, as torch's p.copy_(p_fp32)).
//
// With the default options the bytes equal bitsandbytes 0.50.2's CPU 8-bit optimizers:
// blocks of 256, 32-bit state below 4096 elements (bnb's min_8bit_size), the signed map
// for the first state and the unsigned one for Adam's second.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "qtl/core/concepts.hpp"
#include "qtl/core/error.hpp"
#include "qtl/kernel/arch.hpp"
#include "qtl/kernel/parallel_for.hpp"
#include "qtl/optim/state.hpp"
#include "qtl/optim/update_rule.hpp"

namespace qtl::optim {

// What a step does with a NaN or Inf in the gradient: it never reaches the state.
enum class nonfinite_gradient {
  error,  // throw errc::non_finite naming the element; nothing changes
  skip,   // leave parameters, state and step count as they are; step() returns false
};

struct optimizer_options {
  state_bits bits = state_bits::eight;
  std::int64_t blocksize = 256;
  std::size_t min_8bit_size = 4096;  // smaller tensors keep 32-bit state (bnb's rule)
  unsigned threads = 1;
  nonfinite_gradient on_nonfinite = nonfinite_gradient::error;
};

namespace detail {

// Updates n elements in place: parameters p, gradients g (times scale unless it is 1) and
// the states s, each a run of floats.
template <class Rule, class Arch>
void update_run(const typename Rule::step_constants& c, float* p, const float* g, float scale,
                std::array<float*, Rule::states> s, std::size_t n) noexcept {
  std::size_t i = 0;
#if QTL_HAS_SIMD
  if constexpr (arith::fused_arch<Arch>) {
    using batch = simd::floats<Arch>;
    for (; i + batch::size <= n; i += batch::size) {
      batch pv = batch::load_unaligned(p + i), gv = batch::load_unaligned(g + i);
      if (scale != 1.0f) gv = arith::product(gv, batch(scale));
      std::array<batch, Rule::states> sv;
      for (int k = 0; k < Rule::states; ++k) sv[static_cast<std::size_t>(k)] = batch::load_unaligned(s[static_cast<std::size_t>(k)] + i);
      Rule::update(c, pv, gv, sv);
      pv.store_unaligned(p + i);
      for (int k = 0; k < Rule::states; ++k) sv[static_cast<std::size_t>(k)].store_unaligned(s[static_cast<std::size_t>(k)] + i);
    }
  }
#endif
  for (; i < n; ++i) {
    float pv = p[i], gv = g[i];
    if (scale != 1.0f) gv = arith::product(gv, scale);
    std::array<float, Rule::states> sv;
    for (int k = 0; k < Rule::states; ++k) sv[static_cast<std::size_t>(k)] = s[static_cast<std::size_t>(k)][i];
    Rule::update(c, pv, gv, sv);
    p[i] = pv;
    for (int k = 0; k < Rule::states; ++k) s[static_cast<std::size_t>(k)][i] = sv[static_cast<std::size_t>(k)];
  }
}

// The first NaN or Inf of g[begin, end), or end. Batches add up v - v (0 when finite, NaN
// otherwise) and a run is searched element by element only when its sum is not 0.
template <class Arch, class T>
std::size_t first_nonfinite(const T* g, std::size_t begin, std::size_t end) noexcept {
  std::size_t i = begin;
#if QTL_HAS_SIMD
  if constexpr (arith::fused_arch<Arch> && std::is_same_v<T, float>) {
    using batch = simd::floats<Arch>;
    constexpr std::size_t run = 64 * batch::size;
    for (; i + run <= end; i += run) {
      batch sum(0.0f);
      for (std::size_t j = i; j < i + run; j += batch::size) {
        const batch v = batch::load_unaligned(g + j);
        sum += v - v;
      }
      if (xsimd::any(sum != batch(0.0f))) break;  // the element loop below finds it
    }
  }
#endif
  for (; i < end; ++i) {
    const float v = static_cast<float>(g[i]);
    if (v - v != 0.0f) return i;
  }
  return end;
}

// Throws errc::non_finite naming the first NaN or Inf of grads (policy error), or returns
// false (policy skip); true when every value is finite. Threads search runs of it.
template <class Arch, class T>
bool check_gradient(std::span<const T> grads, nonfinite_gradient policy, unsigned threads) {
  const std::size_t n = grads.size(), parts = std::max(1u, threads);
  std::vector<std::size_t> first(parts, n);
  kernel::parallel_for(parts, parts, [&](std::size_t p0, std::size_t p1) {
    for (std::size_t p = p0; p < p1; ++p) {
      const std::size_t end = n * (p + 1) / parts, i = first_nonfinite<Arch>(grads.data(), n * p / parts, end);
      first[p] = i == end ? n : i;
    }
  });
  const std::size_t i = *std::min_element(first.begin(), first.end());
  if (i == n) return true;
  if (policy == nonfinite_gradient::skip) return false;
  const float v = static_cast<float>(grads[i]);
  throw error(errc::non_finite, "optimizer step: gradient element " + std::to_string(i) + " of " + std::to_string(n) +
                                    " is " + (v != v ? "NaN" : "Inf") + "; nothing was updated");
}

}  // namespace detail

// Arch: the SIMD instruction set of the step (kernel/arch.hpp; the compiler's best by
// default). Where it has no fused multiply-add the step runs lane by lane, same bits.
template <update_rule Rule, class Arch = kernel::default_arch>
class optimizer {
 public:
  static constexpr int states = Rule::states;

  explicit optimizer(std::size_t size, Rule rule = {}, optimizer_options options = {})
      : rule_(rule), options_(options), size_(size) {
    rule_.validate();
    if (options_.blocksize <= 0 || options_.blocksize > 65536)
      throw error(errc::invalid_argument, std::string(Rule::name) + " optimizer: block size " +
                                              std::to_string(options_.blocksize) + " is not in [1, 65536]");
    const state_bits bits = size < options_.min_8bit_size ? state_bits::thirty_two : options_.bits;
    for (int k = 0; k < states; ++k)
      state_[static_cast<std::size_t>(k)] =
          state_tensor::zeros(size, bits, Rule::signed_state[static_cast<std::size_t>(k)], options_.blocksize);
  }

  // One step: params -= update(grads · gradient_scale). Sizes, the scale and the gradient's
  // values are checked before anything changes. Returns false when a non-finite gradient
  // was skipped (options.on_nonfinite).
  template <element T, element G>
  bool step(std::span<T> params, std::span<const G> grads, float gradient_scale = 1.0f) {
    const std::string what = std::string(Rule::name) + " optimizer step";
    if (params.size() != size_ || grads.size() != size_)
      throw error(errc::shape_mismatch, what + ": " + std::to_string(params.size()) + " parameters and " +
                                            std::to_string(grads.size()) + " gradients, the optimizer holds " +
                                            std::to_string(size_));
    if (!(gradient_scale > 0.0f) || !std::isfinite(gradient_scale))
      throw error(errc::invalid_argument, what + ": gradient scale " + std::to_string(gradient_scale) +
                                              " is not finite and > 0");
    rule_.validate();
    if (!detail::check_gradient<Arch>(grads, options_.on_nonfinite, options_.threads)) return false;

    const auto constants = rule_.constants(++steps_);
    const std::size_t bs = block_elements(), blocks = (size_ + bs - 1) / bs;
    kernel::parallel_for(blocks, options_.threads, [&](std::size_t first, std::size_t last) {
      std::vector<float> buffer((states + 2) * bs);  // decoded states, then p and g when not float
      for (std::size_t b = first; b < last; ++b) {
        const std::size_t begin = b * bs, n = std::min(bs, size_ - begin);
        std::array<float*, states> s;
        for (int k = 0; k < states; ++k) {
          auto& st = state_[static_cast<std::size_t>(k)];
          if (st.quantized) {
            s[static_cast<std::size_t>(k)] = buffer.data() + static_cast<std::size_t>(k) * bs;
            detail::decode_block(st, begin, n, s[static_cast<std::size_t>(k)]);
          } else {
            s[static_cast<std::size_t>(k)] = st.values.data() + begin;
          }
        }
        float* p = as_floats(params.data() + begin, n, buffer.data() + states * bs);
        const float* g = as_floats(grads.data() + begin, n, buffer.data() + (states + 1) * bs);
        detail::update_run<Rule, Arch>(constants, p, g, gradient_scale, s, n);
        if constexpr (!std::is_same_v<T, float>)
          for (std::size_t i = 0; i < n; ++i) params[begin + i] = static_cast<T>(p[i]);
        for (int k = 0; k < states; ++k)
          if (auto& st = state_[static_cast<std::size_t>(k)]; st.quantized)
            detail::encode_block<Arch>(s[static_cast<std::size_t>(k)], n, st, begin);
      }
    });
    return true;
  }
  template <element T, element G>
  bool step(std::vector<T>& params, const std::vector<G>& grads, float gradient_scale = 1.0f) {
    return step(std::span<T>(params), std::span<const G>(grads), gradient_scale);
  }

  // The hyperparameters: change lr (or any other) between steps for a schedule.
  [[nodiscard]] Rule& rule() noexcept { return rule_; }
  [[nodiscard]] const Rule& rule() const noexcept { return rule_; }
  [[nodiscard]] const optimizer_options& options() const noexcept { return options_; }
  [[nodiscard]] std::int64_t steps() const noexcept { return steps_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool quantized() const noexcept { return state_[0].quantized; }
  [[nodiscard]] const state_tensor& state(int k) const { return state_.at(static_cast<std::size_t>(k)); }

  // Bytes of state, and per parameter (8 for 32-bit Adam; 2 + 8/blocksize for 8-bit Adam).
  [[nodiscard]] std::size_t state_bytes() const noexcept {
    std::size_t total = 0;
    for (const auto& s : state_) total += s.bytes();
    return total;
  }
  [[nodiscard]] double state_bytes_per_parameter() const noexcept {
    return size_ == 0 ? 0.0 : static_cast<double>(state_bytes()) / static_cast<double>(size_);
  }

  // Puts back a saved state (optim/checkpoint.hpp): the step count and every state tensor,
  // which must have this optimizer's size, precision, maps and block size.
  void restore(std::int64_t steps, std::array<state_tensor, states> saved) {
    const std::string what = std::string(Rule::name) + " optimizer restore";
    if (steps < 0) throw error(errc::invalid_argument, what + ": step count " + std::to_string(steps) + " is negative");
    for (int k = 0; k < states; ++k) {
      const auto& mine = state_[static_cast<std::size_t>(k)];
      const auto& s = saved[static_cast<std::size_t>(k)];
      const std::string name = "state" + std::to_string(k + 1);
      if (s.quantized != mine.quantized)
        throw error(errc::shape_mismatch, what + ": " + name + " is " + (s.quantized ? "8-bit" : "32-bit") +
                                              ", this optimizer keeps it " + (mine.quantized ? "8-bit" : "32-bit"));
      if (s.size() != size_ || s.signed_map != mine.signed_map || s.blocksize != mine.blocksize ||
          (s.quantized && s.absmax.size() != mine.absmax.size()))
        throw error(errc::shape_mismatch, what + ": " + name + " holds " + std::to_string(s.size()) +
                                              " elements in blocks of " + std::to_string(s.blocksize) +
                                              ", this optimizer " + std::to_string(size_) + " in blocks of " +
                                              std::to_string(mine.blocksize));
    }
    steps_ = steps;
    state_ = std::move(saved);
  }

 private:
  [[nodiscard]] std::size_t block_elements() const noexcept {
    return quantized() ? static_cast<std::size_t>(options_.blocksize) : std::size_t{4096};  // 32-bit: any run
  }

  // A run of floats: the data itself, or a converted copy in scratch.
  template <class T>
  static auto as_floats(T* data, std::size_t n, float* scratch) noexcept {
    if constexpr (std::is_same_v<std::remove_const_t<T>, float>) {
      return data;
    } else {
      for (std::size_t i = 0; i < n; ++i) scratch[i] = static_cast<float>(data[i]);
      return scratch;
    }
  }

  Rule rule_;
  optimizer_options options_;
  std::size_t size_;
  std::int64_t steps_ = 0;
  std::array<state_tensor, states> state_;
};

}  // namespace qtl::optim
