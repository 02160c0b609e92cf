// lightning/optim/exponential_lr.h — PyTorch's ExponentialLR.
//
//   L::ExponentialLR sched(opt, L::ExponentialLROptions(/*gamma=*/0.95));
#pragma once

#include <torch/arg.h>

#include "lightning/export.h"
#include "lightning/optim/lr_scheduler.h"

namespace lightning {

struct LIGHTNING_API ExponentialLROptions {
  explicit ExponentialLROptions(double gamma) : gamma_(gamma) {}
  TORCH_ARG(double, gamma);
  TORCH_ARG(int64_t, last_epoch) = -1;
};

/// Multiplies the learning rate by gamma every epoch.
class LIGHTNING_API ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(std::shared_ptr<torch::optim::Optimizer> optimizer, ExponentialLROptions options);
  std::string name() const override { return "ExponentialLR"; }
  SchedulerState state_dict() const override;
  void load_state_dict(const SchedulerState& state) override;

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() override;

 private:
  ExponentialLROptions options_;
};

}  // namespace lightning
