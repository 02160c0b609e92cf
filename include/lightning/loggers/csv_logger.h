// lightning/loggers/csv_logger.h — metrics.csv + hparams.yaml (+ report.html),
// Lightning's CSVLogger layout.
//
//   auto csv = std::make_shared<L::CSVLogger>(L::CSVLoggerOptions("runs").name("mnist"));
//   L::Trainer trainer(L::TrainerOptions().logger(csv));
//   trainer.fit(model, data);   // runs/mnist/version_0/{metrics.csv,hparams.yaml,report.html}
//
// metrics.csv has one row per `log_metrics` call; its columns are the sorted
// union of every key seen, with "epoch" and "step" among them. When a new key
// appears the file is rewritten with the new header. Values are written with
// full precision (shortest round-trip), NaN and infinities as nan, inf, -inf.
#pragma once

#include <torch/arg.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lightning/export.h"
#include "lightning/loggers/logger.h"

namespace lightning {

class LRFinder;

/// Options of CSVLogger, with Lightning's names and defaults.
struct LIGHTNING_API CSVLoggerOptions {
  /// Root directory of the runs (required).
  explicit CSVLoggerOptions(std::string save_dir) : save_dir_(std::move(save_dir)) {}
  TORCH_ARG(std::string, save_dir);
  /// Experiment name: the folder under save_dir. Default "lightning_logs".
  TORCH_ARG(std::string, name) = "lightning_logs";
  /// Run folder: an int N gives "version_N", a string is used as is. Default: next free N.
  TORCH_ARG(LoggerVersion, version) = {};
  /// Prefix added to every metric name ("prefix-name"). Default "".
  TORCH_ARG(std::string, prefix) = "";
  /// Write metrics.csv every N `log_metrics` calls (and at finalize). Default 100.
  TORCH_ARG(int64_t, flush_logs_every_n_steps) = 100;
  /// Write report.html (charts of every metric) at finalize. Default true.
  TORCH_ARG(bool, report) = true;
};

/// Writes `<save_dir>/<name>/<version>/metrics.csv` and `hparams.yaml`.
class LIGHTNING_API CSVLogger : public Logger {
 public:
  /// `lightning::Error` on invalid options (flush_logs_every_n_steps < 1).
  explicit CSVLogger(CSVLoggerOptions options);
  ~CSVLogger() override;

  void log_metrics(const Metrics& metrics, int64_t step) override;
  /// Creates the run folder (`lightning::Error` naming it when it cannot be
  /// created or written) and writes hparams.yaml.
  void log_hyperparams(const HParams& hparams) override;
  void save() override;
  void finalize(const std::string& status) override;
  std::string name() const override { return options_.name(); }
  /// "version_N" resolved on first use, or the given version.
  std::string version() const override;
  std::string save_dir() const override { return options_.save_dir(); }
  std::string log_dir() const override;
  const CSVLoggerOptions& options() const { return options_; }

  /// Appends a learning-rate sweep to `lr_find.csv` in the run folder, for
  /// report.html's "Learning-rate finder" charts: columns sweep (0, 1, ...
  /// per logger), step (the global step the sweep started at), exponential
  /// (1 or 0), lr, loss (smoothed) and suggested (1 on the row that
  /// `finder.suggestion()` picks with its default skips). The learning-rate
  /// finder calls it after each sweep (Tuner::lr_find, LearningRateFinder);
  /// Lightning keeps the sweep only in memory. `lightning::Error` naming the
  /// file when it cannot be written.
  void log_lr_find(const LRFinder& finder, int64_t step);

 private:
  using Row = std::map<std::string, double>;
  void mark_started();
  void ensure_dir();
  void write_hparams();
  void write_file();

  CSVLoggerOptions options_;
  RunFolder folder_;
  std::vector<Row> pending_;                  // rows not yet in metrics.csv
  std::vector<std::string> columns_;          // sorted union of every key seen
  std::vector<std::string> written_columns_;  // the header of metrics.csv on disk
  bool file_written_ = false;
  bool dir_ready_ = false;
  bool hparams_written_ = false;
  int64_t calls_since_flush_ = 0;
  int64_t lr_find_sweeps_ = 0;  // sweeps in lr_find.csv
  HParams hparams_;
  std::string started_;  // local time of the first log call, for report.html
  std::chrono::steady_clock::time_point started_at_;
};

}  // namespace lightning
