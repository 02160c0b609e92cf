// BatchSizeFinder: the batch-size search (src/tuner/batch_size_scaling.cpp)
// at the start of fit, with Lightning's checks at setup.
#include "lightning/callbacks/batch_size_finder.h"

#include "tuner/tuning.h"

namespace lightning {

BatchSizeFinder::BatchSizeFinder(BatchSizeFinderOptions options)
    : options_(std::move(options)), optimal_batch_size_(options_.init_val()) {
  detail::check_batch_size_finder(options_);
  options_.mode(detail::checked_batch_size_mode(options_.mode()));
}

void BatchSizeFinder::setup(Trainer& trainer, LightningModule& module, Stage /*stage*/) {
  detail::check_batch_size_setup(trainer, module, options_.batch_arg_name());
}

void BatchSizeFinder::scale_batch_size(Trainer& trainer, LightningModule& module) {
  optimal_batch_size_ = detail::run_scale_batch_size(trainer, module, options_);
  if (early_exit_) throw detail::TunerExit{};
}

void BatchSizeFinder::on_fit_start(Trainer& trainer, LightningModule& module) {
  scale_batch_size(trainer, module);
}

}  // namespace lightning
