// lightning/callbacks/lambda_callback.h — a callback made of functions, as
// Lightning's LambdaCallback: one std::function per hook, named as the hook
// (and as Lightning's keyword arguments), with the hook's arguments.
//
//   # Python
//   LambdaCallback(on_train_epoch_end=lambda trainer, pl_module: print(trainer.current_epoch))
//
//   // C++
//   auto cb = std::make_shared<L::LambdaCallback>(L::LambdaCallbackOptions().on_train_epoch_end(
//       [](L::Trainer& trainer, L::LightningModule&) { std::cout << trainer.current_epoch(); }));
//
// Hooks left unset do nothing. Each function is called exactly where the
// Callback hook of the same name is (lightning/callbacks/callback.h).
#pragma once

#include <torch/arg.h>

#include <cstdint>
#include <exception>
#include <functional>
#include <utility>

#include "lightning/callbacks/callback.h"
#include "lightning/export.h"

namespace lightning {

/// One optional function per Callback hook, with Lightning's argument names.
struct LIGHTNING_API LambdaCallbackOptions {
  TORCH_ARG(std::function<void(Trainer&, LightningModule&, Stage)>, setup) = nullptr;
  TORCH_ARG(std::function<void(Trainer&, LightningModule&, Stage)>, teardown) = nullptr;
  TORCH_ARG(std::function<void(Trainer&, LightningModule&)>, on_fit_start) = nullptr;
  TORCH_ARG(std::function<void(Trainer&, LightningModule&)>, on_fit_end) = nullptr;
  TORCH_ARG(std::function<void(Trainer&, LightningModule&)>, on_sanity_check_start) = nullptr;
  TORCH_ARG(std::function<void(Trainer&, LightningModule&)>, on_sanity_check_end) = nullptr;
  TORCH_ARG(std::function<void(Trainer&, LightningModule&, Batch&, int64_t)>,
            on_train_batch_start) = nullptr;
  TORCH_ARG(std::function<void(Trainer&, LightningModule&, const StepOutput&, Batch&, int64_t)>,
            on_train_batch_end) = nullptr;
  TORCH_ARG(std::function<void(Trainer&, LightningModule&)>, on_train_epoch_start) = nullptr;
  TORCH_ARG(std::function<void(Trainer&, LightningModule&)>, on_train_epoch_end) = nullptr;
  TORCH_ARG(std::function<void(Trainer&, LightningModule&)>, on_validation_epoch_start) = nullptr;
  TORCH_ARG(std::function<void(Trainer&, LightningModule&)>, on_validation_epoch_end) = nullptr;
  TORCH_ARG(std::function<void(Trainer&, LightningModule&)>, on_test_epoch_start) = nullptr;
  TORCH_ARG(std::function<void(Trainer&, LightningModule&)>, on_test_epoch_end) = nullptr;
  TORCH_ARG(std::function<void(Trainer&, LightningModule&, Batch&, int64_t, int64_t)>,
            on_validation_batch_start) = nullptr;
  TORCH_ARG(
      std::function<void(Trainer&, LightningModule&, const StepOutput&, Batch&, int64_t, int64_t)>,
      on_validation_batch_end) = nullptr;
  TORCH_ARG(std::function<void(Trainer&, LightningModule&, Batch&, int64_t, int64_t)>,
            on_test_batch_start) = nullptr;
  TORCH_ARG(
      std::function<void(Trainer&, LightningModule&, const StepOutput&, Batch&, int64_t, int64_t)>,
      on_test_batch_end) = nullptr;
  TORCH_ARG(std::function<void(Trainer&, LightningModule&)>, on_train_start) = nullptr;
  TORCH_ARG(std::function<void(Trainer&, LightningModule&)>, on_train_end) = nullptr;
  TORCH_ARG(std::function<void(Trainer&, LightningModule&)>, on_validation_start) = nullptr;
  TORCH_ARG(std::function<void(Trainer&, LightningModule&)>, on_validation_end) = nullptr;
  TORCH_ARG(std::function<void(Trainer&, LightningModule&)>, on_test_start) = nullptr;
  TORCH_ARG(std::function<void(Trainer&, LightningModule&)>, on_test_end) = nullptr;
  TORCH_ARG(std::function<void(Trainer&, LightningModule&, const std::exception&)>,
            on_exception) = nullptr;
  TORCH_ARG(std::function<void(Trainer&, LightningModule&, Checkpoint&)>,
            on_save_checkpoint) = nullptr;
  TORCH_ARG(std::function<void(Trainer&, LightningModule&, Checkpoint&)>,
            on_load_checkpoint) = nullptr;
  TORCH_ARG(std::function<void(Trainer&, LightningModule&, const at::Tensor&)>,
            on_before_backward) = nullptr;
  TORCH_ARG(std::function<void(Trainer&, LightningModule&)>, on_after_backward) = nullptr;
  TORCH_ARG(std::function<void(Trainer&, LightningModule&, torch::optim::Optimizer&)>,
            on_before_optimizer_step) = nullptr;
  TORCH_ARG(std::function<void(Trainer&, LightningModule&, torch::optim::Optimizer&)>,
            on_before_zero_grad) = nullptr;
  TORCH_ARG(std::function<void(Trainer&, LightningModule&)>, on_predict_start) = nullptr;
  TORCH_ARG(std::function<void(Trainer&, LightningModule&)>, on_predict_end) = nullptr;
  TORCH_ARG(std::function<void(Trainer&, LightningModule&, Batch&, int64_t, int64_t)>,
            on_predict_batch_start) = nullptr;
  TORCH_ARG(
      std::function<void(Trainer&, LightningModule&, const c10::IValue&, Batch&, int64_t, int64_t)>,
      on_predict_batch_end) = nullptr;
  TORCH_ARG(std::function<void(Trainer&, LightningModule&)>, on_predict_epoch_start) = nullptr;
  TORCH_ARG(std::function<void(Trainer&, LightningModule&)>, on_predict_epoch_end) = nullptr;
};

/// Calls the functions of its options at their hooks.
class LIGHTNING_API LambdaCallback : public Callback {
 public:
  explicit LambdaCallback(LambdaCallbackOptions options = {}) : options_(std::move(options)) {}
  const LambdaCallbackOptions& options() const { return options_; }

  void setup(Trainer& trainer, LightningModule& pl_module, Stage stage) override;
  void teardown(Trainer& trainer, LightningModule& pl_module, Stage stage) override;
  void on_fit_start(Trainer& trainer, LightningModule& pl_module) override;
  void on_fit_end(Trainer& trainer, LightningModule& pl_module) override;
  void on_sanity_check_start(Trainer& trainer, LightningModule& pl_module) override;
  void on_sanity_check_end(Trainer& trainer, LightningModule& pl_module) override;
  void on_train_batch_start(Trainer& trainer, LightningModule& pl_module, Batch& batch,
                            int64_t batch_idx) override;
  void on_train_batch_end(Trainer& trainer, LightningModule& pl_module, const StepOutput& outputs,
                          Batch& batch, int64_t batch_idx) override;
  void on_train_epoch_start(Trainer& trainer, LightningModule& pl_module) override;
  void on_train_epoch_end(Trainer& trainer, LightningModule& pl_module) override;
  void on_validation_epoch_start(Trainer& trainer, LightningModule& pl_module) override;
  void on_validation_epoch_end(Trainer& trainer, LightningModule& pl_module) override;
  void on_test_epoch_start(Trainer& trainer, LightningModule& pl_module) override;
  void on_test_epoch_end(Trainer& trainer, LightningModule& pl_module) override;
  void on_validation_batch_start(Trainer& trainer, LightningModule& pl_module, Batch& batch,
                                 int64_t batch_idx, int64_t dataloader_idx) override;
  void on_validation_batch_end(Trainer& trainer, LightningModule& pl_module,
                               const StepOutput& outputs, Batch& batch, int64_t batch_idx,
                               int64_t dataloader_idx) override;
  void on_test_batch_start(Trainer& trainer, LightningModule& pl_module, Batch& batch,
                           int64_t batch_idx, int64_t dataloader_idx) override;
  void on_test_batch_end(Trainer& trainer, LightningModule& pl_module, const StepOutput& outputs,
                         Batch& batch, int64_t batch_idx, int64_t dataloader_idx) override;
  void on_train_start(Trainer& trainer, LightningModule& pl_module) override;
  void on_train_end(Trainer& trainer, LightningModule& pl_module) override;
  void on_validation_start(Trainer& trainer, LightningModule& pl_module) override;
  void on_validation_end(Trainer& trainer, LightningModule& pl_module) override;
  void on_test_start(Trainer& trainer, LightningModule& pl_module) override;
  void on_test_end(Trainer& trainer, LightningModule& pl_module) override;
  void on_exception(Trainer& trainer, LightningModule& pl_module,
                    const std::exception& exception) override;
  void on_save_checkpoint(Trainer& trainer, LightningModule& pl_module,
                          Checkpoint& checkpoint) override;
  void on_load_checkpoint(Trainer& trainer, LightningModule& pl_module,
                          Checkpoint& checkpoint) override;
  void on_before_backward(Trainer& trainer, LightningModule& pl_module,
                          const at::Tensor& loss) override;
  void on_after_backward(Trainer& trainer, LightningModule& pl_module) override;
  void on_before_optimizer_step(Trainer& trainer, LightningModule& pl_module,
                                torch::optim::Optimizer& optimizer) override;
  void on_before_zero_grad(Trainer& trainer, LightningModule& pl_module,
                           torch::optim::Optimizer& optimizer) override;
  void on_predict_start(Trainer& trainer, LightningModule& pl_module) override;
  void on_predict_end(Trainer& trainer, LightningModule& pl_module) override;
  void on_predict_batch_start(Trainer& trainer, LightningModule& pl_module, Batch& batch,
                              int64_t batch_idx, int64_t dataloader_idx) override;
  void on_predict_batch_end(Trainer& trainer, LightningModule& pl_module,
                            const c10::IValue& outputs, Batch& batch, int64_t batch_idx,
                            int64_t dataloader_idx) override;
  void on_predict_epoch_start(Trainer& trainer, LightningModule& pl_module) override;
  void on_predict_epoch_end(Trainer& trainer, LightningModule& pl_module) override;

 private:
  LambdaCallbackOptions options_;
};

}  // namespace lightning
