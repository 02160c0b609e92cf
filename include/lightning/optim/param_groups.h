// lightning/optim/param_groups.h — reading and writing the hyperparameters of
// a libtorch optimizer's parameter groups the way Python code indexes
// `optimizer.param_groups[i]["lr"]`, `["momentum"]`, `["betas"]`.
//
//   double lr = L::get_lr(*optimizer);            // group 0
//   L::set_momentum(optimizer->param_groups()[0].options(), 0.9);
//
// "Momentum" is SGD's and RMSprop's `momentum` and Adam's and AdamW's `beta1`,
// as Lightning's LearningRateMonitor and PyTorch's OneCycleLR read it.
#pragma once

#include <torch/optim/optimizer.h>

#include <optional>
#include <string>

#include "lightning/export.h"

namespace lightning {

/// Python's class name of a libtorch optimizer: "Adam", "SGD", "AdamW", ...
LIGHTNING_API std::string optimizer_name(const torch::optim::Optimizer& optimizer);

/// The learning rate of parameter group `group` (default the first).
/// `lightning::Error` when the group does not exist.
LIGHTNING_API double get_lr(const torch::optim::Optimizer& optimizer, size_t group = 0);

/// SGD/RMSprop `momentum`, Adam/AdamW `beta1`; nullopt where the optimizer has
/// no such value (Adagrad, LBFGS).
LIGHTNING_API std::optional<double> momentum_of(const torch::optim::OptimizerOptions& options);

/// Sets what `momentum_of` reads. `lightning::Error` naming `optimizer_kind`
/// when the options have no momentum or beta1.
LIGHTNING_API void set_momentum(torch::optim::OptimizerOptions& options, double value,
                                const std::string& optimizer_kind);

/// True when `momentum_of` reads beta1 (Adam, AdamW) rather than `momentum`.
LIGHTNING_API bool uses_beta1(const torch::optim::OptimizerOptions& options);

/// The group's weight decay; 0 where the optimizer has none.
LIGHTNING_API double weight_decay_of(const torch::optim::OptimizerOptions& options);

}  // namespace lightning
