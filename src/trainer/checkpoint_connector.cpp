// What a checkpoint holds (Lightning's keys; the loops' entry comes from
// FitLoop::state_dict), writing it, and restoring a fit from it: weights and
// callbacks before configure_optimizers, optimizers, schedulers, the loss
// scaler and the loops after it.
#include <algorithm>
#include <filesystem>

#include "lightning/callbacks/model_checkpoint.h"
#include "lightning/checkpoint/checkpoint_io.h"
#include "lightning/checkpoint/optimizer_state.h"
#include "lightning/error.h"
#include "trainer/trainer_impl.h"

namespace lightning::detail {

namespace {

// Python Lightning pickles functions and bound methods into scheduler states
// (OneCycleLR's anneal_func, LambdaLR's lambdas): those entries are only the
// function's identity, which the C++ scheduler already has. Each one is
// replaced by the scheduler's own entry, with a warning naming it.
StateDict without_python_objects(const StateDict& loaded, const StateDict& own,
                                 const std::string& where) {
  StateDict out = make_state_dict();
  for (const auto& entry : loaded) {
    auto found = find_python_object(entry.value());
    if (!found) {
      out.insert(entry.key(), entry.value());
      continue;
    }
    const std::string key = entry.key().isString() ? entry.key().toStringRef() : "?";
    auto it = own.find(entry.key());
    detail::warn(where + ": \"" + key + "\" holds a Python object (" + *found +
                 "); the C++ scheduler keeps its own" +
                 (it == own.end() ? std::string(" (the entry is dropped).") : "."));
    if (it != own.end()) out.insert(entry.key(), it->value());
  }
  return out;
}

}  // namespace

// ---- Writing -------------------------------------------------------------------

Checkpoint TrainerImpl::dump_checkpoint(bool weights_only) {
  LightningModule& model = self_.lightning_module();
  Checkpoint ckpt;
  const LoopState& counters = fit_loop_.counters();
  ckpt.set("epoch", counters.epoch);
  ckpt.set("global_step", counters.global_step);
  ckpt.set("pytorch-lightning_version", std::string(kLightningCheckpointVersion));
  ckpt.set("state_dict", module_state_dict(model));
  StateDict loops = make_state_dict();
  loops.insert("fit_loop", fit_loop_.state_dict(model));
  ckpt.set("loops", loops);

  if (!weights_only) {
    StateDict callback_states = make_state_dict();
    for (const auto& c : callbacks_) {
      StateDict state = c->state_dict();
      if (!state.empty()) callback_states.insert(c->state_key(), state);
    }
    ckpt.set("callbacks", callback_states);
    c10::impl::GenericList optimizer_states(c10::AnyType::get());
    for (const auto& o : optimizers_) optimizer_states.push_back(optimizer_state_dict(*o));
    ckpt.set("optimizer_states", optimizer_states);
    c10::impl::GenericList schedulers(c10::AnyType::get());
    for (const auto& c : lr_scheduler_configs_) schedulers.push_back(c.scheduler->state_dict());
    ckpt.set("lr_schedulers", schedulers);
    // Lightning 2.1 saves the loss scaler under the plugin's class name.
    if (const GradScaler* scaler = precision_->scaler())
      ckpt.set("MixedPrecision", scaler->state_dict());
  }
  if (!model.hparams().empty()) {
    ckpt.set("hparams_name", std::string("kwargs"));
    ckpt.set("hyper_parameters", hparams_to_ivalue(model.hparams()));
  }
  if (datamodule_) {
    if (!datamodule_->hparams().empty()) {
      ckpt.set("datamodule_hparams_name", std::string("kwargs"));
      ckpt.set("datamodule_hyper_parameters", hparams_to_ivalue(datamodule_->hparams()));
    }
    StateDict dm_state = datamodule_->state_dict();
    if (!dm_state.empty()) ckpt.set(datamodule_->state_key(), dm_state);
  }
  if (!weights_only) {
    for (const auto& c : callbacks_) {
      ActionScope action(profiling_, [&] { return callback_action(*c, Hook::OnSaveCheckpoint); });
      c->on_save_checkpoint(self_, model, ckpt);
    }
  }
  ActionScope action(profiling_, [&] { return module_action(Hook::OnSaveCheckpoint); });
  model.on_save_checkpoint(ckpt);
  return ckpt;
}

void TrainerImpl::save_checkpoint(const std::string& path, bool weights_only) {
  LIGHTNING_CHECK(model_ != nullptr, "trainer.save_checkpoint(\"", path,
                  "\") needs a module: call it during or after fit/validate/test/predict.");
  ActionScope action(profiling_, "save_checkpoint");
  // Every rank builds it (their on_save_checkpoint hooks run, as in
  // Lightning); rank 0 writes; nobody goes on before the file is complete.
  Checkpoint ckpt = dump_checkpoint(weights_only);
  if (is_global_zero()) save_checkpoint_file(ckpt.dict(), path);
  if (world_size() > 1) {
    strategy_->setup();  // after fit (torn down): rejoins the job, idempotent
    strategy_->barrier("save_checkpoint(" + path + ")");
  }
}

// ---- Restoring -------------------------------------------------------------------

std::string TrainerImpl::resolve_ckpt_path(const std::string& ckpt_path, Stage stage) const {
  const std::string fn = to_string(stage);
  if (ckpt_path != "last" && ckpt_path != "best") {
    LIGHTNING_CHECK(std::filesystem::is_regular_file(ckpt_path), fn, "(ckpt_path=\"", ckpt_path,
                    "\"): no such checkpoint file. Pass a .ckpt path, \"last\" or \"best\".");
    return ckpt_path;
  }
  ModelCheckpoint* callback = self_.checkpoint_callback();
  LIGHTNING_CHECK(callback != nullptr, fn, "(ckpt_path=\"", ckpt_path,
                  "\") needs a ModelCheckpoint callback to find that checkpoint; checkpointing "
                  "is off (enable_checkpointing(false)). Pass the file's path instead.");
  if (ckpt_path == "best") {
    LIGHTNING_CHECK(!callback->best_model_path().empty(), fn,
                    "(ckpt_path=\"best\"): the ModelCheckpoint callback has no best model yet "
                    "(it saves during fit: run fit first, or pass the file's path).");
    return callback->best_model_path();
  }
  // "last": what this callback saved last, else the newest .ckpt in its folder
  // (a new process resuming a killed run), as Lightning.
  if (!callback->last_model_path().empty() &&
      std::filesystem::exists(callback->last_model_path())) {
    return callback->last_model_path();
  }
  callback->setup(self_, *model_, Stage::Fit);  // resolves its folder
  // last.ckpt when it exists, else the most recently written .ckpt.
  std::filesystem::path newest;
  std::filesystem::file_time_type newest_time;
  std::error_code ec;
  const std::filesystem::path last = std::filesystem::path(callback->dirpath()) / "last.ckpt";
  if (std::filesystem::is_regular_file(last, ec)) return last.string();
  for (const auto& entry : std::filesystem::directory_iterator(callback->dirpath(), ec)) {
    if (entry.path().extension() != ".ckpt") continue;
    const auto t = entry.last_write_time(ec);
    if (newest.empty() || t > newest_time) {
      newest = entry.path();
      newest_time = t;
    }
  }
  LIGHTNING_CHECK(!newest.empty(), fn, "(ckpt_path=\"last\"): no checkpoint in ",
                  callback->dirpath(), ". Pass the file's path instead.");
  return newest.string();
}

void TrainerImpl::restore_modules_and_callbacks(LightningModule& model,
                                                LightningDataModule* datamodule, Checkpoint& ckpt) {
  detail::restore_module(model, ckpt, ckpt_path_);
  if (datamodule) detail::restore_datamodule(*datamodule, ckpt, ckpt_path_);
  std::optional<StateDict> states;
  if (ckpt.contains("callbacks") && ckpt.at("callbacks").isGenericDict()) {
    states = ckpt.get<StateDict>("callbacks");
  }
  for (const auto& c : callbacks_) {
    {
      ActionScope action(profiling_, [&] { return callback_action(*c, Hook::OnLoadCheckpoint); });
      c->on_load_checkpoint(self_, model, ckpt);
    }
    if (!states) continue;
    auto it = states->find(c10::IValue(c->state_key()));
    if (it != states->end() && it->value().isGenericDict()) {
      c->load_state_dict(it->value().toGenericDict());
    }
  }
}

void TrainerImpl::restore_for_evaluation(LightningModule& model, LightningDataModule* datamodule,
                                         const std::optional<std::string>& ckpt_path, Stage stage) {
  ckpt_path_.clear();
  if (!ckpt_path) return;
  ckpt_path_ = resolve_ckpt_path(*ckpt_path, stage);
  Checkpoint checkpoint = read_checkpoint(ckpt_path_);
  restore_modules_and_callbacks(model, datamodule, checkpoint);
}

void TrainerImpl::restore_training_state(Checkpoint& ckpt) {
  const std::string& path = ckpt_path_;
  LIGHTNING_CHECK(ckpt.contains("optimizer_states"), path,
                  " was saved with weights_only: it has no optimizer state, so fit cannot resume "
                  "from it. Load the weights with load_from_checkpoint and start a new fit.");
  const c10::IValue& opt_states = ckpt.at("optimizer_states");
  LIGHTNING_CHECK(opt_states.isList() && opt_states.toListRef().size() == optimizers_.size(), path,
                  " holds the state of ",
                  opt_states.isList() ? std::to_string(opt_states.toListRef().size()) : "no",
                  " optimizer(s), but configure_optimizers returned ", optimizers_.size(), ".");
  if (ckpt.contains("lr_schedulers")) {
    const c10::IValue& sched_states = ckpt.at("lr_schedulers");
    LIGHTNING_CHECK(
        sched_states.isList() && sched_states.toListRef().size() == lr_scheduler_configs_.size(),
        path, " holds the state of ",
        sched_states.isList() ? std::to_string(sched_states.toListRef().size()) : "no",
        " scheduler(s), but configure_optimizers returned ", lr_scheduler_configs_.size(), ".");
    for (size_t i = 0; i < lr_scheduler_configs_.size(); ++i) {
      const c10::IValue& state = sched_states.toListRef()[i];
      LIGHTNING_CHECK(state.isGenericDict(), path, ": lr_schedulers[", i, "] is not a dict.");
      LRScheduler& scheduler = *lr_scheduler_configs_[i].scheduler;
      scheduler.load_state_dict(
          without_python_objects(state.toGenericDict(), scheduler.state_dict(),
                                 path + " lr_schedulers[" + std::to_string(i) + "]"));
    }
  }
  // After the schedulers: the optimizer's saved learning rates are the ones
  // in effect (two schedulers on one optimizer each remember only their own
  // last step), as PyTorch's optimizer.load_state_dict decides them.
  for (size_t i = 0; i < optimizers_.size(); ++i) {
    const c10::IValue& state = opt_states.toListRef()[i];
    LIGHTNING_CHECK(state.isGenericDict(), path, ": optimizer_states[", i, "] is not a dict.");
    load_optimizer_state_dict(*optimizers_[i], state.toGenericDict());
  }
  if (GradScaler* scaler = precision_->scaler()) {
    for (const char* key : {"MixedPrecision", "MixedPrecisionPlugin", "native_amp_scaling_state"}) {
      if (ckpt.contains(key)) {
        scaler->load_state_dict(ckpt.get<StateDict>(key));
        break;
      }
    }
  }

  fit_loop_.load_state_dict(ckpt, path);
}

}  // namespace lightning::detail
