// Cross-check of TensorBoardLogger with TensorBoard's own reader: a small fit
// logs step and epoch scalars, "hp_metric" and hyperparameters; tensorboard_read.py
// loads the run folder with TensorBoard's EventAccumulator and decodes the
// 'hparams' plugin records with HParamsPluginData. Every scalar (tag, step and
// float32 value) and every hparams record must be what the fit logged.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "lightning/loggers/tensorboard_logger.h"
#include "support/boring.h"
#include "support/python.h"
#include "support/temp_dir.h"

namespace L = lightning;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kBatchesPerEpoch = 4;
constexpr int64_t kEpochs = 2;

// (step, value) in file order, per tag.
using Points = std::vector<std::pair<int64_t, float>>;
using Scalars = std::map<std::string, Points>;

L::HParams module_hparams() {
  return L::HParams{{"lr", 0.05},
                    {"hidden", 4},
                    {"name", "tb_oracle"},
                    {"flag", true},
                    {"layers", L::HParamValue::List{64, 32}},
                    {"dropout", nullptr},
                    {"optim", L::HParams{{"beta", 0.9}, {"kind", "sgd"}}}};
}

// BoringModule logging a loss and a value known in advance ("ramp"), both on
// step and on epoch, the validation loss, and "hp_metric" at each validation end.
class TensorBoardModule : public L::testing::BoringModule {
 public:
  TensorBoardModule() { save_hyperparameters(module_hparams()); }

  L::StepOutput training_step(L::Batch& batch, int64_t batch_idx) override {
    auto loss = BoringModule::loss(batch);
    const auto both = L::LogOptions().on_step(true).on_epoch(true);
    log("train_loss", loss, both);
    log("ramp", ramp(current_epoch(), batch_idx), both);
    return loss;
  }
  void on_validation_epoch_end() override {
    log("hp_metric", 10.0 + static_cast<double>(current_epoch()));
  }
  L::DataLoaders train_dataloader() override { return L::testing::loader(2 * kBatchesPerEpoch, 2); }
  L::DataLoaders val_dataloader() override { return L::testing::loader(4, 2); }

  static double ramp(int64_t epoch, int64_t batch_idx) {
    return 0.25 * static_cast<double>(batch_idx + 1) + static_cast<double>(epoch);
  }
};

// Keeps what the Trainer hands to its loggers, to know what the event file must hold.
class KeepingLogger : public L::Logger {
 public:
  void log_metrics(const L::Metrics& metrics, int64_t step) override {
    rows.push_back({false, step, metrics});
  }
  void log_epoch_metrics(const L::Metrics& metrics, int64_t epoch) override {
    rows.push_back({true, epoch, metrics});
  }
  void log_hyperparams(const L::HParams& hp) override { hparams.push_back(hp); }
  struct Row {
    bool by_epoch;
    int64_t step;
    L::Metrics metrics;
  };
  std::vector<Row> rows;
  std::vector<L::HParams> hparams;
};

// What TensorBoardLogger writes for those calls (lightning/loggers/tensorboard_logger.h):
// "hp_metric" = -1 at step 0 with the hyperparameters, every metric at its
// step, and the epoch-end rows again as "by_epoch/<metric>" (not "epoch") at the epoch index.
Scalars expected_scalars(const KeepingLogger& kept) {
  Scalars out;
  out["hp_metric"].emplace_back(0, -1.0f);
  for (const auto& row : kept.rows) {
    for (const auto& [name, value] : row.metrics) {
      if (row.by_epoch && name == "epoch") continue;
      out[(row.by_epoch ? "by_epoch/" : "") + name].emplace_back(row.step,
                                                                 static_cast<float>(value));
    }
  }
  return out;
}

std::map<std::string, std::vector<int64_t>> steps_of(const Scalars& scalars) {
  std::map<std::string, std::vector<int64_t>> out;
  for (const auto& [tag, points] : scalars) {
    for (const auto& point : points) out[tag].push_back(point.first);
  }
  return out;
}

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> fields;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, '\t')) fields.push_back(field);
  return fields;
}

double to_double(const std::string& text) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  EXPECT_TRUE(end != text.c_str() && *end == '\0') << "not a number: '" << text << "'";
  return v;
}

// tensorboard_read.py's output.
struct Read {
  std::vector<std::string> file_version;
  Scalars scalars;
  std::vector<std::string> not_float32;  // scalar values that are not a float32
  std::vector<std::string> hparams_tags;
  std::vector<std::pair<std::string, std::string>> experiment_hparams;  // name, DataType
  std::vector<std::string> experiment_metrics;
  std::map<std::string, std::pair<std::string, std::string>> session_hparams;  // kind, value
  std::vector<double> session_start_times, session_end_times;
  std::vector<std::string> session_end_statuses;
  std::vector<std::string> unknown;  // lines of an unexpected shape
};

Read parse(const std::string& out) {
  Read r;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    const auto f = split_tabs(line);
    const std::string kind = f.empty() ? "" : f[0];
    if (kind == "file_version" && f.size() == 2) {
      r.file_version.push_back(f[1]);
    } else if (kind == "scalar" && f.size() == 4) {
      const double value = to_double(f[3]);
      if (static_cast<double>(static_cast<float>(value)) != value) r.not_float32.push_back(line);
      r.scalars[f[1]].emplace_back(std::stoll(f[2]), static_cast<float>(value));
    } else if (kind == "hparams_tag" && f.size() == 2) {
      r.hparams_tags.push_back(f[1]);
    } else if (kind == "experiment_hparam" && f.size() == 3) {
      r.experiment_hparams.emplace_back(f[1], f[2]);
    } else if (kind == "experiment_metric" && f.size() == 2) {
      r.experiment_metrics.push_back(f[1]);
    } else if (kind == "session_hparam" && f.size() == 4) {
      r.session_hparams[f[1]] = {f[2], f[3]};
    } else if (kind == "session_start_time" && f.size() == 2) {
      r.session_start_times.push_back(to_double(f[1]));
    } else if (kind == "session_end_time" && f.size() == 2) {
      r.session_end_times.push_back(to_double(f[1]));
    } else if (kind == "session_end_status" && f.size() == 2) {
      r.session_end_statuses.push_back(f[1]);
    } else {
      r.unknown.push_back(line);
    }
  }
  return r;
}

}  // namespace

TEST(LightningTensorBoardReader, EventAccumulatorReadsWhatTheFitLogged) {
  L::testing::TempDir dir("lightning_tb_reader");
  auto kept = std::make_shared<KeepingLogger>();
  auto tb = std::make_shared<L::TensorBoardLogger>(L::TensorBoardLoggerOptions(dir.str()));
  auto module = std::make_shared<TensorBoardModule>();
  // The event writer's clock (system_clock), not std::time: glibc's time()
  // reads a coarse clock that can lag into the previous second.
  auto now = [] {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const double before = now();
  {
    L::Trainer trainer(L::TrainerOptions()
                           .accelerator("cpu")
                           .devices(1)
                           .max_epochs(kEpochs)
                           .log_every_n_steps(1)
                           .enable_progress_bar(false)
                           .enable_model_summary(false)
                           .enable_checkpointing(false)
                           .logger({kept, tb}));
    trainer.fit(module);
  }
  const double after = now();

  // What the fit logged, known in advance apart from the two losses.
  ASSERT_EQ(kept->hparams.size(), 1u);
  EXPECT_EQ(kept->hparams[0], module_hparams());
  const Scalars logged = expected_scalars(*kept);
  const std::vector<int64_t> every_step = {0, 1, 2, 3, 4, 5, 6, 7};
  const std::vector<int64_t> epoch_ends = {3, 7};  // the step of each epoch's last batch
  const std::vector<int64_t> epochs = {0, 1};
  EXPECT_EQ(steps_of(logged), (std::map<std::string, std::vector<int64_t>>{
                                  {"by_epoch/hp_metric", epochs},
                                  {"by_epoch/ramp_epoch", epochs},
                                  {"by_epoch/train_loss_epoch", epochs},
                                  {"by_epoch/val_loss", epochs},
                                  // batch rows, then the validation row and the epoch row
                                  {"epoch", {0, 1, 2, 3, 3, 3, 4, 5, 6, 7, 7, 7}},
                                  {"hp_metric", {0, 3, 7}},
                                  {"ramp_epoch", epoch_ends},
                                  {"ramp_step", every_step},
                                  {"train_loss_epoch", epoch_ends},
                                  {"train_loss_step", every_step},
                                  {"val_loss", epoch_ends}}));
  Points ramp_step;
  for (int64_t e = 0; e < kEpochs; ++e) {
    for (int64_t b = 0; b < kBatchesPerEpoch; ++b) {
      ramp_step.emplace_back(e * kBatchesPerEpoch + b,
                             static_cast<float>(TensorBoardModule::ramp(e, b)));
    }
  }
  EXPECT_EQ(logged.at("ramp_step"), ramp_step);
  EXPECT_EQ(logged.at("ramp_epoch"), (Points{{3, 0.625f}, {7, 1.625f}}));  // the batch means
  EXPECT_EQ(logged.at("by_epoch/ramp_epoch"), (Points{{0, 0.625f}, {1, 1.625f}}));
  EXPECT_EQ(logged.at("hp_metric"), (Points{{0, -1.0f}, {3, 10.0f}, {7, 11.0f}}));
  EXPECT_EQ(logged.at("epoch"), (Points{{0, 0.0f},
                                        {1, 0.0f},
                                        {2, 0.0f},
                                        {3, 0.0f},
                                        {3, 0.0f},
                                        {3, 0.0f},
                                        {4, 1.0f},
                                        {5, 1.0f},
                                        {6, 1.0f},
                                        {7, 1.0f},
                                        {7, 1.0f},
                                        {7, 1.0f}}));

  // One event file in the run folder: the one the logger wrote.
  std::vector<fs::path> event_files;
  for (const auto& entry : fs::directory_iterator(tb->log_dir())) {
    if (entry.path().filename().string().rfind("events.out.tfevents.", 0) == 0) {
      event_files.push_back(entry.path());
    }
  }
  ASSERT_EQ(event_files.size(), 1u);
  EXPECT_EQ(event_files[0], fs::path(tb->event_file()));

  const auto python = L::testing::run_python(
      std::string(LIGHTNING_ORACLE_DIR) + "/tensorboard_read.py", {tb->log_dir()});
  ASSERT_EQ(python.status, 0) << python.describe();
  const Read read = parse(python.out);
  EXPECT_TRUE(read.unknown.empty()) << python.describe();

  EXPECT_EQ(read.file_version, std::vector<std::string>{"2.0"});
  // Every tag, step and value, float32-exact.
  EXPECT_TRUE(read.not_float32.empty()) << python.out;
  EXPECT_EQ(read.scalars, logged) << python.out;

  // The HParams tab: Lightning flattens nested maps with "/", writes None and
  // lists as strings, ints as numbers.
  EXPECT_EQ(read.hparams_tags,
            (std::vector<std::string>{"_hparams_/experiment", "_hparams_/session_end_info",
                                      "_hparams_/session_start_info"}));
  EXPECT_EQ(read.experiment_hparams,
            (std::vector<std::pair<std::string, std::string>>{{"lr", "DATA_TYPE_FLOAT64"},
                                                              {"hidden", "DATA_TYPE_FLOAT64"},
                                                              {"name", "DATA_TYPE_STRING"},
                                                              {"flag", "DATA_TYPE_BOOL"},
                                                              {"layers", "DATA_TYPE_STRING"},
                                                              {"dropout", "DATA_TYPE_STRING"},
                                                              {"optim/beta", "DATA_TYPE_FLOAT64"},
                                                              {"optim/kind", "DATA_TYPE_STRING"}}));
  EXPECT_EQ(read.experiment_metrics, std::vector<std::string>{"hp_metric"});
  EXPECT_EQ(read.session_hparams, (std::map<std::string, std::pair<std::string, std::string>>{
                                      {"lr", {"number_value", "0.05"}},
                                      {"hidden", {"number_value", "4.0"}},
                                      {"name", {"string_value", "tb_oracle"}},
                                      {"flag", {"bool_value", "true"}},
                                      {"layers", {"string_value", "[64, 32]"}},
                                      {"dropout", {"string_value", "None"}},
                                      {"optim/beta", {"number_value", "0.9"}},
                                      {"optim/kind", {"string_value", "sgd"}}}));
  ASSERT_EQ(read.session_start_times.size(), 1u);
  ASSERT_EQ(read.session_end_times.size(), 1u);
  EXPECT_GE(read.session_start_times[0], before);
  EXPECT_LE(read.session_start_times[0], read.session_end_times[0]);
  EXPECT_LE(read.session_end_times[0], after);
  EXPECT_EQ(read.session_end_statuses, std::vector<std::string>{"STATUS_SUCCESS"});
}
