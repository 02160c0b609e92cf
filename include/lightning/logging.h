// lightning/logging.h — the options of `self.log`, and the metric maps.
//
//   log("train_loss", loss);                                        // hook defaults
//   log("loss", loss, L::LogOptions().on_step(true).on_epoch(true)); // loss_step + loss_epoch
//   log("acc", acc, L::LogOptions().prog_bar(true));
//   log("n", batch.batch_size(), L::LogOptions().reduce_fx("sum"));
//
// Rules (Lightning's): in `training_step` and the batch-level training hooks
// the defaults are on_step=true, on_epoch=false; in validation/test steps and
// every epoch-level hook they are on_step=false, on_epoch=true. With both on,
// the logger sees "name_step" each step and "name_epoch" at the epoch end.
// Epoch values are reduced with `reduce_fx`; "mean" is weighted by the batch
// size (dim 0 of the batch's first tensor unless `batch_size` is given).
// Logging from a hook where it makes no sense (predict, on_fit_start, the
// batch-transfer hooks, setup, ...) raises `lightning::Error` naming the hook.
#pragma once

#include <ATen/ATen.h>
#include <torch/arg.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "lightning/export.h"

namespace lightning {

/// Options of `LightningModule::log` / `log_dict`, with Lightning's names.
struct LIGHTNING_API LogOptions {
  /// Log the value of this step. Default: depends on the hook (see above).
  TORCH_ARG(std::optional<bool>, on_step) = std::nullopt;
  /// Accumulate and log the epoch reduction. Default: depends on the hook.
  TORCH_ARG(std::optional<bool>, on_epoch) = std::nullopt;
  /// Show in the progress bar. Default false.
  TORCH_ARG(bool, prog_bar) = false;
  /// Send to the loggers. Default true.
  TORCH_ARG(bool, logger) = true;
  /// Epoch reduction: "mean" (batch-size weighted), "sum", "max" or "min". Default "mean".
  TORCH_ARG(std::string, reduce_fx) = "mean";
  /// Reduce across processes in distributed runs. Default false.
  TORCH_ARG(bool, sync_dist) = false;
  /// Batch size for the weighted mean; unset infers dim 0 of the current batch.
  TORCH_ARG(std::optional<int64_t>, batch_size) = std::nullopt;
};

/// Metric name -> scalar tensor (float32), as `trainer.callback_metrics`.
using TensorMetrics = std::map<std::string, at::Tensor>;
/// Metric name -> number, as returned by `trainer.test()` / `validate()`.
using Metrics = std::map<std::string, double>;

/// Converts tensor metrics to numbers (one `.item()` each).
LIGHTNING_API Metrics to_numbers(const TensorMetrics& metrics);

}  // namespace lightning
