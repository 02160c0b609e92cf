// lightning/optim/multi_step_lr.h — PyTorch's MultiStepLR.
//
//   L::MultiStepLR sched(opt, L::MultiStepLROptions({30, 80}).gamma(0.1));
#pragma once

#include <torch/arg.h>

#include "lightning/export.h"
#include "lightning/optim/lr_scheduler.h"

namespace lightning {

struct LIGHTNING_API MultiStepLROptions {
  explicit MultiStepLROptions(std::vector<int64_t> milestones)
      : milestones_(std::move(milestones)) {}
  /// Epochs at which the rate decays; repeats decay several times (as
  /// PyTorch's Counter). Any order.
  TORCH_ARG(std::vector<int64_t>, milestones);
  TORCH_ARG(double, gamma) = 0.1;
  TORCH_ARG(int64_t, last_epoch) = -1;
};

/// Multiplies the learning rate by gamma at each milestone.
class LIGHTNING_API MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(std::shared_ptr<torch::optim::Optimizer> optimizer, MultiStepLROptions options);
  std::string name() const override { return "MultiStepLR"; }
  SchedulerState state_dict() const override;
  void load_state_dict(const SchedulerState& state) override;

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() override;

 private:
  MultiStepLROptions options_;
};

}  // namespace lightning
