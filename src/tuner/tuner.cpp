// Tuner (Lightning's tuner/tuning.py): adds a finder callback in front of the
// Trainer's callbacks and runs a fit that ends after the finder's search in
// on_fit_start (Lightning's _TunerExitException: teardown runs, the loggers
// are finalized as a success).
#include "lightning/tuner.h"

#include <algorithm>
#include <utility>

#include "lightning/callbacks/batch_size_finder.h"
#include "lightning/callbacks/lr_finder.h"
#include "lightning/error.h"
#include "tuner/tuning.h"

namespace lightning {

namespace {

using detail::StageLoaders;
using detail::TrainerImpl;

template <typename Finder>
void check_no_finder(const TrainerImpl& t, const char* name) {
  for (const auto& c : t.base_callbacks_) {
    LIGHTNING_CHECK(dynamic_cast<const Finder*>(c.get()) == nullptr,
                    "Trainer is already configured with a ", name,
                    " callback. Please remove it if you want to use the Tuner.");
  }
}

// The start of TrainerImpl::fit up to on_fit_start, where the finder (first
// callback) runs its search and throws TunerExit; then the stage's teardown.
void run_until_tuned(TrainerImpl& t, std::shared_ptr<LightningModule> module,
                     LightningDataModule* datamodule, StageLoaders loaders,
                     std::shared_ptr<Callback> finder) {
  t.base_callbacks_.insert(t.base_callbacks_.begin(), finder);
  auto remove_finder = [&] {
    auto& cbs = t.base_callbacks_;
    cbs.erase(std::remove(cbs.begin(), cbs.end(), finder), cbs.end());
    t.callbacks_.erase(std::remove(t.callbacks_.begin(), t.callbacks_.end(), finder),
                       t.callbacks_.end());
  };
  try {
    t.fit_loop_.reset();
    t.accumulate_grad_batches_ = t.options_.accumulate_grad_batches();
    t.loaders_ = std::move(loaders);
    t.train_data_ready_ = false;
    t.run_stage(std::move(module), Stage::Fit, datamodule, [&](LightningModule& model) {
      t.strategy_->setup_module(model);
      t.configure_optimizers(model);
      t.start_loggers(model, datamodule);
      try {
        t.call_hook(
            detail::Hook::OnFitStart, [&](Callback& c) { c.on_fit_start(t.self_, model); },
            [&] { model.on_fit_start(); });
      } catch (const detail::TunerExit&) {
        // The search is done: the fit ends here.
      }
      return true;
    });
  } catch (...) {
    remove_finder();
    throw;
  }
  remove_finder();
}

}  // namespace

std::shared_ptr<LRFinder> Tuner::tune_lr(std::shared_ptr<LightningModule> model,
                                         LightningDataModule* datamodule, DataLoaders train,
                                         DataLoaders val, LRFindOptions options) {
  TrainerImpl& t = detail::TrainerAccess::impl(trainer_);
  check_no_finder<LearningRateFinder>(t, "LearningRateFinder");
  auto finder = std::make_shared<LearningRateFinder>(std::move(options));
  finder->early_exit_ = true;
  run_until_tuned(t, std::move(model), datamodule,
                  StageLoaders{std::move(train), std::move(val), {}, {}}, finder);
  return finder->optimal_lr();
}

std::optional<int64_t> Tuner::tune_batch_size(std::shared_ptr<LightningModule> model,
                                              LightningDataModule* datamodule,
                                              BatchSizeFinderOptions options) {
  TrainerImpl& t = detail::TrainerAccess::impl(trainer_);
  LIGHTNING_CHECK(t.world_size() == 1,
                  "Tuning the batch size is currently not supported with distributed strategies.");
  check_no_finder<BatchSizeFinder>(t, "BatchSizeFinder");
  auto finder = std::make_shared<BatchSizeFinder>(std::move(options));
  finder->early_exit_ = true;
  run_until_tuned(t, std::move(model), datamodule, StageLoaders{}, finder);
  return finder->optimal_batch_size();
}

std::shared_ptr<LRFinder> Tuner::lr_find(std::shared_ptr<LightningModule> model,
                                         LightningDataModule& datamodule, LRFindOptions options) {
  return tune_lr(std::move(model), &datamodule, {}, {}, std::move(options));
}

std::shared_ptr<LRFinder> Tuner::lr_find(std::shared_ptr<LightningModule> model,
                                         DataLoaders train_dataloaders, DataLoaders val_dataloaders,
                                         LRFindOptions options) {
  return tune_lr(std::move(model), nullptr, std::move(train_dataloaders),
                 std::move(val_dataloaders), std::move(options));
}

std::shared_ptr<LRFinder> Tuner::lr_find(std::shared_ptr<LightningModule> model,
                                         LRFindOptions options) {
  return tune_lr(std::move(model), nullptr, {}, {}, std::move(options));
}

std::optional<int64_t> Tuner::scale_batch_size(std::shared_ptr<LightningModule> model,
                                               LightningDataModule& datamodule,
                                               BatchSizeFinderOptions options) {
  return tune_batch_size(std::move(model), &datamodule, std::move(options));
}

std::optional<int64_t> Tuner::scale_batch_size(std::shared_ptr<LightningModule> model,
                                               BatchSizeFinderOptions options) {
  return tune_batch_size(std::move(model), nullptr, std::move(options));
}

}  // namespace lightning
