// lightning/optim/sequential_lr.h — PyTorch's SequentialLR and ChainedScheduler.
//
//   auto warmup = std::make_shared<L::LinearLR>(
//       opt, L::LinearLROptions().start_factor(0.1).total_iters(5));
//   auto decay = std::make_shared<L::ExponentialLR>(opt, L::ExponentialLROptions(0.9));
//   L::SequentialLR sched(opt, {warmup, decay}, /*milestones=*/{5});
//   L::ChainedScheduler both({warmup, decay});
#pragma once

#include "lightning/export.h"
#include "lightning/optim/lr_scheduler.h"

namespace lightning {

/// Runs `schedulers[i]` between milestones[i-1] and milestones[i].
/// `lightning::Error` when milestones.size() != schedulers.size() - 1, when a
/// scheduler is bound to another optimizer, or when one is ReduceLROnPlateau.
class LIGHTNING_API SequentialLR : public LRScheduler {
 public:
  SequentialLR(std::shared_ptr<torch::optim::Optimizer> optimizer,
               std::vector<std::shared_ptr<LRScheduler>> schedulers,
               std::vector<int64_t> milestones, int64_t last_epoch = -1);
  std::string name() const override { return "SequentialLR"; }
  void step() override;
  /// `lightning::Error`: PyTorch's SequentialLR.step takes no epoch.
  void step_to_epoch(int64_t epoch) override;
  /// Includes each child's state under "_schedulers", as PyTorch.
  SchedulerState state_dict() const override;
  void load_state_dict(const SchedulerState& state) override;

 protected:
  std::vector<double> get_lr() override;

 private:
  std::vector<std::shared_ptr<LRScheduler>> schedulers_;
  std::vector<int64_t> milestones_;
};

/// Steps every scheduler at each step (their effects multiply).
/// `lightning::Error` when the list is empty, when the schedulers use
/// different optimizers, or when one is ReduceLROnPlateau.
class LIGHTNING_API ChainedScheduler : public LRScheduler {
 public:
  explicit ChainedScheduler(std::vector<std::shared_ptr<LRScheduler>> schedulers);
  std::string name() const override { return "ChainedScheduler"; }
  void step() override;
  /// `lightning::Error`: PyTorch's ChainedScheduler.step takes no epoch.
  void step_to_epoch(int64_t epoch) override;
  SchedulerState state_dict() const override;
  void load_state_dict(const SchedulerState& state) override;

 protected:
  std::vector<double> get_lr() override;

 private:
  std::vector<std::shared_ptr<LRScheduler>> schedulers_;
};

}  // namespace lightning
