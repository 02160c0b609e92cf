// lightning/loggers/logger.h — the interface every experiment logger implements,
// and the `TrainerOptions().logger(...)` value.
//
//   L::Trainer a(L::TrainerOptions());                        // default: CSV + TensorBoard
//   L::Trainer b(L::TrainerOptions().logger(false));          // no logging
//   auto csv = std::make_shared<L::CSVLogger>(L::CSVLoggerOptions("runs"));
//   L::Trainer c(L::TrainerOptions().logger(csv));            // one logger
//   L::Trainer d(L::TrainerOptions().logger({csv, tb}));      // several
//
// The Trainer calls, on global rank 0 only: `log_hyperparams` once when an
// entry point starts (file loggers create their run folder there, so an
// unwritable directory fails before any training), `log_metrics` every
// `log_every_n_steps` training batches and at each epoch end (every row
// carries "epoch"; `step` is the number of optimizer steps taken), and
// `log_epoch_metrics` for the epoch-end rows (TensorBoard plots them against
// the epoch index), `save` after each call, and `finalize("success")` at the
// end of the entry point ("failed" when it raised).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "lightning/export.h"
#include "lightning/hparams.h"
#include "lightning/logging.h"

namespace lightning {

class ModelCheckpoint;

/// Base class of experiment loggers (CSV, TensorBoard, ...).
class LIGHTNING_API Logger {
 public:
  virtual ~Logger() = default;
  /// Scalar metrics at `step` (optimizer steps taken so far); includes "epoch".
  virtual void log_metrics(const Metrics& metrics, int64_t step) = 0;
  /// The epoch-end rows once more, indexed by `epoch`, for loggers that plot
  /// epoch curves on an epoch axis. Default: nothing.
  virtual void log_epoch_metrics(const Metrics& /*metrics*/, int64_t /*epoch*/) {}
  /// The module's (and datamodule's) hyperparameters.
  virtual void log_hyperparams(const HParams& /*hparams*/) {}
  /// Persist what was logged so far.
  virtual void save() {}
  /// End of the run: "success", "failed" or "interrupted".
  virtual void finalize(const std::string& /*status*/) {}
  /// Called after each checkpoint `checkpoint_callback` saves (global rank
  /// 0), as Lightning's after_save_checkpoint: a logger that uploads or
  /// records checkpoints reads `last_model_path()`, `best_model_path()`,
  /// ... from it. Default: nothing.
  virtual void after_save_checkpoint(const ModelCheckpoint& /*checkpoint_callback*/) {}
  virtual std::string name() const { return ""; }
  virtual std::string version() const { return ""; }
  /// Root directory of the logger's runs; empty when it writes no files.
  virtual std::string save_dir() const { return ""; }
  /// This run's directory; empty when it writes no files.
  virtual std::string log_dir() const { return ""; }
};

/// A logger's version: an int N means the folder "version_N", a string is
/// used as the folder name, unset means the next free "version_N".
class LIGHTNING_API LoggerVersion {
 public:
  LoggerVersion() = default;
  LoggerVersion(int version) : LoggerVersion(static_cast<int64_t>(version)) {}
  LoggerVersion(int64_t version);
  LoggerVersion(const char* version) : LoggerVersion(std::string(version)) {}
  LoggerVersion(std::string version);
  bool is_set() const { return !folder_.empty(); }
  /// "version_3" or the given string; empty when unset.
  const std::string& folder() const { return folder_; }

 private:
  std::string folder_;
};

/// The run folder `<save_dir>/<name>/<version>` of a file logger, with
/// Lightning's rules: an empty name puts the versions straight under
/// save_dir; an unset version becomes the next free "version_N" the first
/// time it is asked for, and stays that for the logger's life.
class LIGHTNING_API RunFolder {
 public:
  RunFolder(std::string save_dir, std::string name, LoggerVersion version);
  /// `<save_dir>/<name>` (or save_dir when name is empty).
  std::string root() const;
  /// The version folder's name, resolved on first use.
  const std::string& version() const;
  /// `<root>/<version>`.
  std::string path() const;

 private:
  std::string save_dir_, name_;
  LoggerVersion requested_;
  mutable std::string version_;
};

/// The next free "version_N" under `root` (0 when `root` does not exist):
/// one more than the largest N of the existing version_N folders.
LIGHTNING_API int64_t next_version(const std::string& root);

/// What `TrainerOptions().logger(...)` takes: true (the default loggers), false
/// (none), one logger or several.
class LIGHTNING_API LoggerOption {
 public:
  LoggerOption(bool use_default) : use_default_(use_default) {}
  LoggerOption(std::shared_ptr<Logger> logger) {
    if (logger) loggers_.push_back(std::move(logger));
  }
  template <typename T, std::enable_if_t<std::is_base_of_v<Logger, T>, int> = 0>
  LoggerOption(std::shared_ptr<T> logger)
      : LoggerOption(std::static_pointer_cast<Logger>(std::move(logger))) {}
  LoggerOption(std::vector<std::shared_ptr<Logger>> loggers) : loggers_(std::move(loggers)) {}
  LoggerOption(std::initializer_list<std::shared_ptr<Logger>> loggers) : loggers_(loggers) {}

  /// True for `logger(true)`: a CSVLogger and a TensorBoardLogger sharing
  /// `<default_root_dir>/lightning_logs/version_N/`.
  bool use_default() const { return use_default_; }
  const std::vector<std::shared_ptr<Logger>>& loggers() const { return loggers_; }

 private:
  bool use_default_ = false;
  std::vector<std::shared_ptr<Logger>> loggers_;
};

}  // namespace lightning
