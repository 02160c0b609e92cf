// Validation and test: `validate` / `test` as stages, and the evaluation pass
// that fit's validation and sanity check run too.
#include <c10/core/InferenceMode.h>

#include <iostream>

#include "lightning/error.h"
#include "trainer/grad_mode.h"
#include "trainer/results_table.h"
#include "trainer/trainer_impl.h"

namespace lightning::detail {

namespace {

std::string loader_suffix(size_t num_loaders, int64_t dataloader_idx) {
  return num_loaders > 1 ? "/dataloader_idx_" + std::to_string(dataloader_idx) : std::string();
}

// Metrics as plain numbers per dataloader, for validate()/test() results.
std::vector<Metrics> to_numbers(const std::vector<TensorMetrics>& per_loader) {
  std::vector<Metrics> out;
  out.reserve(per_loader.size());
  for (const auto& m : per_loader) out.push_back(lightning::to_numbers(m));
  return out;
}

}  // namespace

std::vector<Metrics> TrainerImpl::evaluate(std::shared_ptr<LightningModule> module, Stage stage,
                                           LightningDataModule* datamodule, DataLoaders given,
                                           const std::optional<std::string>& ckpt_path,
                                           bool verbose) {
  const bool is_test = stage == Stage::Test;
  loaders_ = StageLoaders{};
  return run_stage(std::move(module), stage, datamodule, [&](LightningModule& model) {
    restore_for_evaluation(model, datamodule, ckpt_path, stage);
    start_loggers(model, datamodule);
    DataLoaders loaders =
        is_test ? resolve_loaders(std::move(given), model, &LightningDataModule::test_dataloader,
                                  &LightningModule::test_dataloader)
                : resolve_loaders(std::move(given), model, &LightningDataModule::val_dataloader,
                                  &LightningModule::val_dataloader);
    const char* fn = is_test ? "test" : "validate";
    LIGHTNING_CHECK(!loaders.empty(), "Trainer::", fn, " needs a ", is_test ? "test" : "val",
                    " dataloader: return one from ", is_test ? "test" : "val",
                    "_dataloader() (module or datamodule) or pass it to ", fn, "().");
    loaders = distribute(std::move(loaders), /*training=*/false);
    std::vector<int64_t>& counts = is_test ? num_test_batches_ : num_val_batches_;
    counts = batch_counts(loaders,
                          is_test ? options_.limit_test_batches() : options_.limit_val_batches());
    (is_test ? loaders_.test : loaders_.val) = std::move(loaders);
    std::vector<Metrics> results = run_evaluation(model, stage, counts, /*log=*/true);
    if (verbose && is_global_zero()) {
      std::cout << results_table(results, to_string(stage), terminal_columns()) << std::flush;
    }
    return results;
  });
}

void TrainerImpl::evaluation_batch(LightningModule& model, bool is_test, Batch batch,
                                   int64_t batch_idx, int64_t dl_idx) {
  batch = transfer_batch(model, std::move(batch), dl_idx);
  current_batch_size_ = batch.batch_size();
  current_dataloader_idx_ = dl_idx;
  call_hook(
      is_test ? Hook::OnTestBatchStart : Hook::OnValidationBatchStart,
      [&](Callback& c) {
        is_test ? c.on_test_batch_start(self_, model, batch, batch_idx, dl_idx)
                : c.on_validation_batch_start(self_, model, batch, batch_idx, dl_idx);
      },
      [&] {
        is_test ? model.on_test_batch_start(batch, batch_idx, dl_idx)
                : model.on_validation_batch_start(batch, batch_idx, dl_idx);
      });
  StepOutput output = call_module_hook(is_test ? Hook::TestStep : Hook::ValidationStep, [&] {
    auto autocast = precision_->forward_context(device_.type());
    return is_test ? model.test_step(batch, batch_idx, dl_idx)
                   : model.validation_step(batch, batch_idx, dl_idx);
  });
  call_hook(
      is_test ? Hook::OnTestBatchEnd : Hook::OnValidationBatchEnd,
      [&](Callback& c) {
        is_test ? c.on_test_batch_end(self_, model, output, batch, batch_idx, dl_idx)
                : c.on_validation_batch_end(self_, model, output, batch, batch_idx, dl_idx);
      },
      [&] {
        is_test ? model.on_test_batch_end(output, batch, batch_idx, dl_idx)
                : model.on_validation_batch_end(output, batch, batch_idx, dl_idx);
      });
}

std::vector<Metrics> TrainerImpl::run_evaluation(LightningModule& model, Stage stage,
                                                 const std::vector<int64_t>& limits, bool log) {
  const bool is_test = stage == Stage::Test;
  DataLoaders& loaders = is_test ? loaders_.test : loaders_.val;
  auto* previous_results = active_results_;
  eval_results_->reset();
  active_results_ = eval_results_.get();
  const bool was_training = model.is_training();
  model.eval();
  std::vector<TensorMetrics> per_loader;
  {
    EvaluationGradMode grad_mode(options_.inference_mode());
    auto epoch_hook = [&](Hook val_hook, Hook test_hook, auto cb_val, auto cb_test, auto m_val,
                          auto m_test) {
      call_hook(
          is_test ? test_hook : val_hook,
          [&](Callback& c) { (c.*(is_test ? cb_test : cb_val))(self_, model); },
          [&] { (model.*(is_test ? m_test : m_val))(); });
    };
    epoch_hook(Hook::OnValidationStart, Hook::OnTestStart, &Callback::on_validation_start,
               &Callback::on_test_start, &LightningModule::on_validation_start,
               &LightningModule::on_test_start);
    epoch_hook(Hook::OnValidationEpochStart, Hook::OnTestEpochStart,
               &Callback::on_validation_epoch_start, &Callback::on_test_epoch_start,
               &LightningModule::on_validation_epoch_start, &LightningModule::on_test_epoch_start);

    for (size_t dl = 0; dl < loaders.size(); ++dl) {
      const auto dl_idx = static_cast<int64_t>(dl);
      current_dataloader_suffix_ = loader_suffix(loaders.size(), dl_idx);
      int64_t batch_idx = 0;
      const char* next = is_test ? "[_EvaluationLoop].test_next" : "[_EvaluationLoop].val_next";
      auto it = [&] {
        ActionScope fetch(profiling_, next);
        return loaders[dl].begin();
      }();
      for (const auto end = loaders[dl].end(); batch_idx < limits[dl] && it != end;) {
        evaluation_batch(model, is_test, std::move(*it), batch_idx, dl_idx);
        ++batch_idx;
        if (batch_idx < limits[dl]) {
          ActionScope fetch(profiling_, next);
          ++it;
        }
      }
    }
    current_dataloader_suffix_.clear();
    current_dataloader_idx_ = 0;

    epoch_hook(Hook::OnValidationEpochEnd, Hook::OnTestEpochEnd, &Callback::on_validation_epoch_end,
               &Callback::on_test_epoch_end, &LightningModule::on_validation_epoch_end,
               &LightningModule::on_test_epoch_end);
    sync_epoch_results(*eval_results_);
    per_loader = eval_results_->epoch_metrics(sinks(), loaders.size());
    eval_results_->reset_metrics();  // logged Metric objects start the next pass empty
    if (log) {
      TensorMetrics all;
      for (const auto& m : per_loader) all.insert(m.begin(), m.end());
      if (!all.empty()) {
        send_to_loggers(all, std::max<int64_t>(fit_loop_.counters().batches_that_stepped - 1, 0),
                        /*epoch_level=*/true);
      }
    }
    epoch_hook(Hook::OnValidationEnd, Hook::OnTestEnd, &Callback::on_validation_end,
               &Callback::on_test_end, &LightningModule::on_validation_end,
               &LightningModule::on_test_end);
  }
  model.train(was_training);
  active_results_ = previous_results;
  return to_numbers(per_loader);
}

}  // namespace lightning::detail
