#include "lightning/callbacks/finetuning.h"

#include <torch/nn/modules/batchnorm.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <unordered_map>
#include <unordered_set>

#include "lightning/checkpoint/optimizer_state.h"
#include "lightning/error.h"
#include "lightning/module.h"
#include "lightning/optim/param_groups.h"
#include "lightning/trainer.h"
#include "util/batch_norm.h"
#include "util/float_format.h"

namespace lightning {
namespace {

const char* kOwner = "BaseFinetuning";

// Python's round(x, digits): correctly rounded to `digits` decimals, then the
// nearest double (printf's conversion is exact, as Python's).
double python_round(double x, int64_t digits) {
  char buffer[512];
  std::snprintf(buffer, sizeof(buffer), "%.*f", static_cast<int>(digits), x);
  return std::strtod(buffer, nullptr);
}

// The group's hyperparameters under PyTorch's keys (as optimizer.state_dict()
// lists them); only "lr" for optimizers that layout does not cover.
StateDict group_hyperparameters(const torch::optim::Optimizer& optimizer, size_t group) {
  try {
    const StateDict full = optimizer_state_dict(optimizer);
    const c10::IValue& groups = full.at("param_groups");
    StateDict out = make_state_dict();
    for (const auto& entry : groups.toListRef()[group].toGenericDict()) {
      if (entry.key().toStringRef() != "params") out.insert(entry.key(), entry.value());
    }
    return out;
  } catch (const Error&) {
    StateDict out = make_state_dict();
    out.insert("lr", get_lr(optimizer, group));
    return out;
  }
}

}  // namespace

// ---- BaseFinetuning -----------------------------------------------------------

void BaseFinetuning::freeze_before_training(LightningModule&) {
  LIGHTNING_FAIL(
      "BaseFinetuning::freeze_before_training is not overridden: a BaseFinetuning "
      "subclass must override it (freeze the modules that should not train at first).");
}

void BaseFinetuning::finetune_function(LightningModule&, int64_t, torch::optim::Optimizer&) {
  LIGHTNING_FAIL(
      "BaseFinetuning::finetune_function is not overridden: a BaseFinetuning subclass "
      "must override it (unfreeze modules at the epoch of your choice).");
}

FinetuneModules BaseFinetuning::flatten_modules(const FinetuneModules& modules) {
  FinetuneModules out;
  for (const auto& root : modules) {
    LIGHTNING_CHECK(root != nullptr, "BaseFinetuning: got a null module to (un)freeze.");
    for (const auto& m : root->modules(/*include_self=*/true)) {
      if (m->children().empty() || !m->named_parameters(/*recurse=*/false).is_empty()) {
        out.push_back(m);
      }
    }
  }
  return out;
}

std::vector<at::Tensor> BaseFinetuning::filter_params(const FinetuneModules& modules, bool train_bn,
                                                      bool requires_grad) {
  std::vector<at::Tensor> out;
  for (const auto& m : flatten_modules(modules)) {
    if (detail::is_batch_norm(*m) && !train_bn) continue;
    for (const auto& p : m->parameters(/*recurse=*/false)) {
      if (p.requires_grad() == requires_grad) out.push_back(p);
    }
  }
  return out;
}

void BaseFinetuning::make_trainable(const FinetuneModules& modules) {
  for (const auto& m : flatten_modules(modules)) {
    for (auto& p : m->parameters(/*recurse=*/false)) p.requires_grad_(true);
  }
}

void BaseFinetuning::freeze_module(torch::nn::Module& module) {
  for (auto& p : module.parameters(/*recurse=*/false)) p.requires_grad_(false);
}

void BaseFinetuning::freeze(const FinetuneModules& modules, bool train_bn) {
  for (const auto& m : flatten_modules(modules)) {
    if (detail::is_batch_norm(*m) && train_bn) {
      make_trainable({m});
    } else {
      freeze_module(*m);
    }
  }
}

std::vector<at::Tensor> BaseFinetuning::filter_on_optimizer(
    const torch::optim::Optimizer& optimizer, const std::vector<at::Tensor>& params) {
  std::unordered_set<const void*> present;
  for (const auto& group : optimizer.param_groups()) {
    for (const auto& p : group.params()) present.insert(p.unsafeGetTensorImpl());
  }
  std::vector<at::Tensor> out;
  bool removed = false;
  for (const auto& p : params) {
    if (present.count(p.unsafeGetTensorImpl()) != 0) {
      removed = true;
    } else {
      out.push_back(p);
    }
  }
  if (removed) {
    detail::warn_once(
        "The provided params to be frozen already exist within another group of this optimizer. "
        "Those parameters will be skipped. HINT: did you give the optimizer in "
        "configure_optimizers only the parameters with requires_grad (the ones not frozen)?");
  }
  return out;
}

void BaseFinetuning::unfreeze_and_add_param_group(const FinetuneModules& modules,
                                                  torch::optim::Optimizer& optimizer,
                                                  std::optional<double> lr, double initial_denom_lr,
                                                  bool train_bn) {
  make_trainable(modules);
  const double params_lr = lr ? *lr : get_lr(optimizer, 0);
  const double denom_lr = lr ? 1.0 : initial_denom_lr;
  std::vector<at::Tensor> params =
      filter_on_optimizer(optimizer, filter_params(modules, train_bn, /*requires_grad=*/true));
  if (params.empty()) return;
  // Without options the group gets the optimizer's defaults, as Python's
  // add_param_group fills the keys the dict leaves out.
  optimizer.add_param_group(torch::optim::OptimizerParamGroup(std::move(params)));
  optimizer.param_groups().back().options().set_lr(params_lr / denom_lr);
}

StateDict BaseFinetuning::state_dict() const {
  c10::impl::GenericDict metadata(c10::IntType::get(), c10::AnyType::get());
  for (const auto& [opt_idx, groups] : internal_optimizer_metadata_) {
    c10::impl::GenericList list(c10::AnyType::get());
    for (const auto& g : groups) list.push_back(g);
    metadata.insert(opt_idx, list);
  }
  StateDict state = make_state_dict();
  state.insert("internal_optimizer_metadata", metadata);
  return state;
}

void BaseFinetuning::load_state_dict(const StateDict& state) {
  restarting_ = true;
  // Lightning < 1.6 saved the metadata itself, without the key.
  const c10::IValue metadata = state.contains("internal_optimizer_metadata")
                                   ? state.at("internal_optimizer_metadata")
                                   : c10::IValue(state);
  LIGHTNING_CHECK(metadata.isGenericDict(), kOwner,
                  " checkpoint state: internal_optimizer_metadata should be a dict {optimizer "
                  "index: [param groups]}, got ",
                  metadata.tagKind(), ".");
  internal_optimizer_metadata_.clear();
  for (const auto& entry : metadata.toGenericDict()) {
    LIGHTNING_CHECK(entry.key().isInt() && entry.value().isList(), kOwner,
                    " checkpoint state: internal_optimizer_metadata should map optimizer indices "
                    "(ints) to lists of param groups, got a ",
                    entry.key().tagKind(), " key holding a ", entry.value().tagKind(), ".");
    std::vector<StateDict> groups;
    for (const c10::IValue& g : entry.value().toListRef()) {
      LIGHTNING_CHECK(g.isGenericDict() && g.toGenericDict().contains("params"), kOwner,
                      " checkpoint state: each param group of optimizer ", entry.key().toInt(),
                      " should be a dict with \"params\" (parameter names).");
      groups.push_back(g.toGenericDict());
    }
    internal_optimizer_metadata_[entry.key().toInt()] = std::move(groups);
  }
}

void BaseFinetuning::setup(Trainer&, LightningModule& module, Stage) {
  freeze_before_training(module);
}

void BaseFinetuning::on_fit_start(Trainer& trainer, LightningModule& module) {
  if (!restarting_) return;
  restarting_ = false;
  if (internal_optimizer_metadata_.empty()) return;
  // Rebuild the groups the checkpoint's optimizer state was saved with, so
  // that it loads into them (the Trainer loads it right after on_fit_start).
  const auto named = module.named_parameters(/*recurse=*/true);
  const auto& optimizers = trainer.optimizers();
  for (size_t opt_idx = 0; opt_idx < optimizers.size(); ++opt_idx) {
    auto it = internal_optimizer_metadata_.find(static_cast<int64_t>(opt_idx));
    if (it == internal_optimizer_metadata_.end()) continue;
    torch::optim::Optimizer& optimizer = *optimizers[opt_idx];
    auto& current = optimizer.param_groups();
    const size_t configured = current.size();
    const std::vector<StateDict>& saved = it->second;
    for (size_t g = 0; g < saved.size(); ++g) {
      std::vector<at::Tensor> params;
      for (const c10::IValue& name : saved[g].at("params").toListRef()) {
        LIGHTNING_CHECK(name.isString(), kOwner, " checkpoint state: optimizer ", opt_idx,
                        " group ", g, " lists a parameter that is not a name.");
        const at::Tensor* p = named.find(name.toStringRef());
        LIGHTNING_CHECK(p != nullptr, kOwner, " checkpoint state: optimizer ", opt_idx, " group ",
                        g, " holds the parameter \"", name.toStringRef(),
                        "\", which the module does not have. Was the checkpoint written by "
                        "another model?");
        params.push_back(*p);
      }
      if (g < current.size()) {
        current[g].params() = std::move(params);
      } else {
        // A group finetune_function added: its parameters were unfrozen then,
        // but setup's freeze_before_training froze them again. Lightning leaves
        // them frozen (pytorch-lightning issue #21901); here they train on, as
        // in the run that saved the checkpoint.
        if (g >= configured) {
          for (auto& p : params) p.requires_grad_(true);
        }
        optimizer.add_param_group(torch::optim::OptimizerParamGroup(std::move(params)));
      }
      if (saved[g].contains("lr") && saved[g].at("lr").isDouble()) {
        current[g].options().set_lr(saved[g].at("lr").toDouble());
      }
    }
    while (current.size() > saved.size()) current.pop_back();
  }
}

void BaseFinetuning::store(LightningModule& module, int64_t opt_idx, size_t num_param_groups,
                           const torch::optim::Optimizer& optimizer) {
  auto it = internal_optimizer_metadata_.find(opt_idx);
  const size_t groups = optimizer.param_groups().size();
  const bool first = it == internal_optimizer_metadata_.end();
  if (!first && num_param_groups == groups) return;
  std::unordered_map<const void*, std::string> names;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    names.emplace(item.value().unsafeGetTensorImpl(), item.key());
  }
  std::vector<StateDict>& out = internal_optimizer_metadata_[opt_idx];
  for (size_t g = first ? 0 : num_param_groups; g < groups; ++g) {
    StateDict group = group_hyperparameters(optimizer, g);
    c10::List<std::string> params;
    for (const auto& p : optimizer.param_groups()[g].params()) {
      auto found = names.find(p.unsafeGetTensorImpl());
      LIGHTNING_CHECK(found != names.end(), kOwner, ": optimizer ", opt_idx, " group ", g,
                      " holds a parameter that is not one of the LightningModule's "
                      "named_parameters(); the finetuning callbacks record groups by parameter "
                      "name, so optimize only the module's own parameters.");
      params.push_back(found->second);
    }
    group.insert("params", params);
    out.push_back(std::move(group));
  }
}

void BaseFinetuning::on_train_epoch_start(Trainer& trainer, LightningModule& module) {
  const auto& optimizers = trainer.optimizers();
  for (size_t opt_idx = 0; opt_idx < optimizers.size(); ++opt_idx) {
    torch::optim::Optimizer& optimizer = *optimizers[opt_idx];
    const size_t num_param_groups = optimizer.param_groups().size();
    finetune_function(module, trainer.current_epoch(), optimizer);
    store(module, static_cast<int64_t>(opt_idx), num_param_groups, optimizer);
  }
}

// ---- BackboneFinetuning -------------------------------------------------------

namespace {

std::shared_ptr<torch::nn::Module> backbone_of(LightningModule& module) {
  std::string names;
  for (const auto& child : module.named_children()) {
    if (child.key() == "backbone") return child.value();
    names += (names.empty() ? "" : ", ") + child.key();
  }
  LIGHTNING_FAIL(
      "BackboneFinetuning: the LightningModule should have a submodule registered as "
      "\"backbone\" (Lightning: an nn.Module `backbone` attribute); its submodules are [",
      names, "]. Register the part to finetune with register_module(\"backbone\", ...).");
}

}  // namespace

BackboneFinetuning::BackboneFinetuning(BackboneFinetuningOptions options)
    : options_(std::move(options)) {
  LIGHTNING_CHECK(options_.unfreeze_backbone_at_epoch() >= 0,
                  "BackboneFinetuning unfreeze_backbone_at_epoch must be >= 0, got ",
                  options_.unfreeze_backbone_at_epoch(), ".");
  LIGHTNING_CHECK(options_.backbone_initial_ratio_lr() > 0,
                  "BackboneFinetuning backbone_initial_ratio_lr must be > 0, got ",
                  options_.backbone_initial_ratio_lr(), ".");
  LIGHTNING_CHECK(!options_.backbone_initial_lr() || *options_.backbone_initial_lr() > 0,
                  "BackboneFinetuning backbone_initial_lr must be > 0 (or unset to use "
                  "backbone_initial_ratio_lr), got ",
                  options_.backbone_initial_lr().value_or(0), ".");
  LIGHTNING_CHECK(options_.initial_denom_lr() > 0,
                  "BackboneFinetuning initial_denom_lr must be > 0, got ",
                  options_.initial_denom_lr(), ".");
  LIGHTNING_CHECK(options_.rounding() >= 0 && options_.rounding() <= 300,
                  "BackboneFinetuning rounding must be in [0, 300] (digits), got ",
                  options_.rounding(), ".");
  if (!options_.lambda_func()) options_.lambda_func([](int64_t) { return 2.0; });
}

void BackboneFinetuning::freeze_before_training(LightningModule& module) {
  // As Lightning: the frozen backbone's BatchNorm layers keep training
  // (freeze's default train_bn); options().train_bn() applies at the unfreeze.
  freeze({backbone_of(module)});
}

void BackboneFinetuning::finetune_function(LightningModule& module, int64_t epoch,
                                           torch::optim::Optimizer& optimizer) {
  const int64_t at = options_.unfreeze_backbone_at_epoch();
  if (epoch < at) return;
  const double current_lr = get_lr(optimizer, 0);
  double backbone_lr = 0;
  if (epoch == at) {
    backbone_lr =
        options_.backbone_initial_lr().value_or(current_lr * options_.backbone_initial_ratio_lr());
    previous_backbone_lr_ = backbone_lr;
    unfreeze_and_add_param_group({backbone_of(module)}, optimizer, backbone_lr,
                                 options_.initial_denom_lr(), options_.train_bn());
  } else {
    LIGHTNING_CHECK(previous_backbone_lr_.has_value(), "BackboneFinetuning: epoch ", epoch,
                    " is after the unfreeze epoch ", at,
                    " but the backbone was never unfrozen (no previous backbone lr); resume from "
                    "a checkpoint that holds this callback's state.");
    double next = options_.lambda_func()(epoch + 1) * *previous_backbone_lr_;
    if (options_.should_align() && next > current_lr) next = current_lr;
    optimizer.param_groups().back().options().set_lr(next);
    previous_backbone_lr_ = next;
    backbone_lr = next;
  }
  if (options_.verbose()) {
    std::cerr << ("Current lr: " +
                  detail::format_float_repr(python_round(current_lr, options_.rounding())) +
                  ", Backbone lr: " +
                  detail::format_float_repr(python_round(backbone_lr, options_.rounding())) + "\n")
              << std::flush;
  }
}

StateDict BackboneFinetuning::state_dict() const {
  StateDict state = BaseFinetuning::state_dict();
  state.insert("previous_backbone_lr",
               previous_backbone_lr_ ? c10::IValue(*previous_backbone_lr_) : c10::IValue());
  return state;
}

void BackboneFinetuning::load_state_dict(const StateDict& state) {
  const c10::IValue& previous = state_value(state, "previous_backbone_lr", "BackboneFinetuning");
  LIGHTNING_CHECK(previous.isNone() || previous.isDouble() || previous.isInt(),
                  "BackboneFinetuning checkpoint state: previous_backbone_lr should be a float or "
                  "None, got ",
                  previous.tagKind(), ".");
  previous_backbone_lr_ = previous.isNone()     ? std::nullopt
                          : previous.isDouble() ? std::optional<double>(previous.toDouble())
                                                : std::optional<double>(previous.toInt());
  BaseFinetuning::load_state_dict(state);
}

void BackboneFinetuning::on_fit_start(Trainer& trainer, LightningModule& module) {
  backbone_of(module);  // the error when there is none
  BaseFinetuning::on_fit_start(trainer, module);
}

}  // namespace lightning
