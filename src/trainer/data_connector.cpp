// Which dataloaders a stage uses (passed to the entry point, else the
// datamodule's, else the module's own hooks), sharded under DDP, and how many
// batches of each the loops run.
#include "lightning/callbacks/gradient_accumulation_scheduler.h"
#include "lightning/error.h"
#include "trainer/overrides.h"
#include "trainer/trainer_impl.h"

namespace lightning::detail {

DataLoaders TrainerImpl::resolve_loaders(DataLoaders given, LightningModule& model,
                                         DataLoaders (LightningDataModule::*from_datamodule)(),
                                         DataLoaders (LightningModule::*from_module)()) {
  if (!given.empty()) return given;
  HookScope scope(current_hook_, Hook::Dataloader);
  const char* hook = from_module == &LightningModule::train_dataloader  ? "train_dataloader"
                     : from_module == &LightningModule::val_dataloader  ? "val_dataloader"
                     : from_module == &LightningModule::test_dataloader ? "test_dataloader"
                                                                        : "predict_dataloader";
  if (datamodule_) {
    ActionScope action(profiling_, [&] { return datamodule_action(hook); });
    return (datamodule_->*from_datamodule)();
  }
  ActionScope action(profiling_, [&] { return module_action(hook); });
  return (model.*from_module)();
}

std::vector<int64_t> TrainerImpl::batch_counts(DataLoaders& loaders,
                                               const BatchLimit& limit) const {
  std::vector<int64_t> counts;
  for (auto& loader : loaders) counts.push_back(limit.resolve(loader.size()));
  return counts;
}

bool TrainerImpl::prepare_validation(LightningModule& model) {
  num_val_batches_.clear();
  num_sanity_val_batches_.clear();
  const bool has_step = overrides_validation_step(model);
  if (loaders_.val.empty()) {
    if (has_step) {
      warn(
          "validation_step is overridden but there is no val dataloader: validation is skipped. "
          "Return a loader from val_dataloader() (module or datamodule) or pass one to fit().");
    }
    return false;
  }
  if (!has_step) {
    warn("a val dataloader was given but " + model.name() +
         " does not override validation_step: validation is skipped.");
    return false;
  }
  BatchLimit limit = options_.limit_val_batches();
  if (options_.overfit_batches().is_fraction() ? options_.overfit_batches().fraction() > 0
                                               : options_.overfit_batches().count() > 0) {
    limit = options_.overfit_batches();
  }
  int64_t total = 0;
  for (auto& loader : loaders_.val) {
    const int64_t n = limit.resolve(loader.size());
    num_val_batches_.push_back(n);
    const int64_t sanity = options_.num_sanity_val_steps();
    num_sanity_val_batches_.push_back(sanity == -1 ? n : std::min(n, sanity));
    total += n;
  }
  return total > 0;
}

bool TrainerImpl::validation_defined(LightningModule& model) const {
  const BatchLimit& limit = options_.limit_val_batches();
  const bool limited_to_zero = limit.is_fraction() ? limit.fraction() <= 0 : limit.count() == 0;
  const bool source = !loaders_.val.empty() || (datamodule_ ? overrides_val_dataloader(*datamodule_)
                                                            : overrides_val_dataloader(model));
  return source && !limited_to_zero && overrides_validation_step(model);
}

bool TrainerImpl::load_validation(LightningModule& model) {
  val_from_hook_ = loaders_.val.empty();
  val_loaded_epoch_ = fit_loop_.counters().epoch;
  loaders_.val = distribute(
      resolve_loaders(std::move(loaders_.val), model, &LightningDataModule::val_dataloader,
                      &LightningModule::val_dataloader),
      /*training=*/false);
  return prepare_validation(model);
}

void TrainerImpl::setup_train_data(LightningModule& model) {
  if (train_data_ready_) return;
  train_from_hook_ = loaders_.train.empty();
  train_loaded_epoch_ = fit_loop_.counters().epoch;
  loaders_.train =
      resolve_loaders(std::move(loaders_.train), model, &LightningDataModule::train_dataloader,
                      &LightningModule::train_dataloader);
  LIGHTNING_CHECK(!loaders_.train.empty(),
                  "fit needs a training dataloader: return one from train_dataloader() (module or "
                  "datamodule) or pass it to TrainerImpl::fit(model, train_loader).");
  LIGHTNING_CHECK(loaders_.train.size() == 1, "fit got ", loaders_.train.size(),
                  " training dataloaders; lightning.cpp trains from exactly one.");
  loaders_.train = distribute(std::move(loaders_.train), /*training=*/true);
  const auto& overfit = options_.overfit_batches();
  const bool overfitting = overfit.is_fraction() ? overfit.fraction() > 0 : overfit.count() > 0;
  DataLoader& loader = loaders_.train[0];
  if (overfitting && loader.options().shuffle()) {
    warn_once("overfit_batches turns shuffling of the training dataloader off.");
    loader = loader.with_options(DataLoaderOptions(loader.options()).shuffle(false));
  }
  fit_loop_.num_training_batches =
      (overfitting ? overfit : options_.limit_train_batches()).resolve(loader.size());

  const auto& vci = options_.val_check_interval();
  if (vci.is_fraction()) {
    fit_loop_.val_check_batch = std::max<int64_t>(
        1,
        static_cast<int64_t>(static_cast<double>(fit_loop_.num_training_batches) * vci.fraction()));
  } else {
    LIGHTNING_CHECK(vci.count() <= fit_loop_.num_training_batches, "val_check_interval (",
                    vci.count(), ") must be <= the number of training batches per epoch (",
                    fit_loop_.num_training_batches,
                    "). Use a smaller int, or a float for a fraction of the epoch.");
    fit_loop_.val_check_batch = vci.count();
  }
  train_data_ready_ = true;
}

void TrainerImpl::maybe_reload_train_data(LightningModule& model) {
  const int64_t n = options_.reload_dataloaders_every_n_epochs();
  if (n == 0 || !train_from_hook_ || fit_loop_.counters().epoch - train_loaded_epoch_ < n) return;
  loaders_.train = DataLoaders();
  train_data_ready_ = false;
  setup_train_data(model);
}

bool TrainerImpl::maybe_reload_val_data(LightningModule& model) {
  const int64_t n = options_.reload_dataloaders_every_n_epochs();
  if (n == 0 || !val_from_hook_ || fit_loop_.counters().epoch - val_loaded_epoch_ < n) {
    return true;
  }
  loaders_.val = DataLoaders();
  return load_validation(model);
}

int64_t TrainerImpl::estimated_stepping_batches() {
  LIGHTNING_CHECK(model_ != nullptr && stage_ == Stage::Fit,
                  "estimated_stepping_batches is known during fit only (e.g. in "
                  "configure_optimizers).");
  setup_train_data(*model_);
  LIGHTNING_CHECK(fit_loop_.max_epochs != -1 || fit_loop_.max_steps != -1,
                  "estimated_stepping_batches is infinite: max_epochs and max_steps are both -1. "
                  "Set one of them.");
  if (fit_loop_.max_epochs == -1) return fit_loop_.max_steps;
  // Follows a GradientAccumulationScheduler's per-epoch factors when there is one.
  const GradientAccumulationScheduler* schedule = nullptr;
  for (const auto& c : callbacks_) {
    if (auto* s = dynamic_cast<const GradientAccumulationScheduler*>(c.get())) schedule = s;
  }
  int64_t total = 0;
  for (int64_t epoch = 0; epoch < std::max<int64_t>(fit_loop_.max_epochs, 1); ++epoch) {
    const int64_t k = schedule ? schedule->factor(epoch) : options_.accumulate_grad_batches();
    total += (fit_loop_.num_training_batches + k - 1) / k;
  }
  return fit_loop_.max_steps == -1 ? total : std::min(total, fit_loop_.max_steps);
}

Batch TrainerImpl::transfer_batch(LightningModule& model, Batch batch, int64_t dataloader_idx) {
  ActionScope action(profiling_, [&] { return strategy_action("batch_to_device"); });
  batch = call_module_hook(Hook::OnBeforeBatchTransfer, [&] {
    return model.on_before_batch_transfer(std::move(batch), dataloader_idx);
  });
  batch = call_module_hook(Hook::TransferBatchToDevice, [&] {
    return model.transfer_batch_to_device(std::move(batch), device_, dataloader_idx);
  });
  batch = call_module_hook(Hook::OnAfterBatchTransfer, [&] {
    return model.on_after_batch_transfer(std::move(batch), dataloader_idx);
  });
  return precision_->convert_input(std::move(batch));
}

}  // namespace lightning::detail
