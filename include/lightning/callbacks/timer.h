// lightning/callbacks/timer.h — Lightning's Timer: tracks the time spent in
// each stage and stops fit when a time limit is reached.
//
//   auto timer = std::make_shared<L::Timer>(L::TimerOptions().duration("00:12:00:00"));
//   L::Trainer trainer(L::TrainerOptions().callbacks({timer}));
//   trainer.fit(model, data);
//   double seconds = timer->time_elapsed("train");   // also "validate", "test"
//
// `TrainerOptions().max_time(...)` adds `Timer(duration=max_time, interval="step")`
// unless a Timer is among the callbacks (then max_time is ignored, as in
// Lightning). With a Timer and max_epochs unset, max_epochs defaults to -1
// (no limit) instead of 1000.
//
// Stopping: when `time_elapsed("train") >= duration` at fit start, after a
// training batch (interval "step") or at a training epoch's end (interval
// "epoch"), the Timer sets `trainer.should_stop`; fit ends as after any other
// stop request (the epoch-end hooks run and ModelCheckpoint saves as usual).
//
// Checkpoints hold {"time_elapsed": {"train": .., "sanity_check": ..,
// "validate": .., "test": .., "predict": ..}} under the key "Timer"; a resumed
// fit counts the saved training time towards the limit.
#pragma once

#include <torch/arg.h>

#include <array>
#include <functional>
#include <optional>
#include <string>

#include "lightning/callbacks/callback.h"
#include "lightning/export.h"
#include "lightning/time_limit.h"

namespace lightning {

/// Options of Timer, with Lightning's names and defaults.
struct LIGHTNING_API TimerOptions {
  /// The limit on fit's training time: "DD:HH:MM:SS", a std::chrono duration,
  /// or TimeLimit::from_parts(days, hours, minutes, seconds). Unset: no limit
  /// (the Timer only measures). Default unset.
  TORCH_ARG(std::optional<TimeLimit>, duration) = std::nullopt;
  /// When the limit is checked: "step" (after every training batch) or
  /// "epoch" (at every training epoch's end). Default "step".
  TORCH_ARG(std::string, interval) = "step";
  /// Print "Time limit reached. ..." when stopping. Default true.
  TORCH_ARG(bool, verbose) = true;
  /// Seconds on a monotonic clock, read at each stage start/end and each
  /// check. Unset: std::chrono::steady_clock (Python's time.monotonic). Set it
  /// to drive the Timer from a clock of your own (tests, simulations).
  TORCH_ARG(std::function<double()>, clock) = nullptr;
};

/// Measures the train/validate/test stages and stops fit at `duration`.
class LIGHTNING_API Timer : public Callback {
 public:
  explicit Timer(TimerOptions options = {});

  /// Lightning's stage names: "train", "sanity_check", "validate", "test",
  /// "predict" (another name is a `lightning::Error`). The clock reading when
  /// the stage last started / ended, or nullopt when it has not.
  std::optional<double> start_time(const std::string& stage = "train") const;
  std::optional<double> end_time(const std::string& stage = "train") const;
  /// Seconds spent in the stage: end - start, or now - start while it runs;
  /// for "train" plus the time restored from a checkpoint. 0 before it starts.
  double time_elapsed(const std::string& stage = "train") const;
  /// duration - time_elapsed(stage), or nullopt without a duration.
  std::optional<double> time_remaining(const std::string& stage = "train") const;

  const TimerOptions& options() const { return options_; }

  void on_train_start(Trainer& trainer, LightningModule& module) override;
  void on_train_end(Trainer& trainer, LightningModule& module) override;
  void on_validation_start(Trainer& trainer, LightningModule& module) override;
  void on_validation_end(Trainer& trainer, LightningModule& module) override;
  void on_test_start(Trainer& trainer, LightningModule& module) override;
  void on_test_end(Trainer& trainer, LightningModule& module) override;
  void on_fit_start(Trainer& trainer, LightningModule& module) override;
  void on_train_batch_end(Trainer& trainer, LightningModule& module, const StepOutput& outputs,
                          Batch& batch, int64_t batch_idx) override;
  void on_train_epoch_end(Trainer& trainer, LightningModule& module) override;
  StateDict state_dict() const override;
  void load_state_dict(const StateDict& state) override;

 private:
  static constexpr size_t kStages = 5;
  double now() const;
  void check_time_remaining(Trainer& trainer);

  TimerOptions options_;
  std::array<std::optional<double>, kStages> start_{};
  std::array<std::optional<double>, kStages> end_{};
  double offset_ = 0.0;  // training time restored from a checkpoint
};

}  // namespace lightning
