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
#include "lightning/profilers/profiler.h"
#include "lightning/strategies/strategy.h"
#include "lightning/time_limit.h"

namespace torch::optim {
class Optimizer;
}

namespace lightning {

class ModelCheckpoint;
class EarlyStopping;

namespace detail {
class TrainerImpl;
struct TrainerAccess;
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
  /// max_steps is -1 and there is no max_time (or Timer), else no limit.
  TORCH_ARG(std::optional<int64_t>, max_epochs) = std::nullopt;
  /// Train at least this many epochs even when asked to stop. Default unset.
  TORCH_ARG(std::optional<int64_t>, min_epochs) = std::nullopt;
  /// Stop after this many optimizer steps; -1 means no limit. Default -1.
  TORCH_ARG(int64_t, max_steps) = -1;
  /// Train at least this many steps even when asked to stop. Default unset.
  TORCH_ARG(std::optional<int64_t>, min_steps) = std::nullopt;
  /// Stop fit after this much wall time, "DD:HH:MM:SS" or a std::chrono
  /// duration (a Timer callback; see lightning/callbacks/timer.h). The run
  /// stops at the end of the batch that crosses the limit, and the usual
  /// end-of-fit checkpoint is written. Default unset (no limit).
  TORCH_ARG(std::optional<TimeLimit>, max_time) = std::nullopt;
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
  /// cuDNN's benchmark mode (torch.backends.cudnn.benchmark): true picks the
  /// fastest convolution algorithms per input shape. Unset: false with
  /// deterministic, else the process's current setting. Default unset.
  TORCH_ARG(std::optional<bool>, benchmark) = std::nullopt;
  /// Autograd anomaly detection during fit's training loop
  /// (torch.autograd.set_detect_anomaly): a backward that produces NaN raises
  /// an error naming the operation. Slow; for debugging. Default false.
  TORCH_ARG(bool, detect_anomaly) = false;
  /// Validation, test and predict run under InferenceMode (true) or under
  /// NoGradGuard (false: tensors they create can be used in autograd later).
  /// Default true.
  TORCH_ARG(bool, inference_mode) = true;
  /// Fetch the train and val dataloaders from their hooks again every N
  /// epochs during fit (0: once per fit). Loaders passed to fit directly are
  /// not reloaded. Default 0.
  TORCH_ARG(int64_t, reload_dataloaders_every_n_epochs) = 0;
  /// Nothing that costs speed: no checkpointing, loggers, progress bar, model
  /// summary or sanity check (these options are turned off, whatever their
  /// values), `self.log` does nothing (with a warning), and fast_dev_run or
  /// detect_anomaly are errors. To measure the Trainer's own overhead.
  /// Default false.
  TORCH_ARG(bool, barebones) = false;
  /// Profile the run: "simple", "advanced", "pytorch" or a Profiler object
  /// (lightning/profilers/). Default unset: no profiling.
  TORCH_ARG(ProfilerOption, profiler) = {};
  /// libtorch intra-op threads; unset leaves libtorch's setting. Default unset.
  TORCH_ARG(std::optional<int64_t>, num_threads) = std::nullopt;
  /// With glibc: at the start of fit/validate/test/predict, fix malloc's mmap
  /// threshold at 32 MiB and its trim threshold at 64 MiB, for the whole
  /// process and for good. glibc's defaults move both thresholds as memory is
  /// freed, and with the buffer sizes of a training step they can make it hand
  /// the same buffers back to the kernel and fault them in again every step.
  /// Up to 64 MiB of freed heap may stay mapped. Skipped when the environment
  /// already sets malloc (MALLOC_*_ variables, GLIBC_TUNABLES=glibc.malloc.*).
  /// false leaves the allocator alone. No Python Lightning counterpart. Default true.
  TORCH_ARG(bool, tune_allocator) = true;
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
  Trainer(const Trainer&) = delete;  // owns the loops and the module's back-reference
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
  /// `ckpt_path` evaluates a checkpoint's weights instead of the module's
  /// current ones: a file, "best" or "last" (the checkpoint callback's), as
  /// Lightning's `validate(model, ckpt_path="best")`; the module, datamodule
  /// and callback states are restored from it. `verbose` prints Lightning's
  /// results table (global rank 0).
  std::vector<Metrics> validate(std::shared_ptr<LightningModule> model,
                                LightningDataModule& datamodule,
                                const std::optional<std::string>& ckpt_path = std::nullopt,
                                bool verbose = true);
  std::vector<Metrics> validate(std::shared_ptr<LightningModule> model, DataLoaders dataloaders,
                                const std::optional<std::string>& ckpt_path = std::nullopt,
                                bool verbose = true);
  std::vector<Metrics> validate(std::shared_ptr<LightningModule> model);
  std::vector<Metrics> validate(std::shared_ptr<LightningModule> model,
                                const std::string& ckpt_path);

  /// One test pass; returns one metrics map per dataloader. `ckpt_path` and
  /// `verbose` as for validate: `trainer.test(model, data, "best")`.
  std::vector<Metrics> test(std::shared_ptr<LightningModule> model, LightningDataModule& datamodule,
                            const std::optional<std::string>& ckpt_path = std::nullopt,
                            bool verbose = true);
  std::vector<Metrics> test(std::shared_ptr<LightningModule> model, DataLoaders dataloaders,
                            const std::optional<std::string>& ckpt_path = std::nullopt,
                            bool verbose = true);
  std::vector<Metrics> test(std::shared_ptr<LightningModule> model);
  std::vector<Metrics> test(std::shared_ptr<LightningModule> model, const std::string& ckpt_path);

  /// Runs `predict_step` over the predict loader(s). With one loader: one
  /// output per batch. With several: one element per loader, each a list of
  /// that loader's batch outputs. `ckpt_path` as for validate.
  std::vector<c10::IValue> predict(std::shared_ptr<LightningModule> model,
                                   LightningDataModule& datamodule,
                                   const std::optional<std::string>& ckpt_path = std::nullopt);
  std::vector<c10::IValue> predict(std::shared_ptr<LightningModule> model, DataLoaders dataloaders,
                                   const std::optional<std::string>& ckpt_path = std::nullopt);
  std::vector<c10::IValue> predict(std::shared_ptr<LightningModule> model);
  std::vector<c10::IValue> predict(std::shared_ptr<LightningModule> model,
                                   const std::string& ckpt_path);

  // ---- State ---------------------------------------------------------------

  const TrainerOptions& options() const;
  int64_t current_epoch() const;
  int64_t global_step() const;
  const LoopState& loop_state() const;
  /// Set to true (by a callback or the module) to stop after the current batch.
  bool should_stop() const;
  void set_should_stop(bool value);
  /// The running entry point (valid inside hooks).
  Stage state() const;
  bool training() const;
  bool sanity_checking() const;

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
  const std::string& ckpt_path() const;

  /// Latest value of every metric, for callbacks and schedulers.
  const TensorMetrics& callback_metrics() const;
  /// What was last sent to the loggers.
  const TensorMetrics& logged_metrics() const;
  /// What the progress bar shows (`prog_bar=true` metrics).
  const TensorMetrics& progress_bar_metrics() const;

  /// Training batches per epoch after limits (known once fit has started).
  int64_t num_training_batches() const;
  /// Batches per val / sanity / test / predict loader after limits.
  const std::vector<int64_t>& num_val_batches() const;
  const std::vector<int64_t>& num_sanity_val_batches() const;
  const std::vector<int64_t>& num_test_batches() const;
  const std::vector<int64_t>& num_predict_batches() const;

  const std::vector<std::shared_ptr<Callback>>& callbacks() const;
  /// The loggers in use. With `logger(true)` the default ones are created when
  /// the first fit/validate/test starts (so the version folder is claimed then).
  const std::vector<std::shared_ptr<Logger>>& loggers() const;
  /// The first logger, or nullptr (Lightning's `trainer.logger`).
  Logger* logger() const;
  /// The run folder: the first logger's log_dir (lightning_logs/version_N with
  /// the default loggers), else default_root_dir. Checkpoints go under it.
  std::string log_dir() const;
  /// The module being run; `lightning::Error` outside an entry point.
  LightningModule& lightning_module() const;
  const std::vector<std::shared_ptr<torch::optim::Optimizer>>& optimizers() const;
  /// The schedulers from configure_optimizers with their configs
  /// (Lightning's `trainer.lr_scheduler_configs`).
  const std::vector<LRSchedulerConfig>& lr_scheduler_configs() const;
  /// The precision plugin ("32-true" unless TrainerOptions::precision says otherwise).
  Precision& precision_plugin();
  const Precision& precision_plugin() const;
  at::Device root_device() const;
  /// The profiler in use (a PassThroughProfiler when profiling is off), for
  /// `auto scope = trainer.profiler().profile("my_action");`.
  Profiler& profiler() const;
  std::string default_root_dir() const;
  /// The strategy in use (SingleDeviceStrategy, DDPStrategy, or the object
  /// passed as TrainerOptions::strategy).
  Strategy& strategy() const;
  /// This process's rank among all processes (0 outside distributed runs).
  int64_t global_rank() const;
  /// This process's rank on its machine.
  int64_t local_rank() const;
  int64_t node_rank() const;
  /// Processes in the job (devices x num_nodes under DDP).
  int64_t world_size() const;
  bool is_global_zero() const;
  /// devices x num_nodes, known at construction (before the processes start).
  int64_t num_devices() const;
  /// The effective max_epochs (after Lightning's defaulting); -1 = no limit.
  int64_t max_epochs() const;
  /// Optimizer steps the whole fit will take:
  /// ceil(training batches per epoch / accumulate_grad_batches) * max_epochs,
  /// capped by max_steps. Usable from configure_optimizers (it fetches the
  /// training dataloader then, as Lightning does). `lightning::Error` outside
  /// fit, or when neither max_epochs nor max_steps bounds the run.
  int64_t estimated_stepping_batches();
  /// Batches per optimizer step now (the option, or what a
  /// GradientAccumulationScheduler set for this epoch).
  int64_t accumulate_grad_batches() const;
  /// Changes it from the next batch on; `lightning::Error` when < 1.
  void set_accumulate_grad_batches(int64_t value);

 private:
  friend struct detail::TrainerAccess;  // the library's loops, callbacks and module
  std::unique_ptr<detail::TrainerImpl> impl_;
};

}  // namespace lightning
