// lightning/optim/cosine_annealing_lr.h — PyTorch's CosineAnnealingLR and
// CosineAnnealingWarmRestarts.
//
//   L::CosineAnnealingLR sched(opt, L::CosineAnnealingLROptions(/*T_max=*/50).eta_min(1e-5));
//   L::CosineAnnealingWarmRestarts sgdr(opt, L::CosineAnnealingWarmRestartsOptions(10).T_mult(2));
#pragma once

#include <torch/arg.h>

#include "lightning/export.h"
#include "lightning/optim/lr_scheduler.h"

namespace lightning {

struct LIGHTNING_API CosineAnnealingLROptions {
  explicit CosineAnnealingLROptions(int64_t T_max) : T_max_(T_max) {}
  TORCH_ARG(int64_t, T_max);
  TORCH_ARG(double, eta_min) = 0.0;
  TORCH_ARG(int64_t, last_epoch) = -1;
};

/// Cosine annealing from the base rate to eta_min over T_max epochs
/// (PyTorch's recursive form, which continues past T_max).
class LIGHTNING_API CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(std::shared_ptr<torch::optim::Optimizer> optimizer,
                    CosineAnnealingLROptions options);
  std::string name() const override { return "CosineAnnealingLR"; }
  SchedulerState state_dict() const override;
  void load_state_dict(const SchedulerState& state) override;

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() override;

 private:
  CosineAnnealingLROptions options_;
};

struct LIGHTNING_API CosineAnnealingWarmRestartsOptions {
  /// Epochs of the first cycle; >= 1.
  explicit CosineAnnealingWarmRestartsOptions(int64_t T_0) : T_0_(T_0) {}
  TORCH_ARG(int64_t, T_0);
  /// Growth of the cycle length after each restart; >= 1.
  TORCH_ARG(int64_t, T_mult) = 1;
  TORCH_ARG(double, eta_min) = 0.0;
  TORCH_ARG(int64_t, last_epoch) = -1;
};

/// SGDR: cosine annealing restarted every T_i epochs.
class LIGHTNING_API CosineAnnealingWarmRestarts : public LRScheduler {
 public:
  CosineAnnealingWarmRestarts(std::shared_ptr<torch::optim::Optimizer> optimizer,
                              CosineAnnealingWarmRestartsOptions options);
  std::string name() const override { return "CosineAnnealingWarmRestarts"; }
  void step() override;
  /// PyTorch's `step(epoch)` with a fractional epoch (e.g. epoch + i / iters).
  void step_fractional(double epoch);
  void step_to_epoch(int64_t epoch) override { step_fractional(static_cast<double>(epoch)); }
  SchedulerState state_dict() const override;
  void load_state_dict(const SchedulerState& state) override;

 protected:
  std::vector<double> get_lr() override;

 private:
  CosineAnnealingWarmRestartsOptions options_;
  int64_t T_i_ = 0;
  double T_cur_ = 0.0;
  /// Whether PyTorch's T_cur would be a float (after a fractional epoch or the
  /// T_mult > 1 jump of step(epoch)) rather than an int; the state_dict keeps
  /// the Python type.
  bool T_cur_is_float_ = false;
};

}  // namespace lightning
