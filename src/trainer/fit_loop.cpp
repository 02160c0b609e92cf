// The training loop of `fit`: epochs, batches, validation when due, stopping,
// and re-entering a saved position when fit resumes from a checkpoint.
#include "trainer/fit_loop.h"

#include <utility>

#include "lightning/error.h"
#include "trainer/trainer_impl.h"

namespace lightning::detail {

void FitLoop::reset() {
  counters_ = LoopState{};
  phase_ = Phase::kOutside;
  batches_done_ = 0;
  step_started_ = false;
  skip_backward = false;
  resume_.reset();
}

bool FitLoop::max_steps_reached() const {
  return max_steps != -1 && counters_.global_step >= max_steps;
}

bool FitLoop::done() const {
  if (max_steps_reached()) return true;
  if (max_epochs != -1 && counters_.epoch >= max_epochs) return true;
  if (num_training_batches == 0) return true;
  return t_.should_stop_ && min_reached();
}

bool FitLoop::min_reached() const {
  const auto& o = t_.options_;
  const bool epochs_ok = !o.min_epochs() || counters_.epoch >= *o.min_epochs();
  const bool steps_ok = !o.min_steps() || counters_.global_step >= *o.min_steps();
  return epochs_ok && steps_ok;
}

bool FitLoop::should_accumulate(int64_t batch_idx) const {
  // Lightning: step at the end of every window and at the last batch of the epoch.
  const int64_t k = t_.accumulate_grad_batches_;
  return k > 1 && (batch_idx + 1) % k != 0 && batch_idx + 1 != num_training_batches;
}

uint64_t FitLoop::train_shuffle_seed() const {
  const DataLoaders& train = t_.loaders_.train;
  return train.empty() ? 0 : train[0].current_shuffle_seed();
}

void FitLoop::run(LightningModule& model, bool has_validation) {
  t_.training_ = true;
  t_.active_results_ = t_.train_results_.get();
  model.train();
  // What on_train_start logs counts in the first epoch (Lightning).
  t_.train_results_->reset();
  keep_results_ = true;
  t_.call_hook(
      Hook::OnTrainStart, [&](Callback& c) { c.on_train_start(t_.self_, model); },
      [&] { model.on_train_start(); });
  while (!done()) {
    run_epoch(model, has_validation);
  }
  t_.call_hook(
      Hook::OnTrainEnd, [&](Callback& c) { c.on_train_end(t_.self_, model); },
      [&] { model.on_train_end(); });
  t_.training_ = false;
  phase_ = Phase::kOutside;
}

void FitLoop::finish_saved_epoch_end() {
  // Only the plateau schedulers were left of the saved epoch. Done before
  // on_train_start, so that the hooks see the next epoch, as Lightning's
  // (whose restored epoch counts the epoch as done).
  if (!resume_ || resume_->phase != Phase::kTrainEpochEnd) return;
  const Resume resume = *std::exchange(resume_, std::nullopt);
  restore_rng(resume.rng_states);
  batches_done_ = resume.batches_done;
  if (resume.train_results) {
    // The saved epoch's row came after the save: the loggers get it now.
    *t_.train_results_ = *resume.train_results;
    auto per_loader = t_.train_results_->epoch_metrics(t_.sinks(), 1);
    if (!per_loader[0].empty()) {
      t_.send_to_loggers(per_loader[0], counters_.batches_that_stepped - 1, /*epoch_level=*/true);
    }
  }
  if (batches_done_ == num_training_batches) t_.update_lr_schedulers("epoch", /*plateau=*/true);
  ++counters_.epoch;
}

void FitLoop::run_epoch(LightningModule& model, bool has_validation) {
  // A resumed fit re-enters the epoch it was saved in where it stopped
  // (load_state_dict restored the counters; the RNG is restored below).
  const std::optional<Resume> resume = std::exchange(resume_, std::nullopt);
  if (!std::exchange(keep_results_, false)) t_.train_results_->reset();
  // Mid-epoch: what self.log accumulated before the save.
  if (resume && resume->train_results && resume->phase != Phase::kTrainEpochStart) {
    *t_.train_results_ = *resume->train_results;
  }
  // reload_dataloaders_every_n_epochs (not in a resumed epoch: it replays its loader).
  if (!resume) t_.maybe_reload_train_data(model);
  // Until the loader starts, a checkpoint resumes at this epoch's start.
  phase_ = Phase::kTrainEpochStart;
  batches_done_ = resume ? resume->batches_done : 0;
  t_.call_hook(
      Hook::OnTrainEpochStart, [&](Callback& c) { c.on_train_epoch_start(t_.self_, model); },
      [&] { model.on_train_epoch_start(); });

  const bool validate_this_epoch =
      has_validation && (counters_.epoch + 1) % t_.options_.check_val_every_n_epoch() == 0;
  int64_t batch_idx = batches_done_;
  bool keep_going = true;
  if (resume) restore_rng(resume->rng_states);  // as at the save
  if (resume && batch_idx > 0 && resume->phase != Phase::kBatch) {
    // Saved at the end of batch batch_idx - 1: finish what came after the save.
    keep_going = finish_training_batch(model, batch_idx - 1, should_accumulate(batch_idx - 1),
                                       validate_this_epoch,
                                       /*after_validation=*/resume->phase == Phase::kValidation);
  }
  // The epoch number decides a seeded loader's order; a resumed epoch replays
  // its saved order from the first batch not yet trained.
  DataLoader& loader = t_.loaders_.train[0];
  if (resume && resume->exact && resume->phase != Phase::kTrainEpochStart) {
    loader.resume_epoch(counters_.epoch, resume->shuffle_seed, batch_idx);
  } else {
    loader.set_epoch(counters_.epoch);
  }
  {
    // Lightning's "run_training_epoch": the batches and the validation
    // between them; the epoch's start and end hooks are actions of their own.
    ActionScope epoch_action(t_.profiling_, "run_training_epoch");
    const char* next = "[_TrainingEpochLoop].train_dataloader_next";
    auto it = [&] {
      ActionScope fetch(t_.profiling_, next);
      return loader.begin();
    }();
    const auto end = loader.end();
    phase_ = Phase::kBatch;
    while (keep_going && batch_idx < num_training_batches && it != end) {
      counters_.batch_idx = batch_idx;
      const bool accumulating = should_accumulate(batch_idx);
      if (!training_batch(model, std::move(*it), batch_idx, accumulating)) break;
      ++batch_idx;
      keep_going = finish_training_batch(model, batch_idx - 1, accumulating, validate_this_epoch,
                                         /*after_validation=*/false);
      if (keep_going && batch_idx < num_training_batches) {
        ActionScope fetch(t_.profiling_, next);
        ++it;
      }
    }
  }
  finish_epoch(model, batch_idx == num_training_batches);
}

bool FitLoop::training_batch(LightningModule& model, Batch batch, int64_t batch_idx,
                             bool accumulating) {
  phase_ = Phase::kBatch;
  batches_done_ = batch_idx;
  batch = t_.transfer_batch(model, std::move(batch), 0);
  t_.current_batch_size_ = batch.batch_size();
  t_.current_dataloader_idx_ = 0;

  int64_t response = 0;
  t_.call_hook(
      Hook::OnTrainBatchStart,
      [&](Callback& c) { c.on_train_batch_start(t_.self_, model, batch, batch_idx); },
      [&] { response = model.on_train_batch_start(batch, batch_idx); });
  if (response == -1) return false;

  StepOutput output;
  step_started_ = true;
  {
    // Lightning's "run_training_batch": the step and its optimization.
    ActionScope batch_action(t_.profiling_, "run_training_batch");
    {
      HookScope scope(t_.current_hook_, Hook::TrainingStep);
      ActionScope action(t_.profiling_, [&] { return t_.module_action(Hook::TrainingStep); });
      auto autocast = t_.precision_->forward_context(t_.device_.type());
      output = model.training_step(batch, batch_idx);
    }
    if (model.automatic_optimization()) {
      torch::optim::Optimizer* optimizer =
          t_.optimizers_.empty() ? nullptr : t_.optimizers_[0].get();
      const bool first_in_window = batch_idx % t_.accumulate_grad_batches_ == 0;
      if (skip_backward) {
        // The forward pass only (Lightning's _skip_backward).
      } else if (output.empty()) {
        t_.warn_once(
            "training_step returned nothing: the batch is skipped (no backward, no optimizer "
            "step). If this was on purpose, ignore this warning.");
        if (optimizer && first_in_window) t_.zero_grad(model, *optimizer);
      } else {
        t_.backward_and_step(model, optimizer, t_.checked_loss(output), first_in_window,
                             !accumulating);
        if (!accumulating) t_.update_lr_schedulers("step", /*plateau=*/false);
      }
      // Lightning 2.x steps epoch-interval schedulers once the epoch's last batch is done.
      if (batch_idx + 1 == num_training_batches) {
        t_.update_lr_schedulers("epoch", /*plateau=*/false);
      }
    }
  }
  // A checkpoint written from here on resumes after this batch.
  phase_ = Phase::kTrainBatchEnd;
  batches_done_ = batch_idx + 1;
  step_started_ = false;
  t_.call_hook(
      Hook::OnTrainBatchEnd,
      [&](Callback& c) { c.on_train_batch_end(t_.self_, model, output, batch, batch_idx); },
      [&] { model.on_train_batch_end(output, batch, batch_idx); });
  return true;
}

bool FitLoop::finish_training_batch(LightningModule& model, int64_t batch_idx, bool accumulating,
                                    bool validate_this_epoch, bool after_validation) {
  // What follows a training batch: step-metric logging, validation when due,
  // plateau schedulers with interval "step". Returns false when fit must stop.
  const int64_t done = batch_idx + 1;
  phase_ = Phase::kTrainBatchEnd;
  batches_done_ = done;
  if (!after_validation) {
    ++counters_.total_batch_idx;
    if (!accumulating) {
      // Step metrics reach the loggers at optimizer steps only (Lightning).
      ++counters_.batches_that_stepped;
      t_.log_step_metrics(max_steps_reached() || (t_.should_stop_ && min_reached()));
    }
    if (validate_this_epoch && done % val_check_batch == 0) {
      phase_ = Phase::kValidation;
      if (t_.maybe_reload_val_data(model)) {
        t_.run_evaluation(model, Stage::Validate, t_.num_val_batches_, /*log=*/true);
      }
      t_.agree_on_should_stop();  // e.g. EarlyStopping in on_validation_end
    }
  }
  if (!accumulating) t_.update_lr_schedulers("step", /*plateau=*/true);  // after metrics are logged
  phase_ = Phase::kBatch;
  return !(max_steps_reached() || (t_.should_stop_ && min_reached()));
}

void FitLoop::finish_epoch(LightningModule& model, bool completed) {
  phase_ = Phase::kTrainEpochEnd;
  // Epoch-level training metrics are visible to the on_train_epoch_end hooks;
  // what those hooks log is added before the loggers see the epoch row.
  // Under DDP every epoch value is reduced over the ranks first, so that
  // callbacks and schedulers decide the same on every rank.
  ResultCollection& results = *t_.train_results_;
  t_.sync_epoch_results(results);
  results.epoch_metrics(t_.sinks(), 1);
  {
    HookScope scope(t_.current_hook_, Hook::OnTrainEpochEnd);
    auto callback_hook = [&](Callback& c) {
      ActionScope action(t_.profiling_,
                         [&] { return t_.callback_action(c, Hook::OnTrainEpochEnd); });
      c.on_train_epoch_end(t_.self_, model);
    };
    for (auto& c : t_.callbacks_) {
      if (!c->is_monitoring_callback()) callback_hook(*c);
    }
    {
      ActionScope action(t_.profiling_, [&] { return t_.module_action(Hook::OnTrainEpochEnd); });
      model.on_train_epoch_end();
    }
    // Monitoring callbacks see what the module's hook logged, as Lightning.
    t_.sync_epoch_results(results);
    results.epoch_metrics(t_.sinks(), 1);
    for (auto& c : t_.callbacks_) {
      if (c->is_monitoring_callback()) callback_hook(*c);
    }
  }
  auto per_loader = results.epoch_metrics(t_.sinks(), 1);
  if (!per_loader[0].empty()) {
    t_.send_to_loggers(per_loader[0], counters_.batches_that_stepped - 1, /*epoch_level=*/true);
  }
  results.reset_metrics();  // logged Metric objects start the next epoch empty
  // Plateau schedulers step on the epoch's metrics, after a complete epoch.
  if (completed) t_.update_lr_schedulers("epoch", /*plateau=*/true);
  t_.agree_on_should_stop();
  ++counters_.epoch;
  phase_ = Phase::kBatch;
  batches_done_ = 0;
}

}  // namespace lightning::detail
