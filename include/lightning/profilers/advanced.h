// lightning/profilers/advanced.h — the distribution of every action's
// durations, and where in the run it was called from.
//
//   Python:  Trainer(profiler="advanced")
//            Trainer(profiler=AdvancedProfiler(dirpath=".", filename="perf_logs"))
//   C++:     L::TrainerOptions().profiler("advanced")
//            L::TrainerOptions().profiler(std::make_shared<L::AdvancedProfiler>(
//                L::AdvancedProfilerOptions().dirpath(".").filename("perf_logs")))
//
// Python's AdvancedProfiler runs cProfile inside each action and prints the
// Python functions it called. C++ has no such interpreter hook; this report
// gives, per action: calls, total, mean, p50 / p90 / p99 / max, and its call
// sites: the chains of enclosing actions it ran inside
// ("run_training_epoch > run_training_batch"), by total time. For operator-level
// detail use the "pytorch" profiler.
#pragma once

#include <torch/arg.h>

#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "lightning/profilers/profiler.h"

namespace lightning {

struct AdvancedProfilerOptions {
  /// Folder of the report file; "" = the run folder (trainer.log_dir()).
  TORCH_ARG(std::string, dirpath) = "";
  /// Report file name without ".txt"; "" prints the report instead.
  TORCH_ARG(std::string, filename) = "";
  /// How many call sites to list per action: a fraction of them when <= 1
  /// (1.0 = all, Lightning's default), else a count. Must be > 0.
  TORCH_ARG(double, line_count_restriction) = 1.0;
};

/// One action's statistics (seconds).
struct ActionStats {
  int64_t calls = 0;
  double total = 0.0;
  double mean = 0.0;
  double p50 = 0.0;
  double p90 = 0.0;
  double p99 = 0.0;
  double max = 0.0;
};

class LIGHTNING_API AdvancedProfiler : public Profiler {
 public:
  /// `lightning::Error` when line_count_restriction is not > 0.
  explicit AdvancedProfiler(AdvancedProfilerOptions options = {});
  ~AdvancedProfiler() override;

  /// `lightning::Error` when the action is already running.
  void start(const std::string& action_name) override;
  /// `lightning::Error` when the action was not started.
  void stop(const std::string& action_name) override;
  /// "FIT Profiler Report", then per action (first-recorded order) its
  /// statistics and call sites.
  std::string summary() const override;

  /// The recorded actions, in the order first recorded.
  std::vector<std::string> actions() const;
  /// The statistics of one action; `lightning::Error` when it was never recorded.
  ActionStats stats(const std::string& action_name) const;
  /// Its call sites ("" for top level, else "outer > inner") with the total
  /// seconds and calls spent there, by total time, largest first.
  std::vector<std::tuple<std::string, double, int64_t>> call_sites(
      const std::string& action_name) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lightning
