// Internal: TrainerOptions checks and defaults (trainer_options.cpp).
#pragma once

#include <memory>
#include <vector>

#include "lightning/trainer.h"

namespace lightning::detail {

/// The options of the loops (epochs, steps, limits, intervals, clipping,
/// logging, callbacks, loggers); `lightning::Error` names the bad one.
void check_loop_options(const TrainerOptions& options);
/// fast_dev_run: N batches of every loop, one epoch, no sanity check, no loggers.
void apply_fast_dev_run(TrainerOptions& options);
/// barebones: checkpointing, loggers, progress bar, model summary and the
/// sanity check off; `lightning::Error` for what contradicts it.
void apply_barebones(TrainerOptions& options);
/// The options' callbacks plus the progress bar, model summary and
/// ModelCheckpoint a Trainer adds unless turned off or already given.
std::vector<std::shared_ptr<Callback>> with_default_callbacks(const TrainerOptions& options);

}  // namespace lightning::detail
