// qtl compare A B: for each tensor name in both files, SQNR (dB), cosine similarity and
// max abs error of B against A, and a summary. Quantized tensors are dequantized first:
// ggml blocks, and the nf4/fp4/int8/fp8 safetensors layouts qtl quantize writes.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>

#include "commands.hpp"
#include "model_file.hpp"
#include "qtl/kernel/dispatch.hpp"
#include "qtl/metrics.hpp"
#include "terminal.hpp"

namespace qtl::tool {

int run_compare(const compare_options& options) {
  const model_file a(options.a), b(options.b);
  const auto ta = decoded_view(a.tensors()), tb = decoded_view(b.tensors());
  const auto find = [](const std::vector<tensor_entry>& ts, const std::string& name) -> const tensor_entry* {
    for (const auto& t : ts)
      if (t.name == name) return &t;
    return nullptr;
  };
  const auto kernels = kernel::select_kernels();
  table t({"tensor", "shape", options.a + " -> " + options.b, "SQNR dB", "cosine", "max abs err"});
  std::size_t compared = 0, skipped = 0, below = 0;
  double worst = std::numeric_limits<double>::infinity();
  std::string worst_name;
  for (const auto& x : ta) {
    const auto* y = find(tb, x.name);
    if (y == nullptr) {
      ++skipped;
      t.add({x.name, shape_text(x.shape), "only in " + options.a, "-", "-", "-"});
      continue;
    }
    const std::string types = x.dtype + " -> " + y->dtype;
    if (x.elements() != y->elements() || !x.has_floats() || !y->has_floats()) {
      ++skipped;
      t.add({x.name, shape_text(x.shape), types,
             x.elements() != y->elements() ? "shape " + shape_text(y->shape) : "not float", "-", "-"});
      continue;
    }
    const auto fx = to_float(kernels, x), fy = to_float(kernels, *y);
    const std::span<const float> sx(fx), sy(fy);
    const double sqnr = sqnr_db(sx, sy);
    ++compared;
    if (sqnr < worst || worst_name.empty()) worst = sqnr, worst_name = x.name;
    if (options.min_sqnr && sqnr < *options.min_sqnr) ++below;
    t.add({x.name, shape_text(x.shape), types, db_text(sqnr), fmt::format("{:.6f}", cosine_similarity(sx, sy)),
           fmt::format("{:.6g}", max_abs_error(sx, sy))});
  }
  for (const auto& y : tb)
    if (find(ta, y.name) == nullptr) {
      ++skipped;
      t.add({y.name, shape_text(y.shape), "only in " + options.b, "-", "-", "-"});
    }
  t.print();
  fmt::print("\n{} tensors compared, {} not comparable", compared, skipped);
  if (compared > 0) fmt::print("; lowest SQNR {} dB ({})", db_text(worst), worst_name);
  fmt::print("\n");
  if (below > 0) {
    fmt::print(stderr, "qtl: {}: {} tensors below --min-sqnr {} dB\n", options.b, below, *options.min_sqnr);
    return 2;
  }
  return 0;
}

}  // namespace qtl::tool
