// lightning/callbacks/weight_averaging.h — Lightning's WeightAveraging (an
// AveragedModel updated after optimizer steps and/or epochs) and
// EMAWeightAveraging (an exponential moving average of the weights).
//
//   # trainer = Trainer(callbacks=EMAWeightAveraging(decay=0.999, update_starting_at_step=100))
//   auto ema = std::make_shared<L::EMAWeightAveraging>(
//       L::EMAWeightAveragingOptions().decay(0.999).update_starting_at_step(100));
//   L::Trainer trainer(L::TrainerOptions().callbacks({ema}));
//
//   // class MyAveraging(WeightAveraging): def should_update(self, step_idx=None, epoch_idx=None): ...
//   class EveryEpoch : public L::WeightAveraging {
//     bool should_update(std::optional<int64_t> step_idx,
//                        std::optional<int64_t> epoch_idx) override {
//       return epoch_idx.has_value();
//     }
//   };
//
// Timing (Lightning 2.6): setup(fit) copies the module; after each optimizer
// step (on_train_batch_end, step_idx = global_step - 1) and each training
// epoch (on_train_epoch_end, epoch_idx = current_epoch) `should_update`
// decides whether the module is averaged in; validation runs on the averaged
// weights (swapped in at on_validation_epoch_start, back at
// on_validation_epoch_end); on_train_end copies them into the module.
// Checkpoints hold the averaged weights as "state_dict", the module's own as
// "current_model_state" and {"n_averaged"} as "averaging_state"; resuming
// restores both, and the callback state {"latest_update_step"}.
#pragma once

#include <c10/core/Device.h>
#include <torch/arg.h>

#include <cstdint>
#include <memory>
#include <optional>

#include "lightning/callbacks/callback.h"
#include "lightning/export.h"
#include "lightning/optim/swa_utils.h"

namespace lightning {

/// Options of WeightAveraging: AveragedModel's, with use_buffers true by
/// default (Lightning's).
struct LIGHTNING_API WeightAveragingOptions {
  /// Where the averaged model lives; default: the module's device.
  TORCH_ARG(std::optional<c10::Device>, device) = std::nullopt;
  /// Average the buffers too (batch-norm statistics). Default true.
  TORCH_ARG(bool, use_buffers) = true;
  /// At most one; neither: equal weights (SWA).
  TORCH_ARG(AvgFn, avg_fn) = nullptr;
  TORCH_ARG(MultiAvgFn, multi_avg_fn) = nullptr;
};

class LIGHTNING_API WeightAveraging : public Callback {
 public:
  explicit WeightAveraging(WeightAveragingOptions options = {});
  ~WeightAveraging() override;

  /// Called after every optimizer step (step_idx set, 0-based) and every
  /// training epoch (epoch_idx set): whether to average the module in now.
  /// Default: after every step.
  virtual bool should_update(std::optional<int64_t> step_idx, std::optional<int64_t> epoch_idx);

  void setup(Trainer& trainer, LightningModule& module, Stage stage) override;
  void on_train_batch_end(Trainer& trainer, LightningModule& module, const StepOutput& outputs,
                          Batch& batch, int64_t batch_idx) override;
  void on_train_epoch_end(Trainer& trainer, LightningModule& module) override;
  void on_train_end(Trainer& trainer, LightningModule& module) override;
  void on_validation_epoch_start(Trainer& trainer, LightningModule& module) override;
  void on_validation_epoch_end(Trainer& trainer, LightningModule& module) override;
  /// {"latest_update_step"}.
  StateDict state_dict() const override;
  void load_state_dict(const StateDict& state) override;
  void on_save_checkpoint(Trainer& trainer, LightningModule& module,
                          Checkpoint& checkpoint) override;
  void on_load_checkpoint(Trainer& trainer, LightningModule& module,
                          Checkpoint& checkpoint) override;

  /// The averaged model (nullptr before fit's setup).
  const AveragedModel* average_model() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Options of EMAWeightAveraging, with Lightning's names and defaults.
struct LIGHTNING_API EMAWeightAveragingOptions {
  TORCH_ARG(std::optional<c10::Device>, device) = std::nullopt;
  TORCH_ARG(bool, use_buffers) = true;
  /// ema = decay * ema + (1 - decay) * weights. In [0, 1]. Default 0.999.
  TORCH_ARG(double, decay) = 0.999;
  /// Update at steps whose 0-based index is a multiple of this (<= 0: never
  /// by step). Default 1.
  TORCH_ARG(int64_t, update_every_n_steps) = 1;
  /// Step updates only from this 0-based step on. Default none.
  TORCH_ARG(std::optional<int64_t>, update_starting_at_step) = std::nullopt;
  /// Also update after each epoch from this 0-based epoch on. Default none.
  TORCH_ARG(std::optional<int64_t>, update_starting_at_epoch) = std::nullopt;
};

class LIGHTNING_API EMAWeightAveraging : public WeightAveraging {
 public:
  /// `lightning::Error` when decay is outside [0, 1].
  explicit EMAWeightAveraging(EMAWeightAveragingOptions options = {});
  bool should_update(std::optional<int64_t> step_idx, std::optional<int64_t> epoch_idx) override;
  const EMAWeightAveragingOptions& options() const { return options_; }

 private:
  EMAWeightAveragingOptions options_;
};

}  // namespace lightning
