// LearningRateMonitor: Lightning's keys, intervals and the no-logger error.
#include "lightning/callbacks/learning_rate_monitor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

#include "support/boring.h"

namespace L = lightning;
using L::testing::BoringModule;

namespace {

struct WithOptimizer : BoringModule {
  enum Kind { kSgdMomentum, kAdam, kTwoGroups };
  explicit WithOptimizer(Kind kind) : kind(kind) {}
  L::OptimizerConfig configure_optimizers() override {
    if (kind == kAdam) {
      return std::make_shared<torch::optim::Adam>(
          parameters(), torch::optim::AdamOptions(2e-3).betas({0.8, 0.99}).weight_decay(0.1));
    }
    if (kind == kTwoGroups) {
      std::vector<torch::optim::OptimizerParamGroup> groups;
      groups.emplace_back(std::vector<at::Tensor>{layer->weight},
                          std::make_unique<torch::optim::SGDOptions>(0.1));
      groups.emplace_back(std::vector<at::Tensor>{layer->bias},
                          std::make_unique<torch::optim::SGDOptions>(0.02));
      return std::make_shared<torch::optim::SGD>(groups, torch::optim::SGDOptions(0.1));
    }
    return std::make_shared<torch::optim::SGD>(parameters(),
                                               torch::optim::SGDOptions(0.01).momentum(0.9));
  }
  L::DataLoaders train_dataloader() override { return L::testing::loader(8, 2); }  // 4 batches
  Kind kind;
};

std::vector<std::pair<int64_t, L::Metrics>> lr_rows(const L::testing::RecordingLogger& logger) {
  std::vector<std::pair<int64_t, L::Metrics>> rows;
  for (const auto& row : logger.rows) {
    for (const auto& [key, value] : row.second) {
      if (key.rfind("lr-", 0) == 0) {
        rows.push_back(row);
        break;
      }
    }
  }
  return rows;
}

}  // namespace

TEST(LearningRateMonitor, StepIntervalFollowsLogEveryNSteps) {
  auto logger = std::make_shared<L::testing::RecordingLogger>();
  auto monitor = std::make_shared<L::LearningRateMonitor>(
      L::LearningRateMonitorOptions().logging_interval("step").log_momentum(true));
  L::Trainer trainer(
      L::testing::quiet().max_epochs(1).log_every_n_steps(2).logger(logger).callbacks({monitor}));
  trainer.fit(std::make_shared<WithOptimizer>(WithOptimizer::kSgdMomentum));
  auto rows = lr_rows(*logger);
  // Batches 1 and 3 complete steps 2 and 4: logged at their start, with step 1 and 3.
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].first, 1);
  EXPECT_EQ(rows[1].first, 3);
  EXPECT_EQ(rows[0].second, (L::Metrics{{"lr-SGD", 0.01}, {"lr-SGD-momentum", 0.9}, {"epoch", 0}}));
}

TEST(LearningRateMonitor, EpochIntervalAdamBetasAndWeightDecay) {
  auto logger = std::make_shared<L::testing::RecordingLogger>();
  auto monitor = std::make_shared<L::LearningRateMonitor>(
      L::LearningRateMonitorOptions().logging_interval("epoch").log_momentum(true).log_weight_decay(
          true));
  L::Trainer trainer(
      L::testing::quiet().max_epochs(3).log_every_n_steps(1).logger(logger).callbacks({monitor}));
  trainer.fit(std::make_shared<WithOptimizer>(WithOptimizer::kAdam));
  auto rows = lr_rows(*logger);
  ASSERT_EQ(rows.size(), 3u);  // one per epoch start
  for (int e = 0; e < 3; ++e) {
    EXPECT_EQ(rows[e].first, 4 * e);
    EXPECT_EQ(rows[e].second, (L::Metrics{{"lr-Adam", 2e-3},
                                          {"lr-Adam-momentum", 0.8},
                                          {"lr-Adam-weight_decay", 0.1},
                                          {"epoch", static_cast<double>(e)}}));
  }
}

TEST(LearningRateMonitor, ParamGroupsGetPgSuffixes) {
  auto logger = std::make_shared<L::testing::RecordingLogger>();
  auto monitor = std::make_shared<L::LearningRateMonitor>();
  L::Trainer trainer(
      L::testing::quiet().max_epochs(1).log_every_n_steps(4).logger(logger).callbacks({monitor}));
  auto module = std::make_shared<WithOptimizer>(WithOptimizer::kTwoGroups);
  trainer.fit(module);
  auto rows = lr_rows(*logger);
  // Unset interval: at the epoch start and at the step rows (batch 3 completes step 4).
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].second.at("lr-SGD/pg1"), 0.1);
  EXPECT_EQ(rows[0].second.at("lr-SGD/pg2"), 0.02);
  EXPECT_EQ(rows[1].first, 3);
  EXPECT_EQ(monitor->current_stats(trainer),
            (L::Metrics{{"lr-SGD/pg1", 0.1}, {"lr-SGD/pg2", 0.02}}));
}

TEST(LearningRateMonitor, Errors) {
  EXPECT_LIGHTNING_ERROR(
      L::LearningRateMonitor(L::LearningRateMonitorOptions().logging_interval("batch")),
      "LearningRateMonitor logging_interval must be \"step\", \"epoch\" or unset, got \"batch\"");
  L::Trainer trainer(
      L::testing::quiet().max_epochs(1).callbacks({std::make_shared<L::LearningRateMonitor>()}));
  EXPECT_LIGHTNING_ERROR(
      trainer.fit(std::make_shared<WithOptimizer>(WithOptimizer::kAdam)),
      "Cannot use LearningRateMonitor callback with a Trainer that has no logger");
}
