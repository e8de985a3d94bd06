// qtl::ptq::calibrate: runs observers over a representative dataset (any range of batches)
// and turns what they saw into a quantizer's params; with several candidate observers it
// keeps the one whose params give the best SQNR on that data and reports them all.
#pragma once

#include <cmath>
#include <concepts>
#include <cstddef>
#include <limits>
#include <ranges>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "qtl/core/concepts.hpp"
#include "qtl/core/error.hpp"
#include "qtl/core/quant_params.hpp"
#include "qtl/core/view.hpp"

namespace qtl::ptq {

// A dataset: a range whose elements are float tensors (matrix_view<const float>, vector<float>, ...).
template <class R>
concept batch_range = std::ranges::input_range<R> && viewable<std::ranges::range_reference_t<R>> &&
                      std::same_as < view_value_t<std::ranges::range_reference_t<R>>,
float > ;

// A quantizer that takes params from observer O (quantizer::params_from).
template <class Q, class O>
concept calibratable = observer<O> && requires(const Q q, const O o) {
  { q.params_from(o) } -> std::same_as<std::vector<quant_params>>;
};

// An observer with a name for calibration reports; observes and reports as O does.
template <observer O>
struct named_observer {
  std::string name;
  O observer;

  void observe(matrix_view<const float> batch) { observer.observe(batch); }
  [[nodiscard]] auto stats() const { return observer.stats(); }
};

template <class O>
requires observer<std::remove_cvref_t<O>> named_observer<std::remove_cvref_t<O>> named(std::string name, O&& obs) {
  return {std::move(name), std::forward<O>(obs)};
}

// Feeds every batch to obs; a dataset with no elements at all is an error (an observer
// that saw nothing has no params to give).
template <class O, batch_range R>
requires observer<std::remove_cvref_t<O>> O& observe_all(O& obs, R&& batches) {
  std::size_t elements = 0;
  for (auto&& batch : batches) {
    const matrix_view<const float> m = as_matrix(batch);
    obs.observe(m);
    elements += m.size();
  }
  if (elements == 0) throw error(errc::invalid_argument, "calibrate: the dataset holds no data");
  return obs;
}

// Params of q for the data in batches, as obs sees it (observe_all, then q.params_from).
template <class Q, class O, batch_range R>
requires calibratable<Q, std::remove_cvref_t<O>> std::vector<quant_params> calibrate(const Q& q, O&& obs, R&& batches) {
  return q.params_from(observe_all(obs, std::forward<R>(batches)));
}

// One observer per tensor: every batch is a range holding one tensor per observer, in
// order (the activations a model's layers produce for one calibration input). Returns
// the params of each tensor.
template <class Q, observer O, std::ranges::input_range R>
requires calibratable<Q, O> && batch_range<std::ranges::range_reference_t<R>> std::vector<std::vector<quant_params>>
calibrate_each(const Q& q, std::span<O> observers, R&& batches) {
  std::vector<std::size_t> elements(observers.size());
  for (auto&& tensors : batches) {
    std::size_t i = 0;
    for (auto&& tensor : tensors) {
      if (i < observers.size()) {
        const matrix_view<const float> m = as_matrix(tensor);
        observers[i].observe(m);
        elements[i] += m.size();
      }
      ++i;
    }
    if (i != observers.size())
      throw error(errc::shape_mismatch, "calibrate_each: a batch holds " + std::to_string(i) + " tensors for " +
                                            std::to_string(observers.size()) + " observers");
  }
  std::vector<std::vector<quant_params>> params;
  params.reserve(observers.size());
  for (std::size_t i = 0; i < observers.size(); ++i) {
    if (elements[i] == 0)
      throw error(errc::invalid_argument, "calibrate_each: tensor " + std::to_string(i) + " has no data");
    params.push_back(q.params_from(observers[i]));
  }
  return params;
}

// SQNR (dB) of q with params p over the whole dataset: sum x² / sum (x - fake_quantize(x))²
// over the finite elements of every batch; +Inf when the reconstruction is exact.
template <class Q, batch_range R>
double calibration_sqnr_db(const Q& q, std::span<const quant_params> p, R&& batches) {
  double signal = 0.0, noise = 0.0;
  std::vector<float> out;
  for (auto&& batch : batches) {
    const matrix_view<const float> m = as_matrix(batch);
    out.resize(m.size());
    const matrix_view<float> o(out.data(), m.rows(), m.cols());
    q.fake_quantize(m, p, o);
    for (std::size_t r = 0; r < m.rows(); ++r)
      for (std::size_t c = 0; c < m.cols(); ++c) {
        const double x = m(r, c), y = o(r, c);
        if (!std::isfinite(x)) continue;  // only under nonfinite_policy::propagate
        signal += x * x;
        noise += (x - y) * (x - y);
      }
  }
  return noise == 0.0 ? std::numeric_limits<double>::infinity() : 10.0 * std::log10(signal / noise);
}

struct candidate_result {
  std::string name;  // named_observer's name, else "candidate <index>"
  double sqnr_db = 0.0;
  std::vector<quant_params> params;
};

// Every candidate's SQNR on the calibration data; best is the first with the highest.
// Candidate 0 is the baseline ("before" the choice), best the choice ("after").
struct calibration_report {
  std::vector<candidate_result> candidates;
  std::size_t best = 0;

  [[nodiscard]] const candidate_result& winner() const { return candidates.at(best); }
  [[nodiscard]] double baseline_sqnr_db() const { return candidates.at(0).sqnr_db; }
  [[nodiscard]] double gain_db() const { return winner().sqnr_db - baseline_sqnr_db(); }
};

namespace detail {
template <class O>
std::string candidate_name(const O& obs, std::size_t index) {
  if constexpr (requires { obs.name; }) return obs.name;
  return "candidate " + std::to_string(index);
}
}  // namespace detail

// Calibrates q with each candidate observer over the same (multi-pass) dataset and
// picks the params with the best SQNR on it: calibrate_best(q, batches, minmax<>{},
// named("p99.9", percentile...), ...).
template <class Q, std::ranges::forward_range R, class... Os>
requires batch_range<R> &&(sizeof...(Os) > 0) && (calibratable<Q, std::remove_cvref_t<Os>> && ...) calibration_report
    calibrate_best(const Q& q, R&& batches, Os&&... candidates) {
  std::tuple<std::remove_cvref_t<Os>...> observers(std::forward<Os>(candidates)...);
  calibration_report report;
  std::apply(
      [&](auto&... obs) {
        std::size_t index = 0;
        (report.candidates.push_back({detail::candidate_name(obs, index++), 0.0, calibrate(q, obs, batches)}), ...);
      },
      observers);
  for (std::size_t i = 0; i < report.candidates.size(); ++i) {
    candidate_result& c = report.candidates[i];
    c.sqnr_db = calibration_sqnr_db(q, std::span<const quant_params>(c.params), batches);
    if (c.sqnr_db > report.candidates[report.best].sqnr_db) report.best = i;
  }
  return report;
}

}  // namespace qtl::ptq
