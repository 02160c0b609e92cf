// lightning/optim/cyclic_lr.h — PyTorch's CyclicLR (stepped every batch).
//
//   L::CyclicLR sched(opt, L::CyclicLROptions(/*base_lr=*/0.001, /*max_lr=*/0.1)
//                              .step_size_up(2000).mode("triangular2"));
//
// With cycle_momentum (default on) it cycles SGD/RMSprop momentum, and — as
// PyTorch 2.x does, and 1.13 refuses — Adam/AdamW beta1.
#pragma once

#include <torch/arg.h>

#include <functional>

#include "lightning/export.h"
#include "lightning/optim/lr_scheduler.h"

namespace lightning {

struct LIGHTNING_API CyclicLROptions {
  CyclicLROptions(std::vector<double> base_lr, std::vector<double> max_lr)
      : base_lr_(std::move(base_lr)), max_lr_(std::move(max_lr)) {}
  CyclicLROptions(double base_lr, double max_lr) : base_lr_({base_lr}), max_lr_({max_lr}) {}
  /// One value, or one per parameter group.
  TORCH_ARG(std::vector<double>, base_lr);
  TORCH_ARG(std::vector<double>, max_lr);
  TORCH_ARG(int64_t, step_size_up) = 2000;
  /// Unset: equal to step_size_up.
  TORCH_ARG(std::optional<int64_t>, step_size_down) = std::nullopt;
  /// "triangular", "triangular2" or "exp_range"; ignored when scale_fn is set.
  TORCH_ARG(std::string, mode) = "triangular";
  TORCH_ARG(double, gamma) = 1.0;
  /// A custom scale policy; with it, scale_mode says what x is.
  TORCH_ARG(std::function<double(double)>, scale_fn) = nullptr;
  /// "cycle" or "iterations".
  TORCH_ARG(std::string, scale_mode) = "cycle";
  TORCH_ARG(bool, cycle_momentum) = true;
  TORCH_ARG(std::vector<double>, base_momentum) = std::vector<double>{0.8};
  TORCH_ARG(std::vector<double>, max_momentum) = std::vector<double>{0.9};
  TORCH_ARG(int64_t, last_epoch) = -1;
};

/// Cycles the learning rate (and momentum, inversely) between two bounds.
class LIGHTNING_API CyclicLR : public LRScheduler {
 public:
  /// `lightning::Error` on an unknown mode/scale_mode, on list sizes that do
  /// not match the groups, on step_size_up < 1 or step_size_down < 0, and with
  /// cycle_momentum on an optimizer without momentum or beta1 (Adagrad, ...).
  /// With last_epoch != -1 the base momentums are read from the groups, as in
  /// PyTorch 1.13.
  CyclicLR(std::shared_ptr<torch::optim::Optimizer> optimizer, CyclicLROptions options);
  std::string name() const override { return "CyclicLR"; }
  /// PyTorch's attributes ("max_lrs", "total_size", "step_ratio", "mode",
  /// "gamma", "scale_mode", "cycle_momentum", "base_momentums",
  /// "max_momentums", ...). The scale function, a Python callable there, is
  /// stored by name: "_scale_fn_ref" is "triangular", "triangular2" or
  /// "exp_range" (None with a custom scale_fn), "_scale_fn_custom" is the
  /// string "custom" (None without one).
  SchedulerState state_dict() const override;
  /// Restores `state_dict()` output and writes the restored step's rates and
  /// momentums into the groups. A state saved with a custom scale_fn needs
  /// this scheduler built with that scale_fn (functions are not saved).
  void load_state_dict(const SchedulerState& state) override;

 protected:
  std::vector<double> get_lr() override;

 private:
  // Checks the options and, when last_epoch == -1, writes base_lr (and
  // base_momentum) into the groups before the base records initial_lr, as
  // PyTorch does before _LRScheduler.__init__. Returns `optimizer`.
  static std::shared_ptr<torch::optim::Optimizer> prepare(
      const std::shared_ptr<torch::optim::Optimizer>& optimizer, const CyclicLROptions& options);
  double scale(double x) const;
  // The rates for last_epoch_, and the momentums when `momentums` is given.
  std::vector<double> compute(std::vector<double>* momentums) const;

  CyclicLROptions options_;
  std::vector<double> max_lrs_;
  std::vector<double> base_momentums_;
  std::vector<double> max_momentums_;
  double total_size_ = 0;
  double step_ratio_ = 0;
  // The built-in policy in use ("triangular", "triangular2", "exp_range"), or
  // empty for options_.scale_fn().
  std::string scale_fn_ref_;
};

}  // namespace lightning
