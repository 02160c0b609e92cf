// lightning/optim/constant_lr.h — PyTorch's ConstantLR.
//
//   L::ConstantLR sched(opt, L::ConstantLROptions().factor(0.5).total_iters(4));
#pragma once

#include <torch/arg.h>

#include "lightning/export.h"
#include "lightning/optim/lr_scheduler.h"

namespace lightning {

struct LIGHTNING_API ConstantLROptions {
  /// In [0, 1]; `lightning::Error` otherwise.
  TORCH_ARG(double, factor) = 1.0 / 3.0;
  TORCH_ARG(int64_t, total_iters) = 5;
  TORCH_ARG(int64_t, last_epoch) = -1;
};

/// Scales the learning rate by factor until total_iters epochs have passed.
class LIGHTNING_API ConstantLR : public LRScheduler {
 public:
  ConstantLR(std::shared_ptr<torch::optim::Optimizer> optimizer, ConstantLROptions options = {});
  std::string name() const override { return "ConstantLR"; }
  SchedulerState state_dict() const override;
  void load_state_dict(const SchedulerState& state) override;

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() override;

 private:
  ConstantLROptions options_;
};

}  // namespace lightning
