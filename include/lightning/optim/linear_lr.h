// lightning/optim/linear_lr.h — PyTorch's LinearLR (linear warmup/decay of a
// multiplicative factor).
//
//   L::LinearLR sched(opt, L::LinearLROptions().start_factor(0.1).total_iters(10));
#pragma once

#include <torch/arg.h>

#include "lightning/export.h"
#include "lightning/optim/lr_scheduler.h"

namespace lightning {

struct LIGHTNING_API LinearLROptions {
  /// In (0, 1]; `lightning::Error` otherwise.
  TORCH_ARG(double, start_factor) = 1.0 / 3.0;
  /// In [0, 1]; `lightning::Error` otherwise.
  TORCH_ARG(double, end_factor) = 1.0;
  TORCH_ARG(int64_t, total_iters) = 5;
  TORCH_ARG(int64_t, last_epoch) = -1;
};

/// Moves the factor linearly from start_factor to end_factor over total_iters.
class LIGHTNING_API LinearLR : public LRScheduler {
 public:
  LinearLR(std::shared_ptr<torch::optim::Optimizer> optimizer, LinearLROptions options = {});
  std::string name() const override { return "LinearLR"; }
  SchedulerState state_dict() const override;
  void load_state_dict(const SchedulerState& state) override;

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() override;

 private:
  LinearLROptions options_;
};

}  // namespace lightning
