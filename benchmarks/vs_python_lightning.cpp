// vs_python_lightning — the lightning.cpp child of benchmarks/vs_python_lightning.py.
//
//   ./vs_python_lightning --model tiny|medium|cnn [--samples N] [--data-dir DIR]
//                         [--loop trainer|hand]
//
// Run it through the driver, which alternates it with the same training in
// Python PyTorch Lightning (same torch) and prints the ratios:
//
//   $VENV/bin/python benchmarks/vs_python_lightning.py
//       --cpp build-pip/benchmarks/vs_python_lightning [--rounds 3] [--model all]
//
// ($VENV: the last line that scripts/setup_pip.sh prints; one command line.)
//
// One process trains one model for one epoch over the first N (default 6400)
// Fashion-MNIST training images, in order (shuffle off), with 1 intra-op
// thread, Adam lr 1e-3, cross_entropy, training_step logging train_loss every
// step, and a Trainer with progress bar, model summary, logger, checkpointing,
// sanity check and validation off, on the CPU. Models (and batch sizes):
//   tiny    MLP 784-32-10, batch 32
//   medium  MLP 784-256-128-10, batch 64
//   cnn     conv 1->8 3x3, relu, maxpool 2, conv 8->16 3x3, relu, maxpool 2,
//           linear 400->10, batch 64
// The initial weights come from a formula (init_parameters, the same in the
// Python child), so both sides start from the same numbers without relying on
// the two sides drawing random numbers in the same order.
//
// `--loop hand` trains the same module with a hand-written loop instead of
// the Trainer (zero_grad, forward, cross_entropy, backward, Adam step; the
// batches are slices of the data tensors, no DataLoader, no logging): the
// baseline the driver compares the Trainer's start-up and peak RSS with.
//
// The process prints one line of JSON on stdout:
//   main        CLOCK_REALTIME seconds at the start of main
//   first_step  ... when training_step is first entered
//   fit_end     ... when Trainer::fit has returned
//   steps       training_step calls
//   loss        the last step's loss
//   weight_sum  the sum of all parameters after fit (float64)
// The driver turns these into start-to-first-step (from just before it spawned
// the process) and per-step time ((fit_end - first_step) / (steps - 1)).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <lightning/data/dataloader.h>
#include <lightning/data/datasets/fashion_mnist.h>
#include <lightning/error.h>
#include <lightning/module.h>
#include <lightning/trainer.h>
#include <time.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>
#include <torch/version.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <vector>

namespace L = lightning;
namespace F = torch::nn::functional;

namespace {

double now() {
  timespec t{};
  clock_gettime(CLOCK_REALTIME, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// Parameter k (in registration order) of shape S becomes
//   bound * sin(0.7071 * i + 0.37 * k),  i = 0 .. numel-1 (row-major),
// computed in float64 and rounded to float32; bound = 1/sqrt(fan_in), where
// fan_in is the product of a weight's dimensions after the first, and a bias
// uses the fan_in of the weight before it (as PyTorch's default init does).
void init_parameters(const std::vector<at::Tensor>& params) {
  at::NoGradGuard no_grad;
  double fan_in = 1;
  for (size_t k = 0; k < params.size(); ++k) {
    const at::Tensor& p = params[k];
    if (p.dim() >= 2) fan_in = static_cast<double>(p.numel() / p.size(0));
    const at::Tensor i = at::arange(p.numel(), at::TensorOptions(at::kDouble));
    const at::Tensor values =
        (i * 0.7071 + 0.37 * static_cast<double>(k)).sin() * (1.0 / std::sqrt(fan_in));
    p.copy_(values.to(at::kFloat).reshape(p.sizes()));
  }
}

class Model : public L::LightningModule {
 public:
  explicit Model(const std::string& kind) : cnn_(kind == "cnn") {
    if (kind == "tiny") {
      linears_.push_back(register_module("fc0", torch::nn::Linear(784, 32)));
      linears_.push_back(register_module("fc1", torch::nn::Linear(32, 10)));
    } else if (kind == "medium") {
      linears_.push_back(register_module("fc0", torch::nn::Linear(784, 256)));
      linears_.push_back(register_module("fc1", torch::nn::Linear(256, 128)));
      linears_.push_back(register_module("fc2", torch::nn::Linear(128, 10)));
    } else {
      conv1_ = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 8, 3)));
      conv2_ = register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(8, 16, 3)));
      linears_.push_back(register_module("fc", torch::nn::Linear(16 * 5 * 5, 10)));
    }
    init_parameters(parameters());
  }

  at::Tensor forward(at::Tensor x) {
    if (cnn_) {
      x = at::max_pool2d(at::relu(conv1_->forward(x)), 2);
      x = at::max_pool2d(at::relu(conv2_->forward(x)), 2);
      return linears_[0]->forward(x.flatten(1));
    }
    for (size_t i = 0; i < linears_.size(); ++i) {
      x = linears_[i]->forward(x);
      if (i + 1 < linears_.size()) x = at::relu(x);
    }
    return x;
  }

  void count_step() {
    if (steps_++ == 0) first_step_ = now();
  }

  L::StepOutput training_step(L::Batch& batch, int64_t /*batch_idx*/) override {
    count_step();
    auto [x, y] = batch.unpack<2>();
    at::Tensor loss = F::cross_entropy(forward(x), y);
    log("train_loss", loss);
    last_loss_ = loss.detach();
    return loss;
  }

  L::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::Adam>(parameters(), torch::optim::AdamOptions(1e-3));
  }

  int64_t steps_ = 0;
  double first_step_ = 0;
  at::Tensor last_loss_;

 private:
  bool cnn_;
  std::vector<torch::nn::Linear> linears_;
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
};

[[noreturn]] void usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s --model tiny|medium|cnn [--samples N] [--data-dir DIR] "
               "[--loop trainer|hand]\n",
               argv0);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  const double main_time = now();
  std::string model_name, data_dir = L::kFashionMNISTDefaultDir, loop = "trainer";
  int64_t samples = 6400;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) usage(argv[0]);
    const char* value = argv[++i];
    if (arg == "--model") {
      model_name = value;
    } else if (arg == "--samples") {
      char* end = nullptr;
      samples = std::strtoll(value, &end, 10);
      if (*value == '\0' || *end != '\0') usage(argv[0]);
    } else if (arg == "--loop") {
      loop = value;
    } else if (arg == "--data-dir") {
      data_dir = value;
    } else {
      usage(argv[0]);
    }
  }
  if ((model_name != "tiny" && model_name != "medium" && model_name != "cnn") || samples < 2 ||
      (loop != "trainer" && loop != "hand")) {
    usage(argv[0]);
  }
  at::set_num_threads(1);

  try {
    // The whole split is read (as the Python child does), then the first N kept.
    L::FashionMNIST train(data_dir, /*train=*/true);
    const int64_t n = std::min<int64_t>(samples, train.size());
    at::Tensor images = train.images().narrow(0, 0, n);
    images = model_name == "cnn" ? images.clone() : images.reshape({n, 784}).clone();
    const at::Tensor labels = train.targets().narrow(0, 0, n).clone();

    auto model = std::make_shared<Model>(model_name);
    const int64_t batch_size = model_name == "tiny" ? 32 : 64;
    if (loop == "hand") {
      model->train();
      torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(1e-3));
      for (int64_t first = 0; first < n; first += batch_size) {
        const int64_t size = std::min(batch_size, n - first);
        model->count_step();
        optimizer.zero_grad();
        at::Tensor loss = F::cross_entropy(model->forward(images.narrow(0, first, size)),
                                           labels.narrow(0, first, size));
        loss.backward();
        optimizer.step();
        model->last_loss_ = loss.detach();
      }
    }
    if (loop == "trainer") {
      auto dataset = std::make_shared<L::TensorDataset>(std::vector<at::Tensor>{images, labels});
      const L::DataLoader loader(
          dataset, L::DataLoaderOptions().batch_size(batch_size).shuffle(false).num_workers(0));
      L::Trainer trainer(L::TrainerOptions()
                             .accelerator("cpu")
                             .max_epochs(1)
                             .enable_progress_bar(false)
                             .enable_model_summary(false)
                             .logger(false)
                             .enable_checkpointing(false)
                             .num_sanity_val_steps(0));
      trainer.fit(model, loader);
    }
    const double fit_end = now();

    double weight_sum = 0;
    for (const auto& p : model->parameters()) weight_sum += p.sum(at::kDouble).item<double>();
    std::printf(
        "{\"side\": \"%s\", \"model\": \"%s\", \"samples\": %lld, \"main\": %.6f, "
        "\"first_step\": %.6f, \"fit_end\": %.6f, \"steps\": %lld, \"loss\": %.9g, "
        "\"weight_sum\": %.12g, \"threads\": %d, \"torch\": \"%s\"}\n",
        loop == "hand" ? "hand" : "cpp", model_name.c_str(), static_cast<long long>(n), main_time,
        model->first_step_, fit_end, static_cast<long long>(model->steps_),
        model->last_loss_.item<double>(), weight_sum, at::get_num_threads(), TORCH_VERSION);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vs_python_lightning: %s\n", e.what());
    return 1;
  }
}
