// 8-bit optimizers (qtl/optim/): fit a linear model y = W·x with AdamW on blockwise 8-bit
// state (bitsandbytes' layout, 2 bytes of state per parameter instead of 8), clip by global
// norm, follow a warm-up + cosine schedule, save the state halfway, restore it into a fresh
// optimizer and finish: the restored run ends on the same bits as the uninterrupted one.
//
//   ./build/release/examples/optim
#include <qtl/optim.hpp>
#include <qtl/optim/checkpoint.hpp>

#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <random>
#include <vector>

namespace {

constexpr std::size_t rows = 64, cols = 256;

struct problem {
  std::vector<float> target = std::vector<float>(rows * cols);
  problem() {
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (auto& v : target) v = normal(rng);
  }
  // The gradient of ½‖W - target‖² at W, and the loss.
  double gradient(const std::vector<float>& w, std::vector<float>& g) const {
    double loss = 0.0;
    for (std::size_t i = 0; i < w.size(); ++i) {
      g[i] = w[i] - target[i];
      loss += 0.5 * double(g[i]) * double(g[i]);
    }
    return loss / static_cast<double>(w.size());
  }
};

// Steps [first, last) of a 200-step run with warm-up 20, peak lr 0.05, gradients clipped to norm 50.
double train(qtl::optim::optimizer<qtl::optim::adamw>& opt, std::vector<float>& w, const problem& p, int first, int last) {
  std::vector<float> g(w.size());
  double loss = 0.0;
  for (int t = first; t < last; ++t) {
    loss = p.gradient(w, g);
    opt.rule().lr = qtl::optim::cosine_with_warmup(t, 20, 200, 0.05, 0.001);
    const float scale = qtl::optim::clip_scale(qtl::optim::global_norm({g}), 50.0);
    opt.step(w, g, scale);
  }
  return loss;
}

}  // namespace

int main() try {
  const problem p;
  const qtl::optim::adamw rule{.weight_decay = 0.0};
  qtl::optim::optimizer<qtl::optim::adamw> opt(rows * cols, rule);
  std::vector<float> w(rows * cols, 0.0f);
  std::printf("AdamW, %zu parameters, 8-bit state: %.4f bytes per parameter (32-bit: 8)\n", w.size(),
              opt.state_bytes_per_parameter());
  std::printf("loss after 100 steps: %.6f\n", train(opt, w, p, 0, 100));

  const auto path = std::filesystem::temp_directory_path() / "qtl_optim_example.safetensors";
  qtl::optim::checkpoint saved;
  saved.add("W", opt);
  saved.save(path);
  std::vector<float> resumed = w;
  qtl::optim::optimizer<qtl::optim::adamw> fresh(rows * cols);
  qtl::optim::checkpoint(path).restore("W", fresh);
  std::filesystem::remove(path);

  std::printf("loss after 200 steps: %.6f\n", train(opt, w, p, 100, 200));
  train(fresh, resumed, p, 100, 200);
  std::printf("restored at step 100 and finished: %s\n", resumed == w ? "the same bits" : "DIFFERENT bits");
  return resumed == w ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "optim: %s\n", e.what());
  return 1;
}
