// The profilers' report text: SimpleProfiler's table byte for byte as Python
// Lightning 2.6 prints it for the same durations (simple_report_reference.txt,
// written by simple_report_reference.py), percentiles as numpy's, file names
// as Lightning's, call sites of nested actions.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "lightning/lightning.h"
#include "profilers/report_text.h"

namespace L = lightning;

namespace {

std::string reference_section(const std::string& header) {
  std::ifstream in(std::string(LIGHTNING_PROFILER_TEST_DIR) + "/simple_report_reference.txt");
  std::stringstream all;
  all << in.rdbuf();
  const std::string text = all.str();
  const std::string marker = "=== " + header + "\n";
  const auto start = text.find(marker);
  EXPECT_NE(start, std::string::npos) << header;
  const auto body = start + marker.size();
  const auto end = text.find("=== ", body);
  return text.substr(body, end == std::string::npos ? std::string::npos : end - body);
}

const L::detail::ActionDurations kDurations = {
    {"run_training_epoch", {1.25, 1.5}},
    {"[Strategy]SingleDeviceStrategy.training_step", {0.001, 0.002, 0.0015, 0.00125}},
    {"[_TrainingEpochLoop].train_dataloader_next", {0.000012345, 0.0000987654}},
    {"save_checkpoint", {0.3333333}},
    {"x", {12345.678}},
};

}  // namespace

TEST(SimpleProfilerReport, MatchesLightningByteForByte) {
  for (bool extended : {true, false}) {
    for (bool staged : {true, false}) {
      const std::string header = std::string("extended=") + (extended ? "True" : "False") +
                                 " stage=" + (staged ? "fit" : "None");
      const auto stage = staged ? std::optional<L::Stage>(L::Stage::Fit) : std::nullopt;
      EXPECT_EQ(L::detail::simple_report(stage, kDurations, 20000.0, extended),
                reference_section(header))
          << header;
    }
  }
}

TEST(SimpleProfilerReport, PercentilesInterpolateAsNumpy) {
  // numpy.percentile([4, 1, 3, 2], q) for q = 0, 50, 90, 99, 100.
  const std::vector<double> v = {4, 1, 3, 2};
  EXPECT_DOUBLE_EQ(L::detail::percentile(v, 0), 1.0);
  EXPECT_DOUBLE_EQ(L::detail::percentile(v, 50), 2.5);
  EXPECT_DOUBLE_EQ(L::detail::percentile(v, 90), 3.7);
  EXPECT_DOUBLE_EQ(L::detail::percentile(v, 99), 3.97);
  EXPECT_DOUBLE_EQ(L::detail::percentile(v, 100), 4.0);
  EXPECT_DOUBLE_EQ(L::detail::percentile({7}, 99), 7.0);
}

TEST(AdvancedProfilerReport, NestedActionsKnowTheirCallSites) {
  L::AdvancedProfiler p;
  p.start("epoch");
  for (int i = 0; i < 3; ++i) {
    p.start("batch");
    p.start("step");
    p.stop("step");
    p.stop("batch");
  }
  p.stop("epoch");
  p.start("step");
  p.stop("step");
  const auto sites = p.call_sites("step");
  ASSERT_EQ(sites.size(), 2u);
  std::map<std::string, int64_t> calls;
  for (const auto& [site, total, n] : sites) calls[site] = n;
  EXPECT_EQ(calls["epoch > batch"], 3);
  EXPECT_EQ(calls[""], 1);
  EXPECT_EQ(p.stats("step").calls, 4);
  EXPECT_EQ(p.stats("epoch").calls, 1);
  // line_count_restriction: a count (> 1) or a fraction of the sites.
  L::AdvancedProfiler one(L::AdvancedProfilerOptions().line_count_restriction(0.5));
  one.start("a");
  one.start("b");
  one.stop("b");
  one.stop("a");
  one.start("b");
  one.stop("b");
  EXPECT_THAT(one.summary(), ::testing::HasSubstr("... 1 more (line_count_restriction)"));
}

TEST(ProfilerFiles, LightningsFileNames) {
  struct Probe : L::SimpleProfiler {
    using L::Profiler::output_path;
    using L::SimpleProfiler::SimpleProfiler;
  };
  Probe p(L::SimpleProfilerOptions().dirpath("/out").filename("perf"));
  EXPECT_EQ(p.output_path(), "/out/perf.txt");
  p.setup(L::Stage::Fit, std::nullopt, "/run");
  EXPECT_EQ(p.output_path(), "/out/fit-perf.txt");
  p.setup(L::Stage::Test, 1, "/run");
  EXPECT_EQ(p.output_path(".json", "a/b:c"), "/out/test-perf-1-a_b_c.json");
  Probe no_dir(L::SimpleProfilerOptions().filename("perf"));
  no_dir.setup(L::Stage::Fit, std::nullopt, "/run");
  EXPECT_EQ(no_dir.output_path(), "/run/fit-perf.txt");
  Probe unnamed;
  unnamed.setup(L::Stage::Fit, std::nullopt, "/run");
  EXPECT_EQ(unnamed.output_path(".json", "step"), "/run/fit-step.json");
  Probe nowhere;
  EXPECT_EQ(nowhere.output_path(), "");
}
