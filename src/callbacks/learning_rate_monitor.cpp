#include "lightning/callbacks/learning_rate_monitor.h"

#include <c10/util/Type.h>
#include <torch/optim/adagrad.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/lbfgs.h>
#include <torch/optim/rmsprop.h>
#include <torch/optim/sgd.h>

#include <map>
#include <typeinfo>

#include "lightning/error.h"
#include "lightning/optim/param_groups.h"
#include "lightning/trainer.h"
#include "trainer/trainer_impl.h"

namespace lightning {

LearningRateMonitor::LearningRateMonitor(LearningRateMonitorOptions options)
    : options_(std::move(options)) {
  if (options_.logging_interval()) {
    const std::string& interval = *options_.logging_interval();
    LIGHTNING_CHECK(interval == "step" || interval == "epoch",
                    "LearningRateMonitor logging_interval must be \"step\", \"epoch\" or unset, "
                    "got \"",
                    interval, "\".");
  }
}

void LearningRateMonitor::on_train_start(Trainer& trainer, LightningModule&) {
  LIGHTNING_CHECK(!trainer.loggers().empty(),
                  "Cannot use LearningRateMonitor callback with a Trainer that has no logger. "
                  "Keep TrainerOptions().logger(true) (the default) or pass a logger.");
}

void LearningRateMonitor::on_train_batch_start(Trainer& trainer, LightningModule&, Batch&,
                                               int64_t) {
  if (options_.logging_interval() == std::optional<std::string>("epoch")) return;
  // The Trainer's own rule for step rows: the step this batch will complete.
  const int64_t every = trainer.options().log_every_n_steps();
  if ((trainer.loop_state().batches_that_stepped + 1) % every == 0 || trainer.should_stop()) {
    log_stats(trainer, options_.logging_interval() ? "any" : "step");
  }
}

void LearningRateMonitor::on_train_epoch_start(Trainer& trainer, LightningModule&) {
  if (options_.logging_interval() == std::optional<std::string>("step")) return;
  log_stats(trainer, options_.logging_interval() ? "any" : "epoch");
}

Metrics LearningRateMonitor::current_stats(const Trainer& trainer) const {
  return stats_for(trainer, "any");
}

Metrics LearningRateMonitor::stats_for(const Trainer& trainer, const std::string& interval) const {
  // Lightning's naming: schedulers first (their config name, else
  // "lr-<Optimizer>"), then optimizers without a scheduler; "-N" for the N-th
  // repeat of an optimizer type; "/pgN" with several parameter groups.
  Metrics stats;
  std::map<std::string, int> seen_types;
  std::vector<const torch::optim::Optimizer*> with_scheduler;
  auto add = [&](const torch::optim::Optimizer& optimizer,
                 const std::optional<std::string>& given) {
    const std::string type = optimizer_name(optimizer);
    if (!given) ++seen_types[type];
    std::string name = given ? *given : "lr-" + type;
    auto it = seen_types.find(type);
    if (it != seen_types.end() && it->second > 1)
      name.append("-").append(std::to_string(it->second - 1));
    const auto& groups = optimizer.param_groups();
    for (size_t g = 0; g < groups.size(); ++g) {
      const std::string key = groups.size() > 1 ? name + "/pg" + std::to_string(g + 1) : name;
      const auto& o = groups[g].options();
      stats[key] = o.get_lr();
      if (options_.log_momentum()) stats[key + "-momentum"] = momentum_of(o).value_or(0.0);
      if (options_.log_weight_decay()) stats[key + "-weight_decay"] = weight_decay_of(o);
    }
  };
  Metrics all;
  for (const auto& config : trainer.lr_scheduler_configs()) {
    const auto& optimizer = config.scheduler->optimizer();
    with_scheduler.push_back(&optimizer);
    Metrics before = stats;
    add(optimizer, config.config.name());
    if (interval != "any" && interval != config.config.interval()) stats = before;
  }
  for (const auto& optimizer : trainer.optimizers()) {
    if (std::find(with_scheduler.begin(), with_scheduler.end(), optimizer.get()) !=
        with_scheduler.end()) {
      continue;
    }
    add(*optimizer, std::nullopt);
  }
  return stats;
}

void LearningRateMonitor::log_stats(Trainer& trainer, const std::string& interval) {
  Metrics stats = stats_for(trainer, interval);
  // As Lightning, the values are also visible to callbacks and schedulers.
  for (const auto& [key, value] : stats) {
    detail::TrainerAccess::impl(trainer).callback_metrics_[key] =
        at::scalar_tensor(value, at::kDouble);
  }
  if (!trainer.is_global_zero()) return;
  if (stats.empty()) return;
  stats["epoch"] = static_cast<double>(trainer.current_epoch());
  for (const auto& logger : trainer.loggers()) {
    logger->log_metrics(stats, trainer.loop_state().batches_that_stepped);
  }
}

}  // namespace lightning
