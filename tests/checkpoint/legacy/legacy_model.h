// The module, data and options of the legacy checkpoint fixtures
// (tests/checkpoint/legacy/*.ckpt). The fixtures were written once by
// legacy_fixture_writer at a fixed commit and are never regenerated: they
// pin what older checkpoints hold, so that every later change to the loops
// must still resume them. Nothing here draws from an RNG except the loader's
// shuffle, so the fixtures mean the same to every libtorch version.
#pragma once

#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/sgd.h>

#include <string>
#include <utility>
#include <vector>

#include "lightning/lightning.h"

namespace lightning::testing::legacy {

constexpr uint64_t kSeed = 5;
constexpr int64_t kEpochs = 3;

/// 32 samples, x [32, 8] and y [32, 1], from sines: no RNG.
inline DataLoader train_loader() {
  auto x = at::sin(at::arange(32 * 8, at::kFloat).reshape({32, 8}) * 0.37);
  auto y = at::cos(at::arange(32, at::kFloat) * 0.21).reshape({32, 1});
  return DataLoader(std::make_shared<TensorDataset>(std::vector<at::Tensor>{x, y}),
                    DataLoaderOptions().batch_size(4).shuffle(true));
}

inline DataLoader val_loader() {
  auto x = at::cos(at::arange(8 * 8, at::kFloat).reshape({8, 8}) * 0.11);
  auto y = at::sin(at::arange(8, at::kFloat) * 0.5).reshape({8, 1});
  return DataLoader(std::make_shared<TensorDataset>(std::vector<at::Tensor>{x, y}),
                    DataLoaderOptions().batch_size(4));
}

/// Linear(8, 1) with fixed initial weights; SGD with momentum, a per-epoch
/// StepLR and a per-step ExponentialLR; logs the loss per step and per epoch.
class Model : public LightningModule {
 public:
  Model() {
    layer = register_module("layer", torch::nn::Linear(8, 1));
    torch::NoGradGuard no_grad;
    layer->weight.copy_(at::sin(at::arange(8, at::kFloat) + 1.0).reshape({1, 8}) * 0.3);
    layer->bias.fill_(0.1);
  }
  at::Tensor loss(Batch& batch) {
    auto [x, y] = batch.unpack<2>();
    return torch::nn::functional::mse_loss(layer->forward(x), y);
  }
  StepOutput training_step(Batch& batch, int64_t batch_idx) override {
    steps.emplace_back(current_epoch(), batch_idx);
    auto l = loss(batch);
    log("train_loss", l, LogOptions().on_step(true).on_epoch(true));
    return l;
  }
  StepOutput validation_step(Batch& batch, int64_t) override {
    log("val_loss", loss(batch));
    return {};
  }
  OptimizerConfig configure_optimizers() override {
    auto opt = std::make_shared<torch::optim::SGD>(parameters(),
                                                   torch::optim::SGDOptions(0.05).momentum(0.9));
    auto step = std::make_shared<StepLR>(opt, StepLROptions(1).gamma(0.8));
    auto exp = std::make_shared<ExponentialLR>(opt, ExponentialLROptions(0.99));
    return {{opt}, {step, {exp, SchedulerConfig().interval("step")}}};
  }
  torch::nn::Linear layer{nullptr};
  std::vector<std::pair<int64_t, int64_t>> steps;  // (epoch, batch_idx) of each training_step
};

/// Accumulation over 2 batches (8 per epoch), validation after batches 4 and 8.
inline TrainerOptions options() {
  return TrainerOptions()
      .max_epochs(kEpochs)
      .accumulate_grad_batches(2)
      .val_check_interval(4)
      .num_sanity_val_steps(1)
      .enable_progress_bar(false)
      .enable_model_summary(false)
      .logger(false)
      .enable_checkpointing(false);
}

/// The fixtures: where in epoch 1 each was saved, and the first training
/// step (epoch, batch_idx) a resume from it runs.
struct Fixture {
  const char* file;
  const char* hook;  // the hook that saved it
  int64_t batch;     // batch_idx of the hook, or -1 for epoch hooks
  std::pair<int64_t, int64_t> first_resumed_step;
};
inline const std::vector<Fixture>& fixtures() {
  static const std::vector<Fixture> all = {
      {"train_epoch_start.ckpt", "on_train_epoch_start", -1, {1, 0}},
      {"train_batch_start.ckpt", "on_train_batch_start", 4, {1, 4}},
      {"train_batch_end_mid_window.ckpt", "on_train_batch_end", 2, {1, 3}},
      {"train_batch_end.ckpt", "on_train_batch_end", 5, {1, 6}},
      {"validation_end.ckpt", "on_validation_end", 3, {1, 4}},
      {"train_epoch_end.ckpt", "on_train_epoch_end", -1, {2, 0}},
  };
  return all;
}

}  // namespace lightning::testing::legacy
