// lightning/callbacks/early_stopping.h — stops fit when a monitored metric
// stops improving, as Lightning's EarlyStopping.
//
//   auto early = std::make_shared<L::EarlyStopping>(
//       L::EarlyStoppingOptions("val_loss").patience(3).min_delta(0.001));
//   L::Trainer trainer(L::TrainerOptions().callbacks({early}));
//
// Checks at the end of the training epoch (after that epoch's validation) or,
// when validation runs several times per epoch or not every epoch, at the end
// of validation (`check_on_train_epoch_end` decides, as Lightning); asks the
// Trainer to stop (`trainer.set_should_stop(true)`; the Trainer honours
// min_epochs/min_steps) and records why in `stopping_reason_message()`.
#pragma once

#include <torch/arg.h>

#include <optional>
#include <string>
#include <utility>

#include "lightning/callbacks/callback.h"
#include "lightning/export.h"

namespace lightning {

struct LIGHTNING_API EarlyStoppingOptions {
  explicit EarlyStoppingOptions(std::string monitor) : monitor_(std::move(monitor)) {}
  TORCH_ARG(std::string, monitor);
  /// An improvement smaller than this does not count. Default 0.
  TORCH_ARG(double, min_delta) = 0.0;
  /// Checks without improvement before stopping. Default 3.
  TORCH_ARG(int64_t, patience) = 3;
  TORCH_ARG(bool, verbose) = false;
  /// "min" or "max".
  TORCH_ARG(std::string, mode) = "min";
  /// A missing monitor is an error listing the metrics (true), or skips the
  /// check (false; with a warning when verbose, as Lightning).
  TORCH_ARG(bool, strict) = true;
  /// Stop when the monitored value is NaN or infinite. Default true.
  TORCH_ARG(bool, check_finite) = true;
  /// Stop as soon as the value is better than this.
  TORCH_ARG(std::optional<double>, stopping_threshold) = std::nullopt;
  /// Stop as soon as the value is worse than this.
  TORCH_ARG(std::optional<double>, divergence_threshold) = std::nullopt;
  /// Check at the end of the training epoch (true) or at validation end
  /// (false). Unset, as Lightning: at the training epoch end when
  /// val_check_interval == 1.0 and check_val_every_n_epoch == 1, else at
  /// validation end. Decided at the first setup.
  TORCH_ARG(std::optional<bool>, check_on_train_epoch_end) = std::nullopt;
};

class LIGHTNING_API EarlyStopping : public Callback {
 public:
  /// `lightning::Error` on an unknown mode or negative patience.
  explicit EarlyStopping(EarlyStoppingOptions options);

  /// "EarlyStopping{'monitor': 'val_loss', 'mode': 'min'}", as Lightning.
  std::string state_key() const override;
  bool is_monitoring_callback() const override { return true; }

  void setup(Trainer& trainer, LightningModule& module, Stage stage) override;
  void on_train_epoch_end(Trainer& trainer, LightningModule& module) override;
  void on_validation_end(Trainer& trainer, LightningModule& module) override;

  /// {"wait_count", "stopped_epoch", "best_score", "patience"}, as Lightning.
  StateDict state_dict() const override;
  void load_state_dict(const StateDict& state) override;

  int64_t wait_count() const { return wait_count_; }
  int64_t stopped_epoch() const { return stopped_epoch_; }
  /// +inf (min) / -inf (max) until the first check.
  double best_score() const;
  /// Why it stopped (Lightning's messages), empty while it has not.
  const std::string& stopping_reason_message() const { return reason_; }
  const EarlyStoppingOptions& options() const { return options_; }

 private:
  bool should_skip_check(const Trainer& trainer) const;
  void run_early_stopping_check(Trainer& trainer);
  /// Lightning's _evaluate_stopping_criteria: (should_stop, reason).
  std::pair<bool, std::string> evaluate_stopping_criteria(const at::Tensor& current);

  EarlyStoppingOptions options_;
  double min_delta_ = 0;  // signed as Lightning: negative in "min" mode
  int64_t wait_count_ = 0;
  int64_t stopped_epoch_ = 0;
  at::Tensor best_score_;  // a 0-dim tensor, as Lightning (compared in the metric's dtype)
  std::string reason_;
  std::optional<bool> check_on_train_epoch_end_;
};

}  // namespace lightning
