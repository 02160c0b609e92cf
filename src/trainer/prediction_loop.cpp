// predict: `predict_step` over the predict loaders, outputs collected per loader.
#include <c10/core/InferenceMode.h>

#include "lightning/error.h"
#include "trainer/grad_mode.h"
#include "trainer/trainer_impl.h"

namespace lightning::detail {

std::vector<c10::IValue> TrainerImpl::predict(std::shared_ptr<LightningModule> module,
                                              LightningDataModule* datamodule, DataLoaders given,
                                              const std::optional<std::string>& ckpt_path) {
  loaders_ = StageLoaders{};
  return run_stage(std::move(module), Stage::Predict, datamodule, [&](LightningModule& model) {
    restore_for_evaluation(model, datamodule, ckpt_path, Stage::Predict);
    DataLoaders loaders =
        resolve_loaders(std::move(given), model, &LightningDataModule::predict_dataloader,
                        &LightningModule::predict_dataloader);
    LIGHTNING_CHECK(!loaders.empty(),
                    "Trainer::predict needs a predict dataloader: return one from "
                    "predict_dataloader() (module or datamodule) or pass it to predict().");
    loaders_.predict = distribute(std::move(loaders), /*training=*/false);
    num_predict_batches_ = batch_counts(loaders_.predict, options_.limit_predict_batches());
    return run_predict(model);
  });
}

std::vector<c10::IValue> TrainerImpl::run_predict(LightningModule& model) {
  DataLoaders& loaders = loaders_.predict;
  const bool was_training = model.is_training();
  model.eval();
  std::vector<std::vector<c10::IValue>> per_loader(loaders.size());
  {
    EvaluationGradMode grad_mode(options_.inference_mode());
    call_hook(
        Hook::OnPredictStart, [&](Callback& c) { c.on_predict_start(self_, model); },
        [&] { model.on_predict_start(); });
    call_hook(
        Hook::OnPredictEpochStart, [&](Callback& c) { c.on_predict_epoch_start(self_, model); },
        [&] { model.on_predict_epoch_start(); });
    for (size_t dl = 0; dl < loaders.size(); ++dl) {
      const auto dl_idx = static_cast<int64_t>(dl);
      int64_t batch_idx = 0;
      const char* next = "[_PredictionLoop].predict_next";
      auto it = [&] {
        ActionScope fetch(profiling_, next);
        return loaders[dl].begin();
      }();
      for (const auto end = loaders[dl].end(); batch_idx < num_predict_batches_[dl] && it != end;) {
        Batch batch = transfer_batch(model, std::move(*it), dl_idx);
        call_hook(
            Hook::OnPredictBatchStart,
            [&](Callback& c) { c.on_predict_batch_start(self_, model, batch, batch_idx, dl_idx); },
            [&] { model.on_predict_batch_start(batch, batch_idx, dl_idx); });
        c10::IValue output = call_module_hook(Hook::PredictStep, [&] {
          auto autocast = precision_->forward_context(device_.type());
          return model.predict_step(batch, batch_idx, dl_idx);
        });
        call_hook(
            Hook::OnPredictBatchEnd,
            [&](Callback& c) {
              c.on_predict_batch_end(self_, model, output, batch, batch_idx, dl_idx);
            },
            [&] { model.on_predict_batch_end(output, batch, batch_idx, dl_idx); });
        per_loader[dl].push_back(std::move(output));
        ++batch_idx;
        if (batch_idx < num_predict_batches_[dl]) {
          ActionScope fetch(profiling_, next);
          ++it;
        }
      }
    }
    call_hook(
        Hook::OnPredictEpochEnd, [&](Callback& c) { c.on_predict_epoch_end(self_, model); },
        [&] { model.on_predict_epoch_end(); });
    call_hook(
        Hook::OnPredictEnd, [&](Callback& c) { c.on_predict_end(self_, model); },
        [&] { model.on_predict_end(); });
  }
  model.train(was_training);
  if (per_loader.size() == 1) return std::move(per_loader[0]);
  std::vector<c10::IValue> nested;
  for (auto& outputs : per_loader) {
    c10::impl::GenericList list(c10::AnyType::get());
    for (auto& o : outputs) list.push_back(std::move(o));
    nested.emplace_back(std::move(list));
  }
  return nested;
}

}  // namespace lightning::detail
