// The learning-rate sweep (Lightning's tuner/lr_finder.py): the rate grows
// from min_lr to max_lr over num_training optimizer steps, a callback records
// the rate before each step and the smoothed loss after it, and the
// suggestion is the rate at the steepest descent of that loss.
#include <ATen/ATen.h>

#include <cmath>
#include <limits>
#include <utility>

#include "lightning/error.h"
#include "lightning/loggers/csv_logger.h"
#include "lightning/tuner.h"
#include "tuner/tuning.h"
#include "util/float_format.h"

namespace lightning {

namespace detail {
namespace {

// Lightning's _ExponentialLR / _LinearLR: the first step keeps min_lr, step
// k >= 1 uses r = (k + 1) / num_iter (so r = 1 / num_iter is never used, as
// in Lightning).
class SweepLR final : public LRScheduler {
 public:
  SweepLR(std::shared_ptr<torch::optim::Optimizer> optimizer, bool linear, double end_lr,
          int64_t num_iter)
      : LRScheduler(std::move(optimizer), NoInit{}),
        linear_(linear),
        end_lr_(end_lr),
        num_iter_(num_iter) {
    base_lrs_ = group_lrs();
    initial_step();
  }
  std::string name() const override { return linear_ ? "_LinearLR" : "_ExponentialLR"; }

 protected:
  std::vector<double> get_lr() override {
    const double r = static_cast<double>(last_epoch_ + 1) / static_cast<double>(num_iter_);
    std::vector<double> lrs = base_lrs_;
    if (last_epoch_ > 0) {
      for (double& lr : lrs)
        lr = linear_ ? lr + r * (end_lr_ - lr) : lr * std::pow(end_lr_ / lr, r);
    }
    return lrs;
  }

 private:
  bool linear_;
  double end_lr_;
  int64_t num_iter_;
};

// Lightning's _LRCallback: the rate before each optimizer step, the smoothed
// loss (bias-corrected running mean, beta 0.98) after it, and the stop when
// it diverges.
class LRCallback final : public Callback {
 public:
  LRCallback(std::shared_ptr<LRScheduler> scheduler, std::optional<double> early_stop_threshold,
             int64_t start_steps)
      : scheduler_(std::move(scheduler)),
        early_stop_threshold_(early_stop_threshold),
        start_steps_(start_steps) {}

  void on_train_batch_start(Trainer& trainer, LightningModule& /*module*/, Batch& /*batch*/,
                            int64_t /*batch_idx*/) override {
    if (accumulating(trainer)) return;
    lrs.push_back(scheduler_->get_last_lr()[0]);
  }

  void on_train_batch_end(Trainer& trainer, LightningModule& /*module*/, const StepOutput& outputs,
                          Batch& /*batch*/, int64_t /*batch_idx*/) override {
    if (accumulating(trainer)) return;
    if (!outputs.has_loss()) {
      losses.push_back(std::numeric_limits<double>::quiet_NaN());
      return;
    }
    const double current_loss = outputs.loss().item<double>();
    // Steps of this sweep. Lightning uses trainer.global_step itself, the
    // same for a sweep at the start of fit; from a later step its best loss
    // would stay 0 and the sweep would stop after one step.
    const int64_t current_step = trainer.global_step() - start_steps_;
    avg_loss_ = beta_ * avg_loss_ + (1 - beta_) * current_loss;
    const double smoothed =
        avg_loss_ / (1 - std::pow(beta_, static_cast<double>(current_step + 1)));
    if (early_stop_threshold_ && current_step > 1 &&
        smoothed > *early_stop_threshold_ * best_loss_) {
      trainer.set_should_stop(true);
    }
    if (trainer.world_size() > 1) {  // rank 0 decides (Lightning broadcasts should_stop)
      at::Tensor flag = at::full({1}, trainer.should_stop() ? 1 : 0,
                                 at::TensorOptions(at::kLong).device(trainer.root_device()));
      trainer.set_should_stop(trainer.strategy().broadcast(flag, 0).item<int64_t>() != 0);
    }
    if (smoothed < best_loss_ || current_step == 1) best_loss_ = smoothed;
    losses.push_back(smoothed);
  }

  std::vector<double> lrs, losses;

 private:
  static bool accumulating(const Trainer& trainer) {
    return (trainer.loop_state().batch_idx + 1) % trainer.accumulate_grad_batches() != 0;
  }
  std::shared_ptr<LRScheduler> scheduler_;
  std::optional<double> early_stop_threshold_;
  int64_t start_steps_;
  double beta_ = 0.98;
  double avg_loss_ = 0.0;
  double best_loss_ = 0.0;
};

// Lightning's _determine_lr_attr_name.
std::string lr_attr_name(TrainerImpl& t, LightningModule& model, const std::string& attr_name) {
  if (!attr_name.empty()) {
    LIGHTNING_CHECK(has_hparam(t, model, attr_name),
                    "The attribute name for the learning rate was set to \"", attr_name,
                    "\", but it is not a key of the module's hparams nor the datamodule's. Add it "
                    "with save_hyperparameters, or pass another attr_name.");
    return attr_name;
  }
  for (const char* name : {"lr", "learning_rate"}) {
    if (has_hparam(t, model, name)) return name;
  }
  LIGHTNING_FAIL(
      "When using the learning rate finder with update_attr, the module's or the datamodule's "
      "hparams must have one of these keys: (\"lr\", \"learning_rate\"). If your learning rate "
      "has another name, pass it as LRFindOptions().attr_name(...); or set update_attr(false).");
}

}  // namespace

std::shared_ptr<LRFinder> run_lr_find(Trainer& trainer, LightningModule& model,
                                      const LRFindOptions& options) {
  TrainerImpl& t = TrainerAccess::impl(trainer);
  auto finder = std::make_shared<LRFinder>(options.mode(), options.min_lr(), options.max_lr(),
                                           options.num_training());
  if (t.options_.fast_dev_run().enabled()) {
    t.warn_once("Skipping learning rate finder since `fast_dev_run` is enabled.");
    return nullptr;
  }
  std::string attr;
  if (options.update_attr()) attr = lr_attr_name(t, model, options.attr_name());
  LIGHTNING_CHECK(t.optimizers_.size() == 1, "configure_optimizers() returned ",
                  t.optimizers_.size(),
                  " optimizers, but the learning rate finder only works with a single optimizer.");
  if (t.fit_loop_.resuming()) {
    t.warn_once(
        "Skipping the learning rate finder: this fit resumes from a checkpoint, and the sweep "
        "would replace the position it resumes from.");
    return nullptr;
  }

  TuningRun run(t, model, "lr_find");
  const int64_t start_steps = t.fit_loop_.counters().global_step;
  const auto& optimizer = t.optimizers_[0];
  std::shared_ptr<LRCallback> callback;
  try {
    // Lightning's __lr_finder_reset_params and _exchange_scheduler.
    t.fit_loop_.max_steps = options.num_training() + start_steps;
    t.options_.limit_val_batches(BatchLimit(options.num_training()));
    for (auto& group : optimizer->param_groups()) group.options().set_lr(options.min_lr());
    auto scheduler = std::make_shared<SweepLR>(optimizer, finder->mode() == "linear",
                                               options.max_lr(), options.num_training());
    t.lr_scheduler_configs_ = {LRSchedulerConfig(scheduler, SchedulerConfig().interval("step"))};
    callback = std::make_shared<LRCallback>(scheduler, options.early_stop_threshold(), start_steps);
    t.callbacks_ = {callback};

    run.run_loop();

    const int64_t steps = t.fit_loop_.counters().global_step;
    if (steps != options.num_training() + start_steps) {
      tuner_info(t, "LR finder stopped early after " + std::to_string(steps) +
                        " steps due to diverging loss.");
    }
  } catch (...) {
    run.restore();
    throw;
  }
  run.restore();
  if (t.world_size() > 1) {
    // Every rank takes rank 0's results (Lightning broadcasts them), so that
    // all of them suggest, and set, the same rate. They stopped at the same
    // step: should_stop was broadcast after each one.
    auto from_rank0 = [&](const std::vector<double>& values) {
      const at::Tensor local = at::tensor(values, at::kDouble).to(t.device_);
      const at::Tensor shared = t.strategy_->broadcast(local, 0).cpu();
      return std::vector<double>(shared.data_ptr<double>(),
                                 shared.data_ptr<double>() + shared.numel());
    };
    callback->losses = from_rank0(callback->losses);
  }
  finder->set_results(std::move(callback->lrs), std::move(callback->losses));
  // For report.html (CSVLogger's lr_find.csv); Lightning keeps the sweep
  // only in the returned object.
  if (t.is_global_zero()) {
    for (const auto& logger : t.loggers_) {
      if (auto* csv = dynamic_cast<CSVLogger*>(logger.get()))
        csv->log_lr_find(*finder, start_steps);
    }
  }

  if (options.update_attr()) {
    if (const std::optional<double> lr = finder->suggestion()) {
      set_hparam(t, model, attr, *lr);
      for (const auto& o : t.optimizers_) {
        for (auto& group : o->param_groups()) group.options().set_lr(*lr);
      }
      tuner_info(t, "Learning rate set to " + format_float_repr(*lr));
    }
  }
  return finder;
}

}  // namespace detail

// ---- LRFinder --------------------------------------------------------------------

LRFinder::LRFinder(std::string mode, double lr_min, double lr_max, int64_t num_training)
    : mode_(detail::checked_lr_mode(mode)),
      lr_min_(lr_min),
      lr_max_(lr_max),
      num_training_(num_training) {
  LIGHTNING_CHECK(lr_min > 0 && lr_max > lr_min,
                  "the learning rate finder needs 0 < min_lr < max_lr, got min_lr=", lr_min,
                  " and max_lr=", lr_max, ".");
  LIGHTNING_CHECK(num_training >= 1, "the learning rate finder's num_training must be >= 1, got ",
                  num_training, ".");
}

void LRFinder::set_results(std::vector<double> lrs, std::vector<double> losses) {
  LIGHTNING_CHECK(lrs.size() == losses.size(), "LRFinder::set_results: ", lrs.size(),
                  " learning rates but ", losses.size(), " losses.");
  lrs_ = std::move(lrs);
  losses_ = std::move(losses);
  optimal_idx_.reset();
}

std::optional<int64_t> LRFinder::suggestion_index(int64_t skip_begin, int64_t skip_end) const {
  // Python's slice [skip_begin:-skip_end] ([x:-0] is empty, as in Lightning).
  const auto n = static_cast<int64_t>(losses_.size());
  auto clamp_index = [n](int64_t i) { return std::clamp<int64_t>(i < 0 ? n + i : i, 0, n); };
  const int64_t begin = clamp_index(skip_begin);
  const int64_t end = clamp_index(-skip_end);
  std::vector<double> kept_losses, kept_lrs;
  std::vector<int64_t> kept_idx;
  for (int64_t i = begin; i < end; ++i) {
    // torch.tensor(list of floats) is float32: finiteness is judged there.
    if (!std::isfinite(static_cast<float>(losses_[i]))) continue;
    kept_losses.push_back(losses_[i]);
    kept_lrs.push_back(lrs_[i]);
    kept_idx.push_back(i);
  }
  if (kept_losses.size() < 2) return std::nullopt;
  const at::Tensor losses = at::tensor(kept_losses, at::kDouble).to(at::kFloat);
  const at::Tensor lrs = at::tensor(kept_lrs, at::kDouble).to(at::kFloat);
  const std::vector<at::Tensor> spacing{lrs};
  const at::Tensor gradients = at::gradient(losses, at::TensorList(spacing))[0];
  return kept_idx[static_cast<size_t>(gradients.argmin().item<int64_t>())];
}

std::optional<double> LRFinder::suggestion(int64_t skip_begin, int64_t skip_end) {
  optimal_idx_ = suggestion_index(skip_begin, skip_end);
  if (!optimal_idx_) {
    detail::warn(
        "Failed to compute suggestion for learning rate because there are not enough points. "
        "Increase the loop iteration limits or the size of your dataset/dataloader.");
    return std::nullopt;
  }
  return lrs_[static_cast<size_t>(*optimal_idx_)];
}

}  // namespace lightning
