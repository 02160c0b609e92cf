// Internal: the Trainer's state and the parts every loop shares. The public
// `Trainer` (include/lightning/trainer.h) holds only a pointer to this.
//
//   trainer.cpp             the public API, and run_stage: the skeleton of
//                           fit / validate / test / predict
//   trainer_options.cpp     validating TrainerOptions, default callbacks
//   fit_loop.{h,cpp}        the training loop: epochs, batches, resume position
//   fit_loop_state.cpp      the fit loop's checkpoint entry ("loops")
//   evaluation_loop.cpp     validation and test passes
//   prediction_loop.cpp     predict passes
//   optimization.cpp        automatic optimization: backward, clipping, step, schedulers
//   data_connector.cpp      which dataloaders a stage uses, and their batch counts
//   logger_connector.cpp    self.log, and what reaches the loggers
//   checkpoint_connector.cpp  what a checkpoint holds, writing and restoring it
//   distributed.cpp         the strategy: choosing it, shards, reductions, failures
//   hooks.{h,cpp}           the hook table and the hook dispatch helpers
//   result_collection.{h,cpp}  the values self.log accumulates
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "lightning/trainer.h"
#include "profilers/action_scope.h"
#include "trainer/allocator.h"
#include "trainer/fit_loop.h"
#include "trainer/hooks.h"
#include "trainer/result_collection.h"

namespace lightning::detail {

/// The library's own access to a Trainer's insides and to a module's
/// Trainer back-reference (friend of both).
struct TrainerAccess {
  static TrainerImpl& impl(const Trainer& trainer) { return *trainer.impl_; }
  static Trainer* trainer_of(const LightningModule& module) { return module.trainer_; }
  static void set_trainer(LightningModule& module, Trainer* trainer) { module.trainer_ = trainer; }
  /// LightningCLI's configure_optimizers from the config, used instead of
  /// `module`'s own when `trainer` runs that module (Python's LightningCLI
  /// replaces the model's method likewise).
  static void replace_configure_optimizers(
      Trainer& trainer, const LightningModule& module,
      std::function<OptimizerConfig(LightningModule&)> configure);
};

/// Which dataloaders the running stage uses.
struct StageLoaders {
  DataLoaders train, val, test, predict;
};

class TrainerImpl {
 public:
  TrainerImpl(Trainer& self, TrainerOptions options);
  ~TrainerImpl();
  TrainerImpl(const TrainerImpl&) = delete;
  TrainerImpl& operator=(const TrainerImpl&) = delete;

  // ---- The stage skeleton (trainer.cpp) -------------------------------------
  // Joins the strategy, attaches the module, runs the setup hooks, `body`,
  // the teardown hooks; on an exception tells the other ranks, the callbacks
  // and the loggers, then re-throws.
  template <typename Body>
  auto run_stage(std::shared_ptr<LightningModule> module, Stage stage,
                 LightningDataModule* datamodule, Body&& body) {
    if (options_.tune_allocator()) tune_allocator();  // malloc thresholds, once per process
    setup_strategy();  // under DDP: launches or joins the other processes
    LightningModule& model = attach(std::move(module), stage);
    datamodule_ = datamodule;
    try {
      setup_callbacks(model);
      check_steps(model, stage);
      start_profiler(stage);
      setup_stage(model, datamodule, stage);
      auto result = body(model);
      teardown_stage(model, datamodule, stage);
      finish_profiler(stage);
      finish_stage();
      return result;
    } catch (const std::exception& error) {
      fail_stage(error);
      throw;
    }
  }
  LightningModule& attach(std::shared_ptr<LightningModule> model, Stage stage);
  /// The step the stage needs is overridden (Lightning checks this before setup).
  void check_steps(LightningModule& model, Stage stage) const;
  void setup_callbacks(LightningModule& model);
  void setup_stage(LightningModule& model, LightningDataModule* datamodule, Stage stage);
  void teardown_stage(LightningModule& model, LightningDataModule* datamodule, Stage stage);
  void fail_stage(const std::exception& error);
  void finish_stage();
  std::string default_root_dir() const;
  std::string log_dir() const;

  // ---- Stages ---------------------------------------------------------------
  void fit(std::shared_ptr<LightningModule> module, LightningDataModule* datamodule,
           StageLoaders loaders, const std::optional<std::string>& ckpt_path);
  std::vector<Metrics> evaluate(std::shared_ptr<LightningModule> module, Stage stage,
                                LightningDataModule* datamodule, DataLoaders given,
                                const std::optional<std::string>& ckpt_path, bool verbose);
  std::vector<c10::IValue> predict(std::shared_ptr<LightningModule> module,
                                   LightningDataModule* datamodule, DataLoaders given,
                                   const std::optional<std::string>& ckpt_path);
  /// One validation or test pass over `loaders_` (evaluation_loop.cpp).
  std::vector<Metrics> run_evaluation(LightningModule& model, Stage stage,
                                      const std::vector<int64_t>& limits, bool log);
  /// One batch of it: transfer, the batch hooks and the step.
  void evaluation_batch(LightningModule& model, bool is_test, Batch batch, int64_t batch_idx,
                        int64_t dl_idx);
  std::vector<c10::IValue> run_predict(LightningModule& model);  // prediction_loop.cpp

  // ---- Data (data_connector.cpp) ---------------------------------------------
  DataLoaders resolve_loaders(DataLoaders given, LightningModule& model,
                              DataLoaders (LightningDataModule::*from_datamodule)(),
                              DataLoaders (LightningModule::*from_module)());
  bool validation_defined(LightningModule& model) const;
  /// The sanity check's validation batches; returns whether there is validation.
  bool sanity_check(LightningModule& model);
  /// Fetches the val loaders; returns whether validation has batches.
  bool load_validation(LightningModule& model);
  bool prepare_validation(LightningModule& model);
  /// The training loader and its batch counts (once per fit).
  void setup_train_data(LightningModule& model);
  std::vector<int64_t> batch_counts(DataLoaders& loaders, const BatchLimit& limit) const;
  int64_t estimated_stepping_batches();

  // ---- Hooks -----------------------------------------------------------------
  // With a profiler, each callback's and the module's part is one action
  // ("[Callback]<state_key>.<hook>", "[LightningModule]<class>.<hook>").
  template <typename OnCallback, typename OnModule>
  void call_hook(Hook hook, OnCallback&& on_callback, OnModule&& on_module) {
    if (profiling_ == nullptr) {
      dispatch(current_hook_, hook, callbacks_, on_callback, on_module);
      return;
    }
    dispatch(
        current_hook_, hook, callbacks_,
        [&](Callback& c) {
          ActionScope action(profiling_, [&] { return callback_action(c, hook); });
          on_callback(c);
        },
        [&] {
          ActionScope action(profiling_, [&] { return module_action(hook); });
          on_module();
        });
  }
  template <typename Fn>
  auto call_module_hook(Hook hook, Fn&& fn) {
    ActionScope action(profiling_, [&] { return module_action(hook); });
    return call_module(current_hook_, hook, std::forward<Fn>(fn));
  }

  // ---- Profiling (profiling.cpp) ---------------------------------------------
  /// "[LightningModule]<class>.<hook>"; the step hooks are the strategy's
  /// ("[Strategy]SingleDeviceStrategy.training_step"), as in Lightning.
  std::string module_action(Hook hook) const;
  std::string module_action(const char* hook) const;
  std::string callback_action(const Callback& callback, Hook hook) const;
  /// "[LightningDataModule]<class>.<hook>".
  std::string datamodule_action(const char* hook) const;
  /// "[Strategy]<class>.<what>".
  std::string strategy_action(const char* what) const;
  /// The profiler learns the stage, the rank and the run folder.
  void start_profiler(Stage stage);
  /// describe() and teardown(), at the end of a stage that succeeded.
  void finish_profiler(Stage stage);
  Batch transfer_batch(LightningModule& model, Batch batch, int64_t dataloader_idx);

  // ---- Optimization (optimization.cpp) ---------------------------------------
  void configure_optimizers(LightningModule& model);
  const at::Tensor& checked_loss(const StepOutput& output) const;
  void zero_grad(LightningModule& model, torch::optim::Optimizer& optimizer);
  void backward_and_step(LightningModule& model, torch::optim::Optimizer* optimizer,
                         const at::Tensor& loss, bool first_in_window, bool step);
  void backward(LightningModule& model, const at::Tensor& loss);
  void optimizer_step(LightningModule& model, torch::optim::Optimizer& optimizer, bool clip);
  void update_lr_schedulers(const std::string& interval, bool plateau);

  // ---- self.log and the loggers (logger_connector.cpp) -----------------------
  void module_log(const std::string& name, const at::Tensor& value, const LogOptions& options);
  void module_log_metric(const std::string& name, metrics::Metric& metric,
                         const LogOptions& options);
  /// Where a self.log call lands: Lightning's per-hook defaults and checks.
  struct LogPlace {
    bool on_step;
    bool on_epoch;
    const char* hook;
  };
  LogPlace log_place(const std::string& name, const LogOptions& options) const;
  /// Hands the Strategy to every Metric submodule of `model` (nullptr: takes it back).
  void share_strategy_with_metrics(LightningModule& model, Strategy* strategy);
  void log_step_metrics(bool force);
  void start_loggers(LightningModule& model, LightningDataModule* datamodule);
  void send_to_loggers(const TensorMetrics& metrics, int64_t step, bool epoch_level);
  MetricSinks sinks() { return {&callback_metrics_, &progress_bar_metrics_}; }

  // ---- Checkpoints (checkpoint_connector.cpp) --------------------------------
  Checkpoint dump_checkpoint(bool weights_only);
  void save_checkpoint(const std::string& path, bool weights_only);
  /// A checkpoint file, or "best" / "last" (the checkpoint callback's);
  /// `stage` names the calling method in messages.
  std::string resolve_ckpt_path(const std::string& ckpt_path, Stage stage) const;
  /// validate/test/predict(ckpt_path=...): the module, datamodule and callback
  /// states from the checkpoint (Lightning's _restore_modules_and_callbacks);
  /// without one, the module's current weights (ckpt_path() is then empty).
  void restore_for_evaluation(LightningModule& model, LightningDataModule* datamodule,
                              const std::optional<std::string>& ckpt_path, Stage stage);
  void restore_modules_and_callbacks(LightningModule& model, LightningDataModule* datamodule,
                                     Checkpoint& checkpoint);
  void restore_training_state(Checkpoint& checkpoint);

  // ---- Distributed (distributed.cpp) -----------------------------------------
  static std::shared_ptr<Strategy> make_strategy(const StrategyOption& option,
                                                 std::optional<int64_t> devices, int64_t num_nodes);
  void setup_strategy();
  DataLoaders distribute(DataLoaders loaders, bool training);
  void sync_epoch_results(ResultCollection& results);
  at::Tensor sync_step_value(const at::Tensor& value, const std::string& reduce_fx);
  void agree_on_should_stop();
  void fail_strategy(const std::exception& error);
  bool is_global_zero() const { return strategy_->global_rank() == 0; }
  int64_t world_size() const { return strategy_->world_size(); }

  // ---- State -----------------------------------------------------------------
  Trainer& self_;  // what callbacks and modules see
  TrainerOptions options_;
  at::Device device_{at::kCPU};
  int64_t accumulate_grad_batches_ = 1;

  std::shared_ptr<LightningModule> model_;
  std::vector<std::shared_ptr<Callback>> base_callbacks_;  // options + default callbacks
  std::vector<std::shared_ptr<Callback>> callbacks_;       // + configure_callbacks()
  std::vector<std::shared_ptr<Logger>> loggers_;
  /// barebones: self.log does nothing (warned once); true when that applies.
  bool logging_off_for_barebones();
  /// reload_dataloaders_every_n_epochs: fetch the train loaders again from
  /// their hook when due (at a training epoch's start).
  void maybe_reload_train_data(LightningModule& model);
  /// Likewise for the val loaders before fit's validation; returns whether
  /// validation still has batches.
  bool maybe_reload_val_data(LightningModule& model);
  // Whether the loaders came from a hook (passed ones are never reloaded),
  // and the epoch they were fetched in.
  bool train_from_hook_ = false, val_from_hook_ = false;
  int64_t train_loaded_epoch_ = 0, val_loaded_epoch_ = 0;

  /// A warning printed once per Trainer (on global rank 0): a second Trainer
  /// in the same process warns again.
  void warn_once(const std::string& message);
  std::set<std::string> warned_;

  std::vector<std::shared_ptr<torch::optim::Optimizer>> optimizers_;
  // TrainerAccess::replace_configure_optimizers: the replacement and its module.
  const LightningModule* configure_optimizers_of_ = nullptr;
  std::function<OptimizerConfig(LightningModule&)> configure_optimizers_;
  std::vector<LRSchedulerConfig> lr_scheduler_configs_;
  std::unique_ptr<Precision> precision_;
  std::shared_ptr<Strategy> strategy_;
  // TrainerOptions::profiler (a PassThroughProfiler when off); profiling_ is
  // it when on, nullptr when off (the loops test it before naming an action).
  std::shared_ptr<Profiler> profiler_;
  Profiler* profiling_ = nullptr;
  std::string profiler_dir_;  // the run folder the profiler was last told
  mutable std::unordered_map<const Callback*, std::string> profiled_state_keys_;
  std::string profiled_module_class_;  // "[LightningModule]<this>.<hook>", set per stage
  int64_t num_devices_ = 1;
  // Under DDP: rank 0's run folder, so every rank resolves the same paths.
  std::string run_dir_;
  StageLoaders loaders_;
  LightningDataModule* datamodule_ = nullptr;  // of the running stage
  bool train_data_ready_ = false;
  std::string ckpt_path_;  // the checkpoint the last fit resumed from

  FitLoop fit_loop_;
  Stage stage_ = Stage::Fit;
  bool training_ = false;
  bool sanity_checking_ = false;
  bool should_stop_ = false;
  std::vector<int64_t> num_val_batches_, num_sanity_val_batches_, num_test_batches_,
      num_predict_batches_;

  // self.log: the collection of the running loop, the hook running now, and
  // what a value logged now belongs to.
  std::unique_ptr<ResultCollection> train_results_;
  std::unique_ptr<ResultCollection> eval_results_;
  ResultCollection* active_results_ = nullptr;
  Hook current_hook_ = Hook::None;
  int64_t current_batch_size_ = 0;
  int64_t current_dataloader_idx_ = 0;
  std::string current_dataloader_suffix_;  // "/dataloader_idx_N" with several eval loaders

  TensorMetrics callback_metrics_, logged_metrics_, progress_bar_metrics_;
};

}  // namespace lightning::detail
