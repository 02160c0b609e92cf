// CSVLogger: run folder layout and versions, metrics.csv content (header,
// rewrites, flushing, prefix, escaping, number format), hparams.yaml, errors.
#include "lightning/loggers/csv_logger.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>

#include "lightning/loggers/report.h"
#include "support/errors.h"
#include "support/temp_dir.h"

namespace L = lightning;
namespace fs = std::filesystem;

namespace {

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class CSVLoggerTest : public ::testing::Test {
 protected:
  std::string dir() const { return root_.string(); }
  L::CSVLoggerOptions opts() const { return L::CSVLoggerOptions(dir()); }
  // A logger that writes metrics.csv on every call and no report.
  L::CSVLoggerOptions every_call() const {
    return opts().flush_logs_every_n_steps(1).report(false);
  }

  L::testing::TempDir tmp_{"lightning_csv_test"};
  fs::path root_ = tmp_.path();
};

TEST_F(CSVLoggerTest, TwoLoggersInOneSaveDirGetVersion0And1) {
  L::CSVLogger a(opts());
  a.log_hyperparams({});
  L::CSVLogger b(opts());
  b.log_hyperparams({});
  EXPECT_EQ(a.version(), "version_0");
  EXPECT_EQ(b.version(), "version_1");
  EXPECT_EQ(a.name(), "lightning_logs");
  EXPECT_EQ(a.save_dir(), dir());
  EXPECT_EQ(fs::path(a.log_dir()), root_ / "lightning_logs" / "version_0");
  EXPECT_EQ(fs::path(b.log_dir()), root_ / "lightning_logs" / "version_1");
  EXPECT_TRUE(fs::is_regular_file(root_ / "lightning_logs" / "version_0" / "hparams.yaml"));
  EXPECT_TRUE(fs::is_regular_file(root_ / "lightning_logs" / "version_1" / "hparams.yaml"));
}

TEST_F(CSVLoggerTest, VersionIsResolvedOnceAndLazily) {
  L::CSVLogger a(opts().name("exp"));
  fs::create_directories(root_ / "exp" / "version_4");
  // Resolved at first use (here), not at construction.
  EXPECT_EQ(a.version(), "version_5");
  fs::create_directories(root_ / "exp" / "version_9");
  EXPECT_EQ(a.version(), "version_5");
  EXPECT_EQ(fs::path(a.log_dir()), root_ / "exp" / "version_5");
}

TEST_F(CSVLoggerTest, ExplicitIntAndStringVersionsAndEmptyName) {
  L::CSVLogger by_int(opts().name("exp").version(3));
  by_int.log_hyperparams({});
  EXPECT_EQ(by_int.version(), "version_3");
  EXPECT_TRUE(fs::is_directory(root_ / "exp" / "version_3"));

  L::CSVLogger by_string(opts().name("exp").version("baseline"));
  by_string.log_hyperparams({});
  EXPECT_EQ(by_string.version(), "baseline");
  EXPECT_TRUE(fs::is_directory(root_ / "exp" / "baseline"));

  // The next free number ignores non-numeric folders.
  L::CSVLogger next(opts().name("exp"));
  EXPECT_EQ(next.version(), "version_4");

  // As Lightning: an empty name puts the versions straight under save_dir.
  L::CSVLogger no_name(opts().name(""));
  EXPECT_EQ(fs::path(no_name.log_dir()), root_ / "version_0");
}

TEST_F(CSVLoggerTest, HeaderIsTheSortedUnionAndTheFileIsRewrittenForANewKey) {
  L::CSVLogger logger(every_call());
  logger.log_hyperparams({});
  const fs::path csv = fs::path(logger.log_dir()) / "metrics.csv";
  EXPECT_FALSE(fs::exists(csv));  // nothing logged yet

  logger.log_metrics({{"train_loss", 0.5}, {"epoch", 0}}, 0);
  EXPECT_EQ(read_text(csv), "epoch,step,train_loss\n0,0,0.5\n");
  logger.log_metrics({{"train_loss", 0.25}, {"epoch", 0}}, 1);
  EXPECT_EQ(read_text(csv), "epoch,step,train_loss\n0,0,0.5\n0,1,0.25\n");
  // A new key: the whole file gets the new header, earlier rows an empty cell.
  logger.log_metrics({{"val_acc", 1.0}, {"epoch", 0}}, 1);
  EXPECT_EQ(read_text(csv),
            "epoch,step,train_loss,val_acc\n"
            "0,0,0.5,\n"
            "0,1,0.25,\n"
            "0,1,,1.0\n");
  logger.log_metrics({{"train_loss", 0.125}, {"epoch", 1}}, 2);
  logger.log_metrics({{"a_first", -3.0}, {"epoch", 1}}, 2);
  logger.finalize("success");

  const L::MetricsTable t = L::read_metrics_csv(csv.string());
  ASSERT_EQ(t.columns,
            (std::vector<std::string>{"a_first", "epoch", "step", "train_loss", "val_acc"}));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<std::vector<double>> expected = {{nan, 0, 0, 0.5, nan},
                                                     {nan, 0, 1, 0.25, nan},
                                                     {nan, 0, 1, nan, 1.0},
                                                     {nan, 1, 2, 0.125, nan},
                                                     {-3.0, 1, 2, nan, nan}};
  ASSERT_EQ(t.values.size(), expected.size());
  for (size_t r = 0; r < expected.size(); ++r) {
    for (size_t c = 0; c < expected[r].size(); ++c) {
      SCOPED_TRACE("row " + std::to_string(r) + " column " + t.columns[c]);
      EXPECT_EQ(t.present[r][c], !std::isnan(expected[r][c]));
      if (t.present[r][c]) {
        EXPECT_EQ(t.values[r][c], expected[r][c]);
      }
    }
  }
  EXPECT_EQ(t.column_index("step"), 2);
  EXPECT_EQ(t.column_index("missing"), -1);
}

TEST_F(CSVLoggerTest, FlushesEveryNCallsAndOnSaveAndFinalize) {
  L::CSVLogger logger(opts().flush_logs_every_n_steps(3).report(false));
  logger.log_hyperparams({});
  const fs::path csv = fs::path(logger.log_dir()) / "metrics.csv";
  logger.log_metrics({{"loss", 1.0}}, 0);
  logger.log_metrics({{"loss", 2.0}}, 1);
  EXPECT_FALSE(fs::exists(csv));
  logger.log_metrics({{"loss", 3.0}}, 2);  // the third call flushes
  EXPECT_EQ(read_text(csv), "loss,step\n1.0,0\n2.0,1\n3.0,2\n");
  logger.log_metrics({{"loss", 4.0}}, 3);
  logger.log_metrics({{"loss", 5.0}}, 4);
  EXPECT_EQ(read_text(csv), "loss,step\n1.0,0\n2.0,1\n3.0,2\n");
  logger.save();
  EXPECT_EQ(read_text(csv), "loss,step\n1.0,0\n2.0,1\n3.0,2\n4.0,3\n5.0,4\n");
  logger.save();  // nothing new: unchanged
  EXPECT_EQ(read_text(csv), "loss,step\n1.0,0\n2.0,1\n3.0,2\n4.0,3\n5.0,4\n");
  logger.log_metrics({{"loss", 6.0}}, 5);
  logger.finalize("success");
  EXPECT_EQ(read_text(csv), "loss,step\n1.0,0\n2.0,1\n3.0,2\n4.0,3\n5.0,4\n6.0,5\n");
}

TEST_F(CSVLoggerTest, AMetricsCsvDeletedDuringTheRunIsWrittenAfresh) {
  L::CSVLogger logger(every_call());
  logger.log_metrics({{"loss", 1.0}}, 0);
  const fs::path csv = fs::path(logger.log_dir()) / "metrics.csv";
  fs::remove(csv);
  logger.log_metrics({{"loss", 2.0}}, 1);
  EXPECT_EQ(read_text(csv), "loss,step\n2.0,1\n");  // a header, not a bare row
}

TEST_F(CSVLoggerTest, DestructorWritesRowsNotYetSaved) {
  fs::path csv;
  {
    L::CSVLogger logger(opts());
    logger.log_metrics({{"loss", 0.5}}, 7);
    csv = fs::path(logger.log_dir()) / "metrics.csv";
    EXPECT_FALSE(fs::exists(csv));
  }
  EXPECT_EQ(read_text(csv), "loss,step\n0.5,7\n");
  // A folder created without log_hyperparams still gets its hparams.yaml.
  EXPECT_TRUE(fs::is_regular_file(csv.parent_path() / "hparams.yaml"));
}

TEST_F(CSVLoggerTest, PrefixJoinsWithADashAndStepStaysUnprefixed) {
  L::CSVLogger logger(every_call().prefix("fold1"));
  logger.log_metrics({{"loss", 0.5}, {"epoch", 2}}, 10);
  EXPECT_EQ(read_text(fs::path(logger.log_dir()) / "metrics.csv"),
            "fold1-epoch,fold1-loss,step\n2,0.5,10\n");
}

TEST_F(CSVLoggerTest, NumbersAreWrittenAsPythonReprAndStepEpochAsInts) {
  L::CSVLogger logger(every_call());
  logger.log_metrics({{"a", 0.1},
                      {"b", 1.0},
                      {"c", 1e-05},
                      {"d", 0.0001},
                      {"e", 1e16},
                      {"f", 123456.789},
                      {"g", -0.0},
                      {"h", static_cast<double>(0.1f)},
                      {"i", 1.5e-300},
                      {"j", 1e15},
                      {"epoch", 3}},
                     1234567890123LL);
  EXPECT_EQ(read_text(fs::path(logger.log_dir()) / "metrics.csv"),
            "a,b,c,d,e,epoch,f,g,h,i,j,step\n"
            "0.1,1.0,1e-05,0.0001,1e+16,3,123456.789,-0.0,0.10000000149011612,1.5e-300,"
            "1000000000000000.0,1234567890123\n");
}

TEST_F(CSVLoggerTest, NaNAndInfinitiesAreWrittenAndReadBack) {
  L::CSVLogger logger(every_call());
  const double inf = std::numeric_limits<double>::infinity();
  logger.log_metrics(
      {{"loss", std::numeric_limits<double>::quiet_NaN()}, {"hi", inf}, {"lo", -inf}}, 0);
  const fs::path csv = fs::path(logger.log_dir()) / "metrics.csv";
  EXPECT_EQ(read_text(csv), "hi,lo,loss,step\ninf,-inf,nan,0\n");
  const L::MetricsTable t = L::read_metrics_csv(csv.string());
  ASSERT_EQ(t.values.size(), 1u);
  EXPECT_TRUE(t.present[0][0] && t.present[0][1] && t.present[0][2]);
  EXPECT_EQ(t.values[0][0], inf);
  EXPECT_EQ(t.values[0][1], -inf);
  EXPECT_TRUE(std::isnan(t.values[0][2]));
}

TEST_F(CSVLoggerTest, MetricNameWithCommaQuoteAndNewlineIsEscaped) {
  const std::string name = "acc, \"top\"\nk";
  L::CSVLogger logger(every_call());
  logger.log_metrics({{name, 0.75}, {"plain", 1.0}}, 0);
  logger.log_metrics({{name, 0.5}, {"plain", 2.0}}, 1);
  const fs::path csv = fs::path(logger.log_dir()) / "metrics.csv";
  EXPECT_EQ(read_text(csv), "\"acc, \"\"top\"\"\nk\",plain,step\n0.75,1.0,0\n0.5,2.0,1\n");
  const L::MetricsTable t = L::read_metrics_csv(csv.string());
  EXPECT_EQ(t.columns, (std::vector<std::string>{name, "plain", "step"}));
  ASSERT_EQ(t.values.size(), 2u);
  EXPECT_EQ(t.values[1][0], 0.5);
  EXPECT_EQ(t.values[1][1], 2.0);
}

TEST_F(CSVLoggerTest, UnwritableSaveDirFailsAtLogHyperparamsNamingThePath) {
  std::ofstream(root_ / "file") << "not a folder";
  const std::string save_dir = (root_ / "file" / "sub").string();
  L::CSVLogger logger{L::CSVLoggerOptions(save_dir)};
  EXPECT_LIGHTNING_ERROR(logger.log_hyperparams({{"lr", 0.1}}), save_dir);
  EXPECT_LIGHTNING_ERROR(logger.log_hyperparams({{"lr", 0.1}}), "Not a directory");
  EXPECT_LIGHTNING_ERROR(logger.log_hyperparams({{"lr", 0.1}}), "writable save_dir");

  // The run folder itself taken by a file.
  fs::create_directories(root_ / "lightning_logs");
  std::ofstream(root_ / "lightning_logs" / "taken") << "x";
  L::CSVLogger taken(opts().version("taken"));
  EXPECT_LIGHTNING_ERROR(taken.log_hyperparams({}), "taken");
}

TEST_F(CSVLoggerTest, InvalidFlushIntervalIsAnError) {
  EXPECT_LIGHTNING_ERROR(L::CSVLogger(L::CSVLoggerOptions(dir()).flush_logs_every_n_steps(0)),
                         "flush_logs_every_n_steps must be >= 1, got 0");
}

TEST_F(CSVLoggerTest, HparamsYamlIsWrittenAndMerged) {
  L::CSVLogger logger(every_call());
  logger.log_hyperparams({{"lr", 0.01}, {"layers", 3}, {"name", "mlp"}});
  const std::string yaml = (fs::path(logger.log_dir()) / "hparams.yaml").string();
  ASSERT_TRUE(fs::is_regular_file(yaml));
  EXPECT_EQ(L::load_hparams_from_yaml(yaml),
            L::HParams({{"lr", 0.01}, {"layers", 3}, {"name", "mlp"}}));
  // A second entry point (test after fit) adds its values, as Lightning's update().
  logger.log_hyperparams({{"batch_size", 32}, {"lr", 0.02}});
  EXPECT_EQ(L::load_hparams_from_yaml(yaml),
            L::HParams({{"lr", 0.02}, {"layers", 3}, {"name", "mlp"}, {"batch_size", 32}}));
}

TEST_F(CSVLoggerTest, FinalizeWritesReportOnlyWhenSomethingWasLogged) {
  L::CSVLogger idle(opts().name("idle"));
  idle.finalize("success");
  EXPECT_FALSE(fs::exists(root_ / "idle"));

  L::CSVLogger logger(opts());
  logger.log_hyperparams({{"lr", 0.1}});
  logger.log_metrics({{"loss", 1.0}, {"epoch", 0}}, 0);
  logger.log_metrics({{"loss", 0.5}, {"epoch", 0}}, 1);
  logger.finalize("success");
  const fs::path report = fs::path(logger.log_dir()) / "report.html";
  ASSERT_TRUE(fs::is_regular_file(report));
  const std::string html = read_text(report);
  EXPECT_THAT(html, ::testing::HasSubstr("<dt>status</dt><dd>success</dd>"));
  EXPECT_THAT(html, ::testing::HasSubstr("<dt>start</dt>"));
  EXPECT_THAT(html, ::testing::HasSubstr("data-metric=\"loss\""));

  L::CSVLogger quiet(opts().name("quiet").report(false));
  quiet.log_metrics({{"loss", 1.0}}, 0);
  quiet.finalize("success");
  EXPECT_TRUE(fs::exists(fs::path(quiet.log_dir()) / "metrics.csv"));
  EXPECT_FALSE(fs::exists(fs::path(quiet.log_dir()) / "report.html"));
}

TEST_F(CSVLoggerTest, AnEarlierMetricsCsvInTheSameVersionIsReplaced) {
  fs::create_directories(root_ / "lightning_logs" / "v");
  std::ofstream(root_ / "lightning_logs" / "v" / "metrics.csv") << "old,step\n1,0\n";
  L::CSVLogger logger(every_call().version("v"));
  logger.log_hyperparams({});
  logger.log_metrics({{"new", 2.0}}, 0);
  EXPECT_EQ(read_text(root_ / "lightning_logs" / "v" / "metrics.csv"), "new,step\n2.0,0\n");
}

}  // namespace
