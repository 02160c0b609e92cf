// lightning/optim/reduce_lr_on_plateau.h — PyTorch's ReduceLROnPlateau.
//
//   auto plateau =
//       std::make_shared<L::ReduceLROnPlateau>(opt, L::ReduceLROnPlateauOptions().mode("min"));
//   return L::OptimizerConfig(opt).lr_scheduler(plateau,
//                                               L::SchedulerConfig().monitor("val_loss"));
//
// The Trainer steps it with the monitored metric (`SchedulerConfig::monitor`
// is required for it); by hand, call `step(metric)`.
#pragma once

#include <torch/arg.h>

#include "lightning/export.h"
#include "lightning/optim/lr_scheduler.h"

namespace lightning {

struct LIGHTNING_API ReduceLROnPlateauOptions {
  /// "min" or "max".
  TORCH_ARG(std::string, mode) = "min";
  /// New lr = lr * factor; must be < 1.
  TORCH_ARG(double, factor) = 0.1;
  TORCH_ARG(int64_t, patience) = 10;
  TORCH_ARG(double, threshold) = 1e-4;
  /// "rel" or "abs".
  TORCH_ARG(std::string, threshold_mode) = "rel";
  TORCH_ARG(int64_t, cooldown) = 0;
  /// One value, or one per parameter group.
  TORCH_ARG(std::vector<double>, min_lr) = std::vector<double>{0.0};
  TORCH_ARG(double, eps) = 1e-8;
  TORCH_ARG(bool, verbose) = false;
};

/// Reduces the learning rate when a metric has stopped improving.
class LIGHTNING_API ReduceLROnPlateau : public LRScheduler {
 public:
  /// `lightning::Error` on an unknown mode/threshold_mode, factor >= 1, or a
  /// min_lr list whose size is not 1 or the number of groups. Leaves the
  /// rates alone; last_epoch starts at 0 (as PyTorch's), get_last_lr() and
  /// base_lrs() are the groups' current rates, and no initial_lr is recorded.
  ReduceLROnPlateau(std::shared_ptr<torch::optim::Optimizer> optimizer,
                    ReduceLROnPlateauOptions options = {});
  std::string name() const override { return "ReduceLROnPlateau"; }
  bool reduce_on_plateau() const override { return true; }
  /// `lightning::Error`: this scheduler needs the metric.
  void step() override;
  /// PyTorch's step(metrics): one epoch with the monitored value; get_last_lr()
  /// is then the groups' rates.
  void step(double metric) override;
  /// Best value seen, epochs without improvement, cooldown left.
  double best() const { return best_; }
  int64_t num_bad_epochs() const { return num_bad_epochs_; }
  int64_t cooldown_counter() const { return cooldown_counter_; }
  /// PyTorch's keys ("factor", "min_lrs", "patience", "verbose", "cooldown",
  /// "cooldown_counter", "mode", "threshold", "threshold_mode", "best",
  /// "num_bad_epochs", "mode_worse", "eps", "last_epoch", "_last_lr"), then
  /// the base's other keys ("base_lrs", "_step_count", ...).
  SchedulerState state_dict() const override;
  /// Needs PyTorch's keys (the base's are optional, so a state converted from
  /// PyTorch loads); writes "_last_lr" into the groups when present.
  void load_state_dict(const SchedulerState& state) override;

 protected:
  std::vector<double> get_lr() override { return group_lrs(); }

 private:
  bool is_better(double a, double best) const;
  void reduce_lr(int64_t epoch);

  ReduceLROnPlateauOptions options_;
  std::vector<double> min_lrs_;
  double best_ = 0;
  int64_t num_bad_epochs_ = 0;
  int64_t cooldown_counter_ = 0;
  double mode_worse_ = 0;
};

}  // namespace lightning
