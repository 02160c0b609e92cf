// Timer: per-stage wall time and fit's time limit, as Lightning's Timer.
#include "lightning/callbacks/timer.h"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <utility>

#include "lightning/error.h"
#include "lightning/trainer.h"

namespace lightning {
namespace {

// Lightning's RunningStage values, in its order (the state_dict's key order).
constexpr std::array<const char*, 5> kStageNames = {"train", "sanity_check", "validate", "test",
                                                    "predict"};
constexpr size_t kTrain = 0, kValidate = 2, kTest = 3;

size_t stage_index(const std::string& stage) {
  for (size_t i = 0; i < kStageNames.size(); ++i) {
    if (stage == kStageNames[i]) return i;
  }
  LIGHTNING_FAIL("Timer: unknown stage \"", stage,
                 "\"; use one of Lightning's RunningStage values: \"train\", \"sanity_check\", "
                 "\"validate\", \"test\", \"predict\".");
}

// Python's str(timedelta(seconds=n)): "H:MM:SS", "1 day, H:MM:SS", "2 days, H:MM:SS".
std::string timedelta_text(long long seconds) {
  const long long days = seconds / 86400;
  const long long rest = seconds % 86400;
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%lld:%02lld:%02lld", rest / 3600, (rest / 60) % 60,
                rest % 60);
  if (days == 0) return buffer;
  return std::to_string(days) + (days == 1 ? " day, " : " days, ") + buffer;
}

}  // namespace

Timer::Timer(TimerOptions options) : options_(std::move(options)) {
  LIGHTNING_CHECK(options_.interval() == "step" || options_.interval() == "epoch",
                  "Unsupported parameter value `Timer(interval=", options_.interval(),
                  ")`. Possible choices are: step, epoch");
}

double Timer::now() const {
  if (options_.clock()) return options_.clock()();
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::optional<double> Timer::start_time(const std::string& stage) const {
  return start_[stage_index(stage)];
}

std::optional<double> Timer::end_time(const std::string& stage) const {
  return end_[stage_index(stage)];
}

double Timer::time_elapsed(const std::string& stage) const {
  const size_t i = stage_index(stage);
  const double offset = i == kTrain ? offset_ : 0.0;
  if (!start_[i]) return offset;
  if (!end_[i]) return now() - *start_[i] + offset;
  return *end_[i] - *start_[i] + offset;
}

std::optional<double> Timer::time_remaining(const std::string& stage) const {
  if (!options_.duration()) return std::nullopt;
  return options_.duration()->seconds() - time_elapsed(stage);
}

void Timer::on_train_start(Trainer&, LightningModule&) { start_[kTrain] = now(); }
void Timer::on_train_end(Trainer&, LightningModule&) { end_[kTrain] = now(); }
void Timer::on_validation_start(Trainer&, LightningModule&) { start_[kValidate] = now(); }
void Timer::on_validation_end(Trainer&, LightningModule&) { end_[kValidate] = now(); }
void Timer::on_test_start(Trainer&, LightningModule&) { start_[kTest] = now(); }
void Timer::on_test_end(Trainer&, LightningModule&) { end_[kTest] = now(); }

void Timer::on_fit_start(Trainer& trainer, LightningModule&) {
  if (options_.duration()) check_time_remaining(trainer);
}

void Timer::on_train_batch_end(Trainer& trainer, LightningModule&, const StepOutput&, Batch&,
                               int64_t) {
  if (options_.interval() == "step" && options_.duration()) check_time_remaining(trainer);
}

void Timer::on_train_epoch_end(Trainer& trainer, LightningModule&) {
  if (options_.interval() == "epoch" && options_.duration()) check_time_remaining(trainer);
}

StateDict Timer::state_dict() const {
  StateDict elapsed = make_state_dict();
  for (const char* stage : kStageNames) elapsed.insert(stage, time_elapsed(stage));
  StateDict state = make_state_dict();
  state.insert("time_elapsed", elapsed);
  return state;
}

void Timer::load_state_dict(const StateDict& state) {
  // Lightning: only the training time carries over; a missing key means 0.
  offset_ = 0.0;
  if (!state.contains("time_elapsed")) return;
  const StateDict elapsed = state_dict_at(state, "time_elapsed", "Timer");
  if (elapsed.contains("train")) offset_ = state_double(elapsed, "train", "Timer");
}

void Timer::check_time_remaining(Trainer& trainer) {
  bool should_stop = time_elapsed() >= options_.duration()->seconds();
  // Rank 0 decides for every process, as Lightning's strategy.broadcast.
  should_stop =
      trainer.strategy().broadcast(at::full({1}, should_stop ? 1 : 0, at::kLong)).item<int64_t>() !=
      0;
  trainer.set_should_stop(trainer.should_stop() || should_stop);
  if (should_stop && options_.verbose() && trainer.is_global_zero()) {
    std::cerr << ("Time limit reached. Elapsed time is " +
                  timedelta_text(static_cast<long long>(time_elapsed())) +
                  ". Signaling Trainer to stop.\n")
              << std::flush;
  }
}

}  // namespace lightning
