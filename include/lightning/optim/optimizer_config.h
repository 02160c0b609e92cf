// lightning/optim/optimizer_config.h — what `configure_optimizers` returns:
// every return form of Lightning's configure_optimizers through one type.
//
//   // return torch.optim.Adam(self.parameters(), lr=1e-3)
//   return std::make_shared<torch::optim::Adam>(parameters(), torch::optim::AdamOptions(1e-3));
//
//   // return [opt_g, opt_d]                        (manual optimization)
//   return {opt_g, opt_d};
//
//   // return [optimizer], [scheduler]
//   return {{optimizer}, {scheduler}};
//
//   // return [optimizer], [{"scheduler": OneCycleLR(...), "interval": "step"}]
//   return {{optimizer}, {{one_cycle, L::SchedulerConfig().interval("step")}}};
//
//   // return {"optimizer": opt, "lr_scheduler": {"scheduler": plateau, "monitor": "val_loss"}}
//   return L::OptimizerConfig(opt).lr_scheduler(plateau, L::SchedulerConfig().monitor("val_loss"));
//
//   // return ({"optimizer": o1, "lr_scheduler": s1}, {"optimizer": o2, "lr_scheduler": s2})
//   return {L::OptimizerConfig(o1).lr_scheduler(s1), L::OptimizerConfig(o2).lr_scheduler(s2)};
//
// Each scheduler is bound to the optimizer it was built on; the Trainer checks
// that this optimizer is one of those returned. See docs/optimization.md.
#pragma once

#include <torch/arg.h>
#include <torch/optim/optimizer.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "lightning/export.h"
#include "lightning/optim/lr_scheduler.h"

namespace lightning {

/// Lightning's scheduler dict: {"interval", "frequency", "monitor", "strict", "name"}.
struct LIGHTNING_API SchedulerConfig {
  /// "epoch" (step after each training epoch) or "step" (after each optimizer step).
  TORCH_ARG(std::string, interval) = "epoch";
  /// Step every `frequency` epochs (interval "epoch") or optimizer steps
  /// (interval "step"). Must be >= 1.
  TORCH_ARG(int64_t, frequency) = 1;
  /// The logged metric ReduceLROnPlateau steps on. Required for it, ignored by
  /// other schedulers.
  TORCH_ARG(std::optional<std::string>, monitor) = std::nullopt;
  /// A missing monitor metric is an error (true) or a warning that skips the
  /// update (false).
  TORCH_ARG(bool, strict) = true;
  /// The name LearningRateMonitor logs it under (default "lr-<Optimizer>").
  TORCH_ARG(std::optional<std::string>, name) = std::nullopt;
};

/// A scheduler with its config (Lightning's `{"scheduler": s, ...}` dict).
struct LIGHTNING_API LRSchedulerConfig {
  LRSchedulerConfig(std::shared_ptr<LRScheduler> scheduler, SchedulerConfig config = {})
      : scheduler(std::move(scheduler)), config(std::move(config)) {}
  template <typename T, std::enable_if_t<std::is_base_of_v<LRScheduler, T>, int> = 0>
  LRSchedulerConfig(std::shared_ptr<T> scheduler, SchedulerConfig config = {})
      : LRSchedulerConfig(std::static_pointer_cast<LRScheduler>(std::move(scheduler)),
                          std::move(config)) {}

  std::shared_ptr<LRScheduler> scheduler;
  SchedulerConfig config;
};

/// The optimizers and schedulers a module trains with.
class LIGHTNING_API OptimizerConfig {
 public:
  using OptimizerPtr = std::shared_ptr<torch::optim::Optimizer>;

  /// No optimizer: training steps run forward only (Lightning warns likewise).
  OptimizerConfig() = default;
  /// One optimizer.
  OptimizerConfig(OptimizerPtr optimizer) {
    if (optimizer) optimizers_.push_back(std::move(optimizer));
  }
  template <typename T, std::enable_if_t<std::is_base_of_v<torch::optim::Optimizer, T>, int> = 0>
  OptimizerConfig(std::shared_ptr<T> optimizer)
      : OptimizerConfig(std::static_pointer_cast<torch::optim::Optimizer>(std::move(optimizer))) {}
  /// Several optimizers (manual optimization).
  OptimizerConfig(std::vector<OptimizerPtr> optimizers) : optimizers_(std::move(optimizers)) {}
  /// `[optimizers], [schedulers]`.
  OptimizerConfig(std::vector<OptimizerPtr> optimizers, std::vector<LRSchedulerConfig> schedulers)
      : optimizers_(std::move(optimizers)), schedulers_(std::move(schedulers)) {}
  /// Several `{"optimizer": ..., "lr_scheduler": ...}` configs, concatenated
  /// in order.
  OptimizerConfig(std::initializer_list<OptimizerConfig> configs);

  /// Adds a scheduler (the dict form's "lr_scheduler" entry).
  OptimizerConfig& lr_scheduler(std::shared_ptr<LRScheduler> scheduler,
                                SchedulerConfig config = {}) {
    schedulers_.emplace_back(std::move(scheduler), std::move(config));
    return *this;
  }

  const std::vector<OptimizerPtr>& optimizers() const { return optimizers_; }
  const std::vector<LRSchedulerConfig>& lr_schedulers() const { return schedulers_; }
  bool empty() const { return optimizers_.empty(); }

 private:
  std::vector<OptimizerPtr> optimizers_;
  std::vector<LRSchedulerConfig> schedulers_;
};

}  // namespace lightning
