// Internal: the `trainer:` section of a LightningCLI config — every
// TrainerOptions field under its Lightning name, with Lightning's value
// syntax — and the `class_path` / `init_args` objects (callbacks, loggers).
//
// The config tree is an HParams (lightning/hparams.h): what a YAML file or a
// command-line override parses to. Every error is a lightning::Error whose
// message names the key path ("trainer.max_epochs"), the value, and what is
// expected; an unknown key lists the closest valid names.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "lightning/callbacks/callback.h"
#include "lightning/export.h"
#include "lightning/hparams.h"
#include "lightning/loggers/logger.h"
#include "lightning/trainer.h"

namespace lightning::detail {

/// One configurable field: its Lightning name, its type as `--help` prints
/// it ("int", "float", "str", "bool", "int | float", "Optional[int]", ...),
/// its default (as it appears in a printed config) and a one-line doc.
struct ConfigField {
  std::string name;
  std::string type;
  HParamValue default_value;
  std::string doc;
};

/// Every TrainerOptions field a config can set, in TrainerOptions' order.
LIGHTNING_INTERNAL_API const std::vector<ConfigField>& trainer_fields();

/// `base` with the keys of `section` (the `trainer:` mapping) applied.
/// `where` is the key path of the section for messages ("trainer").
/// A key set to None means Lightning's default for it (not `base`'s). The
/// callbacks of the section come first, then `base`'s (LightningCLI appends
/// its trainer_defaults' callbacks to the config's). Python Lightning Trainer
/// arguments without a counterpart here are accepted at their defaults (as
/// Python's --print_config writes them) and ignored; another value is an error.
LIGHTNING_INTERNAL_API TrainerOptions apply_trainer_config(const HParams& section,
                                                           TrainerOptions base,
                                                           const std::string& where = "trainer");

/// A callback from `{class_path: ModelCheckpoint, init_args: {...}}` (or a
/// bare class name); Lightning's module paths are accepted
/// ("lightning.pytorch.callbacks.ModelCheckpoint").
LIGHTNING_INTERNAL_API std::shared_ptr<Callback> make_callback(const HParamValue& spec,
                                                               const std::string& where);
/// A logger, likewise (CSVLogger, TensorBoardLogger).
LIGHTNING_INTERNAL_API std::shared_ptr<Logger> make_logger(const HParamValue& spec,
                                                           const std::string& where);

}  // namespace lightning::detail
