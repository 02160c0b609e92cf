// DeviceStatsMonitor on the CPU: Lightning's keys, hooks, steps and cadence,
// plausible values, cpu_stats(false), and the no-logger error.
#include "lightning/callbacks/device_stats_monitor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "support/boring.h"

namespace L = lightning;
using ::testing::HasSubstr;

namespace {

struct Module : L::testing::BoringModule {
  L::DataLoaders train_dataloader() override { return L::testing::loader(8, 2); }  // 4 batches
  L::DataLoaders val_dataloader() override { return L::testing::loader(4, 2); }    // 2 batches
};

const std::vector<std::string> kCpuKeys = {"cpu_percent", "cpu_swap_percent", "cpu_vm_percent",
                                           "process_cpu_seconds", "process_rss_bytes"};

}  // namespace

TEST(DeviceStatsMonitor, CpuStatsAreLightningsKeysWithPlausibleValues) {
  L::DeviceStatsMonitor monitor;
  // Some work between the readings, so that the process's CPU time is > 0.
  volatile double sink = 0;
  for (int i = 0; i < 2000000; ++i) sink = sink + i * 0.5;
  const L::Metrics stats = monitor.cpu_stats();
  std::vector<std::string> keys;
  for (const auto& [key, value] : stats) keys.push_back(key);
  EXPECT_EQ(keys, kCpuKeys);
  for (const char* key : {"cpu_percent", "cpu_vm_percent", "cpu_swap_percent"}) {
    EXPECT_GE(stats.at(key), 0.0) << key;
    EXPECT_LE(stats.at(key), 100.0) << key;
  }
  EXPECT_GT(stats.at("cpu_vm_percent"), 0.0);     // some memory is always in use
  EXPECT_GT(stats.at("process_rss_bytes"), 1e6);  // a process with libtorch loaded
  EXPECT_GT(stats.at("process_cpu_seconds"), 0.0);
  EXPECT_TRUE(L::DeviceStatsMonitor::cuda_stats(0).empty() || torch::cuda::is_available());
}

TEST(DeviceStatsMonitor, LogsAtEachBatchHookWithLightningsPrefixes) {
  auto logger = std::make_shared<L::testing::RecordingLogger>();
  L::Trainer trainer(L::testing::quiet()
                         .max_epochs(1)
                         .num_sanity_val_steps(0)
                         .log_every_n_steps(2)
                         .logger(logger)
                         .callbacks({std::make_shared<L::DeviceStatsMonitor>()}));
  trainer.fit(std::make_shared<Module>());
  // hook -> steps of its rows
  std::map<std::string, std::vector<int64_t>> steps;
  for (const auto& [step, row] : logger->rows) {
    std::set<std::string> hooks;
    for (const auto& [key, value] : row) {
      const auto slash = key.find('/');
      if (key.rfind("DeviceStatsMonitor.", 0) != 0) continue;
      hooks.insert(key.substr(19, slash - 19));
      EXPECT_NE(std::find(kCpuKeys.begin(), kCpuKeys.end(), key.substr(slash + 1)), kCpuKeys.end())
          << key;
    }
    for (const auto& hook : hooks) steps[hook].push_back(step);
  }
  // What Python Lightning 2.6 logs for this run: training rows when the
  // batch completes every 2nd optimizer step (batches 1 and 3, 0-based), at
  // the step count before it; validation rows at its 2nd batch, at the step
  // count before the epoch's last batch is counted.
  EXPECT_EQ(steps["on_train_batch_start"], (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(steps["on_train_batch_end"], (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(steps["on_validation_batch_start"], (std::vector<int64_t>{3}));
  EXPECT_EQ(steps["on_validation_batch_end"], (std::vector<int64_t>{3}));
  EXPECT_EQ(steps.size(), 4u);
}

TEST(DeviceStatsMonitor, CpuStatsFalseLogsNothingOnTheCpu) {
  auto logger = std::make_shared<L::testing::RecordingLogger>();
  L::Trainer trainer(
      L::testing::quiet().max_epochs(1).log_every_n_steps(1).logger(logger).callbacks(
          {std::make_shared<L::DeviceStatsMonitor>(false)}));
  trainer.fit(std::make_shared<Module>());
  for (const auto& [step, row] : logger->rows) {
    for (const auto& [key, value] : row) {
      EXPECT_EQ(key.rfind("DeviceStatsMonitor.", 0), std::string::npos) << key;
    }
  }
}

TEST(DeviceStatsMonitor, NeedsALogger) {
  L::Trainer trainer(
      L::testing::quiet().max_epochs(1).callbacks({std::make_shared<L::DeviceStatsMonitor>()}));
  EXPECT_THAT(L::testing::error_of([&] { trainer.fit(std::make_shared<Module>()); }),
              HasSubstr("Cannot use `DeviceStatsMonitor` callback with `Trainer(logger=False)`"));
}
