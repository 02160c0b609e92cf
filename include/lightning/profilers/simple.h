// lightning/profilers/simple.h — calls, mean and total time of every action.
//
//   Python:  Trainer(profiler="simple")
//            Trainer(profiler=SimpleProfiler(dirpath=".", filename="perf_logs"))
//   C++:     L::TrainerOptions().profiler("simple")
//            L::TrainerOptions().profiler(std::make_shared<L::SimpleProfiler>(
//                L::SimpleProfilerOptions().dirpath(".").filename("perf_logs")))
//
// At the end of each stage the Trainer prints Lightning's table ("FIT Profiler
// Report": action, mean duration, calls, total time, share of the time since
// the profiler was made), or appends it to <dirpath>/<stage>-<filename>.txt.
#pragma once

#include <torch/arg.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lightning/profilers/profiler.h"

namespace lightning {

struct SimpleProfilerOptions {
  /// Folder of the report file; "" = the run folder (trainer.log_dir()).
  TORCH_ARG(std::string, dirpath) = "";
  /// Report file name without ".txt"; "" prints the report instead.
  TORCH_ARG(std::string, filename) = "";
  /// Adds the "Num calls" and "Percentage %" columns and the Total row;
  /// false prints mean and total only, sorted by mean. Default true.
  TORCH_ARG(bool, extended) = true;
};

class LIGHTNING_API SimpleProfiler : public Profiler {
 public:
  explicit SimpleProfiler(SimpleProfilerOptions options = {});
  ~SimpleProfiler() override;

  /// `lightning::Error` when the action is already running.
  void start(const std::string& action_name) override;
  /// `lightning::Error` when the action was not started.
  void stop(const std::string& action_name) override;
  std::string summary() const override;

  /// Every recorded duration in seconds, per action, actions in the order
  /// they were first recorded.
  std::vector<std::pair<std::string, std::vector<double>>> recorded_durations() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lightning
