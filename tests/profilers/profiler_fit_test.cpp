// The Trainer's profiling: the actions a fit/validate/test/predict records,
// against what Python Lightning 2.6's SimpleProfiler records for the same run
// (lightning_actions.txt, written by lightning_actions.py), the report files,
// the options and their errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "lightning/lightning.h"
#include "support/python.h"
#include "support/temp_dir.h"

namespace L = lightning;
using ::testing::HasSubstr;

namespace {

// The Python script's module: Linear(4, 2), cross-entropy, SGD(lr=0.1).
class Net : public L::LightningModule {
 public:
  Net() { layer = register_module("layer", torch::nn::Linear(4, 2)); }
  at::Tensor loss(L::Batch& batch) {
    auto [x, y] = batch.unpack<2>();
    return torch::nn::functional::cross_entropy(layer->forward(x), y);
  }
  L::StepOutput training_step(L::Batch& batch, int64_t) override { return loss(batch); }
  L::StepOutput validation_step(L::Batch& batch, int64_t) override {
    log("val_loss", loss(batch));
    return {};
  }
  L::StepOutput test_step(L::Batch& batch, int64_t) override {
    log("test_loss", loss(batch));
    return {};
  }
  c10::IValue predict_step(L::Batch& batch, int64_t) override { return layer->forward(batch[0]); }
  L::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.1));
  }
  torch::nn::Linear layer{nullptr};
};

L::DataLoader loader() {
  auto x = at::randn({12, 4});
  auto y = at::randint(0, 2, {12}, at::kLong);
  return L::DataLoader(std::make_shared<L::TensorDataset>(std::vector<at::Tensor>{x, y}),
                       L::DataLoaderOptions().batch_size(4));
}

L::TrainerOptions options(const std::shared_ptr<L::Profiler>& profiler, bool checkpointing,
                          const std::string& root) {
  return L::TrainerOptions()
      .max_epochs(2)
      .profiler(profiler)
      .logger(false)
      .enable_checkpointing(checkpointing)
      .enable_progress_bar(false)
      .enable_model_summary(false)
      .default_root_dir(root);
}

using Counts = std::map<std::pair<std::string, std::string>, int64_t>;  // (stage, action) -> calls

Counts run_all_stages(const std::string& root) {
  Counts counts;
  for (L::Stage stage : {L::Stage::Fit, L::Stage::Validate, L::Stage::Test, L::Stage::Predict}) {
    auto profiler = std::make_shared<L::SimpleProfiler>();
    L::Trainer trainer(options(profiler, stage == L::Stage::Fit, root));
    auto model = std::make_shared<Net>();
    testing::internal::CaptureStdout();
    switch (stage) {
      case L::Stage::Fit:
        trainer.fit(model, loader(), loader());
        break;
      case L::Stage::Validate:
        trainer.validate(model, loader(), std::nullopt, false);
        break;
      case L::Stage::Test:
        trainer.test(model, loader(), std::nullopt, false);
        break;
      case L::Stage::Predict:
        trainer.predict(model, loader());
        break;
    }
    testing::internal::GetCapturedStdout();
    for (const auto& [action, durations] : profiler->recorded_durations()) {
      counts[{L::to_string(stage), action}] = static_cast<int64_t>(durations.size());
    }
  }
  return counts;
}

Counts read_reference() {
  std::ifstream in(std::string(LIGHTNING_PROFILER_TEST_DIR) + "/lightning_actions.txt");
  EXPECT_TRUE(in.good());
  Counts counts;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string stage, action, calls;
    std::getline(fields, stage, '\t');
    std::getline(fields, action, '\t');
    std::getline(fields, calls, '\t');
    counts[{stage, action}] = std::stoll(calls);
  }
  return counts;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Actions Python Lightning records that have no counterpart here: hooks this
// library does not have (on_*_model_eval/train/zero_grad: eval()/train() and
// zero_grad are not overridable hooks here) and the Strategy's own hooks,
// which Lightning profiles as "[Strategy]...on_train_start" and so on.
bool lightning_only(const std::string& action) {
  return contains(action, "_model_eval") || contains(action, "_model_train") ||
         contains(action, "_model_zero_grad") ||
         (action.rfind("[Strategy]", 0) == 0 && contains(action, ".on_"));
}

// Actions recorded here that Lightning 2.6 does not profile: prepare_data.
bool ours_only(const std::string& action) { return contains(action, ".prepare_data"); }

}  // namespace

TEST(ProfilerFit, RecordsLightningsActionsWithLightningsCallCounts) {
  L::testing::TempDir dir;
  const Counts ours = run_all_stages(dir.str());
  const Counts python = read_reference();
  ASSERT_GT(python.size(), 100u);
  std::vector<std::string> missing, extra, wrong;
  for (const auto& [key, calls] : python) {
    if (lightning_only(key.second)) continue;
    auto it = ours.find(key);
    if (it == ours.end()) {
      missing.push_back(key.first + " " + key.second);
    } else if (it->second != calls) {
      wrong.push_back(key.first + " " + key.second + ": " + std::to_string(it->second) +
                      " calls, Lightning " + std::to_string(calls));
    }
  }
  for (const auto& [key, calls] : ours) {
    if (!python.count(key) && !ours_only(key.second)) extra.push_back(key.first + " " + key.second);
  }
  EXPECT_THAT(missing, ::testing::IsEmpty());
  EXPECT_THAT(wrong, ::testing::IsEmpty());
  EXPECT_THAT(extra, ::testing::IsEmpty());
}

TEST(ProfilerFit, ReportFilesGoToTheRunFolderPerStage) {
  L::testing::TempDir dir;
  auto profiler = std::make_shared<L::SimpleProfiler>(L::SimpleProfilerOptions().filename("perf"));
  L::Trainer trainer(options(profiler, false, dir.str()).logger(true));
  auto model = std::make_shared<Net>();
  testing::internal::CaptureStdout();
  trainer.fit(model, loader(), loader());
  trainer.validate(model, loader(), std::nullopt, false);
  const std::string printed = testing::internal::GetCapturedStdout();
  // Lightning's names: <stage>-<filename>.txt in trainer.log_dir (the
  // default loggers' version folder, created after the profiler started).
  const std::filesystem::path run = trainer.log_dir();
  EXPECT_EQ(run.filename(), "version_0");
  std::ifstream fit_file(run / "fit-perf.txt"), validate_file(run / "validate-perf.txt");
  ASSERT_TRUE(fit_file.good());
  ASSERT_TRUE(validate_file.good());
  std::stringstream fit_text, validate_text;
  fit_text << fit_file.rdbuf();
  validate_text << validate_file.rdbuf();
  EXPECT_THAT(fit_text.str(), ::testing::StartsWith("FIT Profiler Report\n"));
  EXPECT_THAT(fit_text.str(), HasSubstr("|  run_training_epoch"));
  EXPECT_THAT(validate_text.str(), ::testing::StartsWith("VALIDATE Profiler Report\n"));
  // As Lightning's, the profiler keeps what fit recorded.
  EXPECT_THAT(validate_text.str(), HasSubstr("|  run_training_epoch"));
  EXPECT_THAT(printed, ::testing::Not(HasSubstr("Profiler Report")));
}

TEST(ProfilerFit, ANamePrintsTheReportAtTheEndOfTheStage) {
  L::testing::TempDir dir;
  L::Trainer trainer(options(nullptr, false, dir.str()).profiler("simple"));
  EXPECT_NE(dynamic_cast<L::SimpleProfiler*>(&trainer.profiler()), nullptr);
  testing::internal::CaptureStdout();
  trainer.fit(std::make_shared<Net>(), loader(), loader());
  const std::string printed = testing::internal::GetCapturedStdout();
  EXPECT_THAT(printed, HasSubstr("FIT Profiler Report\n"));
  EXPECT_THAT(printed, HasSubstr("|  [Strategy]SingleDeviceStrategy.training_step"));

  L::Trainer advanced(options(nullptr, false, dir.str()).profiler("Advanced"));
  EXPECT_NE(dynamic_cast<L::AdvancedProfiler*>(&advanced.profiler()), nullptr);
  L::Trainer off(options(nullptr, false, dir.str()));
  EXPECT_NE(dynamic_cast<L::PassThroughProfiler*>(&off.profiler()), nullptr);
  EXPECT_EQ(off.profiler().summary(), "");
}

TEST(ProfilerFit, UserActionsFromInsideTheModule) {
  struct Timed : Net {
    L::StepOutput training_step(L::Batch& batch, int64_t) override {
      auto scope = trainer().profiler().profile("my_forward");
      return loss(batch);
    }
  };
  L::testing::TempDir dir;
  auto profiler = std::make_shared<L::SimpleProfiler>();
  L::Trainer trainer(options(profiler, false, dir.str()));
  testing::internal::CaptureStdout();
  trainer.fit(std::make_shared<Timed>(), loader(), loader());
  testing::internal::GetCapturedStdout();
  std::map<std::string, size_t> calls;
  for (const auto& [action, d] : profiler->recorded_durations()) calls[action] = d.size();
  EXPECT_EQ(calls["my_forward"], 6u);
  EXPECT_EQ(calls["run_training_batch"], 6u);
}

TEST(ProfilerFit, ActionsStopWhenAStepThrows) {
  struct Failing : Net {
    L::StepOutput training_step(L::Batch&, int64_t batch_idx) override {
      if (batch_idx == 1) throw std::runtime_error("boom");
      return {};
    }
  };
  L::testing::TempDir dir;
  auto profiler = std::make_shared<L::AdvancedProfiler>();
  L::Trainer trainer(options(profiler, false, dir.str()));
  testing::internal::CaptureStdout();
  EXPECT_THROW(trainer.fit(std::make_shared<Failing>(), loader(), loader()), std::runtime_error);
  testing::internal::GetCapturedStdout();
  // Nothing was left running: every action can start again.
  for (const char* action : {"run_training_epoch", "run_training_batch",
                             "[Strategy]SingleDeviceStrategy.training_step"}) {
    EXPECT_NO_THROW(profiler->start(action)) << action;
  }
  EXPECT_EQ(profiler->stats("[Strategy]SingleDeviceStrategy.training_step").calls, 2);
}

TEST(ProfilerFit, AdvancedProfilerKnowsWhereEachActionRan) {
  L::testing::TempDir dir;
  auto profiler = std::make_shared<L::AdvancedProfiler>();
  L::Trainer trainer(options(profiler, false, dir.str()));
  testing::internal::CaptureStdout();
  trainer.fit(std::make_shared<Net>(), loader(), loader());
  testing::internal::GetCapturedStdout();
  const L::ActionStats step = profiler->stats("[Strategy]SingleDeviceStrategy.training_step");
  EXPECT_EQ(step.calls, 6);
  EXPECT_LE(step.p50, step.p90);
  EXPECT_LE(step.p90, step.p99);
  EXPECT_LE(step.p99, step.max);
  EXPECT_GT(step.total, 0.0);
  const auto sites = profiler->call_sites("[Strategy]SingleDeviceStrategy.training_step");
  ASSERT_EQ(sites.size(), 1u);
  EXPECT_EQ(std::get<0>(sites[0]), "run_training_epoch > run_training_batch");
  EXPECT_EQ(std::get<2>(sites[0]), 6);
  // Validation runs in the sanity check (top level) and inside the epochs.
  const auto val = profiler->call_sites("[Strategy]SingleDeviceStrategy.validation_step");
  std::map<std::string, int64_t> by_site;
  for (const auto& [site, total, calls] : val) by_site[site] = calls;
  EXPECT_EQ(by_site[""], 2);
  EXPECT_EQ(by_site["run_training_epoch"], 6);
  const std::string text = profiler->summary();
  EXPECT_THAT(text, HasSubstr("Profile stats for: run_training_batch\n  6 calls, total "));
  EXPECT_THAT(text, HasSubstr("p50 "));
  EXPECT_THAT(text, HasSubstr("run_training_epoch > run_training_batch\n"));
  EXPECT_THAT([&] { profiler->stats("nope"); },
              ::testing::ThrowsMessage<L::Error>(HasSubstr("no action \"nope\" was recorded")));
}

TEST(ProfilerFit, OptionErrors) {
  EXPECT_THAT([] { L::Trainer t(L::TrainerOptions().profiler("simpel")); },
              ::testing::ThrowsMessage<L::Error>(
                  HasSubstr("profiler(\"simpel\") is not a profiler name; use \"simple\", "
                            "\"advanced\", \"pytorch\", or a Profiler object")));
  EXPECT_THAT([] { L::Trainer t(L::TrainerOptions().barebones(true).profiler("simple")); },
              ::testing::ThrowsMessage<L::Error>(
                  HasSubstr("barebones(true).profiler(\"simple\"): profiling can impact raw "
                            "speed, so barebones mode refuses it")));
  EXPECT_THAT(
      [] { L::AdvancedProfiler p(L::AdvancedProfilerOptions().line_count_restriction(0)); },
      ::testing::ThrowsMessage<L::Error>(HasSubstr("line_count_restriction(0) must be > 0")));
  L::SimpleProfiler simple;
  simple.start("a");
  EXPECT_THAT([&] { simple.start("a"); },
              ::testing::ThrowsMessage<L::Error>(HasSubstr(
                  "SimpleProfiler: attempted to start \"a\", which has already started")));
  EXPECT_THAT([&] { simple.stop("b"); },
              ::testing::ThrowsMessage<L::Error>(
                  HasSubstr("SimpleProfiler: attempted to stop \"b\", which was never started")));
  L::AdvancedProfiler advanced;
  EXPECT_THAT([&] { advanced.stop("b"); },
              ::testing::ThrowsMessage<L::Error>(
                  HasSubstr("AdvancedProfiler: attempted to stop \"b\", which was never started")));
}

TEST(PyTorchProfilerFit, ScheduleKeepsTheActiveStepsAsAChromeTrace) {
  L::testing::TempDir dir;
  // 6 training steps: step 0 waits, 1 warms up, 2-3 are kept (one trace),
  // and with repeat(1) nothing after.
  auto profiler =
      std::make_shared<L::PyTorchProfiler>(L::PyTorchProfilerOptions().filename("perf").schedule(
          L::ProfilerSchedule().wait(1).warmup(1).active(2).repeat(1)));
  L::Trainer trainer(options(profiler, false, dir.str()));
  testing::internal::CaptureStdout();
  try {
    trainer.fit(std::make_shared<Net>(), loader(), loader());
  } catch (...) {
    testing::internal::GetCapturedStdout();
    throw;
  }
  testing::internal::GetCapturedStdout();
  ASSERT_EQ(profiler->trace_paths().size(), 1u);
  const std::filesystem::path trace = profiler->trace_paths()[0];
  EXPECT_EQ(trace.parent_path(), dir.path());
  EXPECT_THAT(trace.filename().string(),
              ::testing::StartsWith("fit-perf-[Strategy]SingleDeviceStrategy.training_step."));
  EXPECT_THAT(trace.filename().string(), ::testing::EndsWith(".pt.trace.json"));
  const auto read = L::testing::run_python(
      std::string(LIGHTNING_PROFILER_TEST_DIR) + "/read_trace.py", {trace.string()});
  ASSERT_EQ(read.status, 0) << read.describe();
  EXPECT_THAT(read.out, HasSubstr("[pl][profile][Strategy]SingleDeviceStrategy.training_step\n"));
  EXPECT_THAT(read.out, HasSubstr("[pl][profile]run_training_batch\n"));
  EXPECT_THAT(read.out, HasSubstr("aten::addmm\n"));

  // The operator table of the kept window: two training steps' matmuls.
  std::map<std::string, L::OperatorStats> ops;
  for (const auto& s : profiler->operator_stats()) ops[s.name] = s;
  ASSERT_TRUE(ops.count("[pl][profile][Strategy]SingleDeviceStrategy.training_step"));
  EXPECT_EQ(ops["[pl][profile][Strategy]SingleDeviceStrategy.training_step"].count, 2);
  ASSERT_TRUE(ops.count("aten::addmm"));
  EXPECT_GE(ops["aten::addmm"].count, 2);
  for (const auto& [name, s] : ops) {
    EXPECT_LE(s.self_cpu_us, s.cpu_total_us + 1e-9) << name;
  }
  const auto rows = profiler->operator_stats();
  for (size_t i = 1; i < rows.size(); ++i) EXPECT_GE(rows[i - 1].self_cpu_us, rows[i].self_cpu_us);
  std::ifstream report(dir.path() / "fit-perf.txt");
  std::stringstream text;
  text << report.rdbuf();
  EXPECT_THAT(text.str(),
              ::testing::StartsWith("FIT Profiler Report\nProfile stats for: records\n"));
  EXPECT_THAT(text.str(), HasSubstr("Self CPU time total: "));
  EXPECT_THAT(text.str(), HasSubstr("aten::addmm"));
}

TEST(PyTorchProfilerFit, WithoutAScheduleTheWholeStageIsOneWindow) {
  L::testing::TempDir dir;
  auto profiler = std::make_shared<L::PyTorchProfiler>(L::PyTorchProfilerOptions()
                                                           .schedule(std::nullopt)
                                                           .record_shapes(true)
                                                           .group_by_input_shapes(true));
  L::Trainer trainer(options(profiler, false, dir.str()));
  testing::internal::CaptureStdout();
  trainer.validate(std::make_shared<Net>(), loader(), std::nullopt, false);
  const std::string printed = testing::internal::GetCapturedStdout();
  ASSERT_EQ(profiler->trace_paths().size(), 1u);
  EXPECT_THAT(std::filesystem::path(profiler->trace_paths()[0]).filename().string(),
              ::testing::StartsWith("validate-[Strategy]SingleDeviceStrategy.validation_step."));
  std::map<std::string, int64_t> steps;
  bool shaped = false;
  for (const auto& s : profiler->operator_stats()) {
    steps[s.name] += s.count;
    if (s.name == "aten::addmm" && s.input_shapes.find("[4, 4]") != std::string::npos)
      shaped = true;
  }
  EXPECT_EQ(steps["[pl][profile][Strategy]SingleDeviceStrategy.validation_step"], 3);
  EXPECT_TRUE(shaped);
  EXPECT_THAT(printed, HasSubstr("VALIDATE Profiler Report\nProfile stats for: records\n"));
  EXPECT_THAT(printed, HasSubstr("Input Shapes"));
}

TEST(PyTorchProfilerFit, OptionErrors) {
  EXPECT_THAT([] { L::PyTorchProfiler p(L::PyTorchProfilerOptions().sort_by_key("cuda_time")); },
              ::testing::ThrowsMessage<L::Error>(
                  HasSubstr("sort_by_key(\"cuda_time\") is not a sort key; use "
                            "\"self_cpu_time_total\", \"cpu_time_total\", \"cpu_time\" or "
                            "\"count\"")));
  EXPECT_THAT(
      [] {
        L::PyTorchProfiler p(L::PyTorchProfilerOptions().schedule(L::ProfilerSchedule().active(0)));
      },
      ::testing::ThrowsMessage<L::Error>(HasSubstr("active must be >= 1")));
  EXPECT_THAT([] { L::PyTorchProfiler p(L::PyTorchProfilerOptions().group_by_input_shapes(true)); },
              ::testing::ThrowsMessage<L::Error>(HasSubstr("needs .record_shapes(true)")));
  EXPECT_THAT([] { L::PyTorchProfiler p(L::PyTorchProfilerOptions().row_limit(0)); },
              ::testing::ThrowsMessage<L::Error>(HasSubstr("row_limit(0) must be >= 1")));
}

TEST(PyTorchProfilerFit, RepeatingCyclesAndAWindowCutShortByTheEnd) {
  L::testing::TempDir dir;
  // Cycles of 4 over 6 steps: steps 2-3 kept; step 5 warms up, so the
  // profiler records what follows it (the last validation) until fit ends,
  // and that window is kept too, as torch.profiler does.
  auto profiler = std::make_shared<L::PyTorchProfiler>(
      L::PyTorchProfilerOptions().schedule(L::ProfilerSchedule().wait(1).warmup(1).active(2)));
  L::Trainer trainer(options(profiler, false, dir.str()));
  testing::internal::CaptureStdout();
  trainer.fit(std::make_shared<Net>(), loader(), loader());
  testing::internal::GetCapturedStdout();
  ASSERT_EQ(profiler->trace_paths().size(), 2u);
  const auto read = L::testing::run_python(
      std::string(LIGHTNING_PROFILER_TEST_DIR) + "/read_trace.py", {profiler->trace_paths()[1]});
  ASSERT_EQ(read.status, 0) << read.describe();
  EXPECT_THAT(read.out, HasSubstr("[pl][profile][Strategy]SingleDeviceStrategy.validation_step\n"));
  EXPECT_THAT(read.out, ::testing::Not(HasSubstr("training_step\n")));
}
