// lightning/loop_state.h — the Trainer's loop counters, in one plain struct.
//
// `global_step` counts optimizer steps, not batches: a batch whose
// `training_step` returned nothing takes no step, and with
// `accumulate_grad_batches(k)` k accumulated batches make one step. Loggers
// receive `global_step` as their x-axis and "epoch" in every row.
#pragma once

#include <cstdint>

#include "lightning/export.h"

namespace lightning {

/// Counters of the fit loop, owned by the Trainer and saved in checkpoints.
struct LIGHTNING_API LoopState {
  /// Epoch index, 0-based.
  int64_t epoch = 0;
  /// Optimizer steps taken.
  int64_t global_step = 0;
  /// Index of the current batch within the epoch (the last one started).
  int64_t batch_idx = 0;
  /// Training batches run over all epochs.
  int64_t total_batch_idx = 0;
  /// Training batches that ended in an optimizer step (the logging x-axis).
  int64_t batches_that_stepped = 0;
};

}  // namespace lightning
