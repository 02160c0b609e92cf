// Lightning's WeightAveraging and EMAWeightAveraging
// (callbacks/weight_averaging.py): hook timing and checkpoint layout.
#include "lightning/callbacks/weight_averaging.h"

#include <iostream>
#include <string>
#include <utility>

#include "lightning/checkpoint/checkpoint.h"
#include "lightning/error.h"
#include "lightning/module.h"
#include "lightning/trainer.h"

namespace lightning {

struct WeightAveraging::Impl {
  WeightAveragingOptions options;
  std::optional<AveragedModel> average;
  // Optimizer steps taken at the last update (0: the first update comes
  // after the first optimizer step), and the epoch of the last epoch update.
  int64_t latest_update_step = 0;
  int64_t latest_update_epoch = -1;
};

WeightAveraging::WeightAveraging(WeightAveragingOptions options) : impl_(std::make_unique<Impl>()) {
  LIGHTNING_CHECK(!(options.avg_fn() && options.multi_avg_fn()),
                  "WeightAveraging: only one of avg_fn and multi_avg_fn should be provided.");
  impl_->options = std::move(options);
}

WeightAveraging::~WeightAveraging() = default;

bool WeightAveraging::should_update(std::optional<int64_t> step_idx,
                                    std::optional<int64_t> /*epoch_idx*/) {
  return step_idx.has_value();
}

void WeightAveraging::setup(Trainer& /*trainer*/, LightningModule& module, Stage stage) {
  if (stage != Stage::Fit) return;
  const WeightAveragingOptions& o = impl_->options;
  impl_->average.emplace(module, AveragedModelOptions()
                                     .device(o.device().value_or(module.device()))
                                     .avg_fn(o.avg_fn())
                                     .multi_avg_fn(o.multi_avg_fn())
                                     .use_buffers(o.use_buffers()));
}

void WeightAveraging::on_train_batch_end(Trainer& trainer, LightningModule& module,
                                         const StepOutput& /*outputs*/, Batch& /*batch*/,
                                         int64_t /*batch_idx*/) {
  // global_step counts optimizer steps; step_idx is 0-based like epoch_idx.
  const int64_t step = trainer.global_step();
  if (step > impl_->latest_update_step && should_update(step - 1, std::nullopt)) {
    impl_->average->update_parameters(module);
    impl_->latest_update_step = step;
  }
}

void WeightAveraging::on_train_epoch_end(Trainer& trainer, LightningModule& module) {
  const int64_t epoch = trainer.current_epoch();
  if (epoch > impl_->latest_update_epoch && should_update(std::nullopt, epoch)) {
    impl_->average->update_parameters(module);
    impl_->latest_update_epoch = epoch;
  }
}

void WeightAveraging::on_train_end(Trainer& /*trainer*/, LightningModule& module) {
  LIGHTNING_CHECK(impl_->average.has_value(),
                  "WeightAveraging: no averaged model at train end (setup(fit) was not called).");
  impl_->average->copy_to(module, /*buffers=*/true);
}

void WeightAveraging::on_validation_epoch_start(Trainer& /*trainer*/, LightningModule& module) {
  if (impl_->average) impl_->average->swap_with(module);
}

void WeightAveraging::on_validation_epoch_end(Trainer& /*trainer*/, LightningModule& module) {
  if (impl_->average) impl_->average->swap_with(module);
}

StateDict WeightAveraging::state_dict() const {
  StateDict state = make_state_dict();
  state.insert("latest_update_step", impl_->latest_update_step);
  return state;
}

void WeightAveraging::load_state_dict(const StateDict& state) {
  impl_->latest_update_step = state_int(state, "latest_update_step", state_key());
}

void WeightAveraging::on_save_checkpoint(Trainer& trainer, LightningModule& /*module*/,
                                         Checkpoint& checkpoint) {
  if (!impl_->average) {
    if (trainer.is_global_zero()) {
      std::cout << "You're using the WeightAveraging callback, but saving a checkpoint outside "
                   "the 'fit' stage. The state of the WeightAveraging callback won't be saved in "
                   "the checkpoint. If training has finished, the average model parameters will "
                   "be saved to the state_dict in the checkpoint."
                << std::endl;
    }
    return;
  }
  // The averaged weights become the checkpoint's weights; the module's own
  // move to "current_model_state".
  checkpoint.set("current_model_state", checkpoint.at("state_dict"));
  checkpoint.set("state_dict", impl_->average->module_state_dict());
  StateDict averaging = make_state_dict();
  averaging.insert("n_averaged", impl_->average->n_averaged());
  checkpoint.set("averaging_state", averaging);
}

void WeightAveraging::on_load_checkpoint(Trainer& /*trainer*/, LightningModule& module,
                                         Checkpoint& checkpoint) {
  if (!impl_->average) {
    detail::warn(
        "You're using the WeightAveraging callback, but loading a checkpoint outside the 'fit' "
        "stage. The WeightAveraging state cannot be restored. If you're using the checkpoint "
        "for prediction or testing, you can ignore this warning. To disable the warning, "
        "remove the WeightAveraging callback.");
    return;
  }
  if (checkpoint.contains("current_model_state") && checkpoint.contains("averaging_state")) {
    StateDict average = make_state_dict();
    for (const auto& e : checkpoint.get<StateDict>("state_dict")) {
      average.insert("module." + e.key().toStringRef(), e.value());
    }
    for (const auto& e : checkpoint.get<StateDict>("averaging_state")) {
      average.insert(e.key(), e.value());
    }
    impl_->average->load_state_dict(average, "the checkpoint's state_dict and averaging_state");
    // The module was loaded from "state_dict" (the averaged weights): its own
    // weights are "current_model_state".
    load_module_state_dict(module, checkpoint.get<StateDict>("current_model_state"),
                           "the checkpoint's current_model_state");
    return;
  }
  detail::warn(
      "The checkpoint was not created with WeightAveraging. Both the current and the average "
      "model will be initialized with state_dict.");
  impl_->average->load_module_state_dict(checkpoint.get<StateDict>("state_dict"),
                                         "the checkpoint's state_dict", /*strict=*/false);
}

const AveragedModel* WeightAveraging::average_model() const {
  return impl_->average ? &*impl_->average : nullptr;
}

// ---- EMAWeightAveraging ---------------------------------------------------------

namespace {
WeightAveragingOptions ema_options(const EMAWeightAveragingOptions& o) {
  return WeightAveragingOptions()
      .device(o.device())
      .use_buffers(o.use_buffers())
      .avg_fn(get_ema_avg_fn(o.decay()));
}
}  // namespace

EMAWeightAveraging::EMAWeightAveraging(EMAWeightAveragingOptions options)
    : WeightAveraging(ema_options(options)), options_(std::move(options)) {}

bool EMAWeightAveraging::should_update(std::optional<int64_t> step_idx,
                                       std::optional<int64_t> epoch_idx) {
  if (step_idx) {
    const bool from =
        !options_.update_starting_at_step() || *step_idx >= *options_.update_starting_at_step();
    const int64_t every = options_.update_every_n_steps();
    if (from && every > 0 && *step_idx % every == 0) return true;
  }
  return epoch_idx && options_.update_starting_at_epoch() &&
         *epoch_idx >= *options_.update_starting_at_epoch();
}

}  // namespace lightning
