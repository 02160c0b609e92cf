// lightning/callbacks/model_checkpoint.h — saves checkpoints during fit, as
// Lightning's ModelCheckpoint (docs/checkpoints.md).
//
//   auto ckpt = std::make_shared<L::ModelCheckpoint>(L::ModelCheckpointOptions()
//       .monitor("val_loss").mode("min").save_top_k(3).save_last(true)
//       .filename("{epoch}-{val_loss:.2f}"));
//   L::Trainer trainer(L::TrainerOptions().callbacks({ckpt}));
//   trainer.fit(model, data);
//   ckpt->best_model_path();   // lightning_logs/version_0/checkpoints/epoch=7-val_loss=0.31.ckpt
//
// Saves at the end of the training epoch (after that epoch's validation) or,
// when validation runs several times per epoch or not every epoch, at the end
// of validation (`save_on_train_epoch_end` decides, as Lightning), every
// `every_n_epochs` epochs, or every `every_n_train_steps` optimizer steps, or
// every `train_time_interval`. With a monitor it keeps the best `save_top_k`
// files and deletes the others; without one it keeps the latest. A monitor
// that is never logged is a `lightning::Error` listing the metrics that exist
// (once validation has run; before that a warning, and no save).
#pragma once

#include <torch/arg.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lightning/callbacks/callback.h"
#include "lightning/export.h"
#include "lightning/logging.h"

namespace lightning {

struct LIGHTNING_API ModelCheckpointOptions {
  /// Folder of the files. Unset: <trainer.log_dir()>/checkpoints (Lightning's
  /// <logger.save_dir>/<name>/<version>/checkpoints), or
  /// <default_root_dir>/checkpoints without a logger.
  TORCH_ARG(std::optional<std::string>, dirpath) = std::nullopt;
  /// Template: "{epoch}-{val_loss:.2f}" → "epoch=3-val_loss=0.12" (with
  /// auto_insert_metric_name). Unset: "{epoch}-{step}". Metric names may hold
  /// '/'; format specs are Python's ('.2f', '.4e', '03d', ...).
  TORCH_ARG(std::optional<std::string>, filename) = std::nullopt;
  /// Metric to rank checkpoints by (a key of trainer.callback_metrics()).
  TORCH_ARG(std::optional<std::string>, monitor) = std::nullopt;
  TORCH_ARG(bool, verbose) = false;
  /// Also write last.ckpt (a full copy of the latest save) whenever it saves.
  /// Default false.
  TORCH_ARG(bool, save_last) = false;
  /// Keep the best k (monitor set), all (-1), none (0). Default 1.
  TORCH_ARG(int64_t, save_top_k) = 1;
  TORCH_ARG(bool, save_weights_only) = false;
  /// "min" or "max".
  TORCH_ARG(std::string, mode) = "min";
  TORCH_ARG(bool, auto_insert_metric_name) = true;
  /// Save every N optimizer steps (at on_train_batch_end). Default unset (0).
  TORCH_ARG(std::optional<int64_t>, every_n_train_steps) = std::nullopt;
  /// Save at a training batch end when this much time passed since the last
  /// time-triggered save (or the start of training). Default unset.
  TORCH_ARG(std::optional<std::chrono::milliseconds>, train_time_interval) = std::nullopt;
  /// Save every N epochs (0: never at epoch/validation end; last.ckpt is still
  /// written). Default unset: 1 when no other trigger is set, else 0.
  TORCH_ARG(std::optional<int64_t>, every_n_epochs) = std::nullopt;
  /// Save at the end of the training epoch (true) or at validation end
  /// (false). Unset, as Lightning: at validation end when
  /// check_val_every_n_epoch != 1 or val_check_interval != 1.0 (validation
  /// several times per epoch); else at the training epoch end, which comes
  /// after that epoch's validation (and is the only choice without validation).
  TORCH_ARG(std::optional<bool>, save_on_train_epoch_end) = std::nullopt;
  /// Name clashes get "-v1", "-v2", ... Default true.
  TORCH_ARG(bool, enable_version_counter) = true;
};

class LIGHTNING_API ModelCheckpoint : public Callback {
 public:
  /// `lightning::Error` on invalid options (save_top_k < -1, mode not
  /// "min"/"max", save_top_k > 1 without monitor, several triggers at once,
  /// negative intervals).
  explicit ModelCheckpoint(ModelCheckpointOptions options = {});

  /// "ModelCheckpoint{'monitor': 'val_loss', 'mode': 'min', 'every_n_train_steps': 0,
  /// 'every_n_epochs': 1, 'train_time_interval': None}", as Lightning.
  std::string state_key() const override;
  bool is_monitoring_callback() const override { return true; }

  void setup(Trainer& trainer, LightningModule& module, Stage stage) override;
  void on_train_start(Trainer& trainer, LightningModule& module) override;
  void on_train_batch_end(Trainer& trainer, LightningModule& module, const StepOutput& outputs,
                          Batch& batch, int64_t batch_idx) override;
  void on_train_epoch_end(Trainer& trainer, LightningModule& module) override;
  void on_validation_end(Trainer& trainer, LightningModule& module) override;

  /// {"monitor", "best_model_score", "best_model_path", "current_score",
  /// "dirpath", "best_k_models", "kth_best_model_path", "kth_value",
  /// "last_model_path"}, as Lightning.
  StateDict state_dict() const override;
  void load_state_dict(const StateDict& state) override;

  const std::string& best_model_path() const { return best_model_path_; }
  /// nullopt until a monitored save happened.
  std::optional<double> best_model_score() const { return best_model_score_; }
  /// path -> score of the kept top-k files.
  const std::map<std::string, double>& best_k_models() const { return best_k_models_; }
  const std::string& kth_best_model_path() const { return kth_best_model_path_; }
  const std::string& last_model_path() const { return last_model_path_; }
  /// The folder in use: resolved at setup, and again at on_train_start (the
  /// Trainer's default loggers, whose version folder it uses, start after setup).
  const std::string& dirpath() const { return dirpath_; }
  const ModelCheckpointOptions& options() const { return options_; }

  /// The file name the template gives for these metrics (without folder, with
  /// ".ckpt"), before the -vN clash suffix, as Lightning's
  /// `format_checkpoint_name`: `template_override` replaces `filename` when
  /// not empty (Lightning's `filename=` argument; "last" names last.ckpt).
  /// "{epoch}" and "{step}" print `epoch` and `step` (ints); other names print
  /// `metrics` values as floats; a name missing from `metrics` prints as 0.
  /// `lightning::Error` on a malformed template or a format spec Python
  /// rejects (e.g. "{val_loss:d}" on a float).
  std::string format_checkpoint_name(const Metrics& metrics, int64_t epoch, int64_t step,
                                     const std::string& template_override = "") const;

 private:
  // Implementation state; see src/callbacks/model_checkpoint.cpp.
  struct Candidates;  // Lightning's monitor_candidates
  Candidates monitor_candidates(const Trainer& trainer) const;
  std::string resolve_dirpath(const Trainer& trainer) const;
  std::string checkpoint_path(const Candidates& c, const std::string& template_override,
                              std::optional<int64_t> version) const;
  std::string interpolated_path(Trainer& trainer, const Candidates& c,
                                const std::string& del_filepath) const;
  bool should_skip_saving(const Trainer& trainer) const;
  bool should_save_on_train_epoch_end(const Trainer& trainer) const;
  void save_topk(Trainer& trainer, const Candidates& c);
  void save_last(Trainer& trainer, const Candidates& c);
  void save_monitor(Trainer& trainer, const Candidates& c);
  void save_none_monitor(Trainer& trainer, const Candidates& c);
  void update_best_and_save(double current, Trainer& trainer, const Candidates& c);
  void update_best_and_save_now(double current, Trainer& trainer, const Candidates& c);
  void save_file(Trainer& trainer, const std::string& path);
  // Runs `save`; when it throws, puts back what it changed in the callback's
  // state (a failed save leaves the callback describing the files on disk).
  void save_or_roll_back(const std::function<void()>& save);
  bool should_remove(const Trainer& trainer, const std::string& previous,
                     const std::string& current) const;
  void remove_file(const Trainer& trainer, const std::string& path) const;

  ModelCheckpointOptions options_;
  int64_t every_n_epochs_ = 1, every_n_train_steps_ = 0;  // after Lightning's defaulting
  std::string dirpath_;
  std::string best_model_path_, kth_best_model_path_, last_model_path_;
  std::optional<double> best_model_score_, current_score_;
  double kth_value_ = 0;  // +inf (min) / -inf (max) until k files are kept
  std::map<std::string, double> best_k_models_;
  std::vector<std::string> best_k_order_;  // best_k_models_ keys in insertion order (ties)
  int64_t last_global_step_saved_ = 0;     // Lightning: no save before the first step
  std::string last_checkpoint_saved_;
  std::optional<std::chrono::steady_clock::time_point> last_time_checked_;
  bool val_has_run_ = false;  // a (non-sanity) validation ran in this fit
};

}  // namespace lightning
