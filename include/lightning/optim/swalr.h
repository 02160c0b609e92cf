// lightning/optim/swalr.h — PyTorch's torch.optim.swa_utils.SWALR: anneals
// each parameter group's learning rate to its swa_lr over anneal_epochs
// epochs, then keeps it there.
//
//   # swa_scheduler = SWALR(optimizer, swa_lr=0.05, anneal_epochs=5, anneal_strategy="linear")
//   auto swa_scheduler = std::make_shared<L::SWALR>(
//       optimizer, L::SWALROptions(0.05).anneal_epochs(5).anneal_strategy("linear"));
//
// The annealing is computed from the step count (not last_epoch), as
// PyTorch's; each step moves the current rate toward swa_lr, so a rate
// changed by hand between steps is annealed from where it is.
#pragma once

#include <torch/arg.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lightning/export.h"
#include "lightning/optim/lr_scheduler.h"

namespace lightning {

struct LIGHTNING_API SWALROptions {
  /// One swa_lr for every parameter group.
  SWALROptions(double swa_lr) : swa_lr_({swa_lr}) {}  // NOLINT(google-explicit-constructor)
  /// One swa_lr per parameter group (PyTorch's list form).
  SWALROptions(std::vector<double> swa_lr)  // NOLINT(google-explicit-constructor)
      : swa_lr_(std::move(swa_lr)) {}
  TORCH_ARG(std::vector<double>, swa_lr);
  /// Epochs from the group's rate to swa_lr; >= 0 (0: swa_lr at the first step).
  TORCH_ARG(int64_t, anneal_epochs) = 10;
  /// "cos" or "linear".
  TORCH_ARG(std::string, anneal_strategy) = "cos";
  TORCH_ARG(int64_t, last_epoch) = -1;
};

class LIGHTNING_API SWALR : public LRScheduler {
 public:
  /// `lightning::Error` for a swa_lr list whose length is not the number of
  /// parameter groups, an anneal_strategy other than "cos"/"linear", or
  /// anneal_epochs < 0 (PyTorch's ValueErrors).
  SWALR(std::shared_ptr<torch::optim::Optimizer> optimizer, SWALROptions options);
  std::string name() const override { return "SWALR"; }
  /// Each group's swa_lr (PyTorch keeps it as param_group["swa_lr"]).
  const std::vector<double>& swa_lrs() const { return swa_lrs_; }
  /// Adds "anneal_epochs" and "_anneal_strategy" to the base keys.
  SchedulerState state_dict() const override;
  void load_state_dict(const SchedulerState& state) override;

 protected:
  std::vector<double> get_lr() override;

 private:
  double anneal(double t) const;
  std::vector<double> swa_lrs_;
  int64_t anneal_epochs_;
  std::string anneal_strategy_;
};

}  // namespace lightning
