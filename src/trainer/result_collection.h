// Internal: what `self.log` stores between the step and the epoch end
// (Lightning's _ResultCollection), one collection per loop.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "lightning/logging.h"
#include "lightning/state_dict.h"

namespace lightning {
class Strategy;
namespace metrics {
class Metric;
}
}  // namespace lightning

namespace lightning::detail {

enum class Reduce { Mean, Sum, Max, Min };

/// Parses "mean" | "sum" | "max" | "min"; `lightning::Error` otherwise.
Reduce parse_reduce(const std::string& reduce_fx, const std::string& metric);

/// The metric maps a Trainer exposes that `self.log` updates directly.
struct MetricSinks {
  TensorMetrics* callback;  // for callbacks and schedulers
  TensorMetrics* progress_bar;
};

class ResultCollection {
 public:
  struct Entry {
    std::string name;  // as logged, with "/dataloader_idx_N" when needed
    bool on_step = false;
    bool on_epoch = false;
    bool prog_bar = false;
    bool logger = true;
    Reduce reduce = Reduce::Mean;
    int64_t dataloader_idx = 0;
    at::Tensor step_value;    // latest value, detached, float32
    bool step_fresh = false;  // logged since the last `take_step_metrics`
    at::Tensor accumulator;   // epoch reduction so far (float64), undefined before the first value
    double weight = 0.0;      // sum of batch sizes, for Mean
    // After sync_epoch (DDP): the reduction over every rank, used by
    // epoch_metrics until this entry is logged again.
    at::Tensor global_accumulator;
    double global_weight = 0.0;
    bool global = false;
    // A logged Metric object (log(name, metric)): its epoch value is its
    // compute() at the epoch end, then it is reset. `hook` is where the name
    // was first logged in this loop, for messages.
    metrics::Metric* metric = nullptr;
    at::Tensor metric_value;  // compute() of this epoch, float32 scalar
    std::string hook;
  };

  /// Records one value (already validated, scalar, detached). `training` says
  /// whether callback metrics get step values (Lightning: training loop only).
  void log(const std::string& name, const at::Tensor& value, bool on_step, bool on_epoch,
           bool prog_bar, bool logger, Reduce reduce, int64_t batch_size, int64_t dataloader_idx,
           bool training, const MetricSinks& sinks, const char* hook);

  /// Records a Metric object: its forward value on step (when `forward` ran
  /// since the last reset), its compute() on epoch (see compute_metrics).
  void log_metric(const std::string& name, metrics::Metric& metric, bool on_step, bool on_epoch,
                  bool prog_bar, bool logger, int64_t dataloader_idx, bool training,
                  const MetricSinks& sinks, const char* hook);

  /// compute() of every logged Metric object not yet computed this epoch
  /// (all ranks call it together: the metrics reduce over the ranks).
  void compute_metrics();
  /// reset() of every logged Metric object, at the end of the loop's epoch.
  void reset_metrics();

  /// The fresh step values for the loggers ("name" or "name_step"); clears freshness.
  TensorMetrics take_step_metrics();

  /// Epoch reductions of every on_epoch entry, written to the sinks
  /// ("name" and "name_epoch" when forked). Returns the logger=true ones per
  /// dataloader, under their logged names.
  std::vector<TensorMetrics> epoch_metrics(const MetricSinks& sinks, size_t num_dataloaders) const;

  /// Distributed runs: reduces every epoch accumulation over the ranks of
  /// `strategy` (all ranks call it at the same point): "mean" as sum of
  /// weighted values over sum of weights, "sum" summed, "max"/"min" over
  /// ranks. Entries logged on some ranks only are reduced over those and
  /// exist on every rank afterwards. Local accumulations are kept, so it can
  /// run again after more values are logged.
  void sync_epoch(Strategy& strategy);

  /// What a checkpoint saves of this collection (docs/checkpoints.md, "What
  /// a mid-epoch resume restores"): per entry, under its logged name, the
  /// options, the epoch accumulation ("value", "cumulated_batch_size", as
  /// Lightning's _ResultMetric names them) and the latest step value. With
  /// `global` the values after `sync_epoch` are saved (a copy synced over the
  /// ranks): the whole job's accumulation so far.
  StateDict state_dict(bool global = false) const;

  /// Replaces the entries by those of `state` (from `state_dict`). With
  /// `accumulations` false only the options and step values are restored:
  /// the ranks other than 0 of a distributed run, whose share of the saved
  /// job-wide accumulation is rank 0's. `owner` names the checkpoint in errors.
  void load_state_dict(const StateDict& state, bool accumulations, const std::string& owner);

  void reset() { entries_.clear(); }
  bool empty() const { return entries_.empty(); }
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  Entry& find_or_add(const std::string& name);
  // The step value of `e` (its on_step/on_epoch/prog_bar set) reaches the
  // callback and progress-bar metrics, under "<name>_step" when forked.
  static void publish_step(Entry& e, const at::Tensor& value, bool training,
                           const MetricSinks& sinks);
  std::vector<Entry> entries_;
};

}  // namespace lightning::detail
