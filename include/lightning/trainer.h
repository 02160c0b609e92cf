// lightning/trainer.h — the Trainer: runs a LightningModule's loops.
//
//   L::Trainer trainer(L::TrainerOptions().max_epochs(5).limit_val_batches(0.25));
//   trainer.fit(model, data);                           // train + validate
//   std::vector<L::Metrics> results = trainer.test(model, data);
//   double acc = results[0].at("test_acc");
//   auto predictions = trainer.predict(model, data);    // one IValue per batch
//
// `fit` calls the hooks in Lightning's order (docs/hooks.md lists it; a golden
// test enforces it). Options have Lightning's names and defaults and are
// validated when the Trainer is constructed.
#pragma once

#include <ATen/ATen.h>
#include <ATen/core/ivalue.h>
#include <torch/arg.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lightning/callbacks/callback.h"
#include "lightning/checkpoint/checkpoint.h"
#include "lightning/data/dataloader.h"
#include "lightning/datamodule.h"
#include "lightning/loggers/logger.h"
#include "lightning/logging.h"
#include "lightning/loop_state.h"
#include "lightning/module.h"
#include "lightning/optim/optimizer_config.h"
#include "lightning/precision.h"
#include "lightning/strategies/strategy.h"

namespace torch::optim {
class Optimizer;
}

namespace lightning {

class ModelCheckpoint;
class EarlyStopping;

namespace detail {
class ResultCollection;
struct EvalLoop;
}  // namespace detail

/// A batch count (int) or a fraction of the dataloader (float), as Lightning's
/// `limit_*_batches`, `overfit_batches` and `val_check_interval` take.
class LIGHTNING_API BatchLimit {
 public:
  BatchLimit(int value) : BatchLimit(static_cast<int64_t>(value)) {}
  BatchLimit(int64_t value) : count_(value) {}
  BatchLimit(double value) : fraction_(value), is_fraction_(true) {}
  bool is_fraction() const { return is_fraction_; }
  int64_t count() const { return count_; }
  double fraction() const { return fraction_; }
  /// Batches out of `available` (fractions round down, with at least one
  /// batch when the fraction is positive).
  int64_t resolve(int64_t available) const;

 private:
  int64_t count_ = 0;
  double fraction_ = 0.0;
  bool is_fraction_ = false;
};

/// `fast_dev_run`: false, true (1 batch) or a number of batches.
class FastDevRun {
 public:
  FastDevRun(bool value) : batches_(value ? 1 : 0) {}
  FastDevRun(int value) : batches_(value) {}
  FastDevRun(int64_t value) : batches_(value) {}
  int64_t batches() const { return batches_; }
  bool enabled() const { return batches_ != 0; }

 private:
  int64_t batches_ = 0;
};

/// Options of the Trainer, with Lightning's names and defaults.
struct TrainerOptions {
  /// "auto", "cpu", "cuda" or "gpu". Default "auto" (cuda when available).
  TORCH_ARG(std::string, accelerator) = "auto";
  /// Devices (processes) per node; -1 or unset means "auto" (one). Default
  /// unset. More than one trains with DDP (docs/distributed.md).
  TORCH_ARG(std::optional<int64_t>, devices) = std::nullopt;
  /// Machines taking part; each runs `devices` processes. Default 1.
  TORCH_ARG(int64_t, num_nodes) = 1;
  /// "auto" (default), "ddp", "ddp_find_unused_parameters_true",
  /// "single_device", or a Strategy object such as
  /// std::make_shared<L::DDPStrategy>(L::DDPOptions().timeout(...)).
  /// See lightning/strategies/strategy.h and docs/distributed.md.
  TORCH_ARG(StrategyOption, strategy) = "auto";
  /// Under DDP, give every dataloader this process's shard: training shards
  /// are padded to equal length and reshuffled per epoch identically on every
  /// rank (torch's DistributedSampler); evaluation and predict shards hold each
  /// sample exactly once. Default true.
  TORCH_ARG(bool, use_distributed_sampler) = true;
  /// "32-true" (default), "64-true", "bf16-mixed", "bf16-true", "16-mixed"
  /// (CUDA only), "16-true", or Lightning's legacy "32", "64", "bf16", "16".
  /// See lightning/precision.h.
  TORCH_ARG(std::string, precision) = "32-true";
  /// Stop after this many epochs; -1 means no limit. Default: 1000 when
  /// max_steps is -1, else no limit.
  TORCH_ARG(std::optional<int64_t>, max_epochs) = std::nullopt;
  /// Train at least this many epochs even when asked to stop. Default unset.
  TORCH_ARG(std::optional<int64_t>, min_epochs) = std::nullopt;
  /// Stop after this many optimizer steps; -1 means no limit. Default -1.
  TORCH_ARG(int64_t, max_steps) = -1;
  /// Train at least this many steps even when asked to stop. Default unset.
  TORCH_ARG(std::optional<int64_t>, min_steps) = std::nullopt;
  /// Batches per training epoch (int) or fraction of the loader. Default 1.0.
  TORCH_ARG(BatchLimit, limit_train_batches) = 1.0;
  TORCH_ARG(BatchLimit, limit_val_batches) = 1.0;
  TORCH_ARG(BatchLimit, limit_test_batches) = 1.0;
  TORCH_ARG(BatchLimit, limit_predict_batches) = 1.0;
  /// Overfit on this many (or this fraction of) training batches: limits train
  /// and val to it, turns train shuffling off. Default 0.0 (off).
  TORCH_ARG(BatchLimit, overfit_batches) = 0.0;
  /// Validate every this many training batches (int) or at this fraction of
  /// the epoch (float). Default 1.0 (end of the epoch).
  TORCH_ARG(BatchLimit, val_check_interval) = 1.0;
  /// Validate every N epochs. Default 1.
  TORCH_ARG(int64_t, check_val_every_n_epoch) = 1;
  /// Validation batches run before training as a sanity check; -1 for all. Default 2.
  TORCH_ARG(int64_t, num_sanity_val_steps) = 2;
  /// Accumulate gradients over N batches before each optimizer step (the
  /// loss is divided by N). Default 1.
  TORCH_ARG(int64_t, accumulate_grad_batches) = 1;
  /// Clip gradients before each optimizer step to this value; unset or 0
  /// disables clipping. Default unset.
  TORCH_ARG(std::optional<double>, gradient_clip_val) = std::nullopt;
  /// "norm" (clip the global 2-norm, the default when a value is set) or "value"
  /// (clamp each element). Default unset.
  TORCH_ARG(std::optional<std::string>, gradient_clip_algorithm) = std::nullopt;
  /// Send step metrics to the loggers every N optimizer steps. Default 50.
  TORCH_ARG(int64_t, log_every_n_steps) = 50;
  /// Run N batches of each loop once (true = 1) to find bugs; no sanity
  /// check, no loggers. Default false.
  TORCH_ARG(FastDevRun, fast_dev_run) = false;
  /// Add a ModelCheckpoint (checkpoints of the latest epoch under
  /// <log_dir>/checkpoints) unless one is among the callbacks. Default true.
  TORCH_ARG(bool, enable_checkpointing) = true;
  /// Draw a progress bar. Default true.
  TORCH_ARG(bool, enable_progress_bar) = true;
  /// Print the model summary at fit start. Default true.
  TORCH_ARG(bool, enable_model_summary) = true;
  /// Directory for logs and checkpoints. Default: the working directory.
  TORCH_ARG(std::string, default_root_dir) = "";
  /// Use deterministic algorithms (at::globalContext().setDeterministicAlgorithms). Default false.
  TORCH_ARG(bool, deterministic) = false;
  /// libtorch intra-op threads; unset leaves libtorch's setting. Default unset.
  TORCH_ARG(std::optional<int64_t>, num_threads) = std::nullopt;
  /// Callbacks, run in this order before the module at each hook.
  TORCH_ARG(std::vector<std::shared_ptr<Callback>>, callbacks) = {};
  /// Experiment loggers: true (default) writes metrics.csv, TensorBoard events,
  /// hparams.yaml and report.html to <default_root_dir>/lightning_logs/version_N/;
  /// false logs nothing; or one logger, or several ({csv, tb}).
  TORCH_ARG(LoggerOption, logger) = true;
};

/// Runs fit / validate / test / predict for a LightningModule.
class LIGHTNING_API Trainer {
 public:
  /// Validates every option; `lightning::Error` names the bad one.
  explicit Trainer(TrainerOptions options = {});
  ~Trainer();
  Trainer(const Trainer&) = delete;  // owns loop state and the module's back-reference
  Trainer& operator=(const Trainer&) = delete;

  /// Trains with the datamodule's train/val loaders. `ckpt_path` resumes:
  /// a file, "last" (the checkpoint callback's last.ckpt) or "best" (its best
  /// model); weights, optimizer, schedulers, callbacks, loops, sampler and RNG
  /// state are restored and training continues where it stopped, exactly
  /// (see docs/checkpoints.md).
  void fit(std::shared_ptr<LightningModule> model, LightningDataModule& datamodule,
           const std::optional<std::string>& ckpt_path = std::nullopt);
  /// Trains with the given loaders (val may be empty).
  void fit(std::shared_ptr<LightningModule> model, DataLoaders train_dataloaders,
           DataLoaders val_dataloaders = {},
           const std::optional<std::string>& ckpt_path = std::nullopt);
  /// Trains with the module's own dataloader hooks.
  void fit(std::shared_ptr<LightningModule> model);
  void fit(std::shared_ptr<LightningModule> model, const std::string& ckpt_path);

  /// One validation pass; returns one metrics map per dataloader.
  std::vector<Metrics> validate(std::shared_ptr<LightningModule> model,
                                LightningDataModule& datamodule);
  std::vector<Metrics> validate(std::shared_ptr<LightningModule> model, DataLoaders dataloaders);
  std::vector<Metrics> validate(std::shared_ptr<LightningModule> model);

  /// One test pass; returns one metrics map per dataloader.
  std::vector<Metrics> test(std::shared_ptr<LightningModule> model,
                            LightningDataModule& datamodule);
  std::vector<Metrics> test(std::shared_ptr<LightningModule> model, DataLoaders dataloaders);
  std::vector<Metrics> test(std::shared_ptr<LightningModule> model);

  /// Runs `predict_step` over the predict loader(s). With one loader: one
  /// output per batch. With several: one element per loader, each a list of
  /// that loader's batch outputs.
  std::vector<c10::IValue> predict(std::shared_ptr<LightningModule> model,
                                   LightningDataModule& datamodule);
  std::vector<c10::IValue> predict(std::shared_ptr<LightningModule> model, DataLoaders dataloaders);
  std::vector<c10::IValue> predict(std::shared_ptr<LightningModule> model);

  // ---- State ---------------------------------------------------------------

  const TrainerOptions& options() const { return options_; }
  int64_t current_epoch() const { return loop_.epoch; }
  int64_t global_step() const { return loop_.global_step; }
  const LoopState& loop_state() const { return loop_; }
  /// Set to true (by a callback or the module) to stop after the current batch.
  bool should_stop() const { return should_stop_; }
  void set_should_stop(bool value) { should_stop_ = value; }
  /// The running entry point (valid inside hooks).
  Stage state() const { return stage_; }
  bool training() const { return training_; }
  bool sanity_checking() const { return sanity_checking_; }

  // ---- Checkpoints (docs/checkpoints.md) -----------------------------------

  /// Writes a checkpoint of the module being (or last) trained, with
  /// Lightning's keys; `weights_only` leaves out optimizer, scheduler,
  /// callback and precision state. Only global rank 0 writes; every rank must
  /// call it. `lightning::Error` when no module is attached.
  void save_checkpoint(const std::string& path, bool weights_only = false);
  /// The checkpoint `save_checkpoint` would write.
  Checkpoint dump_checkpoint(bool weights_only = false);
  /// The first ModelCheckpoint callback, or nullptr.
  ModelCheckpoint* checkpoint_callback() const;
  std::vector<ModelCheckpoint*> checkpoint_callbacks() const;
  /// The first EarlyStopping callback, or nullptr.
  EarlyStopping* early_stopping_callback() const;
  /// The checkpoint the last fit resumed from ("" when none).
  const std::string& ckpt_path() const { return ckpt_path_; }

  /// Latest value of every metric, for callbacks and schedulers.
  const TensorMetrics& callback_metrics() const { return callback_metrics_; }
  /// What was last sent to the loggers.
  const TensorMetrics& logged_metrics() const { return logged_metrics_; }
  /// What the progress bar shows (`prog_bar=true` metrics).
  const TensorMetrics& progress_bar_metrics() const { return progress_bar_metrics_; }

  /// Training batches per epoch after limits (known once fit has started).
  int64_t num_training_batches() const { return num_training_batches_; }
  /// Batches per val / sanity / test / predict loader after limits.
  const std::vector<int64_t>& num_val_batches() const { return num_val_batches_; }
  const std::vector<int64_t>& num_sanity_val_batches() const { return num_sanity_val_batches_; }
  const std::vector<int64_t>& num_test_batches() const { return num_test_batches_; }
  const std::vector<int64_t>& num_predict_batches() const { return num_predict_batches_; }

  const std::vector<std::shared_ptr<Callback>>& callbacks() const { return callbacks_; }
  /// The loggers in use. With `logger(true)` the default ones are created when
  /// the first fit/validate/test starts (so the version folder is claimed then).
  const std::vector<std::shared_ptr<Logger>>& loggers() const { return loggers_; }
  /// The first logger, or nullptr (Lightning's `trainer.logger`).
  Logger* logger() const { return loggers_.empty() ? nullptr : loggers_[0].get(); }
  /// The run folder: the first logger's log_dir (lightning_logs/version_N with
  /// the default loggers), else default_root_dir. Checkpoints go under it.
  std::string log_dir() const;
  /// The module being run; `lightning::Error` outside an entry point.
  LightningModule& lightning_module() const;
  const std::vector<std::shared_ptr<torch::optim::Optimizer>>& optimizers() const {
    return optimizers_;
  }
  /// The schedulers from configure_optimizers with their configs
  /// (Lightning's `trainer.lr_scheduler_configs`).
  const std::vector<LRSchedulerConfig>& lr_scheduler_configs() const {
    return lr_scheduler_configs_;
  }
  /// The precision plugin ("32-true" unless TrainerOptions::precision says otherwise).
  Precision& precision_plugin() { return *precision_; }
  const Precision& precision_plugin() const { return *precision_; }
  at::Device root_device() const { return device_; }
  std::string default_root_dir() const;
  /// The strategy in use (SingleDeviceStrategy or DDPStrategy).
  Strategy& strategy() const { return *strategy_; }
  /// This process's rank among all processes (0 outside distributed runs).
  int64_t global_rank() const { return strategy_->global_rank(); }
  /// This process's rank on its machine.
  int64_t local_rank() const { return strategy_->local_rank(); }
  int64_t node_rank() const { return strategy_->node_rank(); }
  /// Processes in the job (devices x num_nodes under DDP).
  int64_t world_size() const { return strategy_->world_size(); }
  bool is_global_zero() const { return global_rank() == 0; }
  /// devices x num_nodes, known at construction (before the processes start).
  int64_t num_devices() const { return num_devices_; }
  /// The effective max_epochs (after Lightning's defaulting); -1 = no limit.
  int64_t max_epochs() const { return max_epochs_; }
  /// Optimizer steps the whole fit will take:
  /// ceil(training batches per epoch / accumulate_grad_batches) * max_epochs,
  /// capped by max_steps. Usable from configure_optimizers (it fetches the
  /// training dataloader then, as Lightning does). `lightning::Error` outside
  /// fit, or when neither max_epochs nor max_steps bounds the run.
  int64_t estimated_stepping_batches();
  /// Batches per optimizer step now (the option, or what a
  /// GradientAccumulationScheduler set for this epoch).
  int64_t accumulate_grad_batches() const { return accumulate_grad_batches_; }
  /// Changes it from the next batch on; `lightning::Error` when < 1.
  void set_accumulate_grad_batches(int64_t value);

 private:
  friend class LightningModule;
  friend class LightningOptimizer;
  friend class LearningRateMonitor;  // puts its values into callback_metrics, as Lightning
  struct Loaders;

  // fit, top to bottom (src/trainer.cpp); each helper one level deep.
  void run_fit(std::shared_ptr<LightningModule> module, LightningDataModule* datamodule,
               Loaders loaders, const std::optional<std::string>& ckpt_path);
  void setup_callbacks(LightningModule& model);
  void setup_stage(LightningModule& model, LightningDataModule* datamodule, Stage stage);
  bool prepare_validation(LightningModule& model);
  bool validation_defined(LightningModule& model) const;
  bool load_validation(LightningModule& model);
  void finish_saved_epoch_end();
  /// Returns whether there is validation (the val loaders it loaded have batches).
  bool sanity_check(LightningModule& model);
  void setup_train_data(LightningModule& model);
  void configure_optimizers(LightningModule& model);
  bool should_accumulate(int64_t batch_idx) const;
  bool fit_done() const;
  bool min_reached() const;
  void train_epoch(LightningModule& model, bool has_validation);
  bool finish_training_batch(LightningModule& model, int64_t batch_idx, bool accumulating,
                             bool validate_this_epoch, bool after_validation);
  void finish_train_epoch(LightningModule& model, bool completed);

  // checkpoints (src/trainer_checkpoint.cpp)
  std::string resolve_ckpt_path(const std::string& ckpt_path) const;
  void restore_modules_and_callbacks(LightningModule& model, LightningDataModule* datamodule);
  void restore_training_state();
  static void restore_rng(const std::vector<at::Tensor>& states);
  uint64_t train_shuffle_seed() const;
  bool training_batch(LightningModule& model, Batch batch, int64_t batch_idx, bool accumulating);
  const at::Tensor& checked_loss(const StepOutput& output) const;
  void zero_grad(LightningModule& model, torch::optim::Optimizer& optimizer);
  void backward_and_step(LightningModule& model, torch::optim::Optimizer* optimizer,
                         const at::Tensor& loss, bool first_in_window, bool step);
  void backward(LightningModule& model, const at::Tensor& loss);
  void optimizer_step(LightningModule& model, torch::optim::Optimizer& optimizer, bool clip);
  void update_lr_schedulers(const std::string& interval, bool plateau);
  Batch transfer_batch(LightningModule& model, Batch batch, int64_t dataloader_idx);
  void teardown_stage(LightningModule& model, LightningDataModule* datamodule, Stage stage);

  // validate / test / predict
  std::vector<Metrics> evaluate_stage(std::shared_ptr<LightningModule> model, Stage stage,
                                      LightningDataModule* datamodule, DataLoaders given);
  std::vector<Metrics> run_evaluation(LightningModule& model, Stage stage,
                                      const std::vector<int64_t>& limits, bool log);
  std::vector<c10::IValue> predict_stage(std::shared_ptr<LightningModule> model,
                                         LightningDataModule* datamodule, DataLoaders given);
  std::vector<c10::IValue> run_predict(LightningModule& model);

  LightningModule& attach(std::shared_ptr<LightningModule> model, Stage stage);
  void fail_stage(const std::exception& error);
  void finish_stage();

  // distributed (src/trainer_distributed.cpp)
  static std::shared_ptr<Strategy> make_strategy(const StrategyOption& option,
                                                 std::optional<int64_t> devices, int64_t num_nodes);
  void setup_strategy();
  DataLoaders distribute(DataLoaders loaders, bool training);
  void sync_epoch_results(detail::ResultCollection& results);
  at::Tensor sync_step_value(const at::Tensor& value, const std::string& reduce_fx);
  void agree_on_should_stop();
  void fail_strategy(const std::exception& error);

  // self.log plumbing
  void log_step_metrics(bool force);
  void start_loggers(LightningModule& model, LightningDataModule* datamodule);
  void send_to_loggers(const TensorMetrics& metrics, int64_t step, bool epoch_level);
  void module_log(const std::string& name, const at::Tensor& value, const LogOptions& options);

  TrainerOptions options_;
  at::Device device_{at::kCPU};
  int64_t max_epochs_ = 1000;
  int64_t max_steps_ = -1;
  int64_t accumulate_grad_batches_ = 1;

  std::shared_ptr<LightningModule> model_;
  std::vector<std::shared_ptr<Callback>> base_callbacks_;  // options + default callbacks
  std::vector<std::shared_ptr<Callback>> callbacks_;       // + configure_callbacks()
  std::vector<std::shared_ptr<Logger>> loggers_;
  std::vector<std::shared_ptr<torch::optim::Optimizer>> optimizers_;
  std::vector<LRSchedulerConfig> lr_scheduler_configs_;
  std::unique_ptr<Precision> precision_;
  std::shared_ptr<Strategy> strategy_;
  int64_t num_devices_ = 1;
  // Under DDP: rank 0's run folder, so every rank resolves the same paths.
  std::string run_dir_;
  std::unique_ptr<Loaders> loaders_;
  LightningDataModule* datamodule_ = nullptr;  // of the running fit, for lazy train data
  bool train_data_ready_ = false;

  LoopState loop_;
  // Where in the fit loop we are, for checkpoints: training batches finished
  // in this epoch, and the phase a checkpoint written now would resume from.
  int64_t batches_done_ = 0;
  enum class FitPhase {
    kOutside,
    kBatch,
    kTrainBatchEnd,
    kValidation,
    kTrainEpochEnd,
    kTrainEpochStart
  };
  FitPhase phase_ = FitPhase::kOutside;
  std::string ckpt_path_;
  std::optional<Checkpoint> restoring_;  // the checkpoint a fit resumes from
  struct Resume {
    FitPhase phase = FitPhase::kBatch;
    int64_t batches_done = 0;
    // Exact resume (checkpoints written here): the epoch's shuffle seed and
    // the RNG states at the save. A Python Lightning checkpoint resumes at
    // the start of its epoch instead.
    bool exact = false;
    uint64_t shuffle_seed = 0;
    std::vector<at::Tensor> rng_states;  // CPU, then each CUDA device
    // What self.log had accumulated in the epoch at the save; null for
    // checkpoints without it (older ones, Python Lightning's).
    std::shared_ptr<detail::ResultCollection> train_results;
  };
  std::optional<Resume> resume_;  // consumed by the first resumed epoch
  Stage stage_ = Stage::Fit;
  bool training_ = false;
  bool sanity_checking_ = false;
  bool should_stop_ = false;
  int64_t num_training_batches_ = 0;
  int64_t val_check_batch_ = 1;
  std::vector<int64_t> num_val_batches_, num_sanity_val_batches_, num_test_batches_,
      num_predict_batches_;

  std::unique_ptr<detail::ResultCollection> train_results_;
  std::unique_ptr<detail::ResultCollection> eval_results_;
  detail::ResultCollection* active_results_ = nullptr;
  int current_hook_ = 0;  // a detail::Hook, the hook running now (for self.log rules)
  int64_t current_batch_size_ = 0;
  int64_t current_dataloader_idx_ = 0;
  std::string current_dataloader_suffix_;  // "/dataloader_idx_N" with several eval loaders

  TensorMetrics callback_metrics_, logged_metrics_, progress_bar_metrics_;
};

}  // namespace lightning
