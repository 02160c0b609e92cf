// What the learning-rate and batch-size searches share: the Trainer state a
// search changes and its restore (Lightning's temporary checkpoint plus its
// __*_dump_params / __*_restore_params), and hparam access as Lightning's
// lightning_hasattr / getattr / setattr.
#include "tuner/tuning.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <iostream>
#include <random>
#include <utility>

#include "lightning/checkpoint/checkpoint.h"
#include "lightning/error.h"

namespace lightning::detail {

// ---- hparams -------------------------------------------------------------------

bool has_hparam(TrainerImpl& t, LightningModule& model, const std::string& name) {
  return model.hparams().contains(name) ||
         (t.datamodule_ != nullptr && t.datamodule_->hparams().contains(name));
}

HParamValue get_hparam(TrainerImpl& t, LightningModule& model, const std::string& name) {
  // Lightning reads the last holder: the datamodule's over the module's.
  if (t.datamodule_ != nullptr && t.datamodule_->hparams().contains(name)) {
    return t.datamodule_->hparams().at(name);
  }
  return model.hparams().at(name);
}

void set_hparam(TrainerImpl& t, LightningModule& model, const std::string& name,
                const HParamValue& value) {
  if (model.hparams().contains(name)) {
    HParams hp = model.hparams();
    hp.set(name, value);
    model.save_hyperparameters(hp);
  }
  if (t.datamodule_ != nullptr && t.datamodule_->hparams().contains(name)) {
    HParams hp = t.datamodule_->hparams();
    hp.set(name, value);
    t.datamodule_->save_hyperparameters(hp);
  }
}

void tuner_info(const TrainerImpl& t, const std::string& message) {
  if (t.is_global_zero()) std::cerr << (message + "\n") << std::flush;
}

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Lightning names the file with a uuid4.
std::string random_id() {
  std::random_device device;
  std::mt19937_64 gen((static_cast<uint64_t>(device()) << 32) ^ device());
  const char* hex = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 32; ++i) id += hex[gen() % 16];
  return id;
}

}  // namespace

std::string checked_lr_mode(const std::string& mode) {
  const std::string m = lower(mode);
  LIGHTNING_CHECK(m == "linear" || m == "exponential",
                  "the learning rate finder's mode must be \"linear\" or \"exponential\", got \"",
                  mode, "\".");
  return m;
}

std::string checked_batch_size_mode(const std::string& mode) {
  const std::string m = lower(mode);
  LIGHTNING_CHECK(m == "power" || m == "binsearch",
                  "the batch size finder's mode must be \"power\" or \"binsearch\", got \"", mode,
                  "\".");
  return m;
}

void check_margin(double margin) {
  LIGHTNING_CHECK(margin >= 0.0 && margin < 1.0,
                  "the batch size finder's margin must be in [0, 1) (a fraction of the found "
                  "batch size), got ",
                  margin, ".");
}

// ---- TuningRun -------------------------------------------------------------------

TuningRun::TuningRun(TrainerImpl& t, LightningModule& model, const std::string& prefix)
    : t_(t),
      model_(model),
      schedulers_(t.lr_scheduler_configs_),
      max_steps_(t.fit_loop_.max_steps),
      limit_train_batches_(t.options_.limit_train_batches()),
      limit_val_batches_(t.options_.limit_val_batches()),
      counters_(t.fit_loop_.counters()),
      loaders_(t.loaders_),
      train_data_ready_(t.train_data_ready_),
      train_from_hook_(t.train_from_hook_),
      val_from_hook_(t.val_from_hook_),
      training_(t.training_),
      train_loaded_epoch_(t.train_loaded_epoch_),
      val_loaded_epoch_(t.val_loaded_epoch_),
      num_training_batches_(t.fit_loop_.num_training_batches),
      val_check_batch_(t.fit_loop_.val_check_batch),
      num_val_batches_(t.num_val_batches_),
      num_sanity_val_batches_(t.num_sanity_val_batches_),
      active_results_(t.active_results_),
      callback_metrics_(t.callback_metrics_),
      logged_metrics_(t.logged_metrics_),
      progress_bar_metrics_(t.progress_bar_metrics_) {
  const std::filesystem::path dir(t.default_root_dir());
  ckpt_path_ = (dir / ("." + prefix + "_" + random_id() + ".ckpt")).string();
  ckpt_path_ = t.strategy_->broadcast_string(ckpt_path_);
  t.save_checkpoint(ckpt_path_, /*weights_only=*/false);
  // Swapped out, not copied: a search run from a callback hook runs while
  // the Trainer iterates these very vectors, whose storage must stay put.
  callbacks_.swap(t.callbacks_);
  loggers_.swap(t.loggers_);
}

void TuningRun::run_loop() {
  // Lightning's _try_loop_run: the loop starts again from the saved state.
  t_.fit_loop_.reset();
  t_.fit_loop_.counters() = counters_;
  t_.should_stop_ = false;
  t_.setup_train_data(model_);
  const bool has_validation = t_.validation_defined(model_) && t_.load_validation(model_);
  t_.fit_loop_.run(model_, has_validation);
}

void TuningRun::restore(bool reload_data) {
  t_.callbacks_.swap(callbacks_);
  t_.loggers_.swap(loggers_);
  t_.lr_scheduler_configs_ = schedulers_;
  t_.fit_loop_.max_steps = max_steps_;
  t_.options_.limit_train_batches(limit_train_batches_);
  t_.options_.limit_val_batches(limit_val_batches_);
  t_.should_stop_ = false;
  t_.training_ = training_;
  t_.active_results_ = active_results_;

  // Weights, optimizer and scheduler states, callback states: as saved.
  Checkpoint checkpoint = read_checkpoint(ckpt_path_);
  const std::string resumed_from = std::exchange(t_.ckpt_path_, ckpt_path_);
  t_.restore_modules_and_callbacks(model_, t_.datamodule_, checkpoint);
  t_.restore_training_state(checkpoint);
  t_.ckpt_path_ = resumed_from;
  // Nothing to resume: the counters as they were (Lightning resets the
  // loops' restarting flags after its restore).
  t_.fit_loop_.reset();
  t_.fit_loop_.counters() = counters_;
  t_.callback_metrics_ = callback_metrics_;
  t_.logged_metrics_ = logged_metrics_;
  t_.progress_bar_metrics_ = progress_bar_metrics_;
  // The loaders as they were (a search may run mid-fit, as Lightning's
  // milestone example does); the batch-size search fetches them again.
  t_.loaders_ = loaders_;
  t_.train_data_ready_ = train_data_ready_;
  t_.train_from_hook_ = train_from_hook_;
  t_.val_from_hook_ = val_from_hook_;
  t_.train_loaded_epoch_ = train_loaded_epoch_;
  t_.val_loaded_epoch_ = val_loaded_epoch_;
  t_.fit_loop_.num_training_batches = num_training_batches_;
  t_.fit_loop_.val_check_batch = val_check_batch_;
  t_.num_val_batches_ = num_val_batches_;
  t_.num_sanity_val_batches_ = num_sanity_val_batches_;
  if (reload_data && train_data_ready_ && train_from_hook_) {
    t_.loaders_.train = DataLoaders();
    t_.train_data_ready_ = false;
    t_.setup_train_data(model_);
  }
  if (reload_data && !loaders_.val.empty() && val_from_hook_) {
    t_.loaders_.val = DataLoaders();
    t_.load_validation(model_);
  }

  if (t_.world_size() > 1) t_.strategy_->barrier("tuner restore(" + ckpt_path_ + ")");
  if (t_.is_global_zero()) {
    std::error_code ec;
    std::filesystem::remove(ckpt_path_, ec);
  }
}

}  // namespace lightning::detail
