// lightning/callbacks/finetuning.h — freezing part of a model and unfreezing
// it later into a new optimizer parameter group, as Lightning's
// BaseFinetuning and BackboneFinetuning.
//
//   class MyFinetuning : public L::BaseFinetuning {
//    public:
//     void freeze_before_training(L::LightningModule& module) override {
//       freeze({module.named_children()["feature_extractor"]});
//     }
//     void finetune_function(L::LightningModule& module, int64_t epoch,
//                            torch::optim::Optimizer& optimizer) override {
//       if (epoch == 10)
//         unfreeze_and_add_param_group({module.named_children()["feature_extractor"]},
//                                      optimizer, /*lr=*/std::nullopt, /*initial_denom_lr=*/10);
//     }
//   };
//
// Hook timing as Lightning: `setup` (every stage) calls freeze_before_training;
// `on_train_epoch_start` calls finetune_function once per optimizer (so
// configure_optimizers should hand the optimizer only the trainable
// parameters). The parameter groups it adds are checkpointed
// ("internal_optimizer_metadata": per optimizer, each group's
// hyperparameters and parameter names) and rebuilt at `on_fit_start` of a
// resumed fit, before the optimizer state is loaded into them.
//
// Differences from Python: a parameter counts as "already in the optimizer"
// when it is the same tensor (Lightning compares values with torch.equal, so
// two zero-initialised biases count as the same there); BatchNorm's
// `track_running_stats` is left alone (libtorch's BatchNorm would then
// normalise with batch statistics in eval mode, where Python's keeps the
// running ones).
#pragma once

#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "lightning/callbacks/callback.h"
#include "lightning/export.h"

namespace lightning {

/// Modules to freeze or unfreeze (each with its submodules): Python's
/// "Module or iterable of modules". `{module.backbone}` for one.
using FinetuneModules = std::vector<std::shared_ptr<torch::nn::Module>>;

/// Base class of finetuning callbacks: override `freeze_before_training` and
/// `finetune_function`; use the static helpers in them.
class LIGHTNING_API BaseFinetuning : public Callback {
 public:
  BaseFinetuning() = default;

  /// Freeze what should not train at first. Called from `setup`. The default
  /// raises `lightning::Error` (override it).
  virtual void freeze_before_training(LightningModule& module);
  /// Unfreeze (or change learning rates) at `epoch`; called at each training
  /// epoch start, once per optimizer. The default raises `lightning::Error`.
  virtual void finetune_function(LightningModule& module, int64_t epoch,
                                 torch::optim::Optimizer& optimizer);

  /// The leaf modules of `modules` and the modules holding parameters of
  /// their own, in `modules()` order (Lightning's flatten_modules).
  static FinetuneModules flatten_modules(const FinetuneModules& modules);
  /// The parameters of the flattened modules whose requires_grad equals
  /// `requires_grad`; BatchNorm layers skipped unless `train_bn`.
  static std::vector<at::Tensor> filter_params(const FinetuneModules& modules, bool train_bn = true,
                                               bool requires_grad = true);
  /// requires_grad = true on every parameter of `modules`.
  static void make_trainable(const FinetuneModules& modules);
  /// requires_grad = false on the parameters `module` holds itself.
  static void freeze_module(torch::nn::Module& module);
  /// Freezes every parameter of `modules`; BatchNorm layers stay trainable
  /// when `train_bn`.
  static void freeze(const FinetuneModules& modules, bool train_bn = true);
  /// `params` without those already in one of `optimizer`'s groups (warns
  /// once when some were).
  static std::vector<at::Tensor> filter_on_optimizer(const torch::optim::Optimizer& optimizer,
                                                     const std::vector<at::Tensor>& params);
  /// Makes `modules` trainable and adds their parameters (BatchNorm's only
  /// with `train_bn`; none already in the optimizer) as a new group with
  /// learning rate `lr`, or the first group's lr / `initial_denom_lr` when
  /// `lr` is unset; the group's other hyperparameters are the optimizer's
  /// defaults. Nothing is added when no parameter is left.
  static void unfreeze_and_add_param_group(const FinetuneModules& modules,
                                           torch::optim::Optimizer& optimizer,
                                           std::optional<double> lr = std::nullopt,
                                           double initial_denom_lr = 10.0, bool train_bn = true);

  /// {"internal_optimizer_metadata": {optimizer index: [group dicts, params
  /// as parameter names]}}.
  StateDict state_dict() const override;
  void load_state_dict(const StateDict& state) override;

  void setup(Trainer& trainer, LightningModule& module, Stage stage) override;
  void on_fit_start(Trainer& trainer, LightningModule& module) override;
  void on_train_epoch_start(Trainer& trainer, LightningModule& module) override;

  /// Per optimizer index, its groups as recorded at the first training epoch
  /// start and extended by the groups finetune_function added (Lightning's
  /// `_internal_optimizer_metadata`): each a dict of hyperparameters with
  /// "params" a list of parameter names.
  const std::map<int64_t, std::vector<StateDict>>& internal_optimizer_metadata() const {
    return internal_optimizer_metadata_;
  }

 private:
  std::map<int64_t, std::vector<StateDict>> internal_optimizer_metadata_;
  // Set by load_state_dict; on_fit_start rebuilds the groups and clears it.
  bool restarting_ = false;
  void store(LightningModule& module, int64_t opt_idx, size_t num_param_groups,
             const torch::optim::Optimizer& optimizer);
};

/// Options of BackboneFinetuning, with Lightning's names and defaults.
struct LIGHTNING_API BackboneFinetuningOptions {
  /// The epoch at which the backbone is unfrozen. Default 10.
  TORCH_ARG(int64_t, unfreeze_backbone_at_epoch) = 10;
  /// The backbone's learning rate at epoch e + 1 is lambda_func(e + 1) times
  /// its previous one. Default: always 2 (Lightning's `multiplicative`).
  TORCH_ARG(std::function<double(int64_t)>, lambda_func) = nullptr;
  /// The backbone's initial lr as a ratio of the first group's. Default 0.1.
  TORCH_ARG(double, backbone_initial_ratio_lr) = 0.1;
  /// The backbone's initial lr; overrides the ratio when set. Default unset.
  TORCH_ARG(std::optional<double>, backbone_initial_lr) = std::nullopt;
  /// Cap the backbone's lr at the first group's. Default true.
  TORCH_ARG(bool, should_align) = true;
  /// Passed to unfreeze_and_add_param_group (used only without an lr). Default 10.
  TORCH_ARG(double, initial_denom_lr) = 10.0;
  /// Train BatchNorm layers of the backbone while it is frozen. Default true.
  TORCH_ARG(bool, train_bn) = true;
  /// Print the learning rates when they change. Default false.
  TORCH_ARG(bool, verbose) = false;
  /// Digits those prints round to. Default 12.
  TORCH_ARG(int64_t, rounding) = 12;
};

/// Freezes the module's submodule registered as "backbone" before training
/// and adds it to each optimizer as a new parameter group at
/// `unfreeze_backbone_at_epoch`, with an lr that then grows by `lambda_func`
/// each epoch (capped at the first group's when `should_align`).
class LIGHTNING_API BackboneFinetuning : public BaseFinetuning {
 public:
  /// `lightning::Error` for a negative epoch, a ratio or initial lr <= 0,
  /// or initial_denom_lr <= 0.
  explicit BackboneFinetuning(BackboneFinetuningOptions options = {});

  void freeze_before_training(LightningModule& module) override;
  void finetune_function(LightningModule& module, int64_t epoch,
                         torch::optim::Optimizer& optimizer) override;
  /// Also "previous_backbone_lr" (None before the unfreeze epoch).
  StateDict state_dict() const override;
  void load_state_dict(const StateDict& state) override;
  /// `lightning::Error` when the module has no submodule named "backbone".
  void on_fit_start(Trainer& trainer, LightningModule& module) override;

  const BackboneFinetuningOptions& options() const { return options_; }
  /// The backbone group's lr last set (unset before the unfreeze epoch).
  std::optional<double> previous_backbone_lr() const { return previous_backbone_lr_; }

 private:
  BackboneFinetuningOptions options_;
  std::optional<double> previous_backbone_lr_;
};

}  // namespace lightning
