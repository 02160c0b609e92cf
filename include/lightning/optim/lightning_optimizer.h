// lightning/optim/lightning_optimizer.h — what `optimizers()` hands to a
// LightningModule: an optimizer whose `step()` goes through the Trainer
// (precision plugin, on_before_optimizer_step hooks, global_step).
//
//   // opt_g, opt_d = self.optimizers()
//   auto [opt_g, opt_d] = optimizers<2>();
//   opt_g.zero_grad();
//   manual_backward(g_loss);
//   opt_g.step();
#pragma once

#include <torch/optim/optimizer.h>

#include <memory>
#include <vector>

#include "lightning/export.h"

namespace lightning {

class Trainer;

/// A handle on one of the Trainer's optimizers. Cheap to copy.
class LIGHTNING_API LightningOptimizer {
 public:
  LightningOptimizer(Trainer& trainer, std::shared_ptr<torch::optim::Optimizer> optimizer)
      : trainer_(&trainer), optimizer_(std::move(optimizer)) {}

  /// Clears the gradients of this optimizer's parameters.
  void zero_grad() { optimizer_->zero_grad(); }
  /// One optimizer step through the Trainer: the on_before_optimizer_step
  /// hooks, the precision plugin (with "16-mixed": unscale, skip on inf/NaN,
  /// update the scale), then global_step + 1 — as Lightning's
  /// LightningOptimizer.step.
  void step();

  torch::optim::Optimizer& optimizer() const { return *optimizer_; }
  const std::shared_ptr<torch::optim::Optimizer>& optimizer_ptr() const { return optimizer_; }
  std::vector<torch::optim::OptimizerParamGroup>& param_groups() const {
    return optimizer_->param_groups();
  }
  /// The learning rate of parameter group `group` (Python's
  /// `opt.param_groups[group]["lr"]`).
  double lr(size_t group = 0) const;

 private:
  Trainer* trainer_;
  std::shared_ptr<torch::optim::Optimizer> optimizer_;
};

}  // namespace lightning
