// lightning/optim/polynomial_lr.h — PyTorch's PolynomialLR.
//
//   L::PolynomialLR sched(opt, L::PolynomialLROptions().total_iters(10).power(2.0));
#pragma once

#include <torch/arg.h>

#include "lightning/export.h"
#include "lightning/optim/lr_scheduler.h"

namespace lightning {

struct LIGHTNING_API PolynomialLROptions {
  TORCH_ARG(int64_t, total_iters) = 5;
  TORCH_ARG(double, power) = 1.0;
  TORCH_ARG(int64_t, last_epoch) = -1;
};

/// Decays the learning rate to 0 over total_iters with a polynomial of `power`.
class LIGHTNING_API PolynomialLR : public LRScheduler {
 public:
  PolynomialLR(std::shared_ptr<torch::optim::Optimizer> optimizer,
               PolynomialLROptions options = {});
  std::string name() const override { return "PolynomialLR"; }
  SchedulerState state_dict() const override;
  void load_state_dict(const SchedulerState& state) override;

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() override;

 private:
  PolynomialLROptions options_;
};

}  // namespace lightning
