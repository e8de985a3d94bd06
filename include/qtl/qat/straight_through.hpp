// qtl::qat::straight_through<Quantizer>: fake quantization of any qtl composition for training,
// forward = the quantizer's fake_quantize (scalar or SIMD), backward = the straight-through estimator.
#pragma once

#include <cmath>
#include <concepts>
#include <span>
#include <utility>
#include <vector>

#include "qtl/core/quant_params.hpp"
#include "qtl/core/view.hpp"
#include "qtl/granularity.hpp"
#include "qtl/qat/arguments.hpp"

namespace qtl::qat {

// What straight_through needs of a quantizer: qtl::quantizer and qtl::simd_quantizer both qualify.
template <class Q>
concept fake_quantizer = requires(const Q q, matrix_view<const float> x, matrix_view<float> y,
                                  std::span<const quant_params> p) {
  { q.params(x) } -> std::same_as<std::vector<quant_params>>;
  { q.grid(x.rows(), x.cols()) } -> std::same_as<group_grid>;
  q.fake_quantize(x, p, y);
};

// plain: the gradient passes unchanged (Bengio et al. 2013); clipped: it is zero where the
// element was clipped to the grid's end, as torch.fake_quantize_per_*_affine's backward does.
enum class ste { plain, clipped };

template <fake_quantizer Q>
class straight_through {
 public:
  explicit straight_through(Q quantizer = Q{}, ste mode = ste::clipped) : q_(quantizer), mode_(mode) {}

  // y = fake_quantize(x), with parameters from x's groups (kept for backward).
  void forward(matrix_view<const float> x, matrix_view<float> y) {
    detail::require_batch("straight_through::forward", x, y);
    forward(x, q_.params(x), y);
  }
  // With given parameters, one per group: an observer's running range (activations), which
  // clips the elements outside it.
  void forward(matrix_view<const float> x, std::vector<quant_params> params, matrix_view<float> y) {
    detail::require_batch("straight_through::forward", x, y);
    q_.fake_quantize(x, std::span<const quant_params>(params), y);
    params_ = std::move(params);
  }

  // dx from dy, given forward's x and y. An element was clipped when it lies more than half
  // a step from its fake-quantized value (never true inside a uniform grid).
  void backward(matrix_view<const float> x, matrix_view<const float> y, matrix_view<const float> dy,
                matrix_view<float> dx) const {
    detail::require_batch("straight_through::backward", x, y, dy, dx);
    detail::require_finite_gradient("straight_through::backward", dy);
    const group_grid g = q_.grid(x.rows(), x.cols());
    if (params_.size() != g.size())
      throw error(errc::invalid_argument, "straight_through::backward: no forward of this shape came first");
    g.for_each([&](std::size_t r, std::size_t c, std::size_t group) {
      const bool passes = mode_ == ste::plain || std::abs(x(r, c) - y(r, c)) <= 0.5f * params_[group].scale;
      dx(r, c) = passes ? dy(r, c) : 0.0f;
    });
  }

  [[nodiscard]] const std::vector<quant_params>& params() const noexcept { return params_; }
  [[nodiscard]] const Q& quantizer() const noexcept { return q_; }

 private:
  Q q_;
  ste mode_;
  std::vector<quant_params> params_;
};

}  // namespace qtl::qat
