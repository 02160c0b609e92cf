// lightning/loggers/tensorboard_logger.h — TensorBoard event files, Lightning's
// TensorBoardLogger layout.
//
//   auto tb = std::make_shared<L::TensorBoardLogger>(L::TensorBoardLoggerOptions("runs"));
//   L::Trainer trainer(L::TrainerOptions().logger(tb));
//   trainer.fit(model, data);
//   // runs/lightning_logs/version_0/events.out.tfevents.<time>.<host>.<pid>.0 + hparams.yaml
//   // then, anywhere TensorBoard is installed: tensorboard --logdir runs
//
// Every metric is a scalar summary at `step` (optimizer steps). Epoch-end
// metrics are written a second time under the tag "by_epoch/<metric>" with
// the epoch index as step, so epoch curves have a true epoch axis. The
// hyperparameters go to the HParams tab (the hparams plugin's experiment and
// session-start records) with the metric "hp_metric" (-1 at start, as Lightning).
#pragma once

#include <torch/arg.h>

#include <cstdint>
#include <memory>
#include <string>

#include "lightning/export.h"
#include "lightning/loggers/logger.h"

namespace lightning {

namespace detail {
class EventFileWriter;
}

/// Options of TensorBoardLogger, with Lightning's names and defaults.
struct LIGHTNING_API TensorBoardLoggerOptions {
  /// Root directory of the runs (required).
  explicit TensorBoardLoggerOptions(std::string save_dir) : save_dir_(std::move(save_dir)) {}
  TORCH_ARG(std::string, save_dir);
  /// Experiment name: the folder under save_dir. Default "lightning_logs".
  TORCH_ARG(std::string, name) = "lightning_logs";
  /// Run folder: an int N gives "version_N", a string is used as is. Default: next free N.
  TORCH_ARG(LoggerVersion, version) = {};
  /// Extra folder under the version folder for the event file. Default "" (none).
  TORCH_ARG(std::string, sub_dir) = "";
  /// Prefix added to every metric name ("prefix-name"). Default "".
  TORCH_ARG(std::string, prefix) = "";
  /// Log "hp_metric" = -1 with the hyperparameters. Default true.
  TORCH_ARG(bool, default_hp_metric) = true;
  /// Flush the event file at least every N seconds. Default 120.
  TORCH_ARG(double, flush_secs) = 120.0;
};

/// Writes TensorBoard event files and hparams.yaml into `<save_dir>/<name>/<version>/`.
class LIGHTNING_API TensorBoardLogger : public Logger {
 public:
  explicit TensorBoardLogger(TensorBoardLoggerOptions options);
  ~TensorBoardLogger() override;

  void log_metrics(const Metrics& metrics, int64_t step) override;
  void log_epoch_metrics(const Metrics& metrics, int64_t epoch) override;
  /// Creates the run folder and event file (`lightning::Error` naming the
  /// folder when it cannot be written), writes hparams.yaml and the HParams records.
  void log_hyperparams(const HParams& hparams) override;
  void save() override;
  void finalize(const std::string& status) override;
  std::string name() const override { return options_.name(); }
  std::string version() const override;
  std::string save_dir() const override { return options_.save_dir(); }
  std::string log_dir() const override;
  /// The event file's path (empty before the first write).
  std::string event_file() const;
  const TensorBoardLoggerOptions& options() const { return options_; }

 private:
  /// The open event file, created (with the run folder) on first use.
  detail::EventFileWriter& writer();
  /// `metric` with the prefix: "prefix-metric".
  std::string tag(const std::string& metric) const;

  TensorBoardLoggerOptions options_;
  RunFolder folder_;
  std::unique_ptr<detail::EventFileWriter> writer_;
  std::string event_file_;        // the latest event file's path
  bool session_started_ = false;  // hparams records written to the open file
  HParams hparams_;               // every log_hyperparams call merged
};

}  // namespace lightning
