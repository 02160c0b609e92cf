// lightning/optim/lr_scheduler.h — the base of the learning-rate schedulers,
// a C++ twin of PyTorch 1.13's `torch.optim.lr_scheduler._LRScheduler`.
//
//   auto opt = std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.1));
//   auto sched = std::make_shared<L::StepLR>(opt, L::StepLROptions(/*step_size=*/30));
//   for (int epoch = 0; epoch < 100; ++epoch) { train(...); sched->step(); }
//
// Every scheduler here produces the same learning rates as its PyTorch 1.13
// namesake, value for value (tests/optim/lr_scheduler_reference.py makes the
// reference tables). As in PyTorch, constructing a scheduler performs its
// first step (last_epoch becomes 0) and writes the epoch-0 learning rate into
// the optimizer; `step()` then advances one epoch (or one batch, when the
// Trainer steps it with interval "step").
//
// libtorch's parameter groups have no "initial_lr" entry, so the first
// scheduler built on an optimizer records each group's learning rate as its
// initial_lr in a side table keyed by the optimizer; later schedulers on the
// same optimizer (SequentialLR, ChainedScheduler) read it back, as PyTorch's
// `param_group.setdefault("initial_lr", ...)` does.
#pragma once

#include <torch/optim/optimizer.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lightning/export.h"
#include "lightning/state_dict.h"

namespace lightning {

/// A scheduler's state, with PyTorch's keys ("last_epoch", "base_lrs",
/// "_last_lr", "_step_count", plus each scheduler's own attributes).
using SchedulerState = StateDict;

/// Base of all learning-rate schedulers.
class LIGHTNING_API LRScheduler {
 public:
  virtual ~LRScheduler();
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  /// PyTorch's class name: "StepLR", "OneCycleLR", "ReduceLROnPlateau", ...
  virtual std::string name() const = 0;

  /// Advances one epoch (or batch) and writes the new learning rates into the
  /// optimizer. ReduceLROnPlateau needs `step(metric)` instead.
  virtual void step();
  /// ReduceLROnPlateau only: one epoch with the monitored value. Any other
  /// scheduler raises `lightning::Error`.
  virtual void step(double metric);
  /// PyTorch's deprecated `step(epoch)`: jumps to `epoch`, using the closed
  /// form where the scheduler has one (SequentialLR uses this at milestones).
  virtual void step_to_epoch(int64_t epoch);

  /// True for ReduceLROnPlateau: the Trainer steps it with a monitored metric.
  virtual bool reduce_on_plateau() const { return false; }

  /// The learning rate of each parameter group after the last step.
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  /// Steps taken since epoch 0 (PyTorch's `last_epoch`).
  int64_t last_epoch() const { return last_epoch_; }
  /// Each group's initial learning rate.
  const std::vector<double>& base_lrs() const { return base_lrs_; }

  torch::optim::Optimizer& optimizer() const { return *optimizer_; }
  const std::shared_ptr<torch::optim::Optimizer>& optimizer_ptr() const { return optimizer_; }

  /// PyTorch's state_dict: every attribute but the optimizer.
  virtual SchedulerState state_dict() const;
  /// Restores `state_dict()` output (from this process or a checkpoint), and
  /// writes the saved learning rates into the optimizer's groups (PyTorch
  /// leaves that to optimizer.load_state_dict; doing both is harmless).
  /// `lightning::Error` when a key this scheduler needs is missing or has the
  /// wrong type, naming the key.
  virtual void load_state_dict(const SchedulerState& state);

 protected:
  /// Records initial_lr (or reads it when `last_epoch != -1`; a missing one is
  /// an error, as in PyTorch) and base_lrs. Does not step: subclasses call
  /// `initial_step()` at the end of their constructor.
  /// `lightning::Error` on a null optimizer.
  LRScheduler(std::shared_ptr<torch::optim::Optimizer> optimizer, int64_t last_epoch);
  /// For schedulers without their own optimizer bookkeeping (ChainedScheduler):
  /// no initial_lr handling.
  struct NoInit {};
  LRScheduler(std::shared_ptr<torch::optim::Optimizer> optimizer, NoInit);

  /// PyTorch's `_initial_step`: step count 0, then `step()`.
  void initial_step();

  /// The chainable formula: learning rates for `last_epoch_` (already
  /// advanced), usually computed from the groups' current learning rates.
  virtual std::vector<double> get_lr() = 0;
  /// The closed form for `step_to_epoch`; nullopt when the scheduler has none
  /// (then `get_lr()` is used, as PyTorch does).
  virtual std::optional<std::vector<double>> closed_form_lr() { return std::nullopt; }

  /// The groups' learning rates now.
  std::vector<double> group_lrs() const;
  /// Writes one learning rate per group. `lightning::Error` on a size mismatch.
  void set_group_lrs(const std::vector<double>& lrs);
  /// Writes one momentum (SGD/RMSprop momentum, Adam/AdamW beta1) per group.
  /// `lightning::Error` on a size mismatch or an optimizer without momentum.
  void set_group_momentums(const std::vector<double>& momentums);
  /// Writes `lrs` into the groups and records them as `get_last_lr()`.
  void apply_lrs(const std::vector<double>& lrs);
  /// Number of parameter groups.
  size_t num_groups() const { return optimizer_->param_groups().size(); }
  /// One value per group from a list of 1 (broadcast) or num_groups() values;
  /// `lightning::Error` naming `what` otherwise.
  std::vector<double> per_group(const std::vector<double>& values, const std::string& what) const;

  std::shared_ptr<torch::optim::Optimizer> optimizer_;
  std::vector<double> base_lrs_;
  std::vector<double> last_lr_;
  int64_t last_epoch_ = -1;
  int64_t step_count_ = 0;

  friend class SequentialLR;
  friend class ChainedScheduler;
};

namespace detail {
/// The initial_lr side table (see the file comment): the recorded values for
/// `optimizer`, or nullopt when no scheduler recorded them yet.
LIGHTNING_API std::optional<std::vector<double>> initial_lrs(
    const torch::optim::Optimizer& optimizer);
LIGHTNING_API void set_initial_lrs(const std::shared_ptr<torch::optim::Optimizer>& optimizer,
                                   std::vector<double> lrs);
}  // namespace detail

}  // namespace lightning
