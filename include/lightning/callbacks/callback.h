// lightning/callbacks/callback.h — the Callback base class: every hook a no-op.
//
//   class PrintEpochs : public L::Callback {
//    public:
//     void on_train_epoch_end(L::Trainer& trainer, L::LightningModule& module) override {
//       std::cout << "epoch " << trainer.current_epoch() << " done\n";
//     }
//   };
//   L::Trainer trainer(L::TrainerOptions().callbacks({std::make_shared<PrintEpochs>()}));
//
// Dispatch order, at every hook: the callbacks in list order, then the module.
// Lightning's documented exceptions:
//
//   | hook                  | order                                               |
//   |-----------------------|-----------------------------------------------------|
//   | on_train_epoch_end    | callbacks, module, then checkpoint/early-stopping   |
//   |                       | callbacks (`is_monitoring_callback() == true`)      |
//   | callback list         | callbacks from `configure_callbacks()` replace      |
//   |                       | Trainer callbacks of the same type; checkpoint      |
//   |                       | callbacks are moved to the end of the list          |
//   | on_sanity_check_*     | callbacks only (modules have no such hook)          |
//   | on_exception          | callbacks only                                      |
//
// A callback is shared (std::shared_ptr); the Trainer keeps it for its lifetime.
#pragma once

#include <ATen/ATen.h>
#include <ATen/core/ivalue.h>

#include <cstdint>
#include <exception>
#include <iosfwd>
#include <string>

#include "lightning/data/batch.h"
#include "lightning/data/step_output.h"
#include "lightning/export.h"
#include "lightning/stage.h"
#include "lightning/state_dict.h"

namespace torch::optim {
class Optimizer;
}

namespace lightning {

class Trainer;
class LightningModule;
class Checkpoint;

/// An output stream pointer for TORCH_ARG options (the macro cannot spell `T*` const-correctly).
using OStreamPtr = std::ostream*;

/// Base class of callbacks: override the hooks you need.
class LIGHTNING_API Callback {
 public:
  virtual ~Callback() = default;

  /// Identifies this callback's state in checkpoints (the key under
  /// checkpoint["callbacks"]). Default: the class name. Callbacks whose
  /// options matter (ModelCheckpoint, EarlyStopping) add them, as Lightning.
  virtual std::string state_key() const;
  /// State saved in checkpoints under `state_key()`. Default: empty (not saved).
  virtual StateDict state_dict() const { return make_state_dict(); }
  /// Restores `state_dict()` output when a fit resumes from a checkpoint.
  virtual void load_state_dict(const StateDict& /*state*/) {}
  /// True for callbacks that act on monitored metrics at epoch end
  /// (ModelCheckpoint, EarlyStopping): they run after the module's
  /// `on_train_epoch_end`. Default false.
  virtual bool is_monitoring_callback() const { return false; }

  virtual void setup(Trainer& /*trainer*/, LightningModule& /*module*/, Stage /*stage*/) {}
  virtual void teardown(Trainer& /*trainer*/, LightningModule& /*module*/, Stage /*stage*/) {}

  virtual void on_fit_start(Trainer& /*trainer*/, LightningModule& /*module*/) {}
  virtual void on_fit_end(Trainer& /*trainer*/, LightningModule& /*module*/) {}
  virtual void on_sanity_check_start(Trainer& /*trainer*/, LightningModule& /*module*/) {}
  virtual void on_sanity_check_end(Trainer& /*trainer*/, LightningModule& /*module*/) {}

  virtual void on_train_start(Trainer& /*trainer*/, LightningModule& /*module*/) {}
  virtual void on_train_end(Trainer& /*trainer*/, LightningModule& /*module*/) {}
  virtual void on_train_epoch_start(Trainer& /*trainer*/, LightningModule& /*module*/) {}
  virtual void on_train_epoch_end(Trainer& /*trainer*/, LightningModule& /*module*/) {}
  virtual void on_train_batch_start(Trainer& /*trainer*/, LightningModule& /*module*/,
                                    Batch& /*batch*/, int64_t /*batch_idx*/) {}
  virtual void on_train_batch_end(Trainer& /*trainer*/, LightningModule& /*module*/,
                                  const StepOutput& /*outputs*/, Batch& /*batch*/,
                                  int64_t /*batch_idx*/) {}

  virtual void on_validation_start(Trainer& /*trainer*/, LightningModule& /*module*/) {}
  virtual void on_validation_end(Trainer& /*trainer*/, LightningModule& /*module*/) {}
  virtual void on_validation_epoch_start(Trainer& /*trainer*/, LightningModule& /*module*/) {}
  virtual void on_validation_epoch_end(Trainer& /*trainer*/, LightningModule& /*module*/) {}
  virtual void on_validation_batch_start(Trainer& /*trainer*/, LightningModule& /*module*/,
                                         Batch& /*batch*/, int64_t /*batch_idx*/,
                                         int64_t /*dataloader_idx*/) {}
  virtual void on_validation_batch_end(Trainer& /*trainer*/, LightningModule& /*module*/,
                                       const StepOutput& /*outputs*/, Batch& /*batch*/,
                                       int64_t /*batch_idx*/, int64_t /*dataloader_idx*/) {}

  virtual void on_test_start(Trainer& /*trainer*/, LightningModule& /*module*/) {}
  virtual void on_test_end(Trainer& /*trainer*/, LightningModule& /*module*/) {}
  virtual void on_test_epoch_start(Trainer& /*trainer*/, LightningModule& /*module*/) {}
  virtual void on_test_epoch_end(Trainer& /*trainer*/, LightningModule& /*module*/) {}
  virtual void on_test_batch_start(Trainer& /*trainer*/, LightningModule& /*module*/,
                                   Batch& /*batch*/, int64_t /*batch_idx*/,
                                   int64_t /*dataloader_idx*/) {}
  virtual void on_test_batch_end(Trainer& /*trainer*/, LightningModule& /*module*/,
                                 const StepOutput& /*outputs*/, Batch& /*batch*/,
                                 int64_t /*batch_idx*/, int64_t /*dataloader_idx*/) {}

  virtual void on_predict_start(Trainer& /*trainer*/, LightningModule& /*module*/) {}
  virtual void on_predict_end(Trainer& /*trainer*/, LightningModule& /*module*/) {}
  virtual void on_predict_epoch_start(Trainer& /*trainer*/, LightningModule& /*module*/) {}
  virtual void on_predict_epoch_end(Trainer& /*trainer*/, LightningModule& /*module*/) {}
  virtual void on_predict_batch_start(Trainer& /*trainer*/, LightningModule& /*module*/,
                                      Batch& /*batch*/, int64_t /*batch_idx*/,
                                      int64_t /*dataloader_idx*/) {}
  virtual void on_predict_batch_end(Trainer& /*trainer*/, LightningModule& /*module*/,
                                    const c10::IValue& /*outputs*/, Batch& /*batch*/,
                                    int64_t /*batch_idx*/, int64_t /*dataloader_idx*/) {}

  virtual void on_before_backward(Trainer& /*trainer*/, LightningModule& /*module*/,
                                  const at::Tensor& /*loss*/) {}
  virtual void on_after_backward(Trainer& /*trainer*/, LightningModule& /*module*/) {}
  virtual void on_before_optimizer_step(Trainer& /*trainer*/, LightningModule& /*module*/,
                                        torch::optim::Optimizer& /*optimizer*/) {}
  virtual void on_before_zero_grad(Trainer& /*trainer*/, LightningModule& /*module*/,
                                   torch::optim::Optimizer& /*optimizer*/) {}

  /// Called when any Trainer entry point raises; the exception is re-thrown after.
  virtual void on_exception(Trainer& /*trainer*/, LightningModule& /*module*/,
                            const std::exception& /*error*/) {}
  virtual void on_save_checkpoint(Trainer& /*trainer*/, LightningModule& /*module*/,
                                  Checkpoint& /*checkpoint*/) {}
  virtual void on_load_checkpoint(Trainer& /*trainer*/, LightningModule& /*module*/,
                                  Checkpoint& /*checkpoint*/) {}
};

}  // namespace lightning
