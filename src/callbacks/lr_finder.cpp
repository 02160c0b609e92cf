// LearningRateFinder: the learning-rate sweep (src/tuner/lr_finder.cpp) at
// the start of fit, with the random state isolated around it.
#include "lightning/callbacks/lr_finder.h"

#include "trainer/fit_loop.h"
#include "tuner/tuning.h"

namespace lightning {

LearningRateFinder::LearningRateFinder(LRFindOptions options) : options_(std::move(options)) {
  options_.mode(detail::checked_lr_mode(options_.mode()));
}

void LearningRateFinder::lr_find(Trainer& trainer, LightningModule& module) {
  // Lightning's isolate_rng: the sweep leaves the random state as it found it.
  const std::vector<at::Tensor> rng = detail::rng_states();
  try {
    optimal_lr_ = detail::run_lr_find(trainer, module, options_);
  } catch (...) {
    detail::restore_rng(rng);
    throw;
  }
  detail::restore_rng(rng);
  if (early_exit_) throw detail::TunerExit{};
}

void LearningRateFinder::on_fit_start(Trainer& trainer, LightningModule& module) {
  lr_find(trainer, module);
}

}  // namespace lightning
