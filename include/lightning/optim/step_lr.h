// lightning/optim/step_lr.h — PyTorch's StepLR.
//
//   L::StepLR sched(opt, L::StepLROptions(/*step_size=*/30).gamma(0.1));
#pragma once

#include <torch/arg.h>

#include "lightning/export.h"
#include "lightning/optim/lr_scheduler.h"

namespace lightning {

struct LIGHTNING_API StepLROptions {
  explicit StepLROptions(int64_t step_size) : step_size_(step_size) {}
  /// Epochs between decays. Must be >= 1.
  TORCH_ARG(int64_t, step_size);
  TORCH_ARG(double, gamma) = 0.1;
  TORCH_ARG(int64_t, last_epoch) = -1;
};

/// Multiplies the learning rate by gamma every step_size epochs.
class LIGHTNING_API StepLR : public LRScheduler {
 public:
  StepLR(std::shared_ptr<torch::optim::Optimizer> optimizer, StepLROptions options);
  std::string name() const override { return "StepLR"; }
  SchedulerState state_dict() const override;
  void load_state_dict(const SchedulerState& state) override;

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() override;

 private:
  StepLROptions options_;
};

}  // namespace lightning
