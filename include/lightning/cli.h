// lightning/cli.h — LightningCLI: one binary, YAML configs, subcommands, every
// option from the command line, the run's config saved beside its logs.
//
//   // Python: cli = LightningCLI(MyModel, MyDataModule)
//   int main(int argc, char** argv) {
//     return L::LightningCLI<MyModel, MyDataModule>(argc, argv).exit_code();
//   }
//
//   $ ./train fit --config config.yaml --trainer.max_epochs 20 --model.learning_rate 3e-4
//   $ ./train test --config config.yaml --ckpt_path best.ckpt
//   $ ./train fit --print_config > config.yaml
//   $ ./train fit --optimizer AdamW --optimizer.lr 3e-4   # replaces configure_optimizers
//
// The model (and the datamodule) declare their constructor arguments once:
//
//   class MyModel : public L::LightningModule {
//    public:
//     static L::CLIArguments cli_arguments() {
//       return L::CLIArguments()
//           .add("learning_rate", 1e-3, "Adam's learning rate")
//           .add("hidden", 256, "width of the first hidden layer");
//     }
//     explicit MyModel(L::HParams hp);  // gets every declared name, resolved
//   };
//
// The same names become `hparams()` and hparams.yaml.
#pragma once

#include <torch/arg.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <vector>

#include "lightning/datamodule.h"
#include "lightning/export.h"
#include "lightning/hparams.h"
#include "lightning/module.h"
#include "lightning/trainer.h"

namespace lightning {

/// One constructor argument of a model or datamodule.
struct CLIArgument {
  std::string name;
  /// "int", "float", "str", "bool", "list" or "dict" (Python's names).
  std::string type;
  /// The default; None for a required argument.
  HParamValue default_value;
  bool required = false;
  std::string doc;
};

/// The arguments a class declares (its `static CLIArguments cli_arguments()`).
class LIGHTNING_API CLIArguments {
 public:
  /// An argument with a default; its type is the default's.
  CLIArguments& add(const std::string& name, HParamValue default_value, const std::string& doc);
  /// A required argument of `type`: a config or the command line must give it.
  CLIArguments& required(const std::string& name, const std::string& type, const std::string& doc);
  const std::vector<CLIArgument>& items() const { return items_; }

 private:
  std::vector<CLIArgument> items_;
};

struct LIGHTNING_API LightningCLIOptions {
  /// Write the resolved config as config.yaml in the run folder (Lightning's
  /// SaveConfigCallback). Default true.
  TORCH_ARG(bool, save_config_callback) = true;
  /// Overwrite an existing config.yaml (Lightning: an error without it).
  TORCH_ARG(bool, save_config_overwrite) = false;
  /// `seed_everything`'s default: true = a random seed, recorded in the
  /// saved config; false = no seeding; a number = that seed.
  TORCH_ARG(HParamValue, seed_everything_default) = true;
  /// The Trainer's defaults, before any config or argument, as Lightning's
  /// `trainer_defaults` dict: `HParams{{"max_epochs", 15}}` (the trainer
  /// section's keys and value syntax). They appear in --print_config and the
  /// saved config.yaml, so that the saved config reproduces the run.
  TORCH_ARG(HParams, trainer_defaults) = {};
  /// Parse and build only; run no subcommand (Lightning's `run=False`).
  TORCH_ARG(bool, run) = true;
};

namespace detail {
/// A class's unqualified name ("MyModel" for ns::MyModel), as a config's
/// `class_path` ends ("my_project.models.MyModel").
LIGHTNING_API std::string cli_class_name(const std::type_info& type);

/// The non-template part of LightningCLI (src/cli/lightning_cli.cpp).
struct CLIClasses {
  std::string model_name;
  std::string model_class;  // the class name a `class_path` must end with
  CLIArguments model_arguments;
  std::function<std::shared_ptr<LightningModule>(const HParams&)> make_model;
  std::string data_name;  // empty without a datamodule
  std::string data_class;
  CLIArguments data_arguments;
  std::function<std::shared_ptr<LightningDataModule>(const HParams&)> make_data;
};
class CLIRun;
}  // namespace detail

/// Parses argv, builds the Trainer, model and datamodule, and runs the
/// subcommand. Nothing is thrown out of the constructor: usage errors (bad
/// YAML, unknown keys, wrong types, an unknown subcommand) print
/// "error: <message>" and set exit code 2; an error while building or
/// running prints it likewise and sets exit code 1 (as a Python exception
/// would); `--help` and `--print_config` print and set exit code 0.
class LIGHTNING_API LightningCLIBase {
 public:
  LightningCLIBase(int argc, const char* const* argv, detail::CLIClasses classes,
                   LightningCLIOptions options);
  virtual ~LightningCLIBase();
  /// 0 after a successful run, --help or --print_config; 2 for a usage
  /// error; 1 when building or running failed.
  int exit_code() const;
  /// Whether the Trainer, model and datamodule were built (false after
  /// --help, --print_config or a usage error).
  bool built() const;
  /// "fit", "validate", "test", "predict", or "" when run(false) was given.
  const std::string& subcommand() const;
  /// The fully resolved config (what --print_config prints).
  const HParams& config() const;
  Trainer& trainer();
  std::shared_ptr<LightningModule> model_base() const;
  std::shared_ptr<LightningDataModule> datamodule_base() const;

 private:
  std::unique_ptr<detail::CLIRun> run_;
};

template <typename Model, typename Data = void>
class LightningCLI : public LightningCLIBase {
 public:
  LightningCLI(int argc, const char* const* argv, LightningCLIOptions options = {})
      : LightningCLIBase(argc, argv, classes(), std::move(options)) {}
  std::shared_ptr<Model> model() const { return std::static_pointer_cast<Model>(model_base()); }

 private:
  static detail::CLIClasses classes() {
    detail::CLIClasses c;
    c.model_name = "model";
    c.model_class = detail::cli_class_name(typeid(Model));
    c.model_arguments = Model::cli_arguments();
    c.make_model = [](const HParams& hp) { return std::make_shared<Model>(hp); };
    if constexpr (!std::is_void_v<Data>) {
      c.data_name = "data";
      c.data_class = detail::cli_class_name(typeid(Data));
      c.data_arguments = Data::cli_arguments();
      c.make_data = [](const HParams& hp) { return std::make_shared<Data>(hp); };
    }
    return c;
  }
};

}  // namespace lightning
