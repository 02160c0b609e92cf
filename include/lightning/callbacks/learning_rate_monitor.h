// lightning/callbacks/learning_rate_monitor.h — logs the learning rate (and
// optionally momentum and weight decay) of every optimizer, as Lightning's
// LearningRateMonitor.
//
//   auto lr_monitor = std::make_shared<L::LearningRateMonitor>(
//       L::LearningRateMonitorOptions().logging_interval("step").log_momentum(true));
//   L::Trainer trainer(L::TrainerOptions().callbacks({lr_monitor}));
//   // loggers receive "lr-Adam" (and "lr-Adam-momentum" = beta1) every
//   // log_every_n_steps steps; "lr-SGD/pg1", "lr-SGD/pg2" with two param groups.
//
// Keys follow Lightning: "lr-<Optimizer>" (or the scheduler's
// SchedulerConfig().name), "/pg<N>" per parameter group when
// there are several, "-<N>" for a second optimizer of the same type,
// "-momentum" (SGD/RMSprop momentum, Adam/AdamW beta1) and "-weight_decay".
// With logging_interval unset, a step-interval scheduler's rate is logged at
// steps and an epoch-interval one's at epoch starts; optimizers without a
// scheduler at both. Rows go straight to the Trainer's loggers (with "epoch",
// like every row here) and the values into callback_metrics; a Trainer
// without loggers is an error at train start.
#pragma once

#include <torch/arg.h>

#include <optional>
#include <string>
#include <vector>

#include "lightning/callbacks/callback.h"
#include "lightning/export.h"
#include "lightning/logging.h"

namespace lightning {

/// Options of LearningRateMonitor, with Lightning's names and defaults.
struct LIGHTNING_API LearningRateMonitorOptions {
  /// "step", "epoch", or unset (step for step-interval schedulers and plain
  /// optimizers, epoch for epoch-interval schedulers). Default unset.
  TORCH_ARG(std::optional<std::string>, logging_interval) = std::nullopt;
  /// Also log momentum (beta1 for Adam-like optimizers). Default false.
  TORCH_ARG(bool, log_momentum) = false;
  /// Also log weight decay. Default false.
  TORCH_ARG(bool, log_weight_decay) = false;
};

/// Logs optimizer hyperparameters as they change during training.
class LIGHTNING_API LearningRateMonitor : public Callback {
 public:
  /// `lightning::Error` when logging_interval is not "step" or "epoch".
  explicit LearningRateMonitor(LearningRateMonitorOptions options = {});

  void on_train_start(Trainer& trainer, LightningModule& module) override;
  void on_train_batch_start(Trainer& trainer, LightningModule& module, Batch& batch,
                            int64_t batch_idx) override;
  void on_train_epoch_start(Trainer& trainer, LightningModule& module) override;

  /// The current values for `trainer`'s optimizers, under Lightning's keys.
  Metrics current_stats(const Trainer& trainer) const;
  /// Those of schedulers with this interval ("step", "epoch"; "any" for all)
  /// and of every optimizer without a scheduler.
  Metrics stats_for(const Trainer& trainer, const std::string& interval) const;
  const LearningRateMonitorOptions& options() const { return options_; }

 private:
  void log_stats(Trainer& trainer, const std::string& interval);

  LearningRateMonitorOptions options_;
};

}  // namespace lightning
