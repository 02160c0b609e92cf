// lightning/callbacks/device_stats_monitor.h — logs device statistics at
// every batch start and end, as Lightning's DeviceStatsMonitor.
//
//   # Python
//   Trainer(callbacks=[DeviceStatsMonitor()])
//
//   // C++
//   L::Trainer trainer(L::TrainerOptions().callbacks({std::make_shared<L::DeviceStatsMonitor>()}));
//
// Keys: "DeviceStatsMonitor.<hook>/<stat>", <hook> one of on_train_batch_start,
// on_train_batch_end, on_validation_batch_start/end, on_test_batch_start/end;
// rows at the Trainer's step, when the Trainer logs a step row
// (every log_every_n_steps-th step or evaluation batch), from global rank 0.
//
// CPU stats (Lightning's, from psutil there and /proc here; Linux only):
//   cpu_percent        system-wide CPU use since the previous reading (%)
//   cpu_vm_percent     system-wide memory in use (%)
//   cpu_swap_percent   system-wide swap in use (%; 0 without swap)
// and two of this process (no Lightning counterpart):
//   process_rss_bytes    resident memory
//   process_cpu_seconds  CPU time used, all threads
// CUDA stats (libtorch built with CUDA): the caching allocator's counters,
// named as torch.cuda.memory_stats: "allocated_bytes.all.current",
// "reserved_bytes.large_pool.peak", "num_ooms", ...
#pragma once

#include <cstdint>
#include <optional>

#include "lightning/callbacks/callback.h"
#include "lightning/export.h"
#include "lightning/logging.h"

namespace lightning {

/// Logs CPU or CUDA memory/usage statistics during training, validation and test.
class LIGHTNING_API DeviceStatsMonitor : public Callback {
 public:
  /// `cpu_stats`: unset logs CPU stats when training on the CPU only; true
  /// also on CUDA; false never. Default unset.
  explicit DeviceStatsMonitor(std::optional<bool> cpu_stats = std::nullopt);

  /// The CPU stats now (cpu_percent is relative to the previous call, or to
  /// the monitor's construction for the first one).
  Metrics cpu_stats();
  /// torch.cuda.memory_stats(device) for the caching allocator's counters;
  /// empty when libtorch has no CUDA.
  static Metrics cuda_stats(int64_t device_index);

  void setup(Trainer& trainer, LightningModule& module, Stage stage) override;
  void on_train_batch_start(Trainer& trainer, LightningModule& module, Batch& batch,
                            int64_t batch_idx) override;
  void on_train_batch_end(Trainer& trainer, LightningModule& module, const StepOutput& outputs,
                          Batch& batch, int64_t batch_idx) override;
  void on_validation_start(Trainer& trainer, LightningModule& module) override;
  void on_validation_batch_start(Trainer& trainer, LightningModule& module, Batch& batch,
                                 int64_t batch_idx, int64_t dataloader_idx) override;
  void on_validation_batch_end(Trainer& trainer, LightningModule& module, const StepOutput& outputs,
                               Batch& batch, int64_t batch_idx, int64_t dataloader_idx) override;
  void on_test_start(Trainer& trainer, LightningModule& module) override;
  void on_test_batch_start(Trainer& trainer, LightningModule& module, Batch& batch,
                           int64_t batch_idx, int64_t dataloader_idx) override;
  void on_test_batch_end(Trainer& trainer, LightningModule& module, const StepOutput& outputs,
                         Batch& batch, int64_t batch_idx, int64_t dataloader_idx) override;

 private:
  void log_stats(Trainer& trainer, const char* hook, std::optional<int64_t> eval_ready);
  std::optional<bool> cpu_stats_;
  // /proc/stat's totals at the previous cpu_percent reading.
  double last_cpu_total_ = 0.0, last_cpu_busy_ = 0.0;
  int64_t eval_ready_ = 0;  // batches of the running evaluation loop
};

}  // namespace lightning
