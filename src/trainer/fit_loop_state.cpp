// The fit loop's checkpoint entry, loops/fit_loop: Lightning's progress
// trackers (so that Python Lightning resumes from our checkpoints), plus this
// library's exact position under "lightning_cpp" (docs/checkpoints.md).
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <torch/cuda.h>

#include <cstring>
#include <initializer_list>
#include <mutex>

#include "lightning/error.h"
#include "trainer/fit_loop.h"
#include "trainer/trainer_impl.h"

namespace lightning::detail {

namespace {

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

int64_t int_or(const StateDict& d, const std::string& key, int64_t fallback) {
  auto it = d.find(c10::IValue(key));
  return it != d.end() && it->value().isInt() ? it->value().toInt() : fallback;
}

std::optional<StateDict> dict_at(const StateDict& d, const std::string& key) {
  auto it = d.find(c10::IValue(key));
  if (it == d.end() || !it->value().isGenericDict()) return std::nullopt;
  return it->value().toGenericDict();
}

}  // namespace

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

void restore_rng(const std::vector<at::Tensor>& states) {
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

// ---- Phases and their saved names ------------------------------------------------

// The one mapping between the loop's phases and their names in checkpoints.
// Names are the format: never rename one; a new phase gets a new name.
const FitLoop::PhaseName FitLoop::kPhaseNames[] = {
    {Phase::kOutside, "outside"},
    {Phase::kBatch, "batch"},
    {Phase::kTrainBatchEnd, "train_batch_end"},
    {Phase::kValidation, "validation"},
    {Phase::kTrainEpochEnd, "train_epoch_end"},
    {Phase::kTrainEpochStart, "train_epoch_start"},
};

const char* FitLoop::phase_name(Phase phase) {
  for (const auto& row : kPhaseNames) {
    if (row.phase == phase) return row.name;
  }
  LIGHTNING_FAIL("internal error: loop phase ", static_cast<int>(phase), " has no saved name.");
}

FitLoop::Phase FitLoop::phase_from_name(const std::string& name, const std::string& where) {
  std::string known;
  for (const auto& row : kPhaseNames) {
    if (name == row.name) return row.phase;
    known.append(known.empty() ? "" : ", ").append(row.name);
  }
  LIGHTNING_FAIL(where, ": unknown loop phase \"", name,
                 "\" (a checkpoint of a newer lightning.cpp?). Known phases: ", known,
                 ". Resume it with the version that wrote it, or start a new fit from its "
                 "weights (load_from_checkpoint).");
}

// ---- Writing ----------------------------------------------------------------------

StateDict FitLoop::state_dict(LightningModule& model) {
  // Lightning's loop progress, plus the exact position this library resumes from.
  StateDict fit_loop = lightning_progress(model);
  fit_loop.insert("lightning_cpp", exact_position(model));
  return fit_loop;
}

StateDict FitLoop::lightning_progress(LightningModule& model) const {
  const LoopState& c = counters_;
  const bool epoch_done = phase_ == Phase::kTrainEpochEnd || phase_ == Phase::kOutside;
  StateDict fit_loop = make_state_dict();
  fit_loop.insert("state_dict", make_state_dict());
  StateDict epoch_loop_state = make_state_dict();
  epoch_loop_state.insert("_batches_that_stepped", c.batches_that_stepped);
  fit_loop.insert("epoch_loop.state_dict", epoch_loop_state);
  const int64_t epochs_processed = c.epoch + (phase_ == Phase::kTrainEpochEnd ? 1 : 0);
  fit_loop.insert("epoch_progress", progress_pair(epochs_processed, epochs_processed));
  StateDict batch_progress = progress_pair(c.total_batch_idx, batches_done_);
  batch_progress.insert("is_last_batch", batches_done_ == num_training_batches && !epoch_done);
  fit_loop.insert("epoch_loop.batch_progress", batch_progress);
  // Python Lightning's trainer.global_step is the optimizer step progress
  // (under manual optimization the manual step progress), not the top-level
  // "global_step": without these a Python resume restarts at global_step 0.
  // "current" counts the steps of this epoch (Lightning resets it at each
  // epoch start); manual steps are not counted per epoch here, so 0.
  const bool automatic = model.automatic_optimization();
  const int64_t k = std::max<int64_t>(t_.accumulate_grad_batches_, 1);
  const int64_t epoch_steps = std::min(
      c.global_step,
      batches_done_ / k + (batches_done_ == num_training_batches && batches_done_ % k ? 1 : 0));
  const int64_t auto_total = automatic ? c.global_step : 0;
  const int64_t auto_current = automatic ? epoch_steps : 0;
  StateDict optimizer_progress = make_state_dict();
  optimizer_progress.insert("step", tracker_pair(auto_total, auto_current, {"ready", "completed"}));
  optimizer_progress.insert(
      "zero_grad", tracker_pair(auto_total, auto_current, {"ready", "completed", "started"}));
  StateDict optim_progress = make_state_dict();
  optim_progress.insert("optimizer", optimizer_progress);
  fit_loop.insert("epoch_loop.automatic_optimization.optim_progress", optim_progress);
  fit_loop.insert("epoch_loop.manual_optimization.optim_step_progress",
                  tracker_pair(automatic ? 0 : c.global_step, 0, {"ready", "completed"}));
  return fit_loop;
}

StateDict FitLoop::exact_position(LightningModule& model) {
  const LoopState& c = counters_;
  StateDict exact = make_state_dict();
  exact.insert("epoch", c.epoch);
  exact.insert("global_step", c.global_step);
  exact.insert("batches_done", batches_done_);
  exact.insert("phase", std::string(phase_name(phase_)));
  exact.insert("total_batch_idx", c.total_batch_idx);
  exact.insert("batches_that_stepped", c.batches_that_stepped);
  exact.insert("should_stop", t_.should_stop_);
  const uint64_t seed = train_shuffle_seed();
  int64_t seed_bits = 0;
  std::memcpy(&seed_bits, &seed, sizeof seed);  // Python reads it as a (maybe negative) int
  exact.insert("shuffle_seed", seed_bits);
  c10::impl::GenericList rngs(c10::TensorType::get());
  for (auto& t : rng_states()) rngs.push_back(t);
  exact.insert("rng_states", rngs);
  // Inside an accumulation window the gradients summed so far are state too:
  // after a batch, or before the next one's training_step (a resume at phase
  // "batch" runs that batch again, so its own gradient must not be saved).
  c10::impl::GenericList grads(c10::AnyType::get());
  const bool between_batches = phase_ == Phase::kTrainBatchEnd || phase_ == Phase::kValidation ||
                               (phase_ == Phase::kBatch && !step_started_);
  const bool mid_window = between_batches && batches_done_ < num_training_batches &&
                          batches_done_ > 0 && should_accumulate(batches_done_ - 1);
  if (mid_window) {
    for (const auto& p : model.parameters()) {
      grads.push_back(p.grad().defined() ? c10::IValue(p.grad().detach().clone()) : c10::IValue());
    }
  }
  exact.insert("accumulated_grads", grads);
  StateDict metrics = make_state_dict();
  for (const auto& [name, value] : t_.callback_metrics_) {
    if (value.defined() && value.numel() == 1) metrics.insert(name, value.item<double>());
  }
  exact.insert("callback_metrics", metrics);
  // What self.log accumulated so far in this epoch, so that the resumed
  // epoch's values cover all its batches. Under DDP the job-wide
  // accumulation (every rank saves, so every rank gets here: a collective).
  if (phase_ != Phase::kOutside && phase_ != Phase::kTrainEpochStart) {
    if (t_.world_size() > 1) {
      ResultCollection synced = *t_.train_results_;
      synced.sync_epoch(*t_.strategy_);
      exact.insert("train_results", synced.state_dict(/*global=*/true));
    } else {
      exact.insert("train_results", t_.train_results_->state_dict());
    }
  }
  // The position above is in this run's batches: resuming with another
  // number of processes (other shards) starts at an epoch boundary instead.
  exact.insert("world_size", t_.world_size());
  exact.insert("num_training_batches", num_training_batches);
  return exact;
}

// ---- Restoring ----------------------------------------------------------------------

void FitLoop::load_state_dict(const Checkpoint& ckpt, const std::string& path) {
  Resume resume;
  counters_.epoch = ckpt.contains("epoch") ? ckpt.get<int64_t>("epoch") : 0;
  counters_.global_step = ckpt.contains("global_step") ? ckpt.get<int64_t>("global_step") : 0;
  std::optional<StateDict> fit_loop;
  if (ckpt.contains("loops") && ckpt.at("loops").isGenericDict()) {
    fit_loop = dict_at(ckpt.get<StateDict>("loops"), "fit_loop");
  }
  std::optional<StateDict> exact = fit_loop ? dict_at(*fit_loop, "lightning_cpp") : std::nullopt;
  if (exact) {
    load_exact_position(*exact, path, resume);
  } else {
    load_lightning_position(fit_loop, path, resume);
  }
  resume_ = resume;
}

void FitLoop::load_exact_position(const StateDict& exact, const std::string& path, Resume& resume) {
  const std::string who = path + " loops/fit_loop/lightning_cpp";
  counters_.epoch = state_int(exact, "epoch", who);
  counters_.global_step = state_int(exact, "global_step", who);
  counters_.total_batch_idx = state_int(exact, "total_batch_idx", who);
  counters_.batches_that_stepped = state_int(exact, "batches_that_stepped", who);
  // "should_stop" is not read back: as in Lightning, a stop request is not
  // resumed; the callbacks that asked for it decide again from their
  // restored state (a Timer whose budget is spent stops the resumed fit in
  // on_fit_start), so a stopped run can go on with a larger budget.
  resume.batches_done = state_int(exact, "batches_done", who);
  resume.phase = phase_from_name(state_string(exact, "phase", who), who);
  // Saved outside the loop (after fit): the saved epoch starts from its beginning.
  if (resume.phase == Phase::kOutside) resume.phase = Phase::kTrainEpochStart;
  if (resume.phase == Phase::kTrainEpochStart) resume.batches_done = 0;
  const int64_t seed_bits = state_int(exact, "shuffle_seed", who);
  std::memcpy(&resume.shuffle_seed, &seed_bits, sizeof seed_bits);
  for (const auto& t : state_value(exact, "rng_states", who).toListRef()) {
    resume.rng_states.push_back(t.toTensor());
  }
  const int64_t saved_world =
      exact.contains("world_size") ? state_int(exact, "world_size", who) : 1;
  const int64_t world = t_.world_size();
  const auto grads = state_value(exact, "accumulated_grads", who).toListRef();
  if (!grads.empty() && saved_world == world) {
    auto params = t_.model_->parameters();
    LIGHTNING_CHECK(grads.size() == params.size(), who, ": ", grads.size(),
                    " accumulated gradients for ", params.size(), " parameters.");
    for (size_t i = 0; i < params.size(); ++i) {
      if (grads[i].isTensor())
        params[i].mutable_grad() = grads[i].toTensor().to(params[i].device());
    }
  }
  for (const auto& entry : state_dict_at(exact, "callback_metrics", who)) {
    t_.callback_metrics_[entry.key().toStringRef()] =
        at::scalar_tensor(entry.value().toDouble(), at::kFloat);
  }
  // Absent from checkpoints of earlier versions: the resumed epoch's
  // values then cover the batches after the resume only.
  if (exact.contains("train_results") && saved_world == world) {
    resume.train_results = std::make_shared<ResultCollection>();
    resume.train_results->load_state_dict(state_dict_at(exact, "train_results", who),
                                          /*accumulations=*/t_.is_global_zero(),
                                          who + "/train_results");
  }
  resume.exact = true;
  if (saved_world != world) {
    // Other shards: the saved batch position means nothing here. A
    // finished epoch resumes at the next one, an unfinished one restarts.
    const int64_t saved_batches =
        exact.contains("num_training_batches") ? state_int(exact, "num_training_batches", who) : -1;
    const bool trained = resume.phase != Phase::kTrainEpochStart && resume.phase != Phase::kBatch &&
                         saved_batches >= 0 && resume.batches_done >= saved_batches;
    if (trained) ++counters_.epoch;
    warn(path + " was saved by " + std::to_string(saved_world) + " process(es), this fit runs " +
         std::to_string(world) + ": training resumes at the start of epoch " +
         std::to_string(counters_.epoch) +
         (trained ? "" : " (the batches of it done before the save run again)") + ".");
    resume.phase = Phase::kTrainEpochStart;
    resume.batches_done = 0;
    resume.exact = false;
  }
}

void FitLoop::load_lightning_position(const std::optional<StateDict>& fit_loop,
                                      const std::string& path, Resume& resume) {
  // A checkpoint written by Python Lightning: resume at the start of the
  // epoch it was in, or at the next one when its training was done. As
  // Lightning's fit loop on restart (on_run_start sets completed =
  // processed): "processed" counts an epoch from before on_train_epoch_end,
  // where ModelCheckpoint saves; "completed" only after it.
  bool mid_epoch = false;
  if (fit_loop) {
    if (auto ep = dict_at(*fit_loop, "epoch_progress")) {
      if (auto current = dict_at(*ep, "current")) {
        counters_.epoch =
            int_or(*current, "processed", int_or(*current, "completed", counters_.epoch));
        // Started and not processed: saved inside the epoch.
        mid_epoch = int_or(*current, "started", counters_.epoch) > counters_.epoch;
      }
    }
    if (auto st = dict_at(*fit_loop, "epoch_loop.state_dict")) {
      counters_.batches_that_stepped = int_or(*st, "_batches_that_stepped", counters_.global_step);
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
      const int64_t k = std::max<int64_t>(t_.accumulate_grad_batches_, 1);
      if (completed == processed - 1 && (processed % k == 0 || last_batch)) {
        ++counters_.batches_that_stepped;
      }
      if (total) counters_.total_batch_idx = int_or(*total, "processed", counters_.total_batch_idx);
      if (last_batch) {
        ++counters_.epoch;  // the epoch's batches were all done: the next one starts
      } else {
        // Everything after the saved batch, its validation included, was
        // done or is skipped, as Lightning's restart skips it.
        resume.phase = Phase::kValidation;
        resume.batches_done = processed;
      }
    }
  }
  if (resume.phase == Phase::kValidation) {
    warn("fit resumes from " + path +
         ", which has no lightning.cpp loop state (written by Python Lightning?), inside epoch " +
         std::to_string(counters_.epoch) + " after " + std::to_string(resume.batches_done) +
         " batches: as Lightning with a loader that is not resumable, the rest of the epoch "
         "trains on the first batches of a new pass over the data, and the epoch's logged "
         "values cover only the batches after the resume.");
  } else {
    resume.phase = Phase::kTrainEpochStart;
    warn("fit resumes from " + path +
         ", which has no lightning.cpp loop state (written by Python Lightning?): training "
         "restarts at the beginning of epoch " +
         std::to_string(counters_.epoch) + ".");
  }
}

}  // namespace lightning::detail
