// lightning-report: rebuilds report.html from run folders (metrics.csv +
// hparams.yaml), or overlays several runs on the same charts.
//
//   lightning-report lightning_logs/version_3         # -> lightning_logs/version_3/report.html
//   lightning-report -o compare.html runs/a runs/b    # runs overlaid
//
// Exit status: 0 written, 1 a run could not be read or the page not written,
// 2 wrong usage.
#include <cstring>
#include <exception>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "lightning/error.h"
#include "lightning/loggers/report.h"

namespace {

const char* const kUsage =
    "usage: lightning-report [-o OUT.html] RUN_DIR...\n"
    "\n"
    "Draws the metrics.csv (and hparams.yaml) of each RUN_DIR into one\n"
    "self-contained HTML page: a chart per metric against step, and against\n"
    "epoch for epoch-level metrics; several runs are overlaid.\n"
    "\n"
    "  -o, --output OUT.html  where to write the page (default: RUN_DIR/report.html\n"
    "                         for one run, ./report.html for several)\n"
    "  -h, --help             show this help\n";

int usage_error(const std::string& message) {
  std::cerr << "lightning-report: " << message << "\n\n" << kUsage;
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string output;
  std::vector<std::string> runs;
  bool options_done = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (options_done || arg.empty() || arg[0] != '-' || arg == "-") {
      runs.push_back(arg);
    } else if (arg == "--") {
      options_done = true;
    } else if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      return 0;
    } else if (arg == "-o" || arg == "--output") {
      if (i + 1 >= argc) return usage_error(arg + " needs a file name");
      output = argv[++i];
    } else if (arg.rfind("--output=", 0) == 0) {
      output = arg.substr(std::strlen("--output="));
    } else if (arg.rfind("-o", 0) == 0) {
      output = arg.substr(2);
    } else {
      return usage_error("unknown option " + arg);
    }
  }
  if (runs.empty()) return usage_error("no run folder given");
  if (output.empty()) {
    output = runs.size() == 1 ? (std::filesystem::path(runs[0]) / "report.html").string()
                              : "report.html";
  }
  try {
    lightning::write_run_report(runs, output);
  } catch (const std::exception& e) {
    std::cerr << "lightning-report: " << e.what() << "\n";
    return 1;
  }
  std::cout << output << "\n";
  return 0;
}
