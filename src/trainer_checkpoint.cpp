// The Trainer's checkpoint side: what a checkpoint holds (Lightning's keys plus
// the exact loop position), writing it, and restoring a fit from it.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <torch/cuda.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <initializer_list>

#include "detail/result_collection.h"
#include "lightning/callbacks/early_stopping.h"
#include "lightning/callbacks/model_checkpoint.h"
#include "lightning/checkpoint/checkpoint_io.h"
#include "lightning/checkpoint/optimizer_state.h"
#include "lightning/error.h"
#include "lightning/trainer.h"

namespace lightning {

namespace {

const char* phase_name(int phase) {
  static const char* names[] = {"outside",    "batch",           "train_batch_end",
                                "validation", "train_epoch_end", "train_epoch_start"};
  return names[phase];
}

// A tracker of Lightning's progress classes with these `fields`, each `n`.
StateDict tracker(int64_t n, std::initializer_list<const char*> fields) {
  StateDict p = make_state_dict();
  for (const char* k : fields) p.insert(k, n);
  return p;
}

// {"total": ..., "current": ...} of such trackers.
StateDict tracker_pair(int64_t total, int64_t current, std::initializer_list<const char*> fields) {
  StateDict p = make_state_dict();
  p.insert("total", tracker(total, fields));
  p.insert("current", tracker(current, fields));
  return p;
}

// Lightning's full progress pair (ready, started, processed, completed).
StateDict progress_pair(int64_t total, int64_t current) {
  return tracker_pair(total, current, {"ready", "started", "processed", "completed"});
}

// The default generator of CUDA device `index` (the same call on libtorch 1.13
// and 2.x; the CUDA hooks' own accessor was renamed in between).
at::Generator cuda_generator(int64_t index) {
  return at::globalContext().defaultGenerator(
      c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(index)));
}

std::vector<at::Tensor> rng_states() {
  std::vector<at::Tensor> states;
  states.push_back(at::detail::getDefaultCPUGenerator().get_state());
  if (torch::cuda::is_available()) {
    for (int64_t i = 0; i < static_cast<int64_t>(torch::cuda::device_count()); ++i) {
      states.push_back(cuda_generator(i).get_state());
    }
  }
  return states;
}

}  // namespace

void Trainer::restore_rng(const std::vector<at::Tensor>& states) {
  if (states.empty()) return;
  at::Generator cpu = at::detail::getDefaultCPUGenerator();
  {
    std::lock_guard<std::mutex> lock(cpu.mutex());
    cpu.set_state(states[0]);
  }
  if (torch::cuda::is_available()) {
    const int64_t n = static_cast<int64_t>(torch::cuda::device_count());
    for (int64_t i = 0; i + 1 < static_cast<int64_t>(states.size()) && i < n; ++i) {
      at::Generator g = cuda_generator(i);
      std::lock_guard<std::mutex> lock(g.mutex());
      g.set_state(states[i + 1]);
    }
  }
}

namespace {

int64_t int_or(const StateDict& d, const std::string& key, int64_t fallback) {
  auto it = d.find(c10::IValue(key));
  return it != d.end() && it->value().isInt() ? it->value().toInt() : fallback;
}

std::optional<StateDict> dict_at(const StateDict& d, const std::string& key) {
  auto it = d.find(c10::IValue(key));
  if (it == d.end() || !it->value().isGenericDict()) return std::nullopt;
  return it->value().toGenericDict();
}

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

Checkpoint Trainer::dump_checkpoint(bool weights_only) {
  LightningModule& model = lightning_module();
  Checkpoint ckpt;
  ckpt.set("epoch", loop_.epoch);
  ckpt.set("global_step", loop_.global_step);
  ckpt.set("pytorch-lightning_version", std::string(kLightningCheckpointVersion));
  ckpt.set("state_dict", module_state_dict(model));

  // Lightning's loop progress, plus the exact position this library resumes from.
  const bool epoch_done = phase_ == FitPhase::kTrainEpochEnd || phase_ == FitPhase::kOutside;
  StateDict fit_loop = make_state_dict();
  fit_loop.insert("state_dict", make_state_dict());
  StateDict epoch_loop_state = make_state_dict();
  epoch_loop_state.insert("_batches_that_stepped", loop_.batches_that_stepped);
  fit_loop.insert("epoch_loop.state_dict", epoch_loop_state);
  fit_loop.insert("epoch_progress",
                  progress_pair(loop_.epoch + (phase_ == FitPhase::kTrainEpochEnd ? 1 : 0),
                                loop_.epoch + (phase_ == FitPhase::kTrainEpochEnd ? 1 : 0)));
  StateDict batch_progress = progress_pair(loop_.total_batch_idx, batches_done_);
  batch_progress.insert("is_last_batch", batches_done_ == num_training_batches_ && !epoch_done);
  fit_loop.insert("epoch_loop.batch_progress", batch_progress);
  // Python Lightning's trainer.global_step is the optimizer step progress
  // (under manual optimization the manual step progress), not the top-level
  // "global_step": without these a Python resume restarts at global_step 0.
  // "current" counts the steps of this epoch (Lightning resets it at each
  // epoch start); manual steps are not counted per epoch here, so 0.
  const bool automatic = model.automatic_optimization();
  const int64_t k = std::max<int64_t>(accumulate_grad_batches_, 1);
  const int64_t epoch_steps = std::min(
      loop_.global_step,
      batches_done_ / k + (batches_done_ == num_training_batches_ && batches_done_ % k ? 1 : 0));
  const int64_t auto_total = automatic ? loop_.global_step : 0;
  const int64_t auto_current = automatic ? epoch_steps : 0;
  StateDict optimizer_progress = make_state_dict();
  optimizer_progress.insert("step", tracker_pair(auto_total, auto_current, {"ready", "completed"}));
  optimizer_progress.insert(
      "zero_grad", tracker_pair(auto_total, auto_current, {"ready", "completed", "started"}));
  StateDict optim_progress = make_state_dict();
  optim_progress.insert("optimizer", optimizer_progress);
  fit_loop.insert("epoch_loop.automatic_optimization.optim_progress", optim_progress);
  fit_loop.insert("epoch_loop.manual_optimization.optim_step_progress",
                  tracker_pair(automatic ? 0 : loop_.global_step, 0, {"ready", "completed"}));
  StateDict exact = make_state_dict();
  exact.insert("epoch", loop_.epoch);
  exact.insert("global_step", loop_.global_step);
  exact.insert("batches_done", batches_done_);
  exact.insert("phase", std::string(phase_name(static_cast<int>(phase_))));
  exact.insert("total_batch_idx", loop_.total_batch_idx);
  exact.insert("batches_that_stepped", loop_.batches_that_stepped);
  exact.insert("should_stop", should_stop_);
  const uint64_t seed = train_shuffle_seed();
  int64_t seed_bits = 0;
  std::memcpy(&seed_bits, &seed, sizeof seed);  // Python reads it as a (maybe negative) int
  exact.insert("shuffle_seed", seed_bits);
  c10::impl::GenericList rngs(c10::TensorType::get());
  for (auto& t : rng_states()) rngs.push_back(t);
  exact.insert("rng_states", rngs);
  // Inside an accumulation window the gradients summed so far are state too.
  c10::impl::GenericList grads(c10::AnyType::get());
  const bool mid_window = (phase_ == FitPhase::kTrainBatchEnd || phase_ == FitPhase::kValidation) &&
                          batches_done_ < num_training_batches_ && batches_done_ > 0 &&
                          should_accumulate(batches_done_ - 1);
  if (mid_window) {
    for (const auto& p : model.parameters()) {
      grads.push_back(p.grad().defined() ? c10::IValue(p.grad().detach().clone()) : c10::IValue());
    }
  }
  exact.insert("accumulated_grads", grads);
  StateDict metrics = make_state_dict();
  for (const auto& [name, value] : callback_metrics_) {
    if (value.defined() && value.numel() == 1) metrics.insert(name, value.item<double>());
  }
  exact.insert("callback_metrics", metrics);
  // What self.log accumulated so far in this epoch, so that the resumed
  // epoch's values cover all its batches. Under DDP the job-wide
  // accumulation (every rank saves, so every rank gets here: a collective).
  if (train_results_ && phase_ != FitPhase::kOutside && phase_ != FitPhase::kTrainEpochStart) {
    if (world_size() > 1) {
      detail::ResultCollection synced = *train_results_;
      synced.sync_epoch(*strategy_);
      exact.insert("train_results", synced.state_dict(/*global=*/true));
    } else {
      exact.insert("train_results", train_results_->state_dict());
    }
  }
  // The position above is in this run's batches: resuming with another
  // number of processes (other shards) starts at an epoch boundary instead.
  exact.insert("world_size", world_size());
  exact.insert("num_training_batches", num_training_batches_);
  fit_loop.insert("lightning_cpp", exact);
  StateDict loops = make_state_dict();
  loops.insert("fit_loop", fit_loop);
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
    for (const auto& c : callbacks_) c->on_save_checkpoint(*this, model, ckpt);
  }
  model.on_save_checkpoint(ckpt);
  return ckpt;
}

void Trainer::save_checkpoint(const std::string& path, bool weights_only) {
  LIGHTNING_CHECK(model_ != nullptr, "trainer.save_checkpoint(\"", path,
                  "\") needs a module: call it during or after fit/validate/test/predict.");
  // Every rank builds it (their on_save_checkpoint hooks run, as in
  // Lightning); rank 0 writes; nobody goes on before the file is complete.
  Checkpoint ckpt = dump_checkpoint(weights_only);
  if (is_global_zero()) save_checkpoint_file(ckpt.dict(), path);
  if (world_size() > 1) {
    strategy_->setup();  // after fit (torn down): rejoins the job, idempotent
    strategy_->barrier("save_checkpoint(" + path + ")");
  }
}

ModelCheckpoint* Trainer::checkpoint_callback() const {
  auto all = checkpoint_callbacks();
  return all.empty() ? nullptr : all.front();
}

std::vector<ModelCheckpoint*> Trainer::checkpoint_callbacks() const {
  std::vector<ModelCheckpoint*> out;
  for (const auto& c : callbacks_) {
    if (auto* m = dynamic_cast<ModelCheckpoint*>(c.get())) out.push_back(m);
  }
  return out;
}

EarlyStopping* Trainer::early_stopping_callback() const {
  for (const auto& c : callbacks_) {
    if (auto* e = dynamic_cast<EarlyStopping*>(c.get())) return e;
  }
  return nullptr;
}

// ---- Restoring -------------------------------------------------------------------

std::string Trainer::resolve_ckpt_path(const std::string& ckpt_path) const {
  if (ckpt_path != "last" && ckpt_path != "best") {
    LIGHTNING_CHECK(std::filesystem::is_regular_file(ckpt_path), "fit(ckpt_path=\"", ckpt_path,
                    "\"): no such checkpoint file. Pass a .ckpt path, \"last\" or \"best\".");
    return ckpt_path;
  }
  ModelCheckpoint* callback = checkpoint_callback();
  LIGHTNING_CHECK(callback != nullptr, "fit(ckpt_path=\"", ckpt_path,
                  "\") needs a ModelCheckpoint callback to find that checkpoint; checkpointing "
                  "is off (enable_checkpointing(false)). Pass the file's path instead.");
  if (ckpt_path == "best") {
    LIGHTNING_CHECK(!callback->best_model_path().empty(),
                    "fit(ckpt_path=\"best\"): the ModelCheckpoint callback has no best model yet "
                    "(it saves during fit). Pass the file's path instead.");
    return callback->best_model_path();
  }
  // "last": what this callback saved last, else the newest .ckpt in its folder
  // (a new process resuming a killed run), as Lightning.
  if (!callback->last_model_path().empty() &&
      std::filesystem::exists(callback->last_model_path())) {
    return callback->last_model_path();
  }
  callback->setup(const_cast<Trainer&>(*this), *model_, Stage::Fit);  // resolves its folder
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
  LIGHTNING_CHECK(!newest.empty(), "fit(ckpt_path=\"last\"): no checkpoint in ",
                  callback->dirpath(), ". Pass the file's path instead.");
  return newest.string();
}

void Trainer::restore_modules_and_callbacks(LightningModule& model,
                                            LightningDataModule* datamodule) {
  Checkpoint& ckpt = *restoring_;
  detail::restore_module(model, ckpt, ckpt_path_);
  if (datamodule) detail::restore_datamodule(*datamodule, ckpt, ckpt_path_);
  std::optional<StateDict> states;
  if (ckpt.contains("callbacks") && ckpt.at("callbacks").isGenericDict()) {
    states = ckpt.get<StateDict>("callbacks");
  }
  for (const auto& c : callbacks_) {
    c->on_load_checkpoint(*this, model, ckpt);
    if (!states) continue;
    auto it = states->find(c10::IValue(c->state_key()));
    if (it != states->end() && it->value().isGenericDict()) {
      c->load_state_dict(it->value().toGenericDict());
    }
  }
}

void Trainer::restore_training_state() {
  Checkpoint& ckpt = *restoring_;
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

  // The loops.
  Resume resume;
  loop_.epoch = ckpt.contains("epoch") ? ckpt.get<int64_t>("epoch") : 0;
  loop_.global_step = ckpt.contains("global_step") ? ckpt.get<int64_t>("global_step") : 0;
  std::optional<StateDict> fit_loop;
  if (ckpt.contains("loops") && ckpt.at("loops").isGenericDict()) {
    fit_loop = dict_at(ckpt.get<StateDict>("loops"), "fit_loop");
  }
  std::optional<StateDict> exact = fit_loop ? dict_at(*fit_loop, "lightning_cpp") : std::nullopt;
  if (exact) {
    const std::string who = path + " loops/fit_loop/lightning_cpp";
    loop_.epoch = state_int(*exact, "epoch", who);
    loop_.global_step = state_int(*exact, "global_step", who);
    loop_.total_batch_idx = state_int(*exact, "total_batch_idx", who);
    loop_.batches_that_stepped = state_int(*exact, "batches_that_stepped", who);
    should_stop_ = state_bool(*exact, "should_stop", who);
    resume.batches_done = state_int(*exact, "batches_done", who);
    const std::string phase = state_string(*exact, "phase", who);
    resume.phase = phase == "train_batch_end"   ? FitPhase::kTrainBatchEnd
                   : phase == "validation"      ? FitPhase::kValidation
                   : phase == "train_epoch_end" ? FitPhase::kTrainEpochEnd
                   : phase == "batch"           ? FitPhase::kBatch
                                                : FitPhase::kTrainEpochStart;
    if (resume.phase == FitPhase::kTrainEpochStart) resume.batches_done = 0;
    const int64_t seed_bits = state_int(*exact, "shuffle_seed", who);
    std::memcpy(&resume.shuffle_seed, &seed_bits, sizeof seed_bits);
    for (const auto& t : state_value(*exact, "rng_states", who).toListRef()) {
      resume.rng_states.push_back(t.toTensor());
    }
    const int64_t saved_world =
        exact->contains("world_size") ? state_int(*exact, "world_size", who) : 1;
    const auto grads = state_value(*exact, "accumulated_grads", who).toListRef();
    if (!grads.empty() && saved_world == world_size()) {
      auto params = model_->parameters();
      LIGHTNING_CHECK(grads.size() == params.size(), who, ": ", grads.size(),
                      " accumulated gradients for ", params.size(), " parameters.");
      for (size_t i = 0; i < params.size(); ++i) {
        if (grads[i].isTensor())
          params[i].mutable_grad() = grads[i].toTensor().to(params[i].device());
      }
    }
    for (const auto& entry : state_dict_at(*exact, "callback_metrics", who)) {
      callback_metrics_[entry.key().toStringRef()] =
          at::scalar_tensor(entry.value().toDouble(), at::kFloat);
    }
    // Absent from checkpoints of earlier versions: the resumed epoch's
    // values then cover the batches after the resume only.
    if (exact->contains("train_results") && saved_world == world_size()) {
      resume.train_results = std::make_shared<detail::ResultCollection>();
      resume.train_results->load_state_dict(state_dict_at(*exact, "train_results", who),
                                            /*accumulations=*/is_global_zero(),
                                            who + "/train_results");
    }
    resume.exact = true;
    if (saved_world != world_size()) {
      // Other shards: the saved batch position means nothing here. A
      // finished epoch resumes at the next one, an unfinished one restarts.
      const int64_t saved_batches = exact->contains("num_training_batches")
                                        ? state_int(*exact, "num_training_batches", who)
                                        : -1;
      const bool trained = resume.phase != FitPhase::kTrainEpochStart &&
                           resume.phase != FitPhase::kBatch && saved_batches >= 0 &&
                           resume.batches_done >= saved_batches;
      if (trained) ++loop_.epoch;
      detail::warn(path + " was saved by " + std::to_string(saved_world) +
                   " process(es), this fit runs " + std::to_string(world_size()) +
                   ": training resumes at the start of epoch " + std::to_string(loop_.epoch) +
                   (trained ? "" : " (the batches of it done before the save run again)") + ".");
      resume.phase = FitPhase::kTrainEpochStart;
      resume.batches_done = 0;
      resume.exact = false;
    }
  } else {
    // A checkpoint written by Python Lightning: resume at the start of the
    // epoch it was in, or at the next one when its training was done. As
    // Lightning's fit loop on restart (on_run_start sets completed =
    // processed): "processed" counts an epoch from before on_train_epoch_end,
    // where ModelCheckpoint saves; "completed" only after it.
    bool mid_epoch = false;
    if (fit_loop) {
      if (auto ep = dict_at(*fit_loop, "epoch_progress")) {
        if (auto current = dict_at(*ep, "current")) {
          loop_.epoch = int_or(*current, "processed", int_or(*current, "completed", loop_.epoch));
          // Started and not processed: saved inside the epoch.
          mid_epoch = int_or(*current, "started", loop_.epoch) > loop_.epoch;
        }
      }
      if (auto st = dict_at(*fit_loop, "epoch_loop.state_dict")) {
        loop_.batches_that_stepped = int_or(*st, "_batches_that_stepped", loop_.global_step);
      }
      // Mid-epoch, Lightning goes on after the batches it processed (its
      // TrainingEpochLoop.reset on restart), with batch_idx counting on.
      auto progress = dict_at(*fit_loop, "epoch_loop.batch_progress");
      auto current = progress ? dict_at(*progress, "current") : std::nullopt;
      auto total = progress ? dict_at(*progress, "total") : std::nullopt;
      const int64_t processed = current ? int_or(*current, "processed", 0) : 0;
      if (mid_epoch && processed > 0) {
        const int64_t completed = int_or(*current, "completed", processed);
        const bool last_batch = [&] {
          auto it = progress->find(c10::IValue("is_last_batch"));
          return it != progress->end() && it->value().isBool() && it->value().toBool();
        }();
        // Saved in on_train_batch_end (completed lags by one): the step
        // after that batch is not counted yet in _batches_that_stepped.
        const int64_t k = std::max<int64_t>(accumulate_grad_batches_, 1);
        if (completed == processed - 1 && (processed % k == 0 || last_batch)) {
          ++loop_.batches_that_stepped;
        }
        if (total) loop_.total_batch_idx = int_or(*total, "processed", loop_.total_batch_idx);
        if (last_batch) {
          ++loop_.epoch;  // the epoch's batches were all done: the next one starts
        } else {
          // Everything after the saved batch, its validation included, was
          // done or is skipped, as Lightning's restart skips it.
          resume.phase = FitPhase::kValidation;
          resume.batches_done = processed;
        }
      }
    }
    if (resume.phase == FitPhase::kValidation) {
      detail::warn("fit resumes from " + path +
                   ", which has no lightning.cpp loop state (written by Python Lightning?), "
                   "inside epoch " +
                   std::to_string(loop_.epoch) + " after " + std::to_string(resume.batches_done) +
                   " batches: as Lightning with a loader that is not resumable, the rest of "
                   "the epoch trains on the first batches of a new pass over the data, and the "
                   "epoch's logged values cover only the batches after the resume.");
    } else {
      resume.phase = FitPhase::kTrainEpochStart;
      detail::warn("fit resumes from " + path +
                   ", which has no lightning.cpp loop state (written by Python Lightning?): "
                   "training restarts at the beginning of epoch " +
                   std::to_string(loop_.epoch) + ".");
    }
  }
  resume_ = resume;
}

}  // namespace lightning
