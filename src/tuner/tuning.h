// Internal: what the learning-rate and batch-size searches share.
//
//   tuning.cpp             TuningRun (the Trainer state a search changes and its
//                          restore from a temporary checkpoint), hparam access
//                          as Lightning's lightning_getattr/setattr, the
//                          Tuner's fit that stops after the search
//   lr_finder.cpp          the sweep, its scheduler and loss bookkeeping, LRFinder
//   lr_finder_plot.cpp     LRFinder::plot (a PNG chart)
//   png.{h,cpp}            a minimal PNG writer (zlib)
//   batch_size_scaling.cpp the power / binsearch search and the CPU memory ceiling
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lightning/hparams.h"
#include "lightning/tuner.h"
#include "trainer/trainer_impl.h"

namespace lightning::detail {

/// Thrown by a finder callback the Tuner added, after its search, to end
/// the fit (Lightning's _TunerExitException). Not a std::exception: only the
/// Tuner's fit catches it.
struct TunerExit {};

/// The hparam `name` as Lightning's lightning_hasattr / getattr / setattr
/// see it: in the module's hparams and the running datamodule's hparams;
/// get reads the last holder (the datamodule's), set writes every holder.
bool has_hparam(TrainerImpl& t, LightningModule& model, const std::string& name);
HParamValue get_hparam(TrainerImpl& t, LightningModule& model, const std::string& name);
void set_hparam(TrainerImpl& t, LightningModule& model, const std::string& name,
                const HParamValue& value);

/// The Trainer state a search changes, saved when it starts (the callbacks
/// and loggers are taken out: the search's own go in their place): a temporary
/// checkpoint `<default_root_dir>/.<prefix>_<random>.ckpt` (weights,
/// optimizer, schedulers, callback states) plus the callbacks, loggers,
/// schedulers, limits, loop counters, metrics and the loaders. restore()
/// puts all of it back and removes the file; `reload_data` (the batch-size
/// search) fetches loaders that came from hooks again, now if they had been
/// fetched before the search, else when the stage asks for them.
class TuningRun {
 public:
  TuningRun(TrainerImpl& t, LightningModule& model, const std::string& prefix);
  /// Runs the fit loop once from the saved counters (Lightning's
  /// _try_loop_run), with the training and validation data set up.
  void run_loop();
  /// Once, after the search (or its failure).
  void restore(bool reload_data = false);

 private:
  TrainerImpl& t_;
  LightningModule& model_;
  std::string ckpt_path_;
  std::vector<std::shared_ptr<Callback>> callbacks_;
  std::vector<std::shared_ptr<Logger>> loggers_;
  std::vector<LRSchedulerConfig> schedulers_;
  int64_t max_steps_;
  BatchLimit limit_train_batches_, limit_val_batches_;
  LoopState counters_;
  // The loaders and what the Trainer knows of them.
  StageLoaders loaders_;
  bool train_data_ready_, train_from_hook_, val_from_hook_, training_;
  int64_t train_loaded_epoch_, val_loaded_epoch_, num_training_batches_, val_check_batch_;
  std::vector<int64_t> num_val_batches_, num_sanity_val_batches_;
  ResultCollection* active_results_;
  TensorMetrics callback_metrics_, logged_metrics_, progress_bar_metrics_;
};

/// The searches, run from a callback's hook during a stage of `trainer`.
std::shared_ptr<LRFinder> run_lr_find(Trainer& trainer, LightningModule& model,
                                      const LRFindOptions& options);
std::optional<int64_t> run_scale_batch_size(Trainer& trainer, LightningModule& model,
                                            const BatchSizeFinderOptions& options);

/// Lightning's rank_zero_info: the message on stderr, on global rank 0.
void tuner_info(const TrainerImpl& t, const std::string& message);

/// "linear" / "exponential", lower-cased; `lightning::Error` otherwise.
std::string checked_lr_mode(const std::string& mode);
/// "power" / "binsearch", lower-cased, and the margin; `lightning::Error` otherwise.
std::string checked_batch_size_mode(const std::string& mode);
void check_margin(double margin);
/// Every BatchSizeFinderOptions value in range; `lightning::Error` otherwise.
void check_batch_size_finder(const BatchSizeFinderOptions& options);
/// BatchSizeFinder's checks at setup (Lightning's): one process, loaders from
/// hooks, the hparam exists.
void check_batch_size_setup(Trainer& trainer, LightningModule& model, const std::string& name);

}  // namespace lightning::detail
