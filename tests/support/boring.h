// Test fixtures: a BoringModule (Linear 32 -> 2 on random data, as Lightning's
// BoringModel), data helpers, and a recorder of hook calls.
#pragma once

#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/sgd.h>

#include <string>
#include <vector>

#include "lightning/lightning.h"
#include "support/errors.h"

namespace lightning::testing {

/// A TensorDataset of `n` samples: x [n, 32] ~ N(0, 1), y [n, 2] (a fixed linear map of x).
inline std::shared_ptr<TensorDataset> random_dataset(int64_t n, uint64_t seed = 0) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto w = at::randn({32, 2}, gen);  // first, so that every size shares the same map
  auto x = at::randn({n, 32}, gen);
  return std::make_shared<TensorDataset>(std::vector<at::Tensor>{x, x.matmul(w)});
}

inline DataLoader loader(int64_t n, int64_t batch_size, bool shuffle = false, uint64_t seed = 0) {
  return DataLoader(random_dataset(n, seed),
                    DataLoaderOptions().batch_size(batch_size).shuffle(shuffle));
}

/// Linear(32, 2) trained with MSE and SGD(lr=0.01); logs val_loss/test_loss in its eval steps.
class BoringModule : public LightningModule {
 public:
  BoringModule() { layer = register_module("layer", torch::nn::Linear(32, 2)); }
  at::Tensor forward(const at::Tensor& x) { return layer->forward(x); }
  at::Tensor loss(Batch& batch) {
    auto [x, y] = batch.unpack<2>();
    return torch::nn::functional::mse_loss(forward(x), y);
  }
  StepOutput training_step(Batch& batch, int64_t) override { return loss(batch); }
  StepOutput validation_step(Batch& batch, int64_t) override {
    log("val_loss", loss(batch));
    return {};
  }
  StepOutput test_step(Batch& batch, int64_t) override {
    log("test_loss", loss(batch));
    return {};
  }
  c10::IValue predict_step(Batch& batch, int64_t) override { return forward(batch[0]); }
  OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.01));
  }
  torch::nn::Linear layer{nullptr};
};

/// Options that keep test output quiet and fast, and write no files (no
/// loggers, no default ModelCheckpoint).
inline TrainerOptions quiet() {
  return TrainerOptions()
      .enable_progress_bar(false)
      .enable_model_summary(false)
      .logger(false)
      .enable_checkpointing(false);
}

/// Records which batches / steps / epochs the loops ran.
class CountingCallback : public Callback {
 public:
  void on_train_batch_end(Trainer&, LightningModule&, const StepOutput&, Batch&,
                          int64_t batch_idx) override {
    train_batches.push_back(batch_idx);
  }
  void on_validation_batch_end(Trainer&, LightningModule&, const StepOutput&, Batch&,
                               int64_t batch_idx, int64_t) override {
    ++val_batches;
  }
  void on_validation_start(Trainer& t, LightningModule&) override {
    if (!t.sanity_checking()) val_runs_at_step.push_back(t.global_step());
  }
  void on_sanity_check_start(Trainer&, LightningModule&) override { ++sanity_runs; }
  void on_test_batch_end(Trainer&, LightningModule&, const StepOutput&, Batch&, int64_t,
                         int64_t) override {
    ++test_batches;
  }
  void on_train_epoch_end(Trainer&, LightningModule&) override { ++epochs; }
  std::vector<int64_t> train_batches;
  std::vector<int64_t> val_runs_at_step;
  int64_t val_batches = 0, test_batches = 0, sanity_runs = 0, epochs = 0;
};

/// A logger that keeps every row it is sent.
class RecordingLogger : public Logger {
 public:
  void log_metrics(const Metrics& metrics, int64_t step) override {
    rows.emplace_back(step, metrics);
  }
  void log_hyperparams(const HParams& hp) override { hparams = hp; }
  void finalize(const std::string& status) override { this->status = status; }
  std::vector<std::pair<int64_t, Metrics>> rows;
  HParams hparams;
  std::string status;
};

}  // namespace lightning::testing
