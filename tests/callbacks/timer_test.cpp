// Timer and max_time: stopping at the limit (a clock the test drives, so every
// count is exact), Lightning's stage names and state_dict, resuming with the
// saved time, max_time's Timer, and TimeLimit's parsing.
#include "lightning/callbacks/timer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>

#include "lightning/callbacks/lambda_callback.h"
#include "support/boring.h"
#include "support/temp_dir.h"

namespace L = lightning;
using ::testing::HasSubstr;

namespace {

// Each training/test step moves a shared fake clock forward by `tick` seconds.
struct TickingModule : L::testing::BoringModule {
  TickingModule(std::shared_ptr<double> clock, double tick, int64_t batches = 32)
      : clock(std::move(clock)), tick(tick), batches(batches) {}
  L::StepOutput training_step(L::Batch& batch, int64_t i) override {
    *clock += tick;
    ++trained;
    return BoringModule::training_step(batch, i);
  }
  L::StepOutput test_step(L::Batch& batch, int64_t i) override {
    *clock += tick;
    return BoringModule::test_step(batch, i);
  }
  L::DataLoaders train_dataloader() override { return L::testing::loader(batches * 2, 2); }
  L::DataLoaders test_dataloader() override { return L::testing::loader(8, 2); }  // 4 batches
  std::shared_ptr<double> clock;
  double tick;
  int64_t batches;
  int64_t trained = 0;
};

std::shared_ptr<L::Timer> fake_timer(const std::shared_ptr<double>& clock, double seconds,
                                     const std::string& interval = "step") {
  return std::make_shared<L::Timer>(L::TimerOptions()
                                        .duration(std::chrono::duration<double>(seconds))
                                        .interval(interval)
                                        .verbose(false)
                                        .clock([clock] { return *clock; }));
}

}  // namespace

TEST(Timer, StopsAfterTheBatchThatReachesTheLimitAndCheckpoints) {
  L::testing::TempDir dir;
  auto clock = std::make_shared<double>(100.0);
  auto timer = std::make_shared<L::Timer>(
      L::TimerOptions().duration(std::chrono::duration<double>(3.5)).clock([clock] {
        return *clock;
      }));
  auto model = std::make_shared<TickingModule>(clock, 1.0);
  L::Trainer trainer(
      L::testing::quiet().enable_checkpointing(true).default_root_dir(dir.str()).callbacks(
          {timer}));
  EXPECT_EQ(trainer.max_epochs(), -1);  // a Timer bounds the run: no 1000-epoch default
  ::testing::internal::CaptureStderr();
  trainer.fit(model);
  const std::string err = ::testing::internal::GetCapturedStderr();
  // Elapsed after batch k is k seconds: 1, 2, 3 < 3.5 <= 4.
  EXPECT_EQ(model->trained, 4);
  EXPECT_EQ(trainer.global_step(), 4);
  EXPECT_TRUE(trainer.should_stop());
  EXPECT_EQ(timer->start_time("train"), 100.0);
  EXPECT_EQ(timer->end_time("train"), 104.0);
  EXPECT_EQ(timer->time_elapsed("train"), 4.0);
  EXPECT_EQ(timer->time_remaining("train"), -0.5);
  EXPECT_THAT(err, HasSubstr("Time limit reached. Elapsed time is 0:00:04. Signaling Trainer to "
                             "stop."));
  // The stop is an ordinary end of fit: the epoch-end checkpoint is written.
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "checkpoints" / "epoch=0-step=4.ckpt"));
}

TEST(Timer, EpochIntervalChecksOnlyAtEpochEnds) {
  auto clock = std::make_shared<double>(0.0);
  auto model = std::make_shared<TickingModule>(clock, 1.0, /*batches=*/4);
  L::Trainer trainer(L::testing::quiet().callbacks({fake_timer(clock, 5.0, "epoch")}));
  trainer.fit(model);
  // 4 s after epoch 0 (< 5), 8 s after epoch 1: two whole epochs.
  EXPECT_EQ(model->trained, 8);
  EXPECT_EQ(trainer.current_epoch(), 2);
}

TEST(Timer, WithoutDurationItOnlyMeasures) {
  auto clock = std::make_shared<double>(0.0);
  auto timer = std::make_shared<L::Timer>(L::TimerOptions().clock([clock] { return *clock; }));
  auto model = std::make_shared<TickingModule>(clock, 0.25, /*batches=*/4);
  L::Trainer trainer(L::testing::quiet().max_epochs(1).callbacks({timer}));
  EXPECT_EQ(trainer.max_epochs(), 1);
  trainer.fit(model);
  EXPECT_EQ(model->trained, 4);
  EXPECT_EQ(timer->time_elapsed(), 1.0);
  EXPECT_EQ(timer->time_remaining(), std::nullopt);
  EXPECT_EQ(timer->start_time("test"), std::nullopt);
  EXPECT_EQ(timer->time_elapsed("test"), 0.0);
  *clock = 50.0;
  trainer.test(model, L::DataLoaders(L::testing::loader(8, 2)), std::nullopt, /*verbose=*/false);
  EXPECT_EQ(timer->start_time("test"), 50.0);
  EXPECT_EQ(timer->end_time("test"), 51.0);  // 4 test batches of 0.25 s
  EXPECT_EQ(timer->time_elapsed("test"), 1.0);
  EXPECT_EQ(timer->time_elapsed("predict"), 0.0);  // Lightning's Timer does not time predict
  EXPECT_THAT(L::testing::error_of([&] { timer->time_elapsed("fit"); }),
              HasSubstr("Timer: unknown stage \"fit\"; use one of Lightning's RunningStage "
                        "values: \"train\", \"sanity_check\", \"validate\", \"test\", "
                        "\"predict\"."));
}

TEST(Timer, StateDictHasLightningsKeysAndResumeCountsTheSavedTime) {
  L::testing::TempDir dir;
  auto clock = std::make_shared<double>(0.0);
  auto first = fake_timer(clock, 3.5);
  const std::string path = dir.file("timer.ckpt");
  // A checkpoint written mid-fit, after the second batch (2 s in).
  auto save_after_two =
      std::make_shared<L::LambdaCallback>(L::LambdaCallbackOptions().on_train_batch_end(
          [&path](L::Trainer& trainer, L::LightningModule&, const L::StepOutput&, L::Batch&,
                  int64_t batch_idx) {
            if (batch_idx == 1) trainer.save_checkpoint(path);
          }));
  auto model = std::make_shared<TickingModule>(clock, 1.0);
  L::Trainer trainer(L::testing::quiet().callbacks({first, save_after_two}));
  trainer.fit(model);
  ASSERT_EQ(model->trained, 4);
  const L::StateDict state = first->state_dict();
  const L::StateDict elapsed = L::state_dict_at(state, "time_elapsed", "test");
  std::vector<std::string> keys;
  for (const auto& item : elapsed) keys.push_back(item.key().toStringRef());
  EXPECT_EQ(keys,
            (std::vector<std::string>{"train", "sanity_check", "validate", "test", "predict"}));
  EXPECT_EQ(L::state_double(elapsed, "train", "test"), 4.0);
  EXPECT_EQ(L::state_double(elapsed, "validate", "test"), 0.0);
  EXPECT_EQ(first->state_key(), "Timer");
  const L::Checkpoint ckpt = L::read_checkpoint(path);
  const L::StateDict saved =
      L::state_dict_at(ckpt.at("callbacks").toGenericDict(), "Timer", "test");
  EXPECT_EQ(L::state_double(L::state_dict_at(saved, "time_elapsed", "test"), "train", "test"), 2.0);

  // The resumed fit starts at the saved 2 s: 3 < 3.5 <= 4 -> two more batches.
  auto second = fake_timer(clock, 3.5);
  auto resumed = std::make_shared<TickingModule>(clock, 1.0);
  L::Trainer again(L::testing::quiet().callbacks({second}));
  again.fit(resumed, path);
  EXPECT_EQ(resumed->trained, 2);
  EXPECT_EQ(again.global_step(), 4);
  EXPECT_EQ(second->time_elapsed(), 4.0);
}

// A stop is not part of the resumed state (Lightning does not checkpoint
// trainer.should_stop): resuming the stopped run with a larger budget trains
// on; with the same budget the Timer, which checks the restored time in
// on_fit_start as Lightning's does, stops it before any batch.
TEST(Timer, AResumedFitAfterTheStopTrainsOnWithALargerBudget) {
  L::testing::TempDir dir;
  auto clock = std::make_shared<double>(0.0);
  auto model = std::make_shared<TickingModule>(clock, 1.0);
  L::Trainer first(
      L::testing::quiet().enable_checkpointing(true).default_root_dir(dir.str()).callbacks(
          {fake_timer(clock, 3.5)}));
  first.fit(model);
  ASSERT_EQ(model->trained, 4);
  const std::string path = (dir.path() / "checkpoints" / "epoch=0-step=4.ckpt").string();
  ASSERT_TRUE(std::filesystem::exists(path));

  for (const auto& [budget, batches] : {std::pair<double, int64_t>{3.5, 0}, {10.0, 6}}) {
    auto resumed = std::make_shared<TickingModule>(clock, 1.0);
    auto timer = fake_timer(clock, budget);
    L::Trainer again(L::testing::quiet().callbacks({timer}));
    again.fit(resumed, path);
    // The saved 4 s count: a batch per second until the budget is reached.
    EXPECT_EQ(resumed->trained, batches) << "budget " << budget;
    EXPECT_EQ(again.global_step(), 4 + batches) << "budget " << budget;
    EXPECT_EQ(timer->time_elapsed(), 4.0 + static_cast<double>(batches)) << "budget " << budget;
  }
}

TEST(Timer, MaxTimeAddsAStepTimerUnlessOneIsGiven) {
  L::Trainer trainer(L::testing::quiet().max_time("00:00:00:00"));
  L::Timer* added = nullptr;
  for (const auto& c : trainer.callbacks()) {
    if (auto* t = dynamic_cast<L::Timer*>(c.get())) added = t;
  }
  ASSERT_NE(added, nullptr);
  EXPECT_EQ(added->options().duration()->seconds(), 0.0);
  EXPECT_EQ(added->options().interval(), "step");
  EXPECT_EQ(trainer.max_epochs(), -1);
  // A zero limit is reached at fit start, before any batch (as in Lightning).
  auto model = std::make_shared<TickingModule>(std::make_shared<double>(0.0), 1.0);
  ::testing::internal::CaptureStderr();
  trainer.fit(model);
  EXPECT_THAT(::testing::internal::GetCapturedStderr(),
              HasSubstr("Time limit reached. Elapsed time is 0:00:00."));
  EXPECT_EQ(model->trained, 0);

  auto given = std::make_shared<L::Timer>(L::TimerOptions().duration("00:01:00:00"));
  ::testing::internal::CaptureStderr();
  L::Trainer with_timer(L::testing::quiet().max_time("00:00:00:01").callbacks({given}));
  EXPECT_THAT(::testing::internal::GetCapturedStderr(),
              HasSubstr("Ignoring `Trainer(max_time=...)`, callbacks list already contains a "
                        "Timer."));
  int timers = 0;
  for (const auto& c : with_timer.callbacks())
    timers += dynamic_cast<L::Timer*>(c.get()) != nullptr;
  EXPECT_EQ(timers, 1);
  EXPECT_EQ(with_timer.callbacks()[0], given);
}

TEST(Timer, RejectsAnUnknownInterval) {
  EXPECT_EQ(L::testing::error_of([] { L::Timer(L::TimerOptions().interval("hour")); }),
            "Unsupported parameter value `Timer(interval=hour)`. Possible choices are: step, "
            "epoch");
}

TEST(TimeLimit, ParsesLightningsStringAndDurations) {
  EXPECT_EQ(L::TimeLimit("01:02:03:04").seconds(), ((1 * 24 + 2) * 60 + 3) * 60 + 4);
  EXPECT_EQ(L::TimeLimit("00:12:00:00").seconds(), 12 * 3600);
  EXPECT_EQ(L::TimeLimit("00:00:00:01.5").seconds(), 1.5);
  EXPECT_EQ(L::TimeLimit(std::chrono::minutes(90)).seconds(), 5400);
  EXPECT_EQ(L::TimeLimit::from_parts(0, 1, 30, 0).seconds(), 5400);
  EXPECT_EQ(L::TimeLimit("01:02:03:04").to_string(), "01:02:03:04");
  EXPECT_EQ(L::TimeLimit(std::chrono::milliseconds(1500)).to_string(), "00:00:00:01.500");
}

TEST(TimeLimit, ErrorsSayWhatIsWrongAndTheExpectedForm) {
  EXPECT_EQ(L::testing::error_of([] { L::TimeLimit("12:00:00"); }),
            "max_time/TimeLimit: \"12:00:00\" has 3 field(s); expected \"DD:HH:MM:SS\" (4 "
            "fields), e.g. \"00:12:00:00\" for 12 hours or \"01:00:00:00\" for one day");
  EXPECT_EQ(L::testing::error_of([] { L::TimeLimit("00:1h:00:00"); }),
            "max_time/TimeLimit: \"00:1h:00:00\" has the field \"1h\", which is not a "
            "non-negative number; expected \"DD:HH:MM:SS\", e.g. \"00:12:00:00\" for 12 hours");
  EXPECT_EQ(L::testing::error_of([] { L::TimeLimit("00::00:00"); }),
            "max_time/TimeLimit: \"00::00:00\" has an empty field; expected \"DD:HH:MM:SS\", "
            "e.g. \"00:12:00:00\" for 12 hours");
  EXPECT_THAT(L::testing::error_of([] { L::TimeLimit(std::chrono::seconds(-5)); }),
              HasSubstr("max_time/TimeLimit: -5 seconds is not a non-negative finite duration"));
  EXPECT_THAT(L::testing::error_of([] { L::TimeLimit("00:00:-1:00"); }),
              HasSubstr("\"-1\", which is not a non-negative number"));
}
