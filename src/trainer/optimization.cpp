// Automatic optimization (Lightning's _AutomaticOptimization): what
// configure_optimizers returned, zero_grad / backward / clip / step around
// each training batch, and stepping the LR schedulers.
#include <torch/optim/optimizer.h>

#include <algorithm>

#include "lightning/error.h"
#include "lightning/optim/param_groups.h"
#include "trainer/trainer_impl.h"

namespace lightning::detail {

void TrainerAccess::replace_configure_optimizers(
    Trainer& trainer, const LightningModule& module,
    std::function<OptimizerConfig(LightningModule&)> configure) {
  TrainerImpl& t = impl(trainer);
  t.configure_optimizers_of_ = configure ? &module : nullptr;
  t.configure_optimizers_ = std::move(configure);
}

void TrainerImpl::configure_optimizers(LightningModule& model) {
  OptimizerConfig config = call_module_hook(Hook::ConfigureOptimizers, [&] {
    if (configure_optimizers_ && configure_optimizers_of_ == &model) {
      return configure_optimizers_(model);
    }
    return model.configure_optimizers();
  });
  optimizers_ = config.optimizers();
  for (size_t i = 0; i < optimizers_.size(); ++i) {
    LIGHTNING_CHECK(optimizers_[i] != nullptr, "configure_optimizers returned a null optimizer ",
                    "at index ", i, ".");
  }
  const bool automatic = model.automatic_optimization();
  LIGHTNING_CHECK(optimizers_.size() <= 1 || !automatic, "configure_optimizers returned ",
                  optimizers_.size(),
                  " optimizers, but automatic optimization drives exactly one. Call "
                  "set_automatic_optimization(false) in the module's constructor and step them "
                  "yourself in training_step (manual optimization).");
  if (optimizers_.empty()) {
    warn_once(
        "configure_optimizers returned no optimizer: fit runs training_step and backward but "
        "never updates the weights.");
  }
  lr_scheduler_configs_ = config.lr_schedulers();
  for (size_t i = 0; i < lr_scheduler_configs_.size(); ++i) {
    const LRSchedulerConfig& c = lr_scheduler_configs_[i];
    LIGHTNING_CHECK(c.scheduler != nullptr, "configure_optimizers returned a null scheduler at ",
                    "index ", i, ".");
    const std::string what =
        "lr_schedulers[" + std::to_string(i) + "] (" + c.scheduler->name() + ")";
    LIGHTNING_CHECK(c.config.interval() == "epoch" || c.config.interval() == "step",
                    "The interval of ", what, " must be \"epoch\" or \"step\", got \"",
                    c.config.interval(), "\".");
    LIGHTNING_CHECK(c.config.frequency() >= 1, "The frequency of ", what,
                    " must be >= 1 (step every N epochs or optimizer steps), got ",
                    c.config.frequency(), ".");
    LIGHTNING_CHECK(!c.scheduler->reduce_on_plateau() || c.config.monitor(), what,
                    " needs a metric to monitor: return it with "
                    "L::SchedulerConfig().monitor(\"val_loss\") (Lightning's {\"scheduler\": "
                    "scheduler, \"monitor\": \"val_loss\"}).");
    const bool bound = std::find(optimizers_.begin(), optimizers_.end(),
                                 c.scheduler->optimizer_ptr()) != optimizers_.end();
    LIGHTNING_CHECK(bound, what, " is bound to an optimizer (",
                    optimizer_name(c.scheduler->optimizer()),
                    ") that configure_optimizers did not return. Build the scheduler on one of "
                    "the returned optimizers, or return its optimizer too.");
  }
  if (!automatic) {
    LIGHTNING_CHECK(accumulate_grad_batches_ == 1,
                    "accumulate_grad_batches=", accumulate_grad_batches_,
                    " is not supported with manual optimization: accumulate in training_step "
                    "yourself (step the optimizer every N batches), or use automatic "
                    "optimization.");
    LIGHTNING_CHECK(!options_.gradient_clip_val() || *options_.gradient_clip_val() == 0.0,
                    "gradient_clip_val=", options_.gradient_clip_val().value_or(0),
                    " is not supported with manual optimization: call clip_gradients(opt, ...) "
                    "in training_step before opt.step(), or use automatic optimization.");
  }
}

const at::Tensor& TrainerImpl::checked_loss(const StepOutput& output) const {
  LIGHTNING_CHECK(output.has_loss(), "training_step returned named outputs without a \"loss\" ",
                  "entry. Return the loss tensor, or {{\"loss\", loss}, ...}.");
  const at::Tensor& loss = output.loss();
  LIGHTNING_CHECK(loss.defined(), "training_step returned an undefined tensor as its loss. ",
                  "Return the scalar loss tensor, or {} to skip the batch.");
  LIGHTNING_CHECK(loss.numel() == 1, "training_step must return a scalar loss, got a tensor of ",
                  "shape ", loss.sizes(), ". Reduce it, e.g. loss.mean().");
  LIGHTNING_CHECK(loss.is_floating_point(), "training_step must return a floating-point loss, ",
                  "got dtype ", loss.scalar_type(), ".");
  LIGHTNING_CHECK(loss.requires_grad(), "training_step returned a loss that does not require grad ",
                  "(value ", loss.item<double>(), "): it was computed without autograd (under ",
                  "NoGradGuard/InferenceMode, from .detach(), or from parameters with "
                  "requires_grad=false). Compute it from the module's outputs.");
  return loss;
}

void TrainerImpl::zero_grad(LightningModule& model, torch::optim::Optimizer& optimizer) {
  call_hook(
      Hook::OnBeforeZeroGrad, [&](Callback& c) { c.on_before_zero_grad(self_, model, optimizer); },
      [&] { model.on_before_zero_grad(optimizer); });
  ActionScope action(profiling_, [&] { return module_action("optimizer_zero_grad"); });
  optimizer.zero_grad();
}

void TrainerImpl::backward_and_step(LightningModule& model, torch::optim::Optimizer* optimizer,
                                    const at::Tensor& loss, bool first_in_window, bool step) {
  // Lightning's automatic optimization: gradients are zeroed at the first
  // batch of an accumulation window, every batch backpropagates loss / k, the
  // last batch of the window clips and steps.
  if (optimizer && first_in_window) zero_grad(model, *optimizer);
  const int64_t k = accumulate_grad_batches_;
  strategy_->set_gradient_sync(step);  // DDP: no all-reduce while accumulating (no_sync)
  backward(model, k > 1 ? loss / static_cast<double>(k) : loss);
  if (!step) return;
  if (optimizer) {
    optimizer_step(model, *optimizer, /*clip=*/true);
  } else {
    ++fit_loop_.counters().global_step;
  }
}

void TrainerImpl::backward(LightningModule& model, const at::Tensor& loss) {
  // The precision plugin scales the loss under "16-mixed"; the hooks see what
  // backward runs on, as in Lightning.
  const at::Tensor scaled = precision_->pre_backward(loss);
  call_hook(
      Hook::OnBeforeBackward, [&](Callback& c) { c.on_before_backward(self_, model, scaled); },
      [&] { model.on_before_backward(scaled); });
  {
    ActionScope action(profiling_, [&] { return strategy_action("backward"); });
    strategy_->backward(scaled);
  }
  call_hook(
      Hook::OnAfterBackward, [&](Callback& c) { c.on_after_backward(self_, model); },
      [&] { model.on_after_backward(); });
}

void TrainerImpl::optimizer_step(LightningModule& model, torch::optim::Optimizer& optimizer,
                                 bool clip) {
  // Gradients are unscaled before the hook and clipping see them; the plugin
  // skips the step on inf/NaN under "16-mixed". global_step counts optimizer
  // steps, skipped ones included (as Lightning's optimizer step progress).
  // Under DDP the averaged gradients are complete first. The action covers
  // the step alone (Lightning's also holds the closure: step and backward).
  ActionScope action(profiling_, [&] { return module_action("optimizer_step"); });
  strategy_->before_optimizer_step(optimizer);
  precision_->unscale_gradients(optimizer);
  call_hook(
      Hook::OnBeforeOptimizerStep,
      [&](Callback& c) { c.on_before_optimizer_step(self_, model, optimizer); },
      [&] { model.on_before_optimizer_step(optimizer); });
  if (clip) {
    call_module_hook(Hook::ConfigureGradientClipping, [&] {
      model.configure_gradient_clipping(optimizer, options_.gradient_clip_val(),
                                        options_.gradient_clip_algorithm());
      return 0;
    });
  }
  precision_->optimizer_step(optimizer);
  ++fit_loop_.counters().global_step;
}

void TrainerImpl::update_lr_schedulers(const std::string& interval, bool plateau) {
  // Under manual optimization the module steps its schedulers itself.
  if (!model_ || !model_->automatic_optimization()) return;
  for (auto& c : lr_scheduler_configs_) {
    if (c.scheduler->reduce_on_plateau() != plateau || c.config.interval() != interval) continue;
    // frequency counts optimizer steps ("step") or epochs ("epoch").
    const int64_t done =
        interval == "step" ? fit_loop_.counters().global_step : fit_loop_.counters().epoch + 1;
    if (done % c.config.frequency() != 0) continue;
    ActionScope action(profiling_, [&] { return module_action("lr_scheduler_step"); });
    if (!plateau) {
      c.scheduler->step();
      continue;
    }
    const std::string& key = *c.config.monitor();
    auto it = callback_metrics_.find(key);
    if (it == callback_metrics_.end()) {
      std::string available;
      for (const auto& [name, value] : callback_metrics_) {
        available += (available.empty() ? "" : ", ") + name;
      }
      const std::string what = c.scheduler->name() + " conditioned on metric \"" + key +
                               "\", which is not available. Available metrics are: [" + available +
                               "].";
      LIGHTNING_CHECK(!c.config.strict(), what, " Log it with log(\"", key,
                      "\", ...) before the scheduler steps (interval \"", interval,
                      "\"), or set SchedulerConfig().strict(false) to skip the update when it "
                      "is missing.");
      warn(what + " strict is false: the learning-rate update is skipped.");
      continue;
    }
    c.scheduler->step(it->second.item<double>());
  }
}

}  // namespace lightning::detail
