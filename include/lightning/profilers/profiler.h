// lightning/profilers/profiler.h — where a run spends its time.
//
//   L::Trainer trainer(L::TrainerOptions().profiler("simple"));   // profiler="simple"
//   trainer.fit(model, data);     // prints the table at the end of fit, writes it to the run folder
//
//   auto profiler = std::make_shared<L::SimpleProfiler>(L::SimpleProfilerOptions()
//                                                          .dirpath("prof").filename("perf"));
//   L::Trainer trainer(L::TrainerOptions().profiler(profiler));
//   { auto scope = trainer.profiler().profile("my_action"); ... }   // with profiler.profile(...)
//
// The Trainer calls start/stop around every hook, step, backward, optimizer
// step, batch fetch and checkpoint save, with Lightning's action names
// (docs/profiling.md lists them). Subclass Profiler for your own.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

#include "lightning/export.h"
#include "lightning/stage.h"

namespace lightning {

/// The base of every profiler (Lightning's `Profiler`).
class LIGHTNING_API Profiler {
 public:
  /// `dirpath`: where describe() writes its report ("" = the run folder, or
  /// print only when there is none). `filename`: the report's name; "" prints
  /// to stdout only, as in Lightning.
  explicit Profiler(std::string dirpath = "", std::string filename = "");
  virtual ~Profiler();
  Profiler(const Profiler&) = delete;
  Profiler& operator=(const Profiler&) = delete;

  /// Marks the start and the end of one occurrence of an action.
  virtual void start(const std::string& action_name) = 0;
  virtual void stop(const std::string& action_name) = 0;
  /// The report of everything recorded so far.
  virtual std::string summary() const = 0;

  /// Stops its action when it goes out of scope (Python's `with profiler.profile(name):`).
  class LIGHTNING_API Scope {
   public:
    Scope(Profiler* profiler, std::string action_name);
    Scope(Scope&& other) noexcept;
    Scope& operator=(Scope&&) = delete;
    Scope(const Scope&) = delete;
    ~Scope();

   private:
    Profiler* profiler_;
    std::string action_name_;
  };
  [[nodiscard]] Scope profile(std::string action_name);

  /// Appends summary() to `<dir>/<stage>-<filename>[-<local_rank>].txt`
  /// (dir: dirpath, else the run folder), or prints it on local rank 0 when
  /// `filename` is empty. The Trainer calls it at the end of each stage.
  virtual void describe();
  /// Called by the Trainer when a stage starts (`local_rank` is set only when
  /// the run has several processes) and, with the same stage, once more
  /// before describe() when the run folder was created after the start (the
  /// default loggers claim lightning_logs/version_N after the setup hooks).
  virtual void setup(Stage stage, std::optional<int64_t> local_rank, const std::string& log_dir);
  /// Called by the Trainer when a stage ends, after describe().
  virtual void teardown(Stage stage);

  const std::string& dirpath() const { return dirpath_; }
  const std::string& filename() const { return filename_; }

 protected:
  /// The stage being profiled (unset before setup).
  std::optional<Stage> stage() const { return stage_; }
  /// This process's local rank (0 in a single-process run).
  int64_t local_rank() const { return local_rank_.value_or(0); }
  /// `<dir>/<stage>-<filename>[-<local_rank>][-<action>]<extension>` with
  /// Lightning's character clean-up (empty parts left out), dir = dirpath or
  /// the run folder; "" when there is no folder.
  std::string output_path(const std::string& extension = ".txt",
                          const std::string& action_name = "") const;

 private:
  std::string dirpath_;
  std::string filename_;
  std::optional<Stage> stage_;
  std::optional<int64_t> local_rank_;
  std::string log_dir_;
};

/// Records nothing; what the Trainer uses when profiling is off.
class LIGHTNING_API PassThroughProfiler final : public Profiler {
 public:
  void start(const std::string& /*action_name*/) override {}
  void stop(const std::string& /*action_name*/) override {}
  std::string summary() const override { return ""; }
  void describe() override {}
};

/// `TrainerOptions::profiler`: unset (off), "simple", "advanced", "pytorch",
/// or a Profiler object.
class LIGHTNING_API ProfilerOption {
 public:
  ProfilerOption() = default;
  ProfilerOption(const char* name) : name_(name) {}
  ProfilerOption(std::string name) : name_(std::move(name)) {}
  template <typename P, typename = std::enable_if_t<std::is_base_of_v<Profiler, P>>>
  ProfilerOption(std::shared_ptr<P> profiler) : profiler_(std::move(profiler)) {}
  /// The name, or "" for an object or when off.
  const std::string& name() const { return name_; }
  const std::shared_ptr<Profiler>& object() const { return profiler_; }
  bool enabled() const { return profiler_ != nullptr || !name_.empty(); }

 private:
  std::string name_;
  std::shared_ptr<Profiler> profiler_;
};

}  // namespace lightning
