// Internal: the `optimizer:` and `lr_scheduler:` sections of a LightningCLI
// config — Python LightningCLI's automatic configure_optimizers. Each section
// is null or a class_path object:
//
//   optimizer:
//     class_path: torch.optim.AdamW        # or AdamW, or a registered name
//     init_args: {lr: 3.0e-4, weight_decay: 0.05}
//   lr_scheduler:
//     class_path: torch.optim.lr_scheduler.StepLR
//     init_args: {step_size: 10, gamma: 0.5}
//
// libtorch's optimizers (SGD, Adam, AdamW, Adagrad, RMSprop, LBFGS), the
// schedulers of lightning/optim/ that take plain values, and the classes of
// lightning/cli_registry.h. The model's own configure_optimizers is replaced
// when `optimizer` is given, as in Python.
#pragma once

#include <string>
#include <vector>

#include "lightning/hparams.h"
#include "lightning/module.h"
#include "lightning/optim/optimizer_config.h"

namespace lightning::detail {

enum class OptimSection { Optimizer, LRScheduler };

/// "optimizer" or "lr_scheduler".
const char* section_name(OptimSection section);

/// One source's value of the section (null, a class name, a class_path
/// object, or init_args alone as `--optimizer.lr 0.1` gives them) applied onto
/// `current`, the value merged so far. Checks every init_arg of a built-in
/// class (name, type, Python-only arguments). Changing the class keeps the
/// earlier init_args the new class takes. `origin` names the source.
HParamValue merge_optim_section(OptimSection section, const HParamValue& current,
                                const HParamValue& value, const std::string& origin);

/// The merged section with every init_arg of a built-in class (defaults
/// filled in, in the class's order; what --print_config shows). Checks the
/// required arguments and builds the class once on a stand-in parameter, so
/// that a value its constructor refuses is reported before the run.
HParamValue resolve_optim_section(OptimSection section, const HParamValue& merged);

/// configure_optimizers' result for `model` from resolved sections
/// (`optimizer` not null): the optimizer over model.parameters(), and the
/// scheduler on it (ReduceLROnPlateau monitoring its `monitor`).
OptimizerConfig configure_from_sections(LightningModule& model, const HParamValue& optimizer,
                                        const HParamValue& lr_scheduler);

/// The built-in class names, then the registered ones.
std::vector<std::string> optim_class_names(OptimSection section);

/// `--optimizer.help CLASS`: the class's init_args with type, default and doc.
std::string optim_class_help(OptimSection section, const std::string& class_path);

}  // namespace lightning::detail
