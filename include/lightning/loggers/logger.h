// lightning/loggers/logger.h — the interface every experiment logger implements.
//
//   class PrintLogger : public L::Logger {
//    public:
//     void log_metrics(const L::Metrics& m, int64_t step) override { ... }
//     ...
//   };
//   L::Trainer trainer(L::TrainerOptions().loggers({std::make_shared<PrintLogger>()}));
//
// The Trainer calls `log_hyperparams` once at fit start, `log_metrics` every
// `log_every_n_steps` optimizer steps and at each epoch end (every row carries
// "epoch"), `save` after each logging call batch, and `finalize("success")`
// at the end of the run ("failed" when it raised). Only global rank 0 logs.
#pragma once

#include <cstdint>
#include <string>

#include "lightning/hparams.h"
#include "lightning/logging.h"

namespace lightning {

/// Base class of experiment loggers (CSV, TensorBoard, ...).
class Logger {
 public:
  virtual ~Logger() = default;
  /// Scalar metrics at `step` (the number of optimizer steps taken so far).
  virtual void log_metrics(const Metrics& metrics, int64_t step) = 0;
  /// The module's (and datamodule's) hyperparameters.
  virtual void log_hyperparams(const HParams& hparams) {}
  /// Persist what was logged so far.
  virtual void save() {}
  /// End of the run: "success", "failed" or "interrupted".
  virtual void finalize(const std::string& status) {}
  virtual std::string name() const { return ""; }
  virtual std::string version() const { return ""; }
  /// Root directory of the logger's runs; empty when it writes no files.
  virtual std::string save_dir() const { return ""; }
  /// This run's directory; empty when it writes no files.
  virtual std::string log_dir() const { return ""; }
};

}  // namespace lightning
