// lightning/callbacks/batch_size_finder.h — BatchSizeFinder: the batch-size
// search of lightning/tuner.h as a callback, at the start of fit.
//
//   # trainer = Trainer(callbacks=[BatchSizeFinder(mode="binsearch")])
//   auto finder = std::make_shared<L::BatchSizeFinder>(
//       L::BatchSizeFinderOptions().mode("binsearch"));
//   L::Trainer trainer(L::TrainerOptions().callbacks({finder}));
//   trainer.fit(model, data);   // searches in on_fit_start, then trains with the result
//   int64_t found = *finder->optimal_batch_size();
//
// The batch size lives in the module's or datamodule's hparams under
// `batch_arg_name`; the dataloader hook must build its loader from it.
#pragma once

#include <cstdint>
#include <optional>

#include "lightning/callbacks/callback.h"
#include "lightning/export.h"
#include "lightning/tuner.h"

namespace lightning {

class LIGHTNING_API BatchSizeFinder : public Callback {
 public:
  /// `lightning::Error` for a mode other than "power" / "binsearch" (any
  /// case) or a margin outside [0, 1).
  explicit BatchSizeFinder(BatchSizeFinderOptions options = {});

  /// Lightning's checks at setup: no distributed strategy, no dataloaders
  /// passed to fit directly, and the batch_arg_name hparam exists.
  void setup(Trainer& trainer, LightningModule& module, Stage stage) override;
  /// Runs the search now, keeping the result in optimal_batch_size().
  void scale_batch_size(Trainer& trainer, LightningModule& module);
  void on_fit_start(Trainer& trainer, LightningModule& module) override;

  /// The batch size found (init_val until a search ran; nullopt when
  /// fast_dev_run skipped it), Lightning's `optimal_batch_size`.
  std::optional<int64_t> optimal_batch_size() const { return optimal_batch_size_; }
  const BatchSizeFinderOptions& options() const { return options_; }

 private:
  friend class Tuner;
  BatchSizeFinderOptions options_;
  std::optional<int64_t> optimal_batch_size_;
  bool early_exit_ = false;  // the Tuner's: end the fit after the search
};

}  // namespace lightning
