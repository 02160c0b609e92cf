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

namespace {

// Two optimizers in manual optimization: an Adam with a named epoch-interval
// StepLR, an SGD with a step-interval ExponentialLR, and an SGD without one.
struct WithSchedulers : BoringModule {
  WithSchedulers() { set_automatic_optimization(false); }
  L::StepOutput training_step(L::Batch& batch, int64_t) override {
    for (auto& opt : optimizers()) opt.zero_grad();
    manual_backward(loss(batch));
    for (auto& opt : optimizers()) opt.step();
    return {};
  }
  L::OptimizerConfig configure_optimizers() override {
    auto adam = std::make_shared<torch::optim::Adam>(parameters(), torch::optim::AdamOptions(1e-3));
    auto sgd = std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.1));
    auto plain = std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.3));
    auto step_lr = std::make_shared<L::StepLR>(adam, L::StepLROptions(1));
    auto exp_lr = std::make_shared<L::ExponentialLR>(sgd, L::ExponentialLROptions(0.5));
    return {{adam, sgd, plain},
            {{step_lr, L::SchedulerConfig().name("warmup")},
             {exp_lr, L::SchedulerConfig().interval("step")}}};
  }
  L::DataLoaders train_dataloader() override { return L::testing::loader(8, 2); }
};

}  // namespace

TEST(LearningRateMonitor, SchedulerNamesAndIntervalsAsLightning) {
  auto logger = std::make_shared<L::testing::RecordingLogger>();
  auto monitor = std::make_shared<L::LearningRateMonitor>();
  L::Trainer trainer(
      L::testing::quiet().max_epochs(1).log_every_n_steps(1).logger(logger).callbacks({monitor}));
  trainer.fit(std::make_shared<WithSchedulers>());
  // Keys: the scheduler's name, "lr-SGD" for the first unnamed SGD, "lr-SGD-1"
  // for the second, which has no scheduler.
  EXPECT_EQ(monitor->current_stats(trainer),
            (L::Metrics{{"warmup", 1e-3}, {"lr-SGD", 0.1}, {"lr-SGD-1", 0.3}}));
  const auto rows = lr_rows(*logger);
  ASSERT_EQ(rows.size(), 5u);  // one at the epoch start, one per batch
  // Epoch start: the epoch-interval scheduler and the optimizer without one.
  EXPECT_TRUE(rows[0].second.count("warmup"));
  EXPECT_FALSE(rows[0].second.count("lr-SGD"));
  EXPECT_TRUE(rows[0].second.count("lr-SGD-1"));
  // Steps: the step-interval scheduler and the optimizer without one.
  EXPECT_FALSE(rows[1].second.count("warmup"));
  EXPECT_TRUE(rows[1].second.count("lr-SGD"));
  EXPECT_TRUE(rows[1].second.count("lr-SGD-1"));
  // The values also reach callback_metrics.
  EXPECT_DOUBLE_EQ(trainer.callback_metrics().at("lr-SGD-1").item<double>(), 0.3);
}
