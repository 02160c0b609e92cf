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
#include "lightning/trainer.h"

namespace lightning {

namespace {

// Python's class name of a libtorch optimizer ("Adam", "SGD", ...).
std::string optimizer_name(const torch::optim::Optimizer& optimizer) {
  std::string name = c10::demangle(typeid(optimizer).name());
  const auto pos = name.rfind("::");
  return pos == std::string::npos ? name : name.substr(pos + 2);
}

// SGD/RMSprop momentum, Adam/AdamW beta1; 0 where the optimizer has none (as Lightning).
double momentum_of(const torch::optim::OptimizerOptions& o) {
  if (auto* sgd = dynamic_cast<const torch::optim::SGDOptions*>(&o)) return sgd->momentum();
  if (auto* rms = dynamic_cast<const torch::optim::RMSpropOptions*>(&o)) return rms->momentum();
  if (auto* adam = dynamic_cast<const torch::optim::AdamOptions*>(&o))
    return std::get<0>(adam->betas());
  if (auto* adamw = dynamic_cast<const torch::optim::AdamWOptions*>(&o))
    return std::get<0>(adamw->betas());
  return 0.0;
}

double weight_decay_of(const torch::optim::OptimizerOptions& o) {
  if (auto* sgd = dynamic_cast<const torch::optim::SGDOptions*>(&o)) return sgd->weight_decay();
  if (auto* rms = dynamic_cast<const torch::optim::RMSpropOptions*>(&o)) return rms->weight_decay();
  if (auto* adam = dynamic_cast<const torch::optim::AdamOptions*>(&o)) return adam->weight_decay();
  if (auto* adamw = dynamic_cast<const torch::optim::AdamWOptions*>(&o))
    return adamw->weight_decay();
  if (auto* adagrad = dynamic_cast<const torch::optim::AdagradOptions*>(&o))
    return adagrad->weight_decay();
  return 0.0;
}

}  // namespace

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
    log_stats(trainer);
  }
}

void LearningRateMonitor::on_train_epoch_start(Trainer& trainer, LightningModule&) {
  if (options_.logging_interval() == std::optional<std::string>("step")) return;
  log_stats(trainer);
}

Metrics LearningRateMonitor::current_stats(const Trainer& trainer) const {
  Metrics stats;
  std::map<std::string, int> seen;  // optimizer type -> count, for the "-N" suffix
  for (const auto& optimizer : trainer.optimizers()) {
    std::string name = "lr-" + optimizer_name(*optimizer);
    const int count = seen[name]++;
    if (count > 0) name += "-" + std::to_string(count);
    const auto& groups = optimizer->param_groups();
    for (size_t g = 0; g < groups.size(); ++g) {
      const std::string key = groups.size() > 1 ? name + "/pg" + std::to_string(g + 1) : name;
      const auto& o = groups[g].options();
      stats[key] = o.get_lr();
      if (options_.log_momentum()) stats[key + "-momentum"] = momentum_of(o);
      if (options_.log_weight_decay()) stats[key + "-weight_decay"] = weight_decay_of(o);
    }
  }
  return stats;
}

void LearningRateMonitor::log_stats(Trainer& trainer) {
  if (!trainer.is_global_zero()) return;
  Metrics stats = current_stats(trainer);
  if (stats.empty()) return;
  stats["epoch"] = static_cast<double>(trainer.current_epoch());
  for (const auto& logger : trainer.loggers()) {
    logger->log_metrics(stats, trainer.loop_state().batches_that_stepped);
  }
}

}  // namespace lightning
