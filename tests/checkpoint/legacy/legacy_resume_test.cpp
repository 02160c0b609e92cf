// Checkpoints written by an earlier version of the library still resume
// exactly: each fixture in tests/checkpoint/legacy/ (written once, see its
// README.md) resumes at the position it was saved in, runs the batches an
// uninterrupted fit runs after it, and ends with the same weights, step
// count and metrics.
#include <gtest/gtest.h>

#include <string>

#include "checkpoint/legacy/legacy_model.h"

namespace L = lightning;
namespace legacy = lightning::testing::legacy;

namespace {

struct FitRun {
  std::shared_ptr<legacy::Model> model;
  int64_t global_step = 0;
  int64_t epoch = 0;
  L::Metrics metrics;
};

FitRun fit(const std::optional<std::string>& ckpt_path) {
  FitRun run;
  run.model = std::make_shared<legacy::Model>();
  L::Trainer trainer(legacy::options());
  trainer.fit(run.model, legacy::train_loader(), legacy::val_loader(), ckpt_path);
  run.global_step = trainer.global_step();
  run.epoch = trainer.current_epoch();
  run.metrics = L::to_numbers(trainer.callback_metrics());
  return run;
}

const FitRun& uninterrupted() {
  static const FitRun run = [] {
    L::seed_everything(legacy::kSeed);
    return fit(std::nullopt);
  }();
  return run;
}

class LegacyResume : public ::testing::TestWithParam<legacy::Fixture> {};

TEST_P(LegacyResume, ResumesWhereItWasSavedAndEndsLikeAnUninterruptedFit) {
  const legacy::Fixture& fixture = GetParam();
  const FitRun& full = uninterrupted();
  L::seed_everything(999);  // a new process: another RNG state until the restore
  const FitRun resumed = fit(std::string(LIGHTNING_LEGACY_CKPT_DIR) + "/" + fixture.file);

  ASSERT_FALSE(resumed.model->steps.empty());
  EXPECT_EQ(resumed.model->steps.front(), fixture.first_resumed_step);
  ASSERT_LE(resumed.model->steps.size(), full.model->steps.size());
  const auto offset = full.model->steps.size() - resumed.model->steps.size();
  for (size_t i = 0; i < resumed.model->steps.size(); ++i) {
    EXPECT_EQ(resumed.model->steps[i], full.model->steps[offset + i]) << "resumed step " << i;
  }
  EXPECT_EQ(resumed.global_step, full.global_step);
  EXPECT_EQ(resumed.epoch, full.epoch);
  // The fixtures were computed by another build (maybe another BLAS): equal
  // to float rounding, not bit for bit.
  auto a = resumed.model->named_parameters(), b = full.model->named_parameters();
  for (const auto& item : b) {
    const at::Tensor& mine = a[item.key()];
    EXPECT_TRUE(at::allclose(mine, item.value(), 1e-5, 1e-6))
        << item.key() << ": max abs diff " << (mine - item.value()).abs().max().item<double>();
  }
  for (const char* key : {"train_loss_epoch", "val_loss"}) {
    ASSERT_TRUE(resumed.metrics.count(key)) << key;
    EXPECT_NEAR(resumed.metrics.at(key), full.metrics.at(key),
                1e-5 * std::abs(full.metrics.at(key)) + 1e-7)
        << key;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, LegacyResume, ::testing::ValuesIn(legacy::fixtures()),
                         [](const auto& info) {
                           std::string name = info.param.file;
                           return name.substr(0, name.find('.'));
                         });

}  // namespace
