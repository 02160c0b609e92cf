// read_metrics_csv (RFC 4180 parsing), write_run_report (report.html) and the
// lightning-report command-line tool.
#include "lightning/loggers/report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <regex>
#include <string>

#include "support/errors.h"
#include "support/temp_dir.h"

namespace L = lightning;
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

class TempDir : public ::testing::Test {
 protected:
  // A run as the Trainer logs it: 3 epochs of 4 steps; train_loss every
  // step (step-level), train_loss_epoch and val_acc once per epoch
  // (epoch-level), hparams.yaml as Lightning writes it.
  fs::path synthetic_run(const std::string& name, double scale = 1.0) {
    const fs::path dir = root_ / name;
    std::string csv = "epoch,step,train_loss,train_loss_epoch,val_acc\n";
    int step = 0;
    for (int epoch = 0; epoch < 3; ++epoch) {
      for (int i = 0; i < 4; ++i, ++step) {
        csv += std::to_string(epoch) + "," + std::to_string(step) + "," +
               std::to_string(scale / (1 + step)) + ",,\n";
      }
      csv += std::to_string(epoch) + "," + std::to_string(step - 1) + ",," +
             std::to_string(scale / (1 + epoch)) + ",\n";
      csv += std::to_string(epoch) + "," + std::to_string(step - 1) + ",,," +
             std::to_string(0.5 + 0.1 * epoch) + "\n";
    }
    write_text(dir / "metrics.csv", csv);
    write_text(dir / "hparams.yaml",
               "learning_rate: 0.0123\nhidden: 64\nname: tiny-mlp\nlayers:\n- 32\n- 16\n");
    return dir;
  }

  L::testing::TempDir tmp_{"lightning_report_test"};
  fs::path root_ = tmp_.path();
};

using MetricsCsvTest = TempDir;
using ReportTest = TempDir;
using ReportCliTest = TempDir;

// ---------------------------------------------------------------------------
// read_metrics_csv

TEST_F(MetricsCsvTest, ParsesQuotedFieldsCrlfAndEmptyCells) {
  const fs::path csv = root_ / "metrics.csv";
  write_text(csv,
             "\"a,b\",\"say \"\"hi\"\"\",\"multi\r\nline\",step\r\n"
             "1.5,,-2,0\r\n"
             "\r\n"  // blank lines are skipped
             ",3e-05, 7 ,1\r\n");
  const L::MetricsTable t = L::read_metrics_csv(csv.string());
  EXPECT_EQ(t.columns, (std::vector<std::string>{"a,b", "say \"hi\"", "multi\r\nline", "step"}));
  ASSERT_EQ(t.values.size(), 2u);
  EXPECT_EQ(t.present[0], (std::vector<bool>{true, false, true, true}));
  EXPECT_EQ(t.values[0][0], 1.5);
  EXPECT_TRUE(std::isnan(t.values[0][1]));
  EXPECT_EQ(t.values[0][2], -2.0);
  EXPECT_EQ(t.present[1], (std::vector<bool>{false, true, true, true}));
  EXPECT_EQ(t.values[1][1], 3e-05);
  EXPECT_EQ(t.values[1][2], 7.0);
}

TEST_F(MetricsCsvTest, AcceptsNanAndInfinityInAnyCase) {
  const fs::path csv = root_ / "metrics.csv";
  write_text(csv, "a,b,c,d,e\nnan,NaN,inf,-Infinity,+INF\n");
  const L::MetricsTable t = L::read_metrics_csv(csv.string());
  ASSERT_EQ(t.values.size(), 1u);
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_TRUE(std::isnan(t.values[0][0]) && t.present[0][0]);
  EXPECT_TRUE(std::isnan(t.values[0][1]) && t.present[0][1]);
  EXPECT_EQ(t.values[0][2], inf);
  EXPECT_EQ(t.values[0][3], -inf);
  EXPECT_EQ(t.values[0][4], inf);
}

TEST_F(MetricsCsvTest, MalformedInputNamesThePathAndLine) {
  const fs::path csv = root_ / "metrics.csv";
  write_text(csv, "loss,step\n0.5,0\nabc,1\n");
  EXPECT_LIGHTNING_ERROR(L::read_metrics_csv(csv.string()), csv.string() + "' line 3");
  EXPECT_LIGHTNING_ERROR(L::read_metrics_csv(csv.string()), "cannot read 'abc' as a number");

  write_text(csv, "loss,step\n0.5,0\n0.25,1,9\n");
  EXPECT_LIGHTNING_ERROR(L::read_metrics_csv(csv.string()),
                         "line 3: 3 fields where the header has 2");

  write_text(csv, "loss,step\n\"0.5,0\n");
  EXPECT_LIGHTNING_ERROR(L::read_metrics_csv(csv.string()),
                         "line 2: a quoted field is never closed");

  EXPECT_LIGHTNING_ERROR(L::read_metrics_csv((root_ / "missing.csv").string()), "missing.csv");
}

TEST_F(MetricsCsvTest, EmptyFileIsAnEmptyTable) {
  write_text(root_ / "metrics.csv", "");
  const L::MetricsTable t = L::read_metrics_csv((root_ / "metrics.csv").string());
  EXPECT_TRUE(t.columns.empty());
  EXPECT_TRUE(t.values.empty());
}

// ---------------------------------------------------------------------------
// write_run_report

// Nothing in the page may load anything: no scripts, no URLs, no files.
void expect_self_contained(const std::string& html) {
  EXPECT_THAT(html, Not(HasSubstr("http")));
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("src=")));
  EXPECT_THAT(html, Not(HasSubstr("url(")));
  EXPECT_THAT(html, Not(HasSubstr("@import")));
  EXPECT_THAT(html, Not(HasSubstr("<link")));
  EXPECT_THAT(html, Not(HasSubstr("//")));
  const std::regex href("href=\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), href); it != std::sregex_iterator();
       ++it) {
    EXPECT_EQ((*it)[1].str().substr(0, 1), "#") << "external reference " << (*it)[0];
  }
}

TEST_F(ReportTest, OneChartPerMetricPlusOnePerEpochLevelMetric) {
  const fs::path run = synthetic_run("version_0");
  const fs::path out = run / "report.html";
  L::write_run_report({run.string()}, out.string(),
                      {{"start", "2024-01-01 10:00:00"}, {"status", "success"}});
  ASSERT_TRUE(fs::is_regular_file(out));
  const std::string html = read_text(out);
  // 3 metrics, 2 of them epoch-level.
  EXPECT_EQ(count(html, "<figure class=\"chart\""), 5u);
  EXPECT_EQ(count(html, "data-axis=\"step\""), 3u);
  EXPECT_EQ(count(html, "data-axis=\"epoch\""), 2u);
  EXPECT_THAT(html, HasSubstr("data-metric=\"train_loss\" data-axis=\"step\""));
  EXPECT_THAT(html, Not(HasSubstr("data-metric=\"train_loss\" data-axis=\"epoch\"")));
  EXPECT_THAT(html, HasSubstr("data-metric=\"train_loss_epoch\" data-axis=\"epoch\""));
  EXPECT_THAT(html, HasSubstr("data-metric=\"val_acc\" data-axis=\"epoch\""));
  // "step" and "epoch" are axes, not metrics.
  EXPECT_THAT(html, Not(HasSubstr("data-metric=\"step\"")));
  EXPECT_THAT(html, Not(HasSubstr("data-metric=\"epoch\"")));
  // Every chart draws its line, with axes and tick labels.
  EXPECT_EQ(count(html, "<polyline"), 5u);
  EXPECT_EQ(count(html, "class=\"axis\""), 5u);
  EXPECT_THAT(html, HasSubstr("<h1>Run report: version_0</h1>"));
  EXPECT_THAT(html, HasSubstr("<dt>status</dt><dd>success</dd>"));
  // The hyperparameters table.
  EXPECT_THAT(html, HasSubstr("<td class=\"key\">learning_rate</td><td>0.0123</td>"));
  EXPECT_THAT(html, HasSubstr("<td class=\"key\">name</td><td>tiny-mlp</td>"));
  EXPECT_THAT(html, HasSubstr("<td class=\"key\">layers</td><td>[32, 16]</td>"));
  // Final values: val_acc ends at 0.7.
  EXPECT_THAT(html, HasSubstr("title=\"0.7\">0.7</td>"));
  expect_self_contained(html);
}

TEST_F(ReportTest, NonFiniteValuesAreSkippedAndNoted) {
  const fs::path run = root_ / "run";
  write_text(run / "metrics.csv",
             "epoch,loss,step,broken\n"
             "0,1.0,0,nan\n"
             "0,nan,1,nan\n"
             "0,0.5,2,inf\n"
             "0,-inf,3,\n"
             "0,0.25,4,\n");
  L::write_run_report({run.string()}, (run / "report.html").string());
  const std::string html = read_text(run / "report.html");
  EXPECT_EQ(count(html, "<figure class=\"chart\""), 2u);  // loss and broken, both step-level
  EXPECT_THAT(html, HasSubstr("not drawn: 1 NaN, 1 -Inf"));
  EXPECT_THAT(html, HasSubstr("not drawn: 2 NaN, 1 +Inf"));
  EXPECT_THAT(html, HasSubstr("no finite values to draw"));
  // No coordinate is ever nan or inf.
  const std::regex points("points=\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), points);
       it != std::sregex_iterator(); ++it) {
    EXPECT_THAT((*it)[1].str(), Not(HasSubstr("nan")));
    EXPECT_THAT((*it)[1].str(), Not(HasSubstr("inf")));
  }
  EXPECT_THAT(html, Not(HasSubstr("cx=\"nan")));
  EXPECT_THAT(html, Not(HasSubstr("cy=\"nan")));
  // A NaN between finite values breaks the line: 1.0 | 0.5 | 0.25 are three segments.
  EXPECT_EQ(count(html, "<polyline"), 0u);
  expect_self_contained(html);
}

TEST_F(ReportTest, TextIsEscaped) {
  const fs::path run = root_ / "run";
  write_text(run / "metrics.csv", "\"x<y&z, \"\"q\"\"\",step\n1.0,0\n2.0,1\n");
  write_text(run / "hparams.yaml", "note: \"<script>alert(1)</script>\"\n");
  L::write_run_report({run.string()}, (run / "report.html").string());
  const std::string html = read_text(run / "report.html");
  EXPECT_THAT(html, HasSubstr("data-metric=\"x&lt;y&amp;z, &quot;q&quot;\""));
  EXPECT_THAT(html, Not(HasSubstr("x<y")));
  EXPECT_THAT(html, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;"));
  expect_self_contained(html);
}

TEST_F(ReportTest, OverlayOfTwoRunsHasALegendWithBothNames) {
  const fs::path a = synthetic_run("baseline", 1.0);
  const fs::path b = synthetic_run("wider", 2.0);
  write_text(b / "hparams.yaml",
             "learning_rate: 0.0123\nhidden: 128\nname: tiny-mlp\nlayers:\n- 32\n- 16\n");
  const fs::path out = root_ / "compare.html";
  L::write_run_report({a.string(), b.string()}, out.string());
  const std::string html = read_text(out);
  EXPECT_EQ(count(html, "<figure class=\"chart\""), 5u);
  EXPECT_EQ(count(html, "<ul class=\"legend\">"), 5u);
  EXPECT_THAT(html, HasSubstr("<h1>Run report: baseline, wider</h1>"));
  const std::regex legend("<ul class=\"legend\">.*baseline.*wider.*</ul>");
  EXPECT_TRUE(std::regex_search(html, legend));
  // Two lines per chart, in two colours.
  EXPECT_EQ(count(html, "<polyline"), 10u);
  EXPECT_THAT(html, HasSubstr("stroke=\"#1f77b4\""));
  EXPECT_THAT(html, HasSubstr("stroke=\"#ff7f0e\""));
  // The hparams table has a column per run; the differing row is marked.
  EXPECT_THAT(html, HasSubstr("<tr class=\"differs\"><td class=\"key\">hidden</td><td>64</td>"
                              "<td>128</td></tr>"));
  expect_self_contained(html);
}

TEST_F(ReportTest, RunsWithTheSameFolderNameAreLabelledByTheirParents) {
  const fs::path a = synthetic_run("exp_a/version_0");
  const fs::path b = synthetic_run("exp_b/version_0");
  L::write_run_report({a.string(), b.string() + "/"}, (root_ / "r.html").string());
  const std::string html = read_text(root_ / "r.html");
  EXPECT_THAT(html, HasSubstr("<h1>Run report: exp_a/version_0, exp_b/version_0</h1>"));
}

TEST_F(ReportTest, ManyPointsAreThinnedButKeepTheExtremes) {
  const fs::path run = root_ / "long";
  std::string csv = "loss,step\n";
  for (int i = 0; i < 100000; ++i) {
    csv +=
        std::to_string(i == 50000 ? 100.0 : 1.0 + (i % 7) * 0.01) + "," + std::to_string(i) + "\n";
  }
  write_text(run / "metrics.csv", csv);
  L::write_run_report({run.string()}, (run / "report.html").string());
  const std::string html = read_text(run / "report.html");
  EXPECT_LT(html.size(), 200000u);
  EXPECT_THAT(html, HasSubstr("max <span title=\"100.0\">100</span> at step 50000"));
}

// Found by tests/fuzz/metrics_csv_fuzz (regressions/metrics_csv_fuzz/): steps
// from -1.7e308 to 1.7e308 made the axis span overflow to inf and every x
// coordinate NaN, and thinning more than 2400 points then looped for ever.
TEST_F(ReportTest, ValuesNearTheLargestDoubleAreDrawnInsideTheChart) {
  const fs::path run = root_ / "huge";
  std::string csv = "step,loss,wide\n-1.7e308,1,-1.79e308\n";
  for (int i = 0; i < 2500; ++i) csv += std::to_string(i) + "," + std::to_string(i % 7) + ",1\n";
  csv += "1.7e308,2,1.79e308\n";
  write_text(run / "metrics.csv", csv);
  L::write_run_report({run.string()}, (run / "report.html").string());
  const std::string html = read_text(run / "report.html");
  EXPECT_EQ(count(html, "<figure class=\"chart\""), 2u);
  // No coordinate is nan or inf; the extremes sit on the frame (x 64 and 616).
  for (const char* attribute :
       {" x=\"", " y=\"", "x1=\"", "x2=\"", "y1=\"", "y2=\"", "cx=\"", "cy=\"", "points=\""}) {
    for (size_t at = html.find(attribute); at != std::string::npos;
         at = html.find(attribute, at + 1)) {
      const size_t start = at + std::strlen(attribute);
      const std::string value = html.substr(start, html.find('"', start) - start);
      EXPECT_THAT(value, Not(HasSubstr("nan"))) << attribute;
      EXPECT_THAT(value, Not(HasSubstr("inf"))) << attribute;
    }
  }
  EXPECT_THAT(html, HasSubstr("cx=\"64.0\""));
  EXPECT_THAT(html, HasSubstr("cx=\"616.0\""));
  expect_self_contained(html);
}

// lr_find.csv (CSVLogger::log_lr_find): one chart per sweep, the loss
// against the rate on a log axis for an exponential sweep, the suggestion
// ringed in red.
TEST_F(ReportTest, LearningRateSweepsAreChartedWithTheSuggestion) {
  const fs::path run = synthetic_run("version_0");
  std::string csv = "sweep,step,exponential,lr,loss,suggested\n";
  // Sweep 0: exponential, 1e-6 .. 1 over 7 rates, suggestion at 1e-3.
  for (int k = 0; k <= 6; ++k) {
    csv += "0,0,1," + std::string(k == 6 ? "1" : "1e-0" + std::to_string(6 - k)) + "," +
           std::to_string(2.0 - 0.2 * k) + "," + (k == 3 ? "1" : "0") + "\n";
  }
  // Sweep 1 at step 40: linear, no suggestion, one NaN loss.
  csv += "1,40,0,0.1,1.5,0\n1,40,0,0.2,nan,0\n1,40,0,0.3,1.2,0\n";
  write_text(run / "lr_find.csv", csv);
  L::write_run_report({run.string()}, (run / "report.html").string());
  const std::string html = read_text(run / "report.html");

  EXPECT_THAT(html, HasSubstr("<h2>Learning-rate finder</h2>"));
  EXPECT_EQ(count(html, "data-metric=\"loss\" data-axis=\"lr\""), 2u);
  EXPECT_EQ(count(html, "<figure class=\"chart\""), 5u + 2u);
  EXPECT_THAT(html, HasSubstr("<b>loss</b> (smoothed) vs lr: exponential sweep 0 at step 0"));
  EXPECT_THAT(html, HasSubstr("<b>loss</b> (smoothed) vs lr: linear sweep 1 at step 40"));
  // The exponential sweep's axis has one tick per decade, 1e-6 .. 1.
  for (const char* tick : {">1e-6<", ">1e-5<", ">1e-4<", ">1e-3<", ">0.01<", ">0.1<", ">1<"}) {
    EXPECT_THAT(html, HasSubstr(tick)) << tick;
  }
  // Decades are evenly spaced: 1e-6 at the left edge (x 64), 1 at the right
  // (x 616), so 1e-3 (the suggestion, loss 1.4) is halfway, at 340.
  EXPECT_EQ(count(html, "<circle class=\"mark\""), 1u);
  EXPECT_THAT(html, HasSubstr("<circle class=\"mark\" r=\"5\" cx=\"340.0\""));
  EXPECT_THAT(html, HasSubstr("<title>suggestion lr 0.001, loss 1.4</title>"));
  EXPECT_THAT(html, HasSubstr("suggestion: lr <span title=\"0.001\">0.001</span>"));
  // The linear sweep's NaN is noted, not drawn.
  EXPECT_THAT(html, HasSubstr("not drawn: 1 NaN"));
  expect_self_contained(html);

  // Without lr_find.csv there is no such section; a malformed one is a note.
  const fs::path plain = synthetic_run("version_1");
  L::write_run_report({plain.string()}, (plain / "report.html").string());
  EXPECT_THAT(read_text(plain / "report.html"), Not(HasSubstr("Learning-rate finder")));
  write_text(plain / "lr_find.csv", "lr,loss\n0.1,1\n");
  L::write_run_report({plain.string()}, (plain / "report.html").string());
  EXPECT_THAT(read_text(plain / "report.html"),
              HasSubstr("version_1: lr_find.csv could not be read: &#39;" +
                        (plain / "lr_find.csv").string() + "&#39; has no column &#39;sweep&#39;"));
}

TEST_F(ReportTest, MissingMetricsCsvIsAnErrorNamingTheFolder) {
  const std::string dir = (root_ / "nothing_here").string();
  EXPECT_LIGHTNING_ERROR(L::write_run_report({dir}, (root_ / "r.html").string()),
                         "no metrics.csv in '" + dir + "'");
  EXPECT_LIGHTNING_ERROR(L::write_run_report({}, (root_ / "r.html").string()),
                         "at least one run folder");
  const fs::path run = synthetic_run("ok");
  EXPECT_LIGHTNING_ERROR(L::write_run_report({run.string()}, (root_ / "no/such/r.html").string()),
                         "cannot write");
}

// ---------------------------------------------------------------------------
// lightning-report

struct Result {
  int status = -1;
  std::string out;
};

// Runs a shell command; its exit status and stdout (stderr goes to stdout too).
Result shell(const std::string& command) {
  Result r;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) r.out.append(buf, n);
  const int status = ::pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

const std::string kExe = LIGHTNING_REPORT_EXE;

TEST_F(ReportCliTest, OneRunWritesReportIntoTheRunFolder) {
  const fs::path run = synthetic_run("version_0");
  const Result r = shell(kExe + " '" + run.string() + "'");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, (run / "report.html").string() + "\n");
  const std::string html = read_text(run / "report.html");
  EXPECT_EQ(count(html, "<figure class=\"chart\""), 5u);
  expect_self_contained(html);
}

TEST_F(ReportCliTest, SeveralRunsAreOverlaid) {
  const fs::path a = synthetic_run("a");
  const fs::path b = synthetic_run("b", 3.0);
  const fs::path out = root_ / "both.html";
  const Result r =
      shell(kExe + " -o '" + out.string() + "' '" + a.string() + "' '" + b.string() + "'");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, out.string() + "\n");
  const std::string html = read_text(out);
  EXPECT_EQ(count(html, "<ul class=\"legend\">"), 5u);
  EXPECT_THAT(html, HasSubstr("<h1>Run report: a, b</h1>"));

  // Without -o: ./report.html in the working directory.
  const Result here = shell("cd '" + root_.string() + "' && " + kExe + " a b");
  EXPECT_EQ(here.status, 0) << here.out;
  EXPECT_EQ(here.out, "report.html\n");
  EXPECT_TRUE(fs::is_regular_file(root_ / "report.html"));
}

TEST_F(ReportCliTest, UsageErrorsExitWith2AndErrorsWith1) {
  Result r = shell(kExe);
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.out, HasSubstr("usage: lightning-report [-o OUT.html] RUN_DIR..."));
  r = shell(kExe + " --bogus dir");
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.out, HasSubstr("unknown option --bogus"));
  r = shell(kExe + " dir -o");
  EXPECT_EQ(r.status, 2);
  r = shell(kExe + " --help");
  EXPECT_EQ(r.status, 0);
  EXPECT_THAT(r.out, HasSubstr("usage:"));

  const std::string missing = (root_ / "missing").string();
  r = shell(kExe + " '" + missing + "'");
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.out, HasSubstr("no metrics.csv in '" + missing + "'"));
}

}  // namespace
