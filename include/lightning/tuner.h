// lightning/tuner.h — the Tuner: the learning-rate finder and the batch-size
// finder, as Lightning's `pytorch_lightning.tuner.Tuner`.
//
//   # tuner = Tuner(trainer)
//   # lr_finder = tuner.lr_find(model, datamodule=dm)
//   # new_lr = lr_finder.suggestion()
//   # tuner.scale_batch_size(model, datamodule=dm, mode="binsearch")
//   L::Tuner tuner(trainer);
//   std::shared_ptr<L::LRFinder> lr_finder = tuner.lr_find(model, dm);
//   std::optional<double> new_lr = lr_finder->suggestion();
//   lr_finder->plot("lr_find.png", /*suggest=*/true);
//   std::optional<int64_t> batch_size =
//       tuner.scale_batch_size(model, dm, L::BatchSizeFinderOptions().mode("binsearch"));
//
// Both run inside a `fit` that stops after the search (Lightning's
// _TunerExitException): setup, configure_optimizers, the loggers and
// on_fit_start run, then teardown. The model's weights, the optimizer,
// schedulers, callbacks' states and the loop counters are restored from a
// temporary checkpoint afterwards (as Lightning does), and the result is
// written to the module's (or datamodule's) hparams: "lr" / "learning_rate"
// for lr_find (update_attr), "batch_size" for scale_batch_size. The same
// searches run as callbacks in any fit: lightning/callbacks/lr_finder.h and
// lightning/callbacks/batch_size_finder.h. See docs/tuning.md.
#pragma once

#include <torch/arg.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lightning/data/dataloader.h"
#include "lightning/export.h"

namespace lightning {

class Trainer;
class LightningModule;
class LightningDataModule;

/// Arguments of Lightning's `Tuner.lr_find` / `LearningRateFinder`, with
/// their defaults.
struct LRFindOptions {
  /// Learning rate of the first step. Default 1e-8.
  TORCH_ARG(double, min_lr) = 1e-8;
  /// Learning rate of the last step. Default 1.
  TORCH_ARG(double, max_lr) = 1.0;
  /// Steps (learning rates) of the sweep; `num_training_steps` in
  /// LearningRateFinder. Default 100.
  TORCH_ARG(int64_t, num_training) = 100;
  /// "exponential" (default) or "linear": how the rate grows after each step.
  TORCH_ARG(std::string, mode) = "exponential";
  /// Stop when the smoothed loss exceeds this times the best one so far;
  /// unset never stops early. Default 4.0.
  TORCH_ARG(std::optional<double>, early_stop_threshold) = 4.0;
  /// Write the suggestion into the hparams (and the optimizer's groups).
  /// Default true.
  TORCH_ARG(bool, update_attr) = true;
  /// The hparam holding the learning rate; empty looks for "lr", then
  /// "learning_rate" (module hparams, then datamodule hparams). Default "".
  TORCH_ARG(std::string, attr_name) = "";
};

/// The result of a learning-rate sweep (Lightning's `_LRFinder`): the rates
/// tried and the smoothed loss after each.
class LIGHTNING_API LRFinder {
 public:
  /// `lightning::Error` for a mode other than "linear" / "exponential".
  LRFinder(std::string mode, double lr_min, double lr_max, int64_t num_training);

  const std::string& mode() const { return mode_; }
  double lr_min() const { return lr_min_; }
  double lr_max() const { return lr_max_; }
  int64_t num_training() const { return num_training_; }
  /// `results["lr"]` and `results["loss"]` (the smoothed loss; NaN for a
  /// step that returned no loss).
  const std::vector<double>& lrs() const { return lrs_; }
  const std::vector<double>& losses() const { return losses_; }
  void set_results(std::vector<double> lrs, std::vector<double> losses);

  /// The rate at the steepest descent of the loss (the most negative
  /// gradient, torch.gradient over the rates) after leaving out `skip_begin`
  /// points at the start and `skip_end` at the end, non-finite losses
  /// dropped; nullopt (with an error message, as Lightning logs) when fewer
  /// than two points remain. Sets optimal_idx().
  std::optional<double> suggestion(int64_t skip_begin = 10, int64_t skip_end = 1);
  /// The index into lrs() that suggestion(skip_begin, skip_end) picks, or
  /// nullopt; without its message and without setting optimal_idx().
  std::optional<int64_t> suggestion_index(int64_t skip_begin = 10, int64_t skip_end = 1) const;
  /// Index into lrs()/losses() of the last suggestion.
  std::optional<int64_t> optimal_idx() const { return optimal_idx_; }

  /// Writes the loss against the learning rate (log axis in exponential
  /// mode) as a PNG; `suggest` marks the suggestion with a red dot, as
  /// Lightning's `plot(suggest=True)`. `lightning::Error` naming the path
  /// when it cannot be written.
  void plot(const std::string& png_path, bool suggest = false);

 private:
  std::string mode_;
  double lr_min_, lr_max_;
  int64_t num_training_;
  std::vector<double> lrs_, losses_;
  std::optional<int64_t> optimal_idx_;
};

/// Arguments of Lightning's `Tuner.scale_batch_size` / `BatchSizeFinder`,
/// with their defaults.
struct BatchSizeFinderOptions {
  /// "power" (double until a trial runs out of memory) or "binsearch"
  /// (then bisect between the last success and the failure). Default "power".
  TORCH_ARG(std::string, mode) = "power";
  /// Training steps per trial. Default 3.
  TORCH_ARG(int64_t, steps_per_trial) = 3;
  /// First batch size tried. Default 2.
  TORCH_ARG(int64_t, init_val) = 2;
  /// Most trials. Default 25.
  TORCH_ARG(int64_t, max_trials) = 25;
  /// The hparam holding the batch size (module hparams, then datamodule
  /// hparams; the dataloader hook must read it). Default "batch_size".
  TORCH_ARG(std::string, batch_arg_name) = "batch_size";
  /// binsearch only: the result is reduced by this fraction, in [0, 1).
  /// Default 0.05.
  TORCH_ARG(double, margin) = 0.05;
  /// Largest batch size tried. Default 8192.
  TORCH_ARG(int64_t, max_val) = 8192;
  /// lightning.cpp's addition, for CPU runs: a trial that allocates more
  /// than this many bytes of CPU tensor memory (beyond what was allocated
  /// when it started) fails as out of memory, as a trial that exhausts a
  /// GPU's memory does. Unset: only real out-of-memory errors count.
  TORCH_ARG(std::optional<int64_t>, max_memory_bytes) = std::nullopt;
};

/// Tunes a Trainer's run: `Tuner(trainer).lr_find(model, data)`.
class LIGHTNING_API Tuner {
 public:
  explicit Tuner(Trainer& trainer) : trainer_(trainer) {}

  /// Lightning's `Tuner.lr_find(model, datamodule=...)`: a sweep of
  /// `num_training` steps from min_lr to max_lr inside a fit that stops
  /// after it. Returns the result, or nullptr under fast_dev_run (skipped
  /// with a warning). `lightning::Error` when the Trainer already has a
  /// LearningRateFinder callback, configure_optimizers returns more than one
  /// optimizer, or update_attr finds no learning-rate hparam.
  std::shared_ptr<LRFinder> lr_find(std::shared_ptr<LightningModule> model,
                                    LightningDataModule& datamodule, LRFindOptions options = {});
  /// With loaders passed directly (val may be empty).
  std::shared_ptr<LRFinder> lr_find(std::shared_ptr<LightningModule> model,
                                    DataLoaders train_dataloaders, DataLoaders val_dataloaders,
                                    LRFindOptions options = {});
  /// With the module's own dataloader hooks.
  std::shared_ptr<LRFinder> lr_find(std::shared_ptr<LightningModule> model,
                                    LRFindOptions options = {});

  /// Lightning's `Tuner.scale_batch_size(model, datamodule=...)` (method
  /// "fit"): trials of `steps_per_trial` training steps at growing batch
  /// sizes until one runs out of memory; the largest that fits is written to
  /// the `batch_arg_name` hparam and returned (nullopt under fast_dev_run).
  /// The data must come from a dataloader hook that reads that hparam.
  /// `lightning::Error` for a bad option, a missing hparam, a distributed
  /// strategy, or a BatchSizeFinder callback already on the Trainer.
  std::optional<int64_t> scale_batch_size(std::shared_ptr<LightningModule> model,
                                          LightningDataModule& datamodule,
                                          BatchSizeFinderOptions options = {});
  /// With the module's own dataloader hooks.
  std::optional<int64_t> scale_batch_size(std::shared_ptr<LightningModule> model,
                                          BatchSizeFinderOptions options = {});

 private:
  std::shared_ptr<LRFinder> tune_lr(std::shared_ptr<LightningModule> model,
                                    LightningDataModule* datamodule, DataLoaders train,
                                    DataLoaders val, LRFindOptions options);
  std::optional<int64_t> tune_batch_size(std::shared_ptr<LightningModule> model,
                                         LightningDataModule* datamodule,
                                         BatchSizeFinderOptions options);
  Trainer& trainer_;
};

}  // namespace lightning
