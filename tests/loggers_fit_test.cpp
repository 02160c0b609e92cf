// The Trainer with its loggers: the default run folder, the exact rows of
// metrics.csv during fit (step and epoch columns, validation every k steps),
// version numbering across Trainers, log_dir, and an unwritable root that
// fails before any training.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "lightning/loggers/csv_logger.h"
#include "lightning/loggers/report.h"
#include "lightning/loggers/tensorboard_logger.h"
#include "support/boring.h"
#include "support/temp_dir.h"

namespace L = lightning;
namespace fs = std::filesystem;
using L::testing::BoringModule;

namespace {

using L::testing::TempDir;

// 8 training samples in batches of 2 (4 steps per epoch), 4 val samples.
// Logs known values: "a" = 10 * epoch + batch_idx per step, "val_v" = 100 + epoch.
struct Known : BoringModule {
  Known() {
    save_hyperparameters({{"lr", 0.01}, {"name", "known"}, {"layers", L::HParamValue::List{4, 2}}});
  }
  L::StepOutput training_step(L::Batch& b, int64_t i) override {
    log("a", static_cast<double>(10 * current_epoch() + i));
    return BoringModule::training_step(b, i);
  }
  L::StepOutput validation_step(L::Batch&, int64_t) override {
    log("val_v", 100.0 + static_cast<double>(current_epoch()));
    return {};
  }
  L::DataLoaders train_dataloader() override { return L::testing::loader(8, 2); }
  L::DataLoaders val_dataloader() override { return L::testing::loader(4, 2); }
};

L::TrainerOptions options(const TempDir& dir) {
  return L::TrainerOptions()
      .enable_progress_bar(false)
      .enable_model_summary(false)
      .default_root_dir(dir.str());
}

double cell(const L::MetricsTable& t, size_t row, const std::string& column) {
  const int64_t c = t.column_index(column);
  EXPECT_GE(c, 0) << "no column " << column;
  if (c < 0 || !t.present[row][c]) return std::numeric_limits<double>::quiet_NaN();
  return t.values[row][c];
}

bool has(const L::MetricsTable& t, size_t row, const std::string& column) {
  const int64_t c = t.column_index(column);
  return c >= 0 && t.present[row][c];
}

}  // namespace

TEST(LoggersFit, DefaultLoggerWritesTheRunFolder) {
  TempDir dir;
  L::Trainer trainer(
      options(dir).max_epochs(2).log_every_n_steps(1).val_check_interval(2).num_sanity_val_steps(
          1));
  trainer.fit(std::make_shared<Known>());

  const fs::path run = dir.path() / "lightning_logs" / "version_0";
  EXPECT_EQ(trainer.log_dir(), run.string());
  ASSERT_TRUE(fs::is_directory(run));
  EXPECT_TRUE(fs::is_regular_file(run / "hparams.yaml"));
  EXPECT_TRUE(fs::is_regular_file(run / "metrics.csv"));
  EXPECT_TRUE(fs::is_regular_file(run / "report.html"));
  int event_files = 0;
  for (const auto& entry : fs::directory_iterator(run)) {
    if (entry.path().filename().string().rfind("events.out.tfevents.", 0) == 0) ++event_files;
  }
  EXPECT_EQ(event_files, 1);
  ASSERT_EQ(trainer.loggers().size(), 2u);
  EXPECT_EQ(trainer.loggers()[0]->log_dir(), run.string());
  EXPECT_EQ(trainer.loggers()[1]->log_dir(), run.string());

  // hparams.yaml holds the module's hyperparameters.
  EXPECT_EQ(L::load_hparams_from_yaml((run / "hparams.yaml").string()),
            (L::HParams{{"lr", 0.01}, {"name", "known"}, {"layers", L::HParamValue::List{4, 2}}}));

  // metrics.csv: sorted columns; per step a row with "a"; validation after
  // batches 2 and 4 of each epoch (val_check_interval=2), logged at the step of
  // the batch it followed; the sanity check logs nothing.
  const L::MetricsTable t = L::read_metrics_csv((run / "metrics.csv").string());
  EXPECT_EQ(t.columns, (std::vector<std::string>{"a", "epoch", "step", "val_v"}));
  struct Row {
    int64_t step, epoch;
    std::string metric;
    double value;
  };
  const std::vector<Row> expected = {
      {0, 0, "a", 0},       {1, 0, "a", 1},       {1, 0, "val_v", 100}, {2, 0, "a", 2},
      {3, 0, "a", 3},       {3, 0, "val_v", 100}, {4, 1, "a", 10},      {5, 1, "a", 11},
      {5, 1, "val_v", 101}, {6, 1, "a", 12},      {7, 1, "a", 13},      {7, 1, "val_v", 101},
  };
  ASSERT_EQ(t.values.size(), expected.size());
  for (size_t r = 0; r < expected.size(); ++r) {
    SCOPED_TRACE("row " + std::to_string(r));
    EXPECT_EQ(cell(t, r, "step"), expected[r].step);
    EXPECT_EQ(cell(t, r, "epoch"), expected[r].epoch);
    EXPECT_EQ(cell(t, r, expected[r].metric), expected[r].value);
    const std::string other = expected[r].metric == "a" ? "val_v" : "a";
    EXPECT_FALSE(has(t, r, other));
  }
}

TEST(LoggersFit, VersionsCountUpAcrossTrainersAndStages) {
  TempDir dir;
  auto module = std::make_shared<Known>();
  L::Trainer first(options(dir).max_epochs(1));
  first.fit(module);
  first.test(module, L::testing::loader(4, 2));  // same Trainer: same run folder
  L::Trainer second(options(dir).max_epochs(1));
  second.fit(module);
  EXPECT_EQ(fs::path(first.log_dir()).filename(), "version_0");
  EXPECT_EQ(fs::path(second.log_dir()).filename(), "version_1");
  EXPECT_FALSE(fs::exists(dir.path() / "lightning_logs" / "version_2"));
  // The test metrics joined the first run's metrics.csv.
  const auto t = L::read_metrics_csv(first.log_dir() + "/metrics.csv");
  EXPECT_GE(t.column_index("test_loss"), 0);
}

TEST(LoggersFit, ExplicitLoggersAndLogDir) {
  TempDir dir;
  auto csv = std::make_shared<L::CSVLogger>(
      L::CSVLoggerOptions(dir.str()).name("exp").version("baseline"));
  L::Trainer trainer(options(dir).max_epochs(1).logger(csv));
  trainer.fit(std::make_shared<Known>());
  EXPECT_EQ(trainer.log_dir(), (dir.path() / "exp" / "baseline").string());
  EXPECT_TRUE(fs::is_regular_file(dir.path() / "exp" / "baseline" / "metrics.csv"));
  EXPECT_FALSE(fs::exists(dir.path() / "lightning_logs"));

  L::Trainer none(options(dir).max_epochs(1).logger(false));
  none.fit(std::make_shared<Known>());
  EXPECT_TRUE(none.loggers().empty());
  EXPECT_EQ(none.log_dir(), dir.str());
  EXPECT_FALSE(fs::exists(dir.path() / "lightning_logs"));
}

TEST(LoggersFit, UnwritableRootFailsBeforeTraining) {
  TempDir dir;
  std::ofstream(dir.path() / "a_file") << "not a directory";
  struct Counting : Known {
    L::StepOutput training_step(L::Batch& b, int64_t i) override {
      ++steps;
      return Known::training_step(b, i);
    }
    int steps = 0;
  };
  auto module = std::make_shared<Counting>();
  L::Trainer trainer(
      options(dir).max_epochs(1).default_root_dir((dir.path() / "a_file" / "sub").string()));
  EXPECT_LIGHTNING_ERROR(trainer.fit(module), (dir.path() / "a_file").string());
  EXPECT_EQ(module->steps, 0);
}

TEST(LoggersFit, NanAndInfReachTheCsv) {
  TempDir dir;
  struct Odd : Known {
    L::StepOutput training_step(L::Batch& b, int64_t i) override {
      log("odd", i == 0   ? std::numeric_limits<double>::quiet_NaN()
                 : i == 1 ? std::numeric_limits<double>::infinity()
                          : -std::numeric_limits<double>::infinity());
      return BoringModule::training_step(b, i);
    }
  };
  L::Trainer trainer(options(dir).max_epochs(1).limit_train_batches(3).log_every_n_steps(1));
  trainer.fit(std::make_shared<Odd>());
  const auto t = L::read_metrics_csv(trainer.log_dir() + "/metrics.csv");
  std::vector<double> odd;
  for (size_t r = 0; r < t.values.size(); ++r) {
    if (has(t, r, "odd")) odd.push_back(cell(t, r, "odd"));
  }
  ASSERT_EQ(odd.size(), 3u);
  EXPECT_TRUE(std::isnan(odd[0]));
  EXPECT_EQ(odd[1], std::numeric_limits<double>::infinity());
  EXPECT_EQ(odd[2], -std::numeric_limits<double>::infinity());
}

TEST(LoggersFit, OnlyTheConfiguredLoggerOptionValuesAreAccepted) {
  std::shared_ptr<L::Logger> null;
  EXPECT_LIGHTNING_ERROR(
      L::Trainer(L::TrainerOptions().logger(std::vector<std::shared_ptr<L::Logger>>{null})),
      "logger[0] is a null pointer");
  EXPECT_LIGHTNING_ERROR(L::LoggerVersion("a/b"), "a logger version string names one folder");
  EXPECT_LIGHTNING_ERROR(L::LoggerVersion(-1), "a logger version must be >= 0, got -1");
}

TEST(LoggersFit, NextVersion) {
  TempDir dir;
  EXPECT_EQ(L::next_version((dir.path() / "missing").string()), 0);
  fs::create_directories(dir.path() / "version_0");
  fs::create_directories(dir.path() / "version_7");
  fs::create_directories(dir.path() / "version_x");
  fs::create_directories(dir.path() / "other");
  EXPECT_EQ(L::next_version(dir.str()), 8);
}

TEST(LoggersFit, MetricsCsvWithGradientAccumulation) {
  TempDir dir;
  // 4 batches per epoch, 2 per optimizer step: rows at steps 0 and 1 carry the
  // value logged by the batch that stepped (batch 1 and batch 3).
  L::Trainer trainer(options(dir)
                         .max_epochs(1)
                         .log_every_n_steps(1)
                         .accumulate_grad_batches(2)
                         .num_sanity_val_steps(0)
                         .limit_val_batches(0));
  trainer.fit(std::make_shared<Known>());
  const auto t = L::read_metrics_csv(trainer.log_dir() + "/metrics.csv");
  ASSERT_EQ(t.values.size(), 2u);
  EXPECT_EQ(cell(t, 0, "step"), 0);
  EXPECT_EQ(cell(t, 0, "a"), 1);
  EXPECT_EQ(cell(t, 1, "step"), 1);
  EXPECT_EQ(cell(t, 1, "a"), 3);
  EXPECT_EQ(cell(t, 1, "epoch"), 0);
  EXPECT_EQ(trainer.global_step(), 2);
}
