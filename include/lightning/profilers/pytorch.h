// lightning/profilers/pytorch.h — libtorch's own profiler (Kineto) around the
// Trainer's actions: operator times and a Chrome trace.
//
//   Python:  Trainer(profiler="pytorch")
//            Trainer(profiler=PyTorchProfiler(dirpath=".", filename="perf",
//                                              schedule=torch.profiler.schedule(wait=1, warmup=1, active=3)))
//   C++:     L::TrainerOptions().profiler("pytorch")
//            L::TrainerOptions().profiler(std::make_shared<L::PyTorchProfiler>(
//                L::PyTorchProfilerOptions().dirpath(".").filename("perf")
//                    .schedule(L::ProfilerSchedule().wait(1).warmup(1).active(3))))
//
// Every action is a record_function range named "[pl][profile]<action>", as
// in Lightning. The schedule counts the stage's steps (training steps in fit,
// validation / test / predict steps in those stages): skip_first steps
// untraced, then cycles of `wait` steps off, `warmup` steps traced and thrown
// away, `active` steps kept; each kept window is written as a Chrome trace
// (open it in https://ui.perfetto.dev or chrome://tracing) named
// <dir>/<stage>-[<filename>-]<step action>.<ms since epoch>.pt.trace.json. A
// window the stage's end cuts short is kept too. At the end of the stage the
// operator table of every kept window is printed (or written, with a filename).
#pragma once

#include <torch/arg.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lightning/profilers/profiler.h"

namespace lightning {

/// torch.profiler.schedule's arguments.
struct ProfilerSchedule {
  TORCH_ARG(int64_t, wait) = 1;
  TORCH_ARG(int64_t, warmup) = 1;
  TORCH_ARG(int64_t, active) = 3;
  /// Cycles to run; 0 = as many as the stage has steps for.
  TORCH_ARG(int64_t, repeat) = 0;
  TORCH_ARG(int64_t, skip_first) = 0;
};

struct PyTorchProfilerOptions {
  /// Folder of the traces and the report; "" = the run folder.
  TORCH_ARG(std::string, dirpath) = "";
  /// Report file name without ".txt"; "" prints the report. Also part of the
  /// trace file names.
  TORCH_ARG(std::string, filename) = "";
  /// One table row per operator and input shapes (needs record_shapes).
  TORCH_ARG(bool, group_by_input_shapes) = false;
  /// Write each kept window as a Chrome trace. Default true.
  TORCH_ARG(bool, export_to_chrome) = true;
  /// Rows of the operator table. Default 20.
  TORCH_ARG(int64_t, row_limit) = 20;
  /// "self_cpu_time_total" (default: time in the operator itself, children
  /// excluded), "cpu_time_total", "cpu_time" (mean) or "count". Lightning
  /// sorts by cpu_time_total, where the enclosing "[pl][profile]" ranges
  /// crowd out the operators; pass that key to get its order.
  TORCH_ARG(std::string, sort_by_key) = "self_cpu_time_total";
  /// The schedule; nullopt traces the whole stage as one window.
  TORCH_ARG(std::optional<ProfilerSchedule>, schedule) = ProfilerSchedule();
  /// torch.profiler.profile's record_shapes, profile_memory, with_stack, with_flops.
  TORCH_ARG(bool, record_shapes) = false;
  TORCH_ARG(bool, profile_memory) = false;
  TORCH_ARG(bool, with_stack) = false;
  TORCH_ARG(bool, with_flops) = false;
};

/// One row of the operator table (times in microseconds).
struct OperatorStats {
  std::string name;
  std::string input_shapes;  // with group_by_input_shapes
  int64_t count = 0;
  double self_cpu_us = 0.0;
  double cpu_total_us = 0.0;
};

class LIGHTNING_API PyTorchProfiler : public Profiler {
 public:
  /// `lightning::Error` for an unknown sort_by_key, row_limit < 1, a negative
  /// schedule field or active < 1.
  explicit PyTorchProfiler(PyTorchProfilerOptions options = {});
  ~PyTorchProfiler() override;

  void start(const std::string& action_name) override;
  void stop(const std::string& action_name) override;
  /// "<STAGE> Profiler Report\nProfile stats for: records\n" and the operator
  /// table of the kept windows ("" when nothing was kept).
  std::string summary() const override;
  void setup(Stage stage, std::optional<int64_t> local_rank, const std::string& log_dir) override;
  void teardown(Stage stage) override;

  /// The operator table's rows, sorted by sort_by_key, all of them.
  std::vector<OperatorStats> operator_stats() const;
  /// The Chrome traces written so far.
  const std::vector<std::string>& trace_paths() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lightning
