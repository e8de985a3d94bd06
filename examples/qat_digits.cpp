// Quantization-aware training end to end (qtl/qat/): a 64-128-128-10 MLP on scikit-learn's
// "digits" (tests/golden/digits.safetensors, exported by tests/golden/digits_export.py),
// trained in float, rounded to nearest (PTQ), and fine-tuned with each QAT method of qtl
// at 8, 4 and 2 bits, ternary and binary. Every layer's weights are quantized (the first
// and the last too). Then the optimizers of qtl/optim/: the float model and its uint4 QAT
// fine-tune trained with Adam, AdamW and Lion on 32-bit and on 8-bit state. Prints test
// accuracy, mean ± std over three seeds.
//
//   ./build/release/examples/qat_digits [tests/golden/digits.safetensors]
#include <qtl/io/safetensors.hpp>
#include <qtl/optim/adam.hpp>
#include <qtl/optim/lion.hpp>
#include <qtl/optim/optimizer.hpp>
#include <qtl/ptq/adam.hpp>
#include <qtl/qat/binary.hpp>
#include <qtl/qat/bitnet.hpp>
#include <qtl/qat/dorefa.hpp>
#include <qtl/qat/inq.hpp>
#include <qtl/qat/lsq.hpp>
#include <qtl/qat/pact.hpp>
#include <qtl/qat/straight_through.hpp>
#include <qtl/qat/ternary.hpp>
#include <qtl/quantizer.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <numeric>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace {

using matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using scalar = Eigen::Matrix<float, 1, 1>;

qtl::matrix_view<const float> view(const matrix& m) { return {m.data(), std::size_t(m.rows()), std::size_t(m.cols())}; }
qtl::matrix_view<float> view(matrix& m) { return {m.data(), std::size_t(m.rows()), std::size_t(m.cols())}; }

struct dataset {
  matrix x;  // pixels / 16, one image per row
  std::vector<int> y;
};

// The 1,797 images in a fixed shuffled order (seed 0), 80 % train, 20 % test.
std::pair<dataset, dataset> load_digits(const std::string& path) {
  const qtl::io::safetensors::file file(path);
  const auto& images = file.at("images");
  const auto& labels = file.at("labels");
  const auto n = static_cast<Eigen::Index>(labels.shape.at(0));
  std::vector<Eigen::Index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937(0));
  const Eigen::Index train = n * 4 / 5;
  dataset parts[2];
  for (int p = 0; p < 2; ++p) {
    const Eigen::Index first = p ? train : 0, count = p ? n - train : train;
    parts[p].x.resize(count, 64);
    for (Eigen::Index i = 0; i < count; ++i) {
      const auto k = order[static_cast<std::size_t>(first + i)];
      for (Eigen::Index j = 0; j < 64; ++j)
        parts[p].x(i, j) = std::to_integer<int>(images.data[static_cast<std::size_t>(k * 64 + j)]) / 16.0f;
      parts[p].y.push_back(std::to_integer<int>(labels.data[static_cast<std::size_t>(k)]));
    }
  }
  return {parts[0], parts[1]};
}

// A learned scalar of a quantizer (a step, a clipping level, a scale), trained by Adam with a
// learning rate relative to its starting value.
struct learned {
  learned(float value, double relative_rate) : v(scalar::Constant(value)), opt(1, 1, relative_rate * std::abs(value)) {}
  void step(float gradient) { opt.step(v, scalar::Constant(gradient)); }
  scalar v;
  qtl::ptq::adam<scalar> opt;
};
constexpr double scalar_rate = 1e-3;

// The optimizer of one weight or bias matrix: qtl::ptq::adam for the QAT recipes, or any
// qtl::optim optimizer (32-bit or 8-bit state) for the optimizer comparison.
struct matrix_optimizer {
  virtual ~matrix_optimizer() = default;
  virtual void step(matrix& params, const matrix& grads) = 0;
};
using optimizer_factory = std::function<std::unique_ptr<matrix_optimizer>(Eigen::Index rows, Eigen::Index cols, double rate)>;

struct ptq_adam : matrix_optimizer {
  ptq_adam(Eigen::Index rows, Eigen::Index cols, double rate) : opt(rows, cols, rate) {}
  void step(matrix& params, const matrix& grads) override { opt.step(params, grads); }
  qtl::ptq::adam<matrix> opt;
};

template <class Rule>
struct optim_optimizer : matrix_optimizer {
  optim_optimizer(std::size_t size, Rule rule, qtl::optim::state_bits bits)
      : opt(size, rule, {.bits = bits, .min_8bit_size = 0}) {}  // every tensor's state 8-bit, biases too
  void step(matrix& params, const matrix& grads) override {
    opt.step(std::span<float>(params.data(), static_cast<std::size_t>(params.size())),
             std::span<const float>(grads.data(), static_cast<std::size_t>(grads.size())));
  }
  qtl::optim::optimizer<Rule> opt;
};

// A factory of Rule's optimizers with the training's learning rate scaled by lr_scale.
template <class Rule>
optimizer_factory optim_factory(Rule rule, double lr_scale, qtl::optim::state_bits bits) {
  return [=](Eigen::Index rows, Eigen::Index cols, double rate) {
    Rule r = rule;
    r.lr = rate * lr_scale;
    return std::make_unique<optim_optimizer<Rule>>(static_cast<std::size_t>(rows * cols), r, bits);
  };
}

// How a layer's weights (or the activations it reads) are quantized while training:
// fake-quantized values forward, the float values' gradient backward (which also trains
// the quantizer's own parameters).
struct trainable_quantizer {
  virtual ~trainable_quantizer() = default;
  virtual void forward(const matrix& w, matrix& wq) = 0;
  virtual void backward(const matrix& w, const matrix& wq, const matrix& dwq, matrix& dw) = 0;
  virtual void after_update(matrix&) {}  // BinaryConnect's clip
  virtual void at_epoch(matrix&, int, int) {}  // INQ's partition schedule
};

// Any qtl method whose backward needs (x, y, dy): the straight-through family, weights or activations.
template <class Method>
struct straight_through_method : trainable_quantizer {
  explicit straight_through_method(Method m) : method(std::move(m)) {}
  void forward(const matrix& w, matrix& wq) override { method.forward(view(w), view(wq)); }
  void backward(const matrix& w, const matrix& wq, const matrix& dwq, matrix& dw) override {
    method.backward(view(w), view(wq), view(dwq), view(dw));
  }
  Method method;
};

// Methods whose backward needs (x, dy): LSQ, DoReFa, XNOR, TTQ.
template <class Method>
struct input_gradient_weights : trainable_quantizer {
  explicit input_gradient_weights(Method m) : method(std::move(m)) {}
  void forward(const matrix& w, matrix& wq) override { method.forward(view(w), view(wq)); }
  void backward(const matrix& w, const matrix&, const matrix& dwq, matrix& dw) override {
    method.backward(view(w), view(dwq), view(dw));
  }
  Method method;
};

// Methods whose backward needs dy alone: BinaryConnect, ABC-Net, TWN.
template <class Method>
struct output_gradient_weights : trainable_quantizer {
  explicit output_gradient_weights(Method m) : method(std::move(m)) {}
  void forward(const matrix& w, matrix& wq) override { method.forward(view(w), view(wq)); }
  void backward(const matrix&, const matrix&, const matrix& dwq, matrix& dw) override {
    method.backward(view(dwq), view(dw));
  }
  Method method;
};

struct lsq_weights : trainable_quantizer {
  lsq_weights(int bits, const matrix& w)
      : bits(bits), step(qtl::qat::lsq::initial_step(view(w), (1 << (bits - 1)) - 1), scalar_rate) {}
  qtl::qat::lsq current() const { return qtl::qat::lsq::signed_bits(bits, step.v(0)); }
  void forward(const matrix& w, matrix& wq) override { current().forward(view(w), view(wq)); }
  void backward(const matrix& w, const matrix&, const matrix& dwq, matrix& dw) override {
    step.step(current().backward(view(w), view(dwq), view(dw)).step);
  }
  int bits;
  learned step;
};

struct ttq_weights : trainable_quantizer {
  explicit ttq_weights(const matrix& w) : positive(0.0f, 0.0), negative(0.0f, 0.0) {
    qtl::qat::twn start;  // TTQ starts from TWN's scale
    matrix out(w.rows(), w.cols());
    start.forward(view(w), view(out));
    positive = negative = learned(start.scale(), scalar_rate);
  }
  void forward(const matrix& w, matrix& wq) override { current().forward(view(w), view(wq)); }
  void backward(const matrix& w, const matrix&, const matrix& dwq, matrix& dw) override {
    const auto g = current().backward(view(w), view(dwq), view(dw));
    positive.step(g.positive), negative.step(g.negative);
  }
  qtl::qat::ttq current() const { return qtl::qat::ttq(positive.v(0), negative.v(0)); }
  learned positive, negative;
};

struct binary_connect_weights : output_gradient_weights<qtl::qat::binary_connect> {
  binary_connect_weights() : output_gradient_weights(qtl::qat::binary_connect{}) {}
  void after_update(matrix& w) override { qtl::qat::binary_connect::clip(view(w)); }
};

// INQ: 50 %, 75 %, 87.5 % then all of the weights frozen at the start of each quarter.
struct inq_weights : trainable_quantizer {
  explicit inq_weights(int bits) : method(bits) {}
  void forward(const matrix& w, matrix& wq) override { wq = w; }
  void backward(const matrix&, const matrix&, const matrix& dwq, matrix& dw) override {
    method.backward(view(dwq), view(dw));
  }
  void at_epoch(matrix& w, int epoch, int epochs) override {
    const double portions[] = {0.5, 0.75, 0.875, 1.0};
    if (epoch % (epochs / 4) == 0) method.quantize_portion(view(w), portions[epoch / (epochs / 4)]);
  }
  qtl::qat::inq method;
};

// PACT replaces the ReLU: clip to [0, α], quantize, with α learned.
struct pact_activations : trainable_quantizer {
  explicit pact_activations(int bits) : bits(bits), alpha(4.0f, scalar_rate * 10) {}
  void forward(const matrix& h, matrix& hq) override { qtl::qat::pact(bits, alpha.v(0)).forward(view(h), view(hq)); }
  void backward(const matrix& h, const matrix&, const matrix& dhq, matrix& dh) override {
    alpha.step(qtl::qat::pact(bits, alpha.v(0)).backward(view(h), view(dhq), view(dh)));
  }
  int bits;
  learned alpha;
};

struct recipe {
  std::string name;
  std::function<std::unique_ptr<trainable_quantizer>(const matrix& w)> weights;  // null: float
  std::function<std::unique_ptr<trainable_quantizer>()> activations;         // null: ReLU in float
  bool relu_then_activation = true;  // false: the activation quantizer replaces the ReLU (PACT)
};

struct layer {
  matrix w, b;  // [out, in], [1, out]
};

class mlp {
 public:
  mlp(const std::vector<int>& sizes, std::mt19937& rng) {
    for (std::size_t i = 0; i + 1 < sizes.size(); ++i) {
      std::normal_distribution<float> normal(0.0f, std::sqrt(2.0f / static_cast<float>(sizes[i])));
      layer l{matrix(sizes[i + 1], sizes[i]), matrix::Zero(1, sizes[i + 1])};
      for (Eigen::Index k = 0; k < l.w.size(); ++k) l.w.data()[k] = normal(rng);
      layers.push_back(std::move(l));
    }
  }

  // Trains on `train` for `epochs` with the recipe's quantizers (Adam unless given, batches of 32).
  void train(const dataset& train, const recipe& r, int epochs, double rate, std::mt19937& rng,
             const optimizer_factory& make = nullptr) {
    prepare(r);
    const optimizer_factory factory = make ? make : [](Eigen::Index rows, Eigen::Index cols, double lr) {
      return std::unique_ptr<matrix_optimizer>(std::make_unique<ptq_adam>(rows, cols, lr));
    };
    std::vector<std::unique_ptr<matrix_optimizer>> w_opt, b_opt;
    for (const auto& l : layers) {
      w_opt.push_back(factory(l.w.rows(), l.w.cols(), rate));
      b_opt.push_back(factory(1, l.b.cols(), rate));
    }
    std::vector<Eigen::Index> order(static_cast<std::size_t>(train.x.rows()));
    std::iota(order.begin(), order.end(), 0);
    for (int epoch = 0; epoch < epochs; ++epoch) {
      for (std::size_t i = 0; i < layers.size(); ++i)
        if (wq_[i]) wq_[i]->at_epoch(layers[i].w, epoch, epochs);
      std::shuffle(order.begin(), order.end(), rng);
      for (std::size_t first = 0; first < order.size(); first += 32) {
        const std::size_t count = std::min<std::size_t>(32, order.size() - first);
        matrix x(static_cast<Eigen::Index>(count), train.x.cols());
        std::vector<int> y(count);
        for (std::size_t i = 0; i < count; ++i) x.row(Eigen::Index(i)) = train.x.row(order[first + i]), y[i] = train.y[order[first + i]];
        step(x, y, r, w_opt, b_opt);
      }
    }
  }

  double accuracy(const dataset& test, const recipe& r) {
    prepare(r, /*keep=*/true);
    const matrix logits = forward(test.x, r);
    int right = 0;
    for (Eigen::Index i = 0; i < logits.rows(); ++i) {
      Eigen::Index best;
      logits.row(i).maxCoeff(&best);
      right += best == test.y[static_cast<std::size_t>(i)];
    }
    return static_cast<double>(right) / static_cast<double>(logits.rows());
  }

  std::vector<layer> layers;

 private:
  // One quantizer per layer (made from the layer's current weights); kept across calls of the same recipe.
  void prepare(const recipe& r, bool keep = false) {
    if (keep && prepared_ == &r) return;
    prepared_ = &r;
    wq_.clear(), aq_.clear();
    for (const auto& l : layers) {
      wq_.push_back(r.weights ? r.weights(l.w) : nullptr);
      aq_.push_back(r.activations ? r.activations() : nullptr);
    }
  }

  // Saved per layer by forward for backward: input, its quantized form, weights used.
  struct trace {
    matrix in, in_q, wq, pre;
  };

  matrix forward(const matrix& x, const recipe& r) {
    traces_.assign(layers.size(), {});
    matrix h = x;
    for (std::size_t i = 0; i < layers.size(); ++i) {
      trace& t = traces_[i];
      t.in = h;
      t.in_q = h;
      if (aq_[i] && i > 0) aq_[i]->forward(t.in, t.in_q);  // hidden activations; the pixels stay
      t.wq = layers[i].w;
      if (wq_[i]) wq_[i]->forward(layers[i].w, t.wq);
      t.pre = (t.in_q * t.wq.transpose()).rowwise() + layers[i].b.row(0);
      h = t.pre;
      if (i + 1 < layers.size() && r.relu_then_activation) h = h.cwiseMax(0.0f);
    }
    return h;
  }

  void step(const matrix& x, const std::vector<int>& y, const recipe& r,
            std::vector<std::unique_ptr<matrix_optimizer>>& w_opt, std::vector<std::unique_ptr<matrix_optimizer>>& b_opt) {
    const matrix logits = forward(x, r);
    // softmax cross-entropy, averaged over the batch
    matrix d = logits;
    for (Eigen::Index i = 0; i < d.rows(); ++i) {
      const float m = d.row(i).maxCoeff();
      d.row(i) = (d.row(i).array() - m).exp();
      d.row(i) /= d.row(i).sum();
      d(i, y[static_cast<std::size_t>(i)]) -= 1.0f;
    }
    d /= static_cast<float>(d.rows());
    for (std::size_t k = layers.size(); k-- > 0;) {
      trace& t = traces_[k];
      const matrix dwq = d.transpose() * t.in_q;
      const matrix db = d.colwise().sum();
      matrix din = d * t.wq;
      matrix dw = dwq;
      if (wq_[k]) wq_[k]->backward(layers[k].w, t.wq, dwq, dw);
      if (aq_[k] && k > 0) {
        matrix dh(din.rows(), din.cols());
        aq_[k]->backward(t.in, t.in_q, din, dh);
        din = dh;
      }
      w_opt[k]->step(layers[k].w, dw);
      b_opt[k]->step(layers[k].b, db);
      if (wq_[k]) wq_[k]->after_update(layers[k].w);
      if (k > 0) {  // through the previous layer's ReLU (PACT's own clip is in its backward)
        if (r.relu_then_activation) d = din.cwiseProduct((traces_[k - 1].pre.array() > 0.0f).cast<float>().matrix());
        else d = din;
      }
    }
  }

  std::vector<std::shared_ptr<trainable_quantizer>> wq_;  // shared: a copied model starts from the same
  std::vector<std::shared_ptr<trainable_quantizer>> aq_;
  std::vector<trace> traces_;
  const recipe* prepared_ = nullptr;
};

template <int Bits>
using affine_rows = qtl::quantizer<qtl::int_format<Bits, false>, qtl::affine, qtl::per_channel<0>>;

template <int Bits>
std::unique_ptr<trainable_quantizer> straight_through_rows(const matrix&) {
  return std::make_unique<straight_through_method<qtl::qat::straight_through<affine_rows<Bits>>>>(
      qtl::qat::straight_through<affine_rows<Bits>>{});
}

// Replaces each layer's weights by a QAT method's forward, without training (PTQ).
template <class Method>
void replace_weights(mlp& model, Method method) {
  for (auto& l : model.layers) {
    matrix out(l.w.rows(), l.w.cols());
    method.forward(view(std::as_const(l.w)), view(out));
    l.w = out;
  }
}

// Rounds a float model's weights to nearest (uint b affine per row), no training.
template <int Bits>
void round_to_nearest(mlp& model) {
  replace_weights(model, qtl::qat::straight_through<affine_rows<Bits>>{});
}

struct result {
  double mean, deviation;
};

result summary(const std::vector<double>& a) {
  const double mean = std::accumulate(a.begin(), a.end(), 0.0) / static_cast<double>(a.size());
  double squares = 0.0;
  for (const double v : a) squares += (v - mean) * (v - mean);
  return {100.0 * mean, 100.0 * std::sqrt(squares / static_cast<double>(a.size() - 1))};
}

}  // namespace

int main(int argc, char** argv) try {
  const auto [train, test] = load_digits(argc > 1 ? argv[1] : "tests/golden/digits.safetensors");
  constexpr int seeds = 3, float_epochs = 40, qat_epochs = 20;
  const std::vector<int> sizes = {64, 128, 128, 10};
  using qtl::qat::straight_through;

  std::vector<recipe> recipes;
  const recipe float_recipe{"FP32", nullptr, nullptr};
  using weights_fn = std::function<std::unique_ptr<trainable_quantizer>(const matrix&)>;
  using activations_fn = std::function<std::unique_ptr<trainable_quantizer>()>;
  auto add = [&](std::string name, weights_fn weights, activations_fn activations = nullptr, bool relu = true) {
    recipes.push_back({std::move(name), std::move(weights), std::move(activations), relu});
  };
  add("STE (clipped), uint8 affine per row", weights_fn(straight_through_rows<8>));
  add("STE (clipped), uint4 affine per row", weights_fn(straight_through_rows<4>));
  add("STE (clipped), uint2 affine per row", weights_fn(straight_through_rows<2>));
  for (const int bits : {8, 4, 2})
    add("LSQ, int" + std::to_string(bits) + " per tensor",
        weights_fn([bits](const matrix& w) { return std::make_unique<lsq_weights>(bits, w); }));
  for (const int bits : {8, 4, 2})
    add("DoReFa, " + std::to_string(bits) + "-bit weights", weights_fn([bits](const matrix&) {
          return std::make_unique<input_gradient_weights<qtl::qat::dorefa_weights>>(qtl::qat::dorefa_weights(bits));
        }));
  add("STE W8 + PACT A8", weights_fn(straight_through_rows<8>), activations_fn([] { return std::make_unique<pact_activations>(8); }), false);
  add("STE W4 + PACT A4", weights_fn(straight_through_rows<4>), activations_fn([] { return std::make_unique<pact_activations>(4); }), false);
  add("STE W2 + PACT A2", weights_fn(straight_through_rows<2>), activations_fn([] { return std::make_unique<pact_activations>(2); }), false);
  add("INQ, 5-bit powers of two", weights_fn([](const matrix&) { return std::make_unique<inq_weights>(5); }));
  add("BitNet b1.58: ternary W, int8 A", weights_fn([](const matrix&) {
        return std::make_unique<straight_through_method<decltype(qtl::qat::bitnet_weights())>>(qtl::qat::bitnet_weights());
      }),
      activations_fn([] {
        return std::make_unique<straight_through_method<decltype(qtl::qat::bitnet_activations())>>(
            qtl::qat::bitnet_activations());
      }));
  add("TWN, ternary", weights_fn([](const matrix&) { return std::make_unique<output_gradient_weights<qtl::qat::twn>>(qtl::qat::twn{}); }));
  add("TTQ, ternary", weights_fn([](const matrix& w) { return std::make_unique<ttq_weights>(w); }));
  add("BinaryConnect, binary", weights_fn([](const matrix&) { return std::make_unique<binary_connect_weights>(); }));
  add("XNOR-Net weights, binary", weights_fn([](const matrix&) {
        return std::make_unique<input_gradient_weights<qtl::qat::xnor>>(qtl::qat::xnor{});
      }));
  add("DoReFa, 1-bit weights", weights_fn([](const matrix&) {
        return std::make_unique<input_gradient_weights<qtl::qat::dorefa_weights>>(qtl::qat::dorefa_weights(1));
      }));
  add("ABC-Net, 3 binary bases", weights_fn([](const matrix&) {
        return std::make_unique<output_gradient_weights<qtl::qat::abc_net>>(qtl::qat::abc_net(3));
      }));

  std::vector<std::vector<double>> accuracy(recipes.size()), float_accuracy(1), rtn(5);
  for (int seed = 0; seed < seeds; ++seed) {
    std::mt19937 rng(static_cast<unsigned>(1000 + seed));
    mlp trained(sizes, rng);
    trained.train(train, float_recipe, float_epochs, 1e-3, rng);
    float_accuracy[0].push_back(trained.accuracy(test, float_recipe));
    const auto rounded = [&](auto round) {
      mlp copy = trained;
      round(copy);
      return copy.accuracy(test, float_recipe);
    };
    rtn[0].push_back(rounded(round_to_nearest<8>));
    rtn[1].push_back(rounded(round_to_nearest<4>));
    rtn[2].push_back(rounded(round_to_nearest<2>));
    rtn[3].push_back(rounded([](mlp& m) { replace_weights(m, qtl::qat::twn{}); }));
    rtn[4].push_back(rounded([](mlp& m) { replace_weights(m, qtl::qat::xnor{}); }));
    for (std::size_t i = 0; i < recipes.size(); ++i) {
      mlp model = trained;  // QAT fine-tunes the float model
      std::mt19937 qat_rng(static_cast<unsigned>(2000 + seed));
      model.train(train, recipes[i], qat_epochs, 5e-4, qat_rng);
      accuracy[i].push_back(model.accuracy(test, recipes[i]));
    }
  }
  std::printf("digits (%lld train, %lld test images), MLP 64-128-128-10, every layer quantized; test accuracy %%, "
              "mean ± std over %d seeds\n",
              static_cast<long long>(train.x.rows()), static_cast<long long>(test.x.rows()), seeds);
  std::printf("%-40s %16s\n", "method", "accuracy");
  const auto row = [](const std::string& name, const std::vector<double>& a) {
    const result r = summary(a);
    std::printf("%-40s %9.2f ± %4.2f\n", name.c_str(), r.mean, r.deviation);
  };
  row("FP32", float_accuracy[0]);
  row("PTQ round to nearest, uint8 affine per row", rtn[0]);
  row("PTQ round to nearest, uint4 affine per row", rtn[1]);
  row("PTQ round to nearest, uint2 affine per row", rtn[2]);
  row("PTQ ternary (TWN's threshold and scale)", rtn[3]);
  row("PTQ binary (XNOR-Net's scaled sign)", rtn[4]);
  for (std::size_t i = 0; i < recipes.size(); ++i) row("QAT " + recipes[i].name, accuracy[i]);

  // The optimizers: the float model from scratch (40 epochs, lr 1e-3) and its uint4 QAT
  // fine-tune (20 epochs, lr 5e-4), each with 32-bit and 8-bit state (Lion at a third of
  // Adam's rate, as its paper advises).
  using qtl::optim::state_bits;
  struct optimizer_case {
    std::string name;
    optimizer_factory make;
  };
  std::vector<optimizer_case> optimizers;
  for (const auto bits : {state_bits::thirty_two, state_bits::eight}) {
    const std::string b = bits == state_bits::eight ? " 8-bit" : " 32-bit";
    optimizers.push_back({"Adam" + b, optim_factory(qtl::optim::adam{}, 1.0, bits)});
    optimizers.push_back({"AdamW" + b + " (decay 0.01)", optim_factory(qtl::optim::adamw{}, 1.0, bits)});
    optimizers.push_back({"Lion" + b, optim_factory(qtl::optim::lion{}, 1.0 / 3.0, bits)});
  }
  const recipe uint4{"uint4", weights_fn(straight_through_rows<4>), nullptr};
  std::vector<std::vector<double>> from_scratch(optimizers.size()), fine_tuned(optimizers.size());
  for (int seed = 0; seed < seeds; ++seed)
    for (std::size_t i = 0; i < optimizers.size(); ++i) {
      std::mt19937 rng(static_cast<unsigned>(1000 + seed));
      mlp model(sizes, rng);
      model.train(train, float_recipe, float_epochs, 1e-3, rng, optimizers[i].make);
      from_scratch[i].push_back(model.accuracy(test, float_recipe));
      std::mt19937 qat_rng(static_cast<unsigned>(2000 + seed));
      model.train(train, uint4, qat_epochs, 5e-4, qat_rng, optimizers[i].make);
      fine_tuned[i].push_back(model.accuracy(test, uint4));
    }
  std::printf("\noptimizers (qtl/optim/, state of every tensor in the stated precision): test accuracy %%\n");
  std::printf("%-40s %16s %16s\n", "optimizer", "FP32 training", "uint4 QAT");
  for (std::size_t i = 0; i < optimizers.size(); ++i) {
    const result a = summary(from_scratch[i]), q = summary(fine_tuned[i]);
    std::printf("%-40s %9.2f ± %4.2f %9.2f ± %4.2f\n", optimizers[i].name.c_str(), a.mean, a.deviation, q.mean,
                q.deviation);
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "qat_digits: %s\n", e.what());
  return 1;
}
