// Hook recorders shared by the hook-order tests (hooks_test.cpp and
// lightning/hook_order_test.cpp): a Callback and a BoringModule that append
// the name of every hook call to one list, "Callback.<hook>" from the
// callback and "<hook>" from the module; setup/teardown as "setup(<stage>)".
// Every module hook calls BoringModule's own after recording, so recording
// changes nothing in the run.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lightning/lightning.h"
#include "support/boring.h"

namespace lightning::testing {

using HookCalls = std::vector<std::string>;

/// Records every Callback hook into `calls` as "Callback.<hook>".
class RecordingCallback : public Callback {
 public:
  explicit RecordingCallback(HookCalls& calls) : calls_(calls) {}

  void setup(Trainer&, LightningModule&, Stage s) override { add("setup(" + to_string(s) + ")"); }
  void teardown(Trainer&, LightningModule&, Stage s) override {
    add("teardown(" + to_string(s) + ")");
  }
  void on_fit_start(Trainer&, LightningModule&) override { add("on_fit_start"); }
  void on_fit_end(Trainer&, LightningModule&) override { add("on_fit_end"); }
  void on_sanity_check_start(Trainer&, LightningModule&) override { add("on_sanity_check_start"); }
  void on_sanity_check_end(Trainer&, LightningModule&) override { add("on_sanity_check_end"); }

  void on_train_start(Trainer&, LightningModule&) override { add("on_train_start"); }
  void on_train_end(Trainer&, LightningModule&) override { add("on_train_end"); }
  void on_train_epoch_start(Trainer&, LightningModule&) override { add("on_train_epoch_start"); }
  void on_train_epoch_end(Trainer&, LightningModule&) override { add("on_train_epoch_end"); }
  void on_train_batch_start(Trainer&, LightningModule&, Batch&, int64_t) override {
    add("on_train_batch_start");
  }
  void on_train_batch_end(Trainer&, LightningModule&, const StepOutput&, Batch&, int64_t) override {
    add("on_train_batch_end");
  }

  void on_validation_start(Trainer&, LightningModule&) override { add("on_validation_start"); }
  void on_validation_end(Trainer&, LightningModule&) override { add("on_validation_end"); }
  void on_validation_epoch_start(Trainer&, LightningModule&) override {
    add("on_validation_epoch_start");
  }
  void on_validation_epoch_end(Trainer&, LightningModule&) override {
    add("on_validation_epoch_end");
  }
  void on_validation_batch_start(Trainer&, LightningModule&, Batch&, int64_t, int64_t) override {
    add("on_validation_batch_start");
  }
  void on_validation_batch_end(Trainer&, LightningModule&, const StepOutput&, Batch&, int64_t,
                               int64_t) override {
    add("on_validation_batch_end");
  }

  void on_test_start(Trainer&, LightningModule&) override { add("on_test_start"); }
  void on_test_end(Trainer&, LightningModule&) override { add("on_test_end"); }
  void on_test_epoch_start(Trainer&, LightningModule&) override { add("on_test_epoch_start"); }
  void on_test_epoch_end(Trainer&, LightningModule&) override { add("on_test_epoch_end"); }
  void on_test_batch_start(Trainer&, LightningModule&, Batch&, int64_t, int64_t) override {
    add("on_test_batch_start");
  }
  void on_test_batch_end(Trainer&, LightningModule&, const StepOutput&, Batch&, int64_t,
                         int64_t) override {
    add("on_test_batch_end");
  }

  void on_predict_start(Trainer&, LightningModule&) override { add("on_predict_start"); }
  void on_predict_end(Trainer&, LightningModule&) override { add("on_predict_end"); }
  void on_predict_epoch_start(Trainer&, LightningModule&) override {
    add("on_predict_epoch_start");
  }
  void on_predict_epoch_end(Trainer&, LightningModule&) override { add("on_predict_epoch_end"); }
  void on_predict_batch_start(Trainer&, LightningModule&, Batch&, int64_t, int64_t) override {
    add("on_predict_batch_start");
  }
  void on_predict_batch_end(Trainer&, LightningModule&, const c10::IValue&, Batch&, int64_t,
                            int64_t) override {
    add("on_predict_batch_end");
  }

  void on_before_backward(Trainer&, LightningModule&, const at::Tensor&) override {
    add("on_before_backward");
  }
  void on_after_backward(Trainer&, LightningModule&) override { add("on_after_backward"); }
  void on_before_optimizer_step(Trainer&, LightningModule&, torch::optim::Optimizer&) override {
    add("on_before_optimizer_step");
  }
  void on_before_zero_grad(Trainer&, LightningModule&, torch::optim::Optimizer&) override {
    add("on_before_zero_grad");
  }

  void on_exception(Trainer&, LightningModule&, const std::exception&) override {
    add("on_exception");
  }
  void on_save_checkpoint(Trainer&, LightningModule&, Checkpoint&) override {
    add("on_save_checkpoint");
  }
  void on_load_checkpoint(Trainer&, LightningModule&, Checkpoint&) override {
    add("on_load_checkpoint");
  }

 private:
  void add(const std::string& hook) { calls_.push_back("Callback." + hook); }
  HookCalls& calls_;
};

/// The samples in each of RecordingModule's dataloaders, and their batch size.
struct LoaderSizes {
  int64_t train = 0, val = 0, test = 0, predict = 0;
  int64_t batch_size = 1;
};

/// BoringModule (Linear(32, 2), MSE, SGD) with `loader(n, batch_size)`
/// dataloaders of the given sizes and every module hook recorded into `calls`.
class RecordingModule : public BoringModule {
 public:
  explicit RecordingModule(const LoaderSizes& sizes) : sizes_(sizes) {}
  HookCalls calls;

  StepOutput training_step(Batch& b, int64_t i) override {
    add("training_step");
    return BoringModule::training_step(b, i);
  }
  StepOutput validation_step(Batch& b, int64_t i) override {
    add("validation_step");
    return BoringModule::validation_step(b, i);
  }
  StepOutput test_step(Batch& b, int64_t i) override {
    add("test_step");
    return BoringModule::test_step(b, i);
  }
  c10::IValue predict_step(Batch& b, int64_t i) override {
    add("predict_step");
    return BoringModule::predict_step(b, i);
  }

  OptimizerConfig configure_optimizers() override {
    add("configure_optimizers");
    return BoringModule::configure_optimizers();
  }
  std::vector<std::shared_ptr<Callback>> configure_callbacks() override {
    add("configure_callbacks");
    return BoringModule::configure_callbacks();
  }
  void configure_gradient_clipping(torch::optim::Optimizer& optimizer, std::optional<double> val,
                                   std::optional<std::string> algorithm) override {
    add("configure_gradient_clipping");
    BoringModule::configure_gradient_clipping(optimizer, val, std::move(algorithm));
  }

  void prepare_data() override { add("prepare_data"); }
  void setup(Stage s) override { add("setup(" + to_string(s) + ")"); }
  void teardown(Stage s) override { add("teardown(" + to_string(s) + ")"); }
  DataLoaders train_dataloader() override {
    add("train_dataloader");
    return loader(sizes_.train, sizes_.batch_size);
  }
  DataLoaders val_dataloader() override {
    add("val_dataloader");
    return loader(sizes_.val, sizes_.batch_size);
  }
  DataLoaders test_dataloader() override {
    add("test_dataloader");
    return loader(sizes_.test, sizes_.batch_size);
  }
  DataLoaders predict_dataloader() override {
    add("predict_dataloader");
    return loader(sizes_.predict, sizes_.batch_size);
  }
  Batch on_before_batch_transfer(Batch b, int64_t i) override {
    add("on_before_batch_transfer");
    return BoringModule::on_before_batch_transfer(std::move(b), i);
  }
  Batch transfer_batch_to_device(Batch b, const at::Device& d, int64_t i) override {
    add("transfer_batch_to_device");
    return BoringModule::transfer_batch_to_device(std::move(b), d, i);
  }
  Batch on_after_batch_transfer(Batch b, int64_t i) override {
    add("on_after_batch_transfer");
    return BoringModule::on_after_batch_transfer(std::move(b), i);
  }

  void on_fit_start() override { add("on_fit_start"); }
  void on_fit_end() override { add("on_fit_end"); }
  void on_train_start() override { add("on_train_start"); }
  void on_train_end() override { add("on_train_end"); }
  void on_validation_start() override { add("on_validation_start"); }
  void on_validation_end() override { add("on_validation_end"); }
  void on_test_start() override { add("on_test_start"); }
  void on_test_end() override { add("on_test_end"); }
  void on_predict_start() override { add("on_predict_start"); }
  void on_predict_end() override { add("on_predict_end"); }

  void on_train_epoch_start() override { add("on_train_epoch_start"); }
  void on_train_epoch_end() override { add("on_train_epoch_end"); }
  void on_validation_epoch_start() override { add("on_validation_epoch_start"); }
  void on_validation_epoch_end() override { add("on_validation_epoch_end"); }
  void on_test_epoch_start() override { add("on_test_epoch_start"); }
  void on_test_epoch_end() override { add("on_test_epoch_end"); }
  void on_predict_epoch_start() override { add("on_predict_epoch_start"); }
  void on_predict_epoch_end() override { add("on_predict_epoch_end"); }

  int64_t on_train_batch_start(Batch& b, int64_t i) override {
    add("on_train_batch_start");
    return BoringModule::on_train_batch_start(b, i);
  }
  void on_train_batch_end(const StepOutput&, Batch&, int64_t) override {
    add("on_train_batch_end");
  }
  void on_validation_batch_start(Batch&, int64_t, int64_t) override {
    add("on_validation_batch_start");
  }
  void on_validation_batch_end(const StepOutput&, Batch&, int64_t, int64_t) override {
    add("on_validation_batch_end");
  }
  void on_test_batch_start(Batch&, int64_t, int64_t) override { add("on_test_batch_start"); }
  void on_test_batch_end(const StepOutput&, Batch&, int64_t, int64_t) override {
    add("on_test_batch_end");
  }
  void on_predict_batch_start(Batch&, int64_t, int64_t) override { add("on_predict_batch_start"); }
  void on_predict_batch_end(const c10::IValue&, Batch&, int64_t, int64_t) override {
    add("on_predict_batch_end");
  }

  void on_before_zero_grad(torch::optim::Optimizer&) override { add("on_before_zero_grad"); }
  void on_before_backward(const at::Tensor&) override { add("on_before_backward"); }
  void on_after_backward() override { add("on_after_backward"); }
  void on_before_optimizer_step(torch::optim::Optimizer&) override {
    add("on_before_optimizer_step");
  }

  void on_save_checkpoint(Checkpoint&) override { add("on_save_checkpoint"); }
  void on_load_checkpoint(Checkpoint&) override { add("on_load_checkpoint"); }

 private:
  void add(const std::string& hook) { calls.push_back(hook); }
  LoaderSizes sizes_;
};

}  // namespace lightning::testing
