// lightning/callbacks/lr_finder.h — LearningRateFinder: the learning-rate
// sweep of lightning/tuner.h as a callback, at the start of fit.
//
//   # trainer = Trainer(callbacks=[LearningRateFinder(min_lr=1e-6)])
//   auto finder = std::make_shared<L::LearningRateFinder>(L::LRFindOptions().min_lr(1e-6));
//   L::Trainer trainer(L::TrainerOptions().callbacks({finder}));
//   trainer.fit(model, data);          // sweeps in on_fit_start, then trains
//   finder->optimal_lr()->suggestion();
//
// Override on_fit_start (and call lr_find from another hook) to sweep at other
// times, as Lightning's docs show for milestones.
#pragma once

#include <memory>

#include "lightning/callbacks/callback.h"
#include "lightning/export.h"
#include "lightning/tuner.h"

namespace lightning {

class LIGHTNING_API LearningRateFinder : public Callback {
 public:
  /// `lightning::Error` for a mode other than "linear" / "exponential" (any case).
  explicit LearningRateFinder(LRFindOptions options = {});

  /// Runs the sweep now (the RNG states are restored afterwards, as
  /// Lightning's isolate_rng), keeping the result in optimal_lr().
  void lr_find(Trainer& trainer, LightningModule& module);
  void on_fit_start(Trainer& trainer, LightningModule& module) override;

  /// The last sweep's result (Lightning's `optimal_lr`, an _LRFinder), or
  /// nullptr before one ran or when fast_dev_run skipped it.
  const std::shared_ptr<LRFinder>& optimal_lr() const { return optimal_lr_; }
  const LRFindOptions& options() const { return options_; }

 private:
  friend class Tuner;
  LRFindOptions options_;
  std::shared_ptr<LRFinder> optimal_lr_;
  bool early_exit_ = false;  // the Tuner's: end the fit after the sweep
};

}  // namespace lightning
