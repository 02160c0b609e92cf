// Throughput (Fabric's window arithmetic) and ThroughputMonitor (Lightning's
// keys, steps and cadence), driven by a clock the test moves: every logged
// value is exact.
#include "lightning/callbacks/throughput_monitor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "support/boring.h"

namespace L = lightning;
using ::testing::HasSubstr;

TEST(Throughput, RatesOverTheWindowOnceItIsFull) {
  L::Throughput t(L::ThroughputOptions().window_size(3));
  t.update(1.0, 1, 2, 10);
  t.update(2.0, 2, 4, 20);
  EXPECT_EQ(t.compute(),
            (L::Metrics{{"time", 2.0}, {"batches", 2}, {"samples", 4}, {"lengths", 20}}));
  t.update(4.0, 3, 6, 40);
  // (last - first) / (4 - 1) over the three updates.
  EXPECT_EQ(t.compute(), (L::Metrics{{"time", 4.0},
                                     {"batches", 3},
                                     {"samples", 6},
                                     {"lengths", 40},
                                     {"device/batches_per_sec", 2.0 / 3.0},
                                     {"device/samples_per_sec", 4.0 / 3.0},
                                     {"device/items_per_sec", 10.0}}));
  t.update(5.0, 4, 8, 50);  // the window slides: 2 .. 5
  EXPECT_DOUBLE_EQ(t.compute().at("device/batches_per_sec"), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(t.compute().at("device/items_per_sec"), 10.0);
  t.reset();
  EXPECT_TRUE(t.compute().empty());
}

TEST(Throughput, AllProcessRatesAndFlopsWithSeveralProcesses) {
  L::Throughput t(
      L::ThroughputOptions().window_size(2).world_size(4).available_flops(100.0).separator("|"));
  t.update(1.0, 1, 2, std::nullopt, 10.0);
  t.update(3.0, 2, 4, std::nullopt, 30.0);
  const L::Metrics m = t.compute();
  EXPECT_DOUBLE_EQ(m.at("device|batches_per_sec"), 0.5);
  EXPECT_DOUBLE_EQ(m.at("batches_per_sec"), 2.0);
  EXPECT_DOUBLE_EQ(m.at("samples_per_sec"), 4.0);
  // Fabric: flops summed over processes, minus the window's first update.
  EXPECT_DOUBLE_EQ(m.at("flops_per_sec"), 30.0 * 4 / 2.0);
  EXPECT_DOUBLE_EQ(m.at("device|flops_per_sec"), 15.0);
  EXPECT_DOUBLE_EQ(m.at("device|mfu"), 0.15);
}

TEST(Throughput, ErrorsOnValuesThatDoNotIncrease) {
  L::Throughput t;
  t.update(1.0, 1, 1);
  EXPECT_EQ(L::testing::error_of([&] { t.update(1.0, 2, 2); }),
            "Throughput.update: expected the time to increase, last: 1, current: 1. Pass "
            "running totals since the start, not per-batch values.");
  EXPECT_THAT(L::testing::error_of([&] { t.update(2.0, 3, 2); }),
              HasSubstr("expected samples (2) to be greater or equal than batches (3)"));
  EXPECT_THAT(L::testing::error_of([] { L::Throughput(L::ThroughputOptions().window_size(1)); }),
              HasSubstr("Throughput: window_size must be > 1"));
}

namespace {

// Steps move a shared clock: training 0.5 s, evaluation 0.25 s per batch.
struct TimedModule : L::testing::BoringModule {
  explicit TimedModule(std::shared_ptr<double> clock) : clock(std::move(clock)) {}
  L::StepOutput training_step(L::Batch& b, int64_t i) override {
    *clock += 0.5;
    return BoringModule::training_step(b, i);
  }
  L::StepOutput validation_step(L::Batch& b, int64_t i) override {
    *clock += 0.25;
    return BoringModule::validation_step(b, i);
  }
  L::StepOutput test_step(L::Batch& b, int64_t i) override {
    *clock += 0.25;
    return BoringModule::test_step(b, i);
  }
  L::DataLoaders train_dataloader() override { return L::testing::loader(16, 2); }  // 8 batches
  L::DataLoaders val_dataloader() override { return L::testing::loader(8, 2); }     // 4 batches
  L::DataLoaders test_dataloader() override { return L::testing::loader(8, 2); }
  std::shared_ptr<double> clock;
};

// The rows holding `key`, as (step, row).
std::vector<std::pair<int64_t, L::Metrics>> rows_with(const L::testing::RecordingLogger& logger,
                                                      const std::string& key) {
  std::vector<std::pair<int64_t, L::Metrics>> out;
  for (const auto& row : logger.rows) {
    if (row.second.count(key)) out.push_back(row);
  }
  return out;
}

}  // namespace

TEST(ThroughputMonitor, LogsLightningsKeysAtTheStepCadenceWithoutValidationTime) {
  auto clock = std::make_shared<double>(10.0);
  auto logger = std::make_shared<L::testing::RecordingLogger>();
  auto monitor = std::make_shared<L::ThroughputMonitor>(
      L::ThroughputMonitorOptions([](const L::Batch& b) { return b[0].size(0); })
          .length_fn([](const L::Batch& b) { return 3 * b[0].size(0); })
          .window_size(2)
          .clock([clock] { return *clock; }));
  L::Trainer trainer(
      L::testing::quiet().max_epochs(2).log_every_n_steps(2).logger(logger).callbacks({monitor}));
  trainer.fit(std::make_shared<TimedModule>(clock));

  const auto train = rows_with(*logger, "train/time");
  ASSERT_EQ(train.size(), 8u);  // every 2nd of 16 optimizer steps
  for (size_t r = 0; r < train.size(); ++r) {
    const auto& [step, m] = train[r];
    const double batches = 2.0 * static_cast<double>(r + 1);
    EXPECT_EQ(step, static_cast<int64_t>(batches) - 1);  // Lightning's step before the increment
    EXPECT_EQ(m.at("epoch"), r < 4 ? 0.0 : 1.0);
    // 0.5 s a batch; the 1 s of validation after epoch 0 is not counted.
    EXPECT_DOUBLE_EQ(m.at("train/time"), 0.5 * batches);
    EXPECT_EQ(m.at("train/batches"), batches);
    EXPECT_EQ(m.at("train/samples"), 2 * batches);
    EXPECT_EQ(m.at("train/lengths"), 6 * batches);
    EXPECT_DOUBLE_EQ(m.at("train/device/batches_per_sec"), 2.0);
    EXPECT_DOUBLE_EQ(m.at("train/device/samples_per_sec"), 4.0);
    EXPECT_DOUBLE_EQ(m.at("train/device/items_per_sec"), 12.0);
    EXPECT_EQ(m.count("train/batches_per_sec"), 0u);  // one process: no all-process rates
  }
  // Validation (not the sanity check): every 2nd batch of each run, at the
  // run's batch count, without "epoch" (Python Lightning 2.6 logs the same steps).
  const auto val = rows_with(*logger, "validate/time");
  ASSERT_EQ(val.size(), 4u);
  std::vector<int64_t> steps;
  for (const auto& [step, m] : val) {
    steps.push_back(step);
    EXPECT_EQ(m.count("epoch"), 0u);
    EXPECT_DOUBLE_EQ(m.at("validate/device/batches_per_sec"), 4.0);
    EXPECT_DOUBLE_EQ(m.at("validate/device/samples_per_sec"), 8.0);
  }
  EXPECT_EQ(steps, (std::vector<int64_t>{2, 4, 2, 4}));
  EXPECT_DOUBLE_EQ(val[1].second.at("validate/time"), 1.0);
  EXPECT_EQ(val[3].second.at("validate/batches"), 4.0);  // each run starts afresh in fit
  EXPECT_DOUBLE_EQ(trainer.logged_metrics().at("train/time").item<double>(), 8.0);

  // test: its own stage key and counts.
  trainer.test(std::make_shared<TimedModule>(clock), L::DataLoaders(L::testing::loader(8, 2)),
               std::nullopt, /*verbose=*/false);
  const auto test = rows_with(*logger, "test/time");
  ASSERT_EQ(test.size(), 2u);
  EXPECT_EQ(test[0].first, 2);
  EXPECT_EQ(test[1].first, 4);
  EXPECT_DOUBLE_EQ(test[1].second.at("test/time"), 1.0);
  EXPECT_DOUBLE_EQ(test[1].second.at("test/device/samples_per_sec"), 8.0);
  // A second test call keeps counting, steps and totals (as Lightning's test loop).
  trainer.test(std::make_shared<TimedModule>(clock), L::DataLoaders(L::testing::loader(8, 2)),
               std::nullopt, /*verbose=*/false);
  const auto again = rows_with(*logger, "test/time");
  ASSERT_EQ(again.size(), 4u);
  EXPECT_EQ(again[2].first, 6);
  EXPECT_EQ(again[3].first, 8);
  EXPECT_EQ(again[3].second.at("test/batches"), 8.0);
  EXPECT_DOUBLE_EQ(again[3].second.at("test/time"), 1.0);  // the clock restarts per call
}

TEST(ThroughputMonitor, NeedsABatchSizeFunction) {
  EXPECT_THAT(
      L::testing::error_of([] { L::ThroughputMonitor(L::ThroughputMonitorOptions(nullptr)); }),
      HasSubstr("ThroughputMonitor needs a batch_size_fn"));
}
