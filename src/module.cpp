#include "lightning/module.h"

#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/optimizer.h>

#include <cmath>

#include "lightning/error.h"
#include "lightning/metrics/metric.h"
#include "lightning/metrics/metric_collection.h"
#include "lightning/trainer.h"
#include "trainer/trainer_impl.h"

namespace lightning {

LightningModule::LightningModule() = default;

LightningModule::~LightningModule() = default;

StepOutput LightningModule::training_step(Batch&, int64_t) {
  LIGHTNING_FAIL(name(), " does not override training_step(batch, batch_idx), which `fit` needs. ",
                 "Override it and return the loss.");
}

StepOutput LightningModule::validation_step(Batch&, int64_t) {
  LIGHTNING_FAIL(name(), " does not override validation_step(batch, batch_idx). ",
                 "Override it to run `validate`.");
}

StepOutput LightningModule::validation_step(Batch& batch, int64_t batch_idx, int64_t) {
  return validation_step(batch, batch_idx);
}

StepOutput LightningModule::test_step(Batch&, int64_t) {
  LIGHTNING_FAIL(name(), " does not override test_step(batch, batch_idx). ",
                 "Override it to run `test`.");
}

StepOutput LightningModule::test_step(Batch& batch, int64_t batch_idx, int64_t) {
  return test_step(batch, batch_idx);
}

c10::IValue LightningModule::predict_step(Batch&, int64_t) {
  LIGHTNING_FAIL(name(), " does not override predict_step(batch, batch_idx). ",
                 "Override it to run `predict` (return e.g. forward(x)).");
}

c10::IValue LightningModule::predict_step(Batch& batch, int64_t batch_idx, int64_t) {
  return predict_step(batch, batch_idx);
}

OptimizerConfig LightningModule::configure_optimizers() { return {}; }

std::vector<std::shared_ptr<Callback>> LightningModule::configure_callbacks() { return {}; }

void LightningModule::configure_gradient_clipping(
    torch::optim::Optimizer& optimizer, std::optional<double> gradient_clip_val,
    std::optional<std::string> gradient_clip_algorithm) {
  clip_gradients(optimizer, gradient_clip_val, std::move(gradient_clip_algorithm));
}

void LightningModule::clip_gradients(torch::optim::Optimizer& optimizer,
                                     std::optional<double> gradient_clip_val,
                                     std::optional<std::string> gradient_clip_algorithm) {
  const std::string algorithm = gradient_clip_algorithm.value_or("norm");
  LIGHTNING_CHECK(algorithm == "norm" || algorithm == "value",
                  "gradient_clip_algorithm must be \"norm\" or \"value\", got \"", algorithm,
                  "\".");
  if (!gradient_clip_val || *gradient_clip_val == 0.0) return;
  const double value = *gradient_clip_val;
  LIGHTNING_CHECK(std::isfinite(value) && value > 0.0,
                  "gradient_clip_val must be a finite number >= 0, got ", value, ".");
  // Under "16-mixed" the gradients are scaled: clip what the optimizer will see.
  if (trainer_) trainer_->precision_plugin().unscale_gradients(optimizer);
  std::vector<at::Tensor> params;
  for (const auto& group : optimizer.param_groups()) {
    for (const auto& p : group.params()) params.push_back(p);
  }
  if (algorithm == "norm") {
    torch::nn::utils::clip_grad_norm_(params, value, 2.0);
  } else {
    torch::nn::utils::clip_grad_value_(params, value);
  }
}

void LightningModule::clip_gradients(const LightningOptimizer& optimizer,
                                     std::optional<double> gradient_clip_val,
                                     std::optional<std::string> gradient_clip_algorithm) {
  clip_gradients(optimizer.optimizer(), gradient_clip_val, std::move(gradient_clip_algorithm));
}

// ---- Manual optimization ---------------------------------------------------

std::vector<LightningOptimizer> LightningModule::optimizers() {
  Trainer& t = trainer();
  std::vector<LightningOptimizer> out;
  for (const auto& o : t.optimizers()) out.emplace_back(t, o);
  return out;
}

void LightningModule::check_optimizer_count(size_t have, size_t want) const {
  LIGHTNING_CHECK(have == want, "optimizers<", want, ">() asked for ", want,
                  " optimizer(s), but configure_optimizers returned ", have, ". Use optimizers<",
                  have, ">() or optimizers() for the list.");
}

std::vector<std::shared_ptr<LRScheduler>> LightningModule::lr_schedulers() {
  std::vector<std::shared_ptr<LRScheduler>> out;
  for (const auto& c : trainer().lr_scheduler_configs()) out.push_back(c.scheduler);
  return out;
}

void LightningModule::manual_backward(const at::Tensor& loss) {
  LIGHTNING_CHECK(!automatic_optimization_,
                  "manual_backward is for manual optimization: call "
                  "set_automatic_optimization(false) in the module's constructor, or return the "
                  "loss from training_step and let the Trainer call backward.");
  Trainer& t = trainer();
  LIGHTNING_CHECK(loss.defined() && loss.requires_grad(),
                  "manual_backward needs a loss that requires grad; got ",
                  loss.defined() ? "one computed without autograd" : "an undefined tensor",
                  ". Compute it from the module's outputs, outside NoGradGuard.");
  detail::TrainerAccess::impl(t).backward(*this, loss);
}

void LightningModule::toggle_optimizer(const LightningOptimizer& optimizer) {
  // Lightning: every parameter of every optimizer stops requiring grad, then
  // this optimizer's parameters get their own flag back.
  toggled_requires_grad_.clear();
  auto index_of = [&](const at::Tensor& p) -> int64_t {
    for (size_t i = 0; i < toggled_requires_grad_.size(); ++i) {
      if (toggled_requires_grad_[i].first.is_same(p)) return static_cast<int64_t>(i);
    }
    return -1;
  };
  for (const auto& opt : trainer().optimizers()) {
    for (const auto& group : opt->param_groups()) {
      for (const auto& p : group.params()) {
        if (index_of(p) < 0) toggled_requires_grad_.emplace_back(p, p.requires_grad());
      }
    }
  }
  for (auto& [p, flag] : toggled_requires_grad_) p.set_requires_grad(false);
  for (const auto& group : optimizer.param_groups()) {
    for (const auto& p : group.params()) {
      const int64_t i = index_of(p);
      if (i >= 0)
        toggled_requires_grad_[i].first.set_requires_grad(toggled_requires_grad_[i].second);
    }
  }
}

void LightningModule::untoggle_optimizer(const LightningOptimizer&) {
  for (auto& [p, flag] : toggled_requires_grad_) p.set_requires_grad(flag);
  toggled_requires_grad_.clear();
}

DataLoaders LightningModule::train_dataloader() { return {}; }
DataLoaders LightningModule::val_dataloader() { return {}; }
DataLoaders LightningModule::test_dataloader() { return {}; }
DataLoaders LightningModule::predict_dataloader() { return {}; }

Batch LightningModule::transfer_batch_to_device(Batch batch, const at::Device& device, int64_t) {
  // Non-blocking to CUDA, as Lightning: asynchronous from pinned memory
  // (DataLoaderOptions::pin_memory), an ordinary copy otherwise.
  return batch.to(device, /*non_blocking=*/device.is_cuda());
}

void LightningModule::log(const std::string& name, const at::Tensor& value,
                          const LogOptions& options) {
  if (trainer_ == nullptr) {
    detail::warn_once("self.log('" + name +
                      "') was called but this module is not attached to a Trainer; the value is "
                      "ignored. Log from inside the Trainer's hooks.");
    return;
  }
  detail::TrainerAccess::impl(*trainer_).module_log(name, value, options);
}

void LightningModule::log(const std::string& name, double value, const LogOptions& options) {
  log(name, at::scalar_tensor(value, at::kDouble), options);
}

void LightningModule::log_dict(const std::map<std::string, at::Tensor>& metrics,
                               const LogOptions& options) {
  for (const auto& [name, value] : metrics) log(name, value, options);
}

void LightningModule::log_dict(const std::map<std::string, double>& metrics,
                               const LogOptions& options) {
  for (const auto& [name, value] : metrics) log(name, value, options);
}

void LightningModule::log(const std::string& name, metrics::Metric& metric,
                          const LogOptions& options) {
  if (trainer_ == nullptr) {
    detail::warn_once("self.log('" + name +
                      "', metric) was called but this module is not attached to a Trainer; the "
                      "metric is not logged. Log from inside the Trainer's hooks.");
    return;
  }
  detail::TrainerAccess::impl(*trainer_).module_log_metric(name, metric, options);
}

void LightningModule::log(const std::string& name, const std::shared_ptr<metrics::Metric>& metric,
                          const LogOptions& options) {
  LIGHTNING_CHECK(metric != nullptr, "self.log('", name, "') got a null metric pointer.");
  log(name, *metric, options);
}

void LightningModule::log_dict(metrics::MetricCollection& collection, const LogOptions& options) {
  for (const auto& [name, metric] : collection.items()) log(name, *metric, options);
}

void LightningModule::log_dict(const std::shared_ptr<metrics::MetricCollection>& collection,
                               const LogOptions& options) {
  LIGHTNING_CHECK(collection != nullptr, "self.log_dict() got a null MetricCollection pointer.");
  log_dict(*collection, options);
}

int64_t LightningModule::current_epoch() const { return trainer_ ? trainer_->current_epoch() : 0; }

int64_t LightningModule::global_step() const { return trainer_ ? trainer_->global_step() : 0; }

at::Device LightningModule::device() const {
  if (trainer_) return trainer_->root_device();
  for (const auto& p : parameters()) return p.device();
  return at::kCPU;
}

int64_t LightningModule::global_rank() const { return trainer_ ? trainer_->global_rank() : 0; }

int64_t LightningModule::local_rank() const { return trainer_ ? trainer_->local_rank() : 0; }

Trainer& LightningModule::trainer() const {
  LIGHTNING_CHECK(trainer_ != nullptr, name(),
                  " is not attached to a Trainer. trainer() is available inside hooks called by ",
                  "Trainer::fit/validate/test/predict, and afterwards while that Trainer lives.");
  return *trainer_;
}

}  // namespace lightning
