// lightning/module.h — LightningModule: a torch::nn::Module that organises
// training code into Lightning's hooks.
//
//   class MyModel : public L::LightningModule {
//    public:
//     explicit MyModel(L::HParams hp) {
//       save_hyperparameters(hp);
//       net_ = register_module("net", torch::nn::Linear(784, 10));
//     }
//     torch::Tensor forward(torch::Tensor x) { return net_->forward(x.flatten(1)); }
//     L::StepOutput training_step(L::Batch& batch, int64_t batch_idx) override {
//       auto [x, y] = batch.unpack<2>();
//       auto loss = torch::nn::functional::cross_entropy(forward(x), y);
//       log("train_loss", loss);
//       return loss;
//     }
//     L::OptimizerConfig configure_optimizers() override {
//       return std::make_shared<torch::optim::Adam>(
//           parameters(), torch::optim::AdamOptions(hparams().get<double>("learning_rate")));
//     }
//    private:
//     torch::nn::Linear net_{nullptr};
//   };
//
// Every hook is a virtual member with Lightning's name and a no-op default.
// Hooks are called by the Trainer; a module belongs to one Trainer at a time
// (`trainer()` is valid while that Trainer lives).
#pragma once

#include <ATen/ATen.h>
#include <ATen/core/ivalue.h>
#include <torch/nn/module.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lightning/callbacks/callback.h"
#include "lightning/data/batch.h"
#include "lightning/data/dataloader.h"
#include "lightning/data/step_output.h"
#include "lightning/hparams.h"
#include "lightning/logging.h"
#include "lightning/optim/lightning_optimizer.h"
#include "lightning/optim/optimizer_config.h"
#include "lightning/stage.h"

namespace lightning {

class Trainer;
class Checkpoint;
namespace metrics {
class Metric;
class MetricCollection;
}  // namespace metrics
namespace detail {
struct TrainerAccess;
}

/// Base class of models trained by the Trainer.
class LIGHTNING_API LightningModule : public torch::nn::Module {
 public:
  LightningModule();
  ~LightningModule() override;

  // ---- The steps -----------------------------------------------------------

  /// One training batch: return the loss (or {"loss": ...}, or {} to skip the
  /// batch). Must be overridden to call `fit`.
  virtual StepOutput training_step(Batch& batch, int64_t batch_idx);
  /// One validation batch (no grad, eval mode). Not overriding it disables validation.
  virtual StepOutput validation_step(Batch& batch, int64_t batch_idx);
  /// With several val dataloaders; the default calls the two-argument form.
  virtual StepOutput validation_step(Batch& batch, int64_t batch_idx, int64_t dataloader_idx);
  /// One test batch (no grad, eval mode). Must be overridden to call `test`.
  virtual StepOutput test_step(Batch& batch, int64_t batch_idx);
  virtual StepOutput test_step(Batch& batch, int64_t batch_idx, int64_t dataloader_idx);
  /// One prediction batch: return anything (a tensor converts implicitly).
  /// Must be overridden to call `predict`.
  virtual c10::IValue predict_step(Batch& batch, int64_t batch_idx);
  virtual c10::IValue predict_step(Batch& batch, int64_t batch_idx, int64_t dataloader_idx);

  // ---- Configuration -------------------------------------------------------

  /// The optimizer(s). Default: none (Lightning warns and trains without steps).
  virtual OptimizerConfig configure_optimizers();
  /// Extra callbacks; they replace Trainer callbacks of the same type.
  virtual std::vector<std::shared_ptr<Callback>> configure_callbacks();
  /// Called before each optimizer step with the Trainer's gradient_clip_val
  /// and gradient_clip_algorithm. Default: `clip_gradients` with those values.
  virtual void configure_gradient_clipping(torch::optim::Optimizer& optimizer,
                                           std::optional<double> gradient_clip_val,
                                           std::optional<std::string> gradient_clip_algorithm);
  /// Clips the gradients of `optimizer`'s parameters: "norm" (default) scales
  /// them so their global 2-norm is at most `gradient_clip_val`, "value"
  /// clamps each element to [-val, val]. Unset or 0 does nothing.
  /// `lightning::Error` on a negative value or an unknown algorithm.
  void clip_gradients(torch::optim::Optimizer& optimizer,
                      std::optional<double> gradient_clip_val = std::nullopt,
                      std::optional<std::string> gradient_clip_algorithm = std::nullopt);
  /// The same for a manual-optimization handle (`optimizers()`).
  void clip_gradients(const LightningOptimizer& optimizer,
                      std::optional<double> gradient_clip_val = std::nullopt,
                      std::optional<std::string> gradient_clip_algorithm = std::nullopt);

  // ---- Data hooks ----------------------------------------------------------

  virtual void prepare_data() {}
  virtual void setup(Stage /*stage*/) {}
  virtual void teardown(Stage /*stage*/) {}
  /// Dataloaders defined on the module (used when `fit`/`test` get no data).
  /// Default: none. (Defined in the library, not inline: the Trainer tells an
  /// override from the default by its address.)
  virtual DataLoaders train_dataloader();
  virtual DataLoaders val_dataloader();
  virtual DataLoaders test_dataloader();
  virtual DataLoaders predict_dataloader();
  /// Before the batch moves to the device. Default: returns it unchanged.
  virtual Batch on_before_batch_transfer(Batch batch, int64_t /*dataloader_idx*/) { return batch; }
  /// Moves the batch to `device`. Default: `batch.to(device, non_blocking)`, non-blocking for
  /// CUDA devices (asynchronous when the loader pins memory).
  virtual Batch transfer_batch_to_device(Batch batch, const at::Device& device,
                                         int64_t dataloader_idx);
  /// After the batch is on the device. Default: returns it unchanged.
  virtual Batch on_after_batch_transfer(Batch batch, int64_t /*dataloader_idx*/) { return batch; }

  // ---- Lifecycle hooks -----------------------------------------------------

  virtual void on_fit_start() {}
  virtual void on_fit_end() {}
  virtual void on_train_start() {}
  virtual void on_train_end() {}
  virtual void on_validation_start() {}
  virtual void on_validation_end() {}
  virtual void on_test_start() {}
  virtual void on_test_end() {}
  virtual void on_predict_start() {}
  virtual void on_predict_end() {}

  virtual void on_train_epoch_start() {}
  virtual void on_train_epoch_end() {}
  virtual void on_validation_epoch_start() {}
  virtual void on_validation_epoch_end() {}
  virtual void on_test_epoch_start() {}
  virtual void on_test_epoch_end() {}
  virtual void on_predict_epoch_start() {}
  virtual void on_predict_epoch_end() {}

  /// Return -1 to end the current training epoch early. Default 0.
  virtual int64_t on_train_batch_start(Batch& /*batch*/, int64_t /*batch_idx*/) { return 0; }
  virtual void on_train_batch_end(const StepOutput& /*outputs*/, Batch& /*batch*/,
                                  int64_t /*batch_idx*/) {}
  virtual void on_validation_batch_start(Batch& /*batch*/, int64_t /*batch_idx*/,
                                         int64_t /*dataloader_idx*/) {}
  virtual void on_validation_batch_end(const StepOutput& /*outputs*/, Batch& /*batch*/,
                                       int64_t /*batch_idx*/, int64_t /*dataloader_idx*/) {}
  virtual void on_test_batch_start(Batch& /*batch*/, int64_t /*batch_idx*/,
                                   int64_t /*dataloader_idx*/) {}
  virtual void on_test_batch_end(const StepOutput& /*outputs*/, Batch& /*batch*/,
                                 int64_t /*batch_idx*/, int64_t /*dataloader_idx*/) {}
  virtual void on_predict_batch_start(Batch& /*batch*/, int64_t /*batch_idx*/,
                                      int64_t /*dataloader_idx*/) {}
  virtual void on_predict_batch_end(const c10::IValue& /*outputs*/, Batch& /*batch*/,
                                    int64_t /*batch_idx*/, int64_t /*dataloader_idx*/) {}

  virtual void on_before_zero_grad(torch::optim::Optimizer& /*optimizer*/) {}
  virtual void on_before_backward(const at::Tensor& /*loss*/) {}
  virtual void on_after_backward() {}
  virtual void on_before_optimizer_step(torch::optim::Optimizer& /*optimizer*/) {}

  virtual void on_save_checkpoint(Checkpoint& /*checkpoint*/) {}
  virtual void on_load_checkpoint(Checkpoint& /*checkpoint*/) {}

  // ---- Logging -------------------------------------------------------------

  /// Records a scalar metric; see lightning/logging.h for the rules.
  /// `value` must have one element. `lightning::Error` when called from a hook
  /// that cannot log, or with a non-scalar value or invalid options.
  void log(const std::string& name, const at::Tensor& value, const LogOptions& options = {});
  void log(const std::string& name, double value, const LogOptions& options = {});
  /// `log` for each entry, with the same options.
  void log_dict(const std::map<std::string, at::Tensor>& metrics, const LogOptions& options = {});
  void log_dict(const std::map<std::string, double>& metrics, const LogOptions& options = {});
  /// Logs a Metric object (lightning/metrics/metric.h), as Lightning logs a
  /// torchmetrics object: on step the value its last `forward` returned; on
  /// epoch `compute()` at the epoch end (over every rank), then `reset()`.
  /// `reduce_fx` and `sync_dist` do not apply. The metric must outlive the
  /// loop (a member of the module); it is logged under one name in one loop.
  void log(const std::string& name, metrics::Metric& metric, const LogOptions& options = {});
  void log(const std::string& name, const std::shared_ptr<metrics::Metric>& metric,
           const LogOptions& options = {});
  /// `log` for each metric of a collection, under its prefixed name.
  void log_dict(metrics::MetricCollection& collection, const LogOptions& options = {});
  void log_dict(const std::shared_ptr<metrics::MetricCollection>& collection,
                const LogOptions& options = {});

  // ---- Properties ----------------------------------------------------------

  /// Epoch index, 0-based (0 before training).
  int64_t current_epoch() const;
  /// Optimizer steps taken so far.
  int64_t global_step() const;
  /// Where the module's parameters live (the Trainer's device while attached).
  at::Device device() const;
  int64_t global_rank() const;
  int64_t local_rank() const;
  /// The hyperparameters given to `save_hyperparameters`.
  const HParams& hparams() const { return hparams_; }
  void save_hyperparameters(const HParams& hparams) { hparams_ = hparams; }
  /// The Trainer running this module; `lightning::Error` when none is attached.
  Trainer& trainer() const;
  bool has_trainer() const { return trainer_ != nullptr; }
  bool automatic_optimization() const { return automatic_optimization_; }
  /// false = manual optimization: training_step zeroes, backpropagates
  /// (`manual_backward`) and steps (`optimizers()`) itself.
  void set_automatic_optimization(bool value) { automatic_optimization_ = value; }

  // ---- Optimization (see docs/optimization.md) -----------------------------

  /// The optimizers from configure_optimizers, wrapped so that `step()` goes
  /// through the Trainer. `lightning::Error` outside fit.
  std::vector<LightningOptimizer> optimizers();
  /// `auto [opt_g, opt_d] = optimizers<2>();` — `lightning::Error` when there
  /// are not exactly N optimizers.
  template <size_t N>
  std::array<LightningOptimizer, N> optimizers() {
    auto all = optimizers();
    check_optimizer_count(all.size(), N);
    return make_array(all, std::make_index_sequence<N>{});
  }
  /// The schedulers from configure_optimizers (step them yourself under
  /// manual optimization).
  std::vector<std::shared_ptr<LRScheduler>> lr_schedulers();
  /// Manual optimization's backward: the precision plugin (loss scaling),
  /// on_before_backward and on_after_backward hooks around `loss.backward()`.
  /// `lightning::Error` under automatic optimization or outside fit.
  void manual_backward(const at::Tensor& loss);
  /// Only `optimizer`'s parameters require grad until `untoggle_optimizer`
  /// (for several optimizers sharing a graph, as in GANs).
  void toggle_optimizer(const LightningOptimizer& optimizer);
  /// Restores the requires_grad flags `toggle_optimizer` changed.
  void untoggle_optimizer(const LightningOptimizer& optimizer);

 private:
  friend struct detail::TrainerAccess;  // attaches the Trainer
  void check_optimizer_count(size_t have, size_t want) const;
  template <size_t... I>
  static std::array<LightningOptimizer, sizeof...(I)> make_array(
      const std::vector<LightningOptimizer>& v, std::index_sequence<I...>) {
    return {v[I]...};
  }

  Trainer* trainer_ = nullptr;
  HParams hparams_;
  bool automatic_optimization_ = true;
  // toggle_optimizer: each parameter's requires_grad before the toggle.
  std::vector<std::pair<at::Tensor, bool>> toggled_requires_grad_;
};

}  // namespace lightning
