// TrainerOptions: the checks a Trainer runs on construction (each error names
// the option, the value and what to pass instead), fast_dev_run, and the
// callbacks a Trainer adds by default.
#include "trainer/trainer_options.h"

#include <algorithm>
#include <cmath>
#include <iostream>

#include "detail/process_rank.h"
#include "lightning/callbacks/model_checkpoint.h"
#include "lightning/callbacks/model_summary.h"
#include "lightning/callbacks/progress_bar.h"
#include "lightning/callbacks/timer.h"
#include "lightning/error.h"

namespace lightning {

int64_t BatchLimit::resolve(int64_t available) const {
  if (!is_fraction_) return std::min(count_, available);
  if (fraction_ >= 1.0) return available;
  auto n = static_cast<int64_t>(static_cast<double>(available) * fraction_);
  return (n == 0 && fraction_ > 0.0 && available > 0) ? 1 : n;
}

namespace detail {

namespace {

void check_limit(const BatchLimit& limit, const char* name) {
  if (limit.is_fraction()) {
    LIGHTNING_CHECK(limit.fraction() >= 0.0 && limit.fraction() <= 1.0, name,
                    " must be an int >= 0 (batches) or a float in [0.0, 1.0] (fraction of the "
                    "dataloader), got ",
                    limit.fraction(), ". Use e.g. ", name, "(0.25) or ", name, "(10).");
  } else {
    LIGHTNING_CHECK(limit.count() >= 0, name,
                    " must be an int >= 0 (batches) or a float in [0.0, 1.0] (fraction of the "
                    "dataloader), got ",
                    limit.count(), ".");
  }
}

}  // namespace

void check_loop_options(const TrainerOptions& o) {
  if (o.max_epochs()) {
    LIGHTNING_CHECK(*o.max_epochs() >= -1, "max_epochs must be >= -1 (-1 means no limit), got ",
                    *o.max_epochs(), ".");
  }
  if (o.min_epochs()) {
    LIGHTNING_CHECK(*o.min_epochs() >= 0, "min_epochs must be >= 0, got ", *o.min_epochs(), ".");
  }
  LIGHTNING_CHECK(o.max_steps() >= -1, "max_steps must be >= -1 (-1 means no limit), got ",
                  o.max_steps(), ".");
  if (o.min_steps()) {
    LIGHTNING_CHECK(*o.min_steps() >= 0, "min_steps must be >= 0, got ", *o.min_steps(), ".");
  }
  check_limit(o.limit_train_batches(), "limit_train_batches");
  check_limit(o.limit_val_batches(), "limit_val_batches");
  check_limit(o.limit_test_batches(), "limit_test_batches");
  check_limit(o.limit_predict_batches(), "limit_predict_batches");
  check_limit(o.overfit_batches(), "overfit_batches");
  const auto& vci = o.val_check_interval();
  if (vci.is_fraction()) {
    LIGHTNING_CHECK(
        vci.fraction() > 0.0 && vci.fraction() <= 1.0,
        "val_check_interval as a float is a fraction of the training epoch in (0.0, 1.0], "
        "got ",
        vci.fraction(), ". Pass an int to validate every N training batches.");
  } else {
    LIGHTNING_CHECK(vci.count() >= 1,
                    "val_check_interval as an int is a number of training batches >= 1, got ",
                    vci.count(), ".");
  }
  LIGHTNING_CHECK(o.check_val_every_n_epoch() >= 1, "check_val_every_n_epoch must be >= 1, got ",
                  o.check_val_every_n_epoch(), ".");
  LIGHTNING_CHECK(o.num_sanity_val_steps() >= -1,
                  "num_sanity_val_steps must be >= 0, or -1 to run every validation batch, got ",
                  o.num_sanity_val_steps(), ".");
  LIGHTNING_CHECK(o.accumulate_grad_batches() >= 1, "accumulate_grad_batches must be >= 1, got ",
                  o.accumulate_grad_batches(), ".");
  if (o.gradient_clip_val()) {
    LIGHTNING_CHECK(std::isfinite(*o.gradient_clip_val()) && *o.gradient_clip_val() >= 0.0,
                    "gradient_clip_val must be a finite number >= 0 (0 disables clipping), got ",
                    *o.gradient_clip_val(), ".");
  }
  if (o.gradient_clip_algorithm()) {
    const std::string& a = *o.gradient_clip_algorithm();
    LIGHTNING_CHECK(a == "norm" || a == "value",
                    "gradient_clip_algorithm must be \"norm\" or \"value\", got \"", a, "\".");
  }
  LIGHTNING_CHECK(o.log_every_n_steps() >= 1, "log_every_n_steps must be >= 1, got ",
                  o.log_every_n_steps(), ".");
  LIGHTNING_CHECK(o.fast_dev_run().batches() >= 0,
                  "fast_dev_run must be true/false or a number of batches >= 0, got ",
                  o.fast_dev_run().batches(), ".");
  LIGHTNING_CHECK(o.reload_dataloaders_every_n_epochs() >= 0,
                  "reload_dataloaders_every_n_epochs must be >= 0 (0: load once per fit), got ",
                  o.reload_dataloaders_every_n_epochs(), ".");
  if (o.num_threads()) {
    LIGHTNING_CHECK(*o.num_threads() >= 1, "num_threads must be >= 1, got ", *o.num_threads(), ".");
  }
  for (size_t i = 0; i < o.callbacks().size(); ++i) {
    LIGHTNING_CHECK(o.callbacks()[i] != nullptr, "callbacks[", i, "] is a null pointer.");
  }
  for (size_t i = 0; i < o.logger().loggers().size(); ++i) {
    LIGHTNING_CHECK(o.logger().loggers()[i] != nullptr, "logger[", i, "] is a null pointer.");
  }
}

void apply_barebones(TrainerOptions& o) {
  if (!o.barebones()) return;
  LIGHTNING_CHECK(!o.fast_dev_run().enabled(), "TrainerOptions().barebones(true).fast_dev_run(",
                  o.fast_dev_run().batches(),
                  "): a development run is not meant for raw speed evaluation, so barebones "
                  "mode refuses it. Turn one of them off.");
  LIGHTNING_CHECK(!o.detect_anomaly(),
                  "TrainerOptions().barebones(true).detect_anomaly(true): anomaly detection can "
                  "impact raw speed, so barebones mode refuses it. Turn one of them off.");
  LIGHTNING_CHECK(!o.profiler().enabled(), "TrainerOptions().barebones(true).profiler(",
                  o.profiler().name().empty() ? std::string("<a Profiler object>")
                                              : "\"" + o.profiler().name() + "\"",
                  "): profiling can impact raw speed, so barebones mode refuses it. Turn one of "
                  "them off.");
  LIGHTNING_CHECK(o.logger().loggers().empty(),
                  "TrainerOptions().barebones(true) with loggers given: logging can impact raw "
                  "speed, so barebones mode runs without loggers. Remove them or turn barebones "
                  "off.");
  for (const auto& c : o.callbacks()) {
    const char* what = dynamic_cast<ModelCheckpoint*>(c.get()) ? "a ModelCheckpoint"
                       : dynamic_cast<ProgressBar*>(c.get())   ? "a progress bar"
                       : dynamic_cast<ModelSummary*>(c.get())  ? "a ModelSummary"
                                                               : nullptr;
    LIGHTNING_CHECK(what == nullptr, "TrainerOptions().barebones(true) with ", what,
                    " callback: barebones mode turns checkpointing, the progress bar and the "
                    "model summary off. Remove the callback or turn barebones off.");
  }
  o.enable_checkpointing(false).logger(false).enable_progress_bar(false);
  o.enable_model_summary(false).num_sanity_val_steps(0);
}

void apply_fast_dev_run(TrainerOptions& o) {
  // N batches of every loop, one epoch, no sanity check, no loggers.
  if (!o.fast_dev_run().enabled()) return;
  const int64_t n = o.fast_dev_run().batches();
  o.max_epochs(1).max_steps(n).num_sanity_val_steps(0).val_check_interval(1.0);
  o.limit_train_batches(n).limit_val_batches(n).limit_test_batches(n);
  o.limit_predict_batches(n).check_val_every_n_epoch(1).logger(false);
}

std::vector<std::shared_ptr<Callback>> with_default_callbacks(const TrainerOptions& o) {
  std::vector<std::shared_ptr<Callback>> callbacks = o.callbacks();
  auto has = [&](auto* probe) {
    using T = std::remove_pointer_t<decltype(probe)>;
    return std::any_of(callbacks.begin(), callbacks.end(),
                       [](const auto& c) { return dynamic_cast<T*>(c.get()) != nullptr; });
  };
  // Lightning's callback connector: max_time adds Timer(duration=max_time,
  // interval="step") unless a Timer is given (then max_time is ignored).
  if (o.max_time()) {
    if (has(static_cast<Timer*>(nullptr))) {
      if (detail::process_global_rank() == 0) {
        std::cerr << "Ignoring `Trainer(max_time=...)`, callbacks list already contains a Timer.\n";
      }
    } else {
      callbacks.push_back(std::make_shared<Timer>(TimerOptions().duration(o.max_time())));
    }
  }
  if (o.enable_progress_bar() && !has(static_cast<ProgressBar*>(nullptr))) {
    callbacks.push_back(std::make_shared<ProgressBar>());
  }
  if (o.enable_model_summary() && !has(static_cast<ModelSummary*>(nullptr))) {
    callbacks.push_back(std::make_shared<ModelSummary>());
  }
  // Lightning: a default ModelCheckpoint unless checkpointing is off or one is given.
  if (o.enable_checkpointing() && !o.fast_dev_run().enabled() &&
      !has(static_cast<ModelCheckpoint*>(nullptr))) {
    callbacks.push_back(std::make_shared<ModelCheckpoint>());
  }
  return callbacks;
}

}  // namespace detail
}  // namespace lightning
