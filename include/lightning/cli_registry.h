// lightning/cli_registry.h — user callbacks and loggers by name, for the
// `class_path` / `init_args` objects of a LightningCLI config.
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
// A dotted class_path finds a registered name by its last component (so a
// config written for Python LightningCLI works unchanged), unless the whole
// dotted path was registered. A registered name takes precedence over a
// built-in one of the same short name, except when the class_path names
// Lightning's own module ("lightning.pytorch.callbacks.ModelCheckpoint").
// The factory reads its init_args itself; a `lightning::Error` it throws
// reaches the user prefixed with the config key path. Registering a name again
// replaces the earlier factory.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lightning/callbacks/callback.h"
#include "lightning/export.h"
#include "lightning/hparams.h"
#include "lightning/loggers/logger.h"

namespace lightning {

using CallbackFactory = std::function<std::shared_ptr<Callback>(const HParams& init_args)>;
using LoggerFactory = std::function<std::shared_ptr<Logger>(const HParams& init_args)>;

/// Makes `name` a callback class_path. `lightning::Error` when the name is
/// empty or the factory is empty.
LIGHTNING_API void register_callback(const std::string& name, CallbackFactory factory);
/// Makes `name` a logger class_path, likewise.
LIGHTNING_API void register_logger(const std::string& name, LoggerFactory factory);

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

/// The registered names, in registration order.
LIGHTNING_API std::vector<std::string> registered_callbacks();
LIGHTNING_API std::vector<std::string> registered_loggers();

}  // namespace lightning
