// lightning/callbacks/throughput_monitor.h — batches, samples and items per
// second, as Lightning's ThroughputMonitor callback and Fabric's Throughput.
//
//   # Python
//   ThroughputMonitor(batch_size_fn=lambda batch: batch[0].size(0), window_size=100)
//
//   // C++
//   auto throughput = std::make_shared<L::ThroughputMonitor>(L::ThroughputMonitorOptions(
//       [](const L::Batch& batch) { return batch[0].size(0); }));
//   L::Trainer trainer(L::TrainerOptions().callbacks({throughput}));
//
// Logged (global rank 0, when the Trainer logs a step row: every
// log_every_n_steps-th optimizer step in training, every log_every_n_steps-th
// batch in validation/test/predict) with the stage in front ("train/",
// "validate/", "test/", "predict/"): "time", "batches", "samples" (and
// "lengths" with a length_fn) since the stage started, and once `window_size`
// batches are seen the rolling rates over the window "device/batches_per_sec",
// "device/samples_per_sec" ("device/items_per_sec" with a length_fn); with
// more than one process also "batches_per_sec", "samples_per_sec",
// "items_per_sec" for all of them (device rates x world size). Training rows go
// out after the optimizer step of a batch (not while accumulating), at the
// Trainer's step, with "epoch"; evaluation rows at the evaluation batch count.
// Validation time inside fit is taken out of the training rates.
#pragma once

#include <torch/arg.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "lightning/callbacks/callback.h"
#include "lightning/export.h"
#include "lightning/logging.h"

namespace lightning {

/// Options of Throughput, with Fabric's names and defaults.
struct LIGHTNING_API ThroughputOptions {
  /// Theoretical FLOP/s of one device; enables "device/mfu". Default unset.
  TORCH_ARG(std::optional<double>, available_flops) = std::nullopt;
  /// Processes; the all-process rates are added when > 1. Default 1.
  TORCH_ARG(int64_t, world_size) = 1;
  /// Updates the rolling rates span (>= 2). Default 100.
  TORCH_ARG(int64_t, window_size) = 100;
  /// Between "device" and the rate's name. Default "/".
  TORCH_ARG(std::string, separator) = "/";
};

/// Fabric's Throughput: feed it running totals, read rates over a window.
class LIGHTNING_API Throughput {
 public:
  explicit Throughput(ThroughputOptions options = {});
  /// Totals since the start: seconds, batches, samples, items (optional) and
  /// the FLOPs of this update (optional). time, batches, samples and lengths
  /// must increase with every call, and lengths >= samples >= batches;
  /// otherwise `lightning::Error`.
  void update(double time, int64_t batches, int64_t samples,
              std::optional<int64_t> lengths = std::nullopt,
              std::optional<double> flops = std::nullopt);
  /// "time", "batches", "samples", "lengths", and the rates once the window is full.
  Metrics compute() const;
  void reset();
  /// The last time passed to update, if any.
  std::optional<double> last_time() const;
  const ThroughputOptions& options() const { return options_; }

 private:
  ThroughputOptions options_;
  std::deque<double> time_;
  std::deque<int64_t> batches_, samples_, lengths_;
  std::deque<double> flops_;
};

/// Options of ThroughputMonitor, with Lightning's names and defaults.
struct LIGHTNING_API ThroughputMonitorOptions {
  /// `batch_size_fn`: the number of samples in a batch (required).
  explicit ThroughputMonitorOptions(std::function<int64_t(const Batch&)> batch_size_fn)
      : batch_size_fn_(std::move(batch_size_fn)) {}
  TORCH_ARG(std::function<int64_t(const Batch&)>, batch_size_fn);
  /// The number of items (e.g. tokens) in a batch; adds "lengths" and
  /// "device/items_per_sec". Default unset.
  TORCH_ARG(std::function<int64_t(const Batch&)>, length_fn) = nullptr;
  /// Throughput's window_size. Default 100.
  TORCH_ARG(int64_t, window_size) = 100;
  /// Throughput's separator. Default "/".
  TORCH_ARG(std::string, separator) = "/";
  /// Seconds on a monotonic clock. Unset: std::chrono::steady_clock (Python's
  /// time.perf_counter). Set it to drive the rates from a clock of your own.
  TORCH_ARG(std::function<double()>, clock) = nullptr;
};

/// Logs Throughput's metrics for training, validation, test and predict.
class LIGHTNING_API ThroughputMonitor : public Callback {
 public:
  explicit ThroughputMonitor(ThroughputMonitorOptions options);
  ~ThroughputMonitor() override;
  const ThroughputMonitorOptions& options() const { return options_; }

  void setup(Trainer& trainer, LightningModule& module, Stage stage) override;
  void on_train_start(Trainer& trainer, LightningModule& module) override;
  void on_train_batch_end(Trainer& trainer, LightningModule& module, const StepOutput& outputs,
                          Batch& batch, int64_t batch_idx) override;
  void on_validation_start(Trainer& trainer, LightningModule& module) override;
  void on_validation_batch_end(Trainer& trainer, LightningModule& module, const StepOutput& outputs,
                               Batch& batch, int64_t batch_idx, int64_t dataloader_idx) override;
  void on_validation_end(Trainer& trainer, LightningModule& module) override;
  void on_test_start(Trainer& trainer, LightningModule& module) override;
  void on_test_batch_end(Trainer& trainer, LightningModule& module, const StepOutput& outputs,
                         Batch& batch, int64_t batch_idx, int64_t dataloader_idx) override;
  void on_predict_start(Trainer& trainer, LightningModule& module) override;
  void on_predict_batch_end(Trainer& trainer, LightningModule& module, const c10::IValue& outputs,
                            Batch& batch, int64_t batch_idx, int64_t dataloader_idx) override;

 private:
  struct State;
  void start(Trainer& trainer, const std::string& stage);
  void update(const std::string& stage, const Batch& batch);
  void log(Trainer& trainer, const std::string& stage, std::optional<int64_t> step);
  void eval_batch_end(Trainer& trainer, const std::string& stage, const Batch& batch);
  double now() const;
  ThroughputMonitorOptions options_;
  std::unique_ptr<State> state_;
};

}  // namespace lightning
