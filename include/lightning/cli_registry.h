// lightning/cli_registry.h — user callbacks, loggers, optimizers and LR
// schedulers by name, for the `class_path` / `init_args` objects of a
// LightningCLI config.
//
//   class PrintEpochs : public L::Callback {
//    public:
//     explicit PrintEpochs(const L::HParams& init_args)
//         : every_(init_args.get<int64_t>("every", 1)) {}
//     ...
//   };
//   L::register_callback<PrintEpochs>("PrintEpochs");     // the class takes the init_args
//   L::register_callback("PrintEpochs", [](const L::HParams& a) {   // or any factory
//     return std::make_shared<PrintEpochs>(a);
//   });
//
//   # config.yaml
//   trainer:
//     callbacks:
//       - class_path: my_project.callbacks.PrintEpochs   # or just PrintEpochs
//         init_args: {every: 2}
//
//   L::register_optimizer("Lion", [](std::vector<at::Tensor> params, const L::HParams& a) {
//     return std::make_shared<Lion>(params, LionOptions(a.get<double>("lr", 1e-4)));
//   });
//   L::register_lr_scheduler("Warmup", [](std::shared_ptr<torch::optim::Optimizer> opt,
//                                         const L::HParams& a) {
//     return std::make_shared<Warmup>(opt, a.get<int64_t>("steps", 100));
//   });
//
//   # config.yaml
//   optimizer: {class_path: Lion, init_args: {lr: 3.0e-4}}
//   lr_scheduler: {class_path: Warmup, init_args: {steps: 500}}
//
// A dotted class_path finds a registered name by its last component (so a
// config written for Python LightningCLI works unchanged), unless the whole
// dotted path was registered. A registered name takes precedence over a
// built-in one of the same short name, except when the class_path names
// Lightning's (or torch's) own module ("lightning.pytorch.callbacks.ModelCheckpoint",
// "torch.optim.Adam"). A registered scheduler whose `reduce_on_plateau()` is
// true steps on the metric its init_args name as `monitor`.
// The factory reads its init_args itself; a `lightning::Error` it throws
// reaches the user prefixed with the config key path. Registering a name again
// replaces the earlier factory.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/optim/optimizer.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lightning/callbacks/callback.h"
#include "lightning/export.h"
#include "lightning/hparams.h"
#include "lightning/loggers/logger.h"
#include "lightning/optim/lr_scheduler.h"

namespace lightning {

using CallbackFactory = std::function<std::shared_ptr<Callback>(const HParams& init_args)>;
using LoggerFactory = std::function<std::shared_ptr<Logger>(const HParams& init_args)>;
/// Builds an optimizer over the module's parameters (`model.parameters()`).
using OptimizerFactory = std::function<std::shared_ptr<torch::optim::Optimizer>(
    std::vector<at::Tensor> params, const HParams& init_args)>;
/// Builds a scheduler on the config's optimizer.
using LRSchedulerFactory = std::function<std::shared_ptr<LRScheduler>(
    std::shared_ptr<torch::optim::Optimizer> optimizer, const HParams& init_args)>;

/// Makes `name` a callback class_path. `lightning::Error` when the name is
/// empty or the factory is empty.
LIGHTNING_API void register_callback(const std::string& name, CallbackFactory factory);
/// Makes `name` a logger class_path, likewise.
LIGHTNING_API void register_logger(const std::string& name, LoggerFactory factory);
/// Makes `name` an `optimizer:` class_path, likewise.
LIGHTNING_API void register_optimizer(const std::string& name, OptimizerFactory factory);
/// Makes `name` an `lr_scheduler:` class_path, likewise.
LIGHTNING_API void register_lr_scheduler(const std::string& name, LRSchedulerFactory factory);

/// `register_callback(name, ...)` for a class constructible from the init_args.
template <typename T>
void register_callback(const std::string& name) {
  register_callback(name, [](const HParams& init_args) -> std::shared_ptr<Callback> {
    return std::make_shared<T>(init_args);
  });
}
/// `register_logger(name, ...)` for a class constructible from the init_args.
template <typename T>
void register_logger(const std::string& name) {
  register_logger(name, [](const HParams& init_args) -> std::shared_ptr<Logger> {
    return std::make_shared<T>(init_args);
  });
}
/// `register_optimizer(name, ...)` for a class constructible from (params, init_args).
template <typename T>
void register_optimizer(const std::string& name) {
  register_optimizer(name,
                     [](std::vector<at::Tensor> params,
                        const HParams& init_args) -> std::shared_ptr<torch::optim::Optimizer> {
                       return std::make_shared<T>(std::move(params), init_args);
                     });
}
/// `register_lr_scheduler(name, ...)` for a class constructible from (optimizer, init_args).
template <typename T>
void register_lr_scheduler(const std::string& name) {
  register_lr_scheduler(name,
                        [](std::shared_ptr<torch::optim::Optimizer> optimizer,
                           const HParams& init_args) -> std::shared_ptr<LRScheduler> {
                          return std::make_shared<T>(std::move(optimizer), init_args);
                        });
}

/// The registered names, in registration order.
LIGHTNING_API std::vector<std::string> registered_callbacks();
LIGHTNING_API std::vector<std::string> registered_loggers();
LIGHTNING_API std::vector<std::string> registered_optimizers();
LIGHTNING_API std::vector<std::string> registered_lr_schedulers();

}  // namespace lightning
