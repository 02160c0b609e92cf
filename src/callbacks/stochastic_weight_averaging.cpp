// Lightning's StochasticWeightAveraging (callbacks/stochastic_weight_avg.py),
// its hook timing and checkpoint keys; the loop changes of its batch-norm
// epoch go through the fit loop (max_epochs, num_training_batches,
// skip_backward, accumulate_grad_batches) as Lightning's do.
#include "lightning/callbacks/stochastic_weight_averaging.h"

#include <torch/nn/modules/batchnorm.h>

#include <functional>
#include <iostream>
#include <limits>
#include <utility>

#include "lightning/error.h"
#include "lightning/module.h"
#include "lightning/optim/swalr.h"
#include "lightning/trainer.h"
#include "trainer/trainer_impl.h"
#include "util/batch_norm.h"
#include "util/float_format.h"

namespace lightning {

namespace {

constexpr const char* kEpochStartError =
    "swa_epoch_start should be a >0 integer or a float between 0 and 1";

// Resets one batch-norm layer's running statistics for a fresh cumulative
// average (momentum None) and returns what puts its momentum back.
template <typename BatchNorm>
bool reset_batch_norm(torch::nn::Module& m, std::vector<std::function<void()>>& restore) {
  auto* bn = dynamic_cast<BatchNorm*>(&m);
  if (bn == nullptr) return false;
  at::NoGradGuard no_grad;
  if (bn->running_mean.defined()) bn->running_mean.zero_();
  if (bn->running_var.defined()) bn->running_var.fill_(1);
  if (bn->num_batches_tracked.defined()) bn->num_batches_tracked.zero_();
  const auto momentum = bn->options.momentum();
  bn->options.momentum(c10::nullopt);
  restore.push_back([bn, momentum] { bn->options.momentum(momentum); });
  return true;
}

}  // namespace

struct StochasticWeightAveraging::Impl {
  StochasticWeightAveragingOptions options;
  SWAEpochStart epoch_start;  // the fraction becomes an epoch at on_fit_start
  std::optional<AveragedModel> average;
  std::shared_ptr<SWALR> scheduler;
  std::optional<StateDict> scheduler_state;  // from a checkpoint
  std::optional<StateDict> average_state;    // from a checkpoint loaded before setup
  bool n_set = false;                        // Lightning's n_averaged is not None
  int64_t init_n_averaged = 0;
  int64_t latest_update_epoch = -1;
  bool initialized = false;
  bool contains_batch_norm = false;
  int64_t max_epochs = -1;
  int64_t saved_accumulate = 1;
  std::vector<std::function<void()>> momenta;

  explicit Impl(StochasticWeightAveragingOptions o)
      : options(std::move(o)), epoch_start(options.swa_epoch_start()) {}

  int64_t swa_start() const { return std::max<int64_t>(epoch_start.epoch - 1, 0); }
  int64_t swa_end() const {
    return max_epochs == -1 ? std::numeric_limits<int64_t>::max() : max_epochs - 1;
  }

  // SWALR on the one optimizer, put in place of the scheduler (or added).
  void swap_in_swalr(Trainer& trainer) {
    detail::TrainerImpl& t = detail::TrainerAccess::impl(trainer);
    const auto& optimizer = t.optimizers_.at(0);
    std::vector<double> lrs = options.swa_lrs();
    if (lrs.size() == 1) lrs.assign(optimizer->param_groups().size(), lrs[0]);
    // Lightning: group["initial_lr"] = swa_lr, then SWALR with last_epoch
    // max_epochs for "cos" (-1 for "linear").
    if (lrs.size() == optimizer->param_groups().size()) detail::set_initial_lrs(optimizer, lrs);
    const int64_t last_epoch = options.annealing_strategy() == "cos" ? trainer.max_epochs() : -1;
    scheduler =
        std::make_shared<SWALR>(optimizer, SWALROptions(lrs)
                                               .anneal_epochs(options.annealing_epochs())
                                               .anneal_strategy(options.annealing_strategy())
                                               .last_epoch(last_epoch));
    if (scheduler_state) scheduler->load_state_dict(*scheduler_state);
    LRSchedulerConfig swa_config(scheduler);  // interval "epoch", frequency 1
    auto& configs = t.lr_scheduler_configs_;
    if (configs.empty()) {
      configs.push_back(swa_config);
      return;
    }
    const SchedulerConfig& old = configs[0].config;
    if (old.interval() != "epoch" || old.frequency() != 1) {
      t.warn_once(
          "SWA is currently only supported every epoch. Found a scheduler with interval \"" +
          old.interval() + "\" and frequency " + std::to_string(old.frequency()) +
          "; SWALR steps every epoch.");
    }
    if (trainer.is_global_zero() && !scheduler_state) {
      std::cout << "Swapping scheduler `" << configs[0].scheduler->name() << "` for `SWALR`"
                << std::endl;
    }
    configs[0] = swa_config;
  }
};

StochasticWeightAveraging::StochasticWeightAveraging(StochasticWeightAveragingOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {
  const auto& o = impl_->options;
  const SWAEpochStart& start = o.swa_epoch_start();
  LIGHTNING_CHECK(start.is_fraction || start.epoch >= 1, kEpochStartError, ", got ", start.epoch,
                  " (an int is the 1-based epoch averaging starts at).");
  LIGHTNING_CHECK(!start.is_fraction || (start.fraction >= 0 && start.fraction <= 1),
                  kEpochStartError, ", got ", start.fraction,
                  " (a float is a fraction of max_epochs).");
  bool lrs_ok = !o.swa_lrs().empty();
  for (double lr : o.swa_lrs()) lrs_ok = lrs_ok && lr > 0;
  std::string given;
  for (double lr : o.swa_lrs())
    given += (given.empty() ? "" : ", ") + detail::format_float_repr(lr);
  LIGHTNING_CHECK(lrs_ok,
                  "The `swa_lrs` should a positive float, or a list of positive floats, got [",
                  given, "].");
  LIGHTNING_CHECK(o.annealing_epochs() >= 0,
                  "StochasticWeightAveraging annealing_epochs must be >= 0 (SWALR's "
                  "anneal_epochs), got ",
                  o.annealing_epochs(), ".");
  LIGHTNING_CHECK(o.annealing_strategy() == "cos" || o.annealing_strategy() == "linear",
                  "StochasticWeightAveraging annealing_strategy must be one of 'cos' or "
                  "'linear', instead got '",
                  o.annealing_strategy(), "'.");
}

StochasticWeightAveraging::~StochasticWeightAveraging() = default;

void StochasticWeightAveraging::setup(Trainer& /*trainer*/, LightningModule& module,
                                      Stage /*stage*/) {
  // Lightning deep-copies the module here; the copy's parameters are the
  // averaged ones, on `device`.
  impl_->average.emplace(
      module, AveragedModelOptions()
                  .device(impl_->options.device().value_or(module.device()))
                  .avg_fn(impl_->options.avg_fn() ? impl_->options.avg_fn() : get_swa_avg_fn()));
  if (impl_->average_state) {
    impl_->average->load_module_state_dict(*impl_->average_state, "the SWA checkpoint state",
                                           /*strict=*/true);
  }
}

void StochasticWeightAveraging::on_fit_start(Trainer& trainer, LightningModule& module) {
  Impl& s = *impl_;
  detail::TrainerImpl& t = detail::TrainerAccess::impl(trainer);
  LIGHTNING_CHECK(trainer.optimizers().size() == 1,
                  "SWA currently works with 1 `optimizer`, but configure_optimizers returned ",
                  trainer.optimizers().size(), ".");
  LIGHTNING_CHECK(trainer.lr_scheduler_configs().size() <= 1,
                  "SWA currently not supported for more than 1 `lr_scheduler`, but "
                  "configure_optimizers returned ",
                  trainer.lr_scheduler_configs().size(), ".");
  if (s.epoch_start.is_fraction) {
    LIGHTNING_CHECK(trainer.max_epochs() != -1,
                    "SWA with `swa_epoch_start` as a float is not supported when "
                    "`max_epochs=-1`. Please provide `swa_epoch_start` as an integer.");
    // Python's int(max_epochs * fraction); kept for later fits, as Lightning.
    s.epoch_start = SWAEpochStart(
        static_cast<int64_t>(static_cast<double>(trainer.max_epochs()) * s.epoch_start.fraction));
  }
  s.contains_batch_norm = false;
  for (const auto& m : module.modules(/*include_self=*/true)) {
    s.contains_batch_norm = s.contains_batch_norm || detail::is_batch_norm(*m);
  }
  s.max_epochs = trainer.max_epochs();
  if (s.contains_batch_norm && s.max_epochs != -1) {
    // One more epoch: the batch-norm statistics of the averaged weights.
    t.fit_loop_.max_epochs += 1;
  }
  // Resuming after swa start: SWALR replaces the configured scheduler now, so
  // that the checkpoint's scheduler state (SWALR's) is restored into it.
  if (s.scheduler_state) s.swap_in_swalr(trainer);
}

void StochasticWeightAveraging::on_train_epoch_start(Trainer& trainer, LightningModule& module) {
  Impl& s = *impl_;
  const int64_t epoch = trainer.current_epoch();
  const bool in_swa = s.swa_start() <= epoch && epoch <= s.swa_end();
  if (!s.initialized && in_swa) {
    s.initialized = true;
    if (!s.scheduler) {
      s.swap_in_swalr(trainer);
      if (epoch != s.swa_start()) {
        detail::TrainerAccess::impl(trainer).warn_once(
            "SWA is initializing after swa_start without any checkpoint data. This may be "
            "caused by loading a checkpoint without the StochasticWeightAveraging state.");
      }
    }
    if (!s.n_set) {
      s.n_set = true;
      s.average->set_n_averaged(s.init_n_averaged);
    }
  }
  if (in_swa && epoch > s.latest_update_epoch) {
    s.average->update_parameters(module);
    s.latest_update_epoch = epoch;
  }
  if (s.max_epochs != -1 && epoch == s.swa_end() + 1) {
    // The batch-norm epoch: averaged weights in, statistics reset, the
    // training batches forward only, and no optimizer step (one
    // accumulation window longer than the epoch).
    s.average->copy_to(module, /*buffers=*/false);
    s.momenta.clear();
    for (const auto& m : module.modules(/*include_self=*/true)) {
      reset_batch_norm<torch::nn::BatchNorm1dImpl>(*m, s.momenta) ||
          reset_batch_norm<torch::nn::BatchNorm2dImpl>(*m, s.momenta) ||
          reset_batch_norm<torch::nn::BatchNorm3dImpl>(*m, s.momenta);
    }
    detail::TrainerImpl& t = detail::TrainerAccess::impl(trainer);
    t.fit_loop_.num_training_batches += 1;
    t.fit_loop_.skip_backward = true;
    s.saved_accumulate = trainer.accumulate_grad_batches();
    trainer.set_accumulate_grad_batches(t.fit_loop_.num_training_batches);
  }
}

void StochasticWeightAveraging::on_train_epoch_end(Trainer& trainer, LightningModule& /*module*/) {
  detail::TrainerAccess::impl(trainer).fit_loop_.skip_backward = false;
}

void StochasticWeightAveraging::on_train_end(Trainer& trainer, LightningModule& module) {
  Impl& s = *impl_;
  // The epoch counter has already moved past the last epoch here.
  const int64_t last = trainer.current_epoch() - 1;
  if (s.contains_batch_norm && s.max_epochs != -1 && last == s.swa_end() + 1) {
    detail::TrainerImpl& t = detail::TrainerAccess::impl(trainer);
    trainer.set_accumulate_grad_batches(s.saved_accumulate);
    t.fit_loop_.num_training_batches -= 1;
    t.fit_loop_.max_epochs -= 1;
    for (const auto& restore : s.momenta) restore();
    s.momenta.clear();
  } else if (last == s.swa_end() || s.max_epochs == -1) {
    // Only weights that were averaged (Lightning would copy the setup-time
    // weights when training stops before swa_start with max_epochs=-1).
    if (s.average && s.initialized) s.average->copy_to(module, /*buffers=*/false);
  }
}

StateDict StochasticWeightAveraging::state_dict() const {
  const Impl& s = *impl_;
  StateDict state = make_state_dict();
  state.insert("n_averaged", s.n_set ? s.average->n_averaged().item<int64_t>() : int64_t{0});
  state.insert("latest_update_epoch", s.latest_update_epoch);
  state.insert("scheduler_state",
               s.scheduler ? c10::IValue(s.scheduler->state_dict()) : c10::IValue());
  state.insert("average_model_state",
               s.average ? c10::IValue(s.average->module_state_dict()) : c10::IValue());
  return state;
}

void StochasticWeightAveraging::load_state_dict(const StateDict& state) {
  Impl& s = *impl_;
  const std::string who = "StochasticWeightAveraging";
  s.init_n_averaged = state_int(state, "n_averaged", who);
  s.latest_update_epoch = state_int(state, "latest_update_epoch", who);
  const c10::IValue& sched = state_value(state, "scheduler_state", who);
  s.scheduler_state.reset();
  if (!sched.isNone()) s.scheduler_state = state_dict_at(state, "scheduler_state", who);
  const c10::IValue& avg = state_value(state, "average_model_state", who);
  if (avg.isNone()) return;
  StateDict average = state_dict_at(state, "average_model_state", who);
  if (s.average) {
    s.average->load_module_state_dict(average, "the SWA checkpoint state", /*strict=*/true);
  } else {
    s.average_state = average;  // loaded at setup
  }
}

int64_t StochasticWeightAveraging::swa_start() const { return impl_->swa_start(); }
int64_t StochasticWeightAveraging::swa_end() const {
  return impl_->max_epochs == -1 ? -1 : impl_->swa_end();
}
int64_t StochasticWeightAveraging::n_averaged() const {
  return impl_->n_set ? impl_->average->n_averaged().item<int64_t>() : 0;
}
StateDict StochasticWeightAveraging::average_model_state() const {
  return impl_->average ? impl_->average->module_state_dict() : make_state_dict();
}
std::shared_ptr<SWALR> StochasticWeightAveraging::swa_scheduler() const { return impl_->scheduler; }
const StochasticWeightAveragingOptions& StochasticWeightAveraging::options() const {
  return impl_->options;
}

}  // namespace lightning
