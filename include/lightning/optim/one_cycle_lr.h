// lightning/optim/one_cycle_lr.h — PyTorch's OneCycleLR (stepped every batch).
//
//   L::OneCycleLR sched(opt, L::OneCycleLROptions(/*max_lr=*/0.01)
//                                .total_steps(trainer().estimated_stepping_batches()));
//
// With cycle_momentum (default on) it cycles SGD/RMSprop momentum or Adam/AdamW
// beta1 between max_momentum and base_momentum, inversely to the rate.
#pragma once

#include <torch/arg.h>

#include <map>

#include "lightning/export.h"
#include "lightning/optim/lr_scheduler.h"

namespace lightning {

struct LIGHTNING_API OneCycleLROptions {
  explicit OneCycleLROptions(std::vector<double> max_lr) : max_lr_(std::move(max_lr)) {}
  explicit OneCycleLROptions(double max_lr) : max_lr_({max_lr}) {}
  /// One value, or one per parameter group.
  TORCH_ARG(std::vector<double>, max_lr);
  /// Either total_steps, or epochs and steps_per_epoch.
  TORCH_ARG(std::optional<int64_t>, total_steps) = std::nullopt;
  TORCH_ARG(std::optional<int64_t>, epochs) = std::nullopt;
  TORCH_ARG(std::optional<int64_t>, steps_per_epoch) = std::nullopt;
  TORCH_ARG(double, pct_start) = 0.3;
  /// "cos" or "linear".
  TORCH_ARG(std::string, anneal_strategy) = "cos";
  TORCH_ARG(bool, cycle_momentum) = true;
  TORCH_ARG(std::vector<double>, base_momentum) = std::vector<double>{0.85};
  TORCH_ARG(std::vector<double>, max_momentum) = std::vector<double>{0.95};
  TORCH_ARG(double, div_factor) = 25.0;
  TORCH_ARG(double, final_div_factor) = 1e4;
  TORCH_ARG(bool, three_phase) = false;
  TORCH_ARG(int64_t, last_epoch) = -1;
};

/// The 1cycle policy: warm up to max_lr, then anneal far below the start.
class LIGHTNING_API OneCycleLR : public LRScheduler {
 public:
  /// `lightning::Error` with PyTorch's checks (total_steps or epochs and
  /// steps_per_epoch positive, pct_start in [0, 1], anneal_strategy known,
  /// momentum available when cycled), and when stepped past total_steps.
  /// As in PyTorch 1.13, the step to last_epoch == total_steps is still
  /// allowed (its rate lies past min_lr's phase end); the next one raises
  /// "Tried to step total_steps + 2 times. The specified number of total
  /// steps is total_steps". A pct_start with pct_start * total_steps == 1
  /// makes an empty phase: `lightning::Error` where PyTorch divides by zero.
  OneCycleLR(std::shared_ptr<torch::optim::Optimizer> optimizer, OneCycleLROptions options);
  std::string name() const override { return "OneCycleLR"; }
  int64_t total_steps() const { return total_steps_; }
  /// PyTorch's attributes: "total_steps", "_schedule_phases" (a list of dicts:
  /// "end_step" a number, the other values strings naming group values),
  /// "anneal_func" (a bound method in PyTorch 1.13, here its name: "cos" or
  /// "linear"; PyTorch 2.x keeps the name in "_anneal_func_type", which
  /// load_state_dict reads too), "cycle_momentum", "use_beta1" (with cycle_momentum), and the
  /// base's keys. The group values PyTorch keeps in param_groups (max_lr,
  /// min_lr, momentum bounds) come from this scheduler's options.
  SchedulerState state_dict() const override;
  /// Restores `state_dict()` output and writes the restored step's rates and
  /// momentums into the groups.
  void load_state_dict(const SchedulerState& state) override;

 protected:
  std::vector<double> get_lr() override;

 private:
  // Checks the options and, when last_epoch == -1, records max_lr / div_factor
  // as the groups' initial_lr (and sets max_momentum) before the base reads
  // it, as PyTorch does before _LRScheduler.__init__. Returns `optimizer`.
  static std::shared_ptr<torch::optim::Optimizer> prepare(
      const std::shared_ptr<torch::optim::Optimizer>& optimizer, const OneCycleLROptions& options);
  // The rates for `step_num`, and the momentums when `momentums` is given.
  std::vector<double> compute(int64_t step_num, std::vector<double>* momentums) const;
  void fill_momentum_bounds();

  struct Phase {
    double end_step;
    std::string start_lr, end_lr, start_momentum, end_momentum;
  };
  OneCycleLROptions options_;
  int64_t total_steps_ = 0;
  std::vector<Phase> phases_;
  // Per group: initial_lr, max_lr, min_lr, base_momentum, max_momentum.
  std::vector<std::map<std::string, double>> group_values_;
};

}  // namespace lightning
