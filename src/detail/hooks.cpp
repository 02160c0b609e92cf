#include "detail/hooks.h"

#include "lightning/data/batch.h"
#include "lightning/datamodule.h"
#include "lightning/module.h"

namespace lightning::detail {

const char* hook_name(Hook hook) {
  switch (hook) {
    case Hook::None:
      return "<no hook>";
    case Hook::TrainingStep:
      return "training_step";
    case Hook::OnTrainBatchStart:
      return "on_train_batch_start";
    case Hook::OnTrainBatchEnd:
      return "on_train_batch_end";
    case Hook::OnBeforeBackward:
      return "on_before_backward";
    case Hook::OnAfterBackward:
      return "on_after_backward";
    case Hook::OnBeforeOptimizerStep:
      return "on_before_optimizer_step";
    case Hook::OnBeforeZeroGrad:
      return "on_before_zero_grad";
    case Hook::ConfigureGradientClipping:
      return "configure_gradient_clipping";
    case Hook::ValidationStep:
      return "validation_step";
    case Hook::TestStep:
      return "test_step";
    case Hook::OnValidationBatchStart:
      return "on_validation_batch_start";
    case Hook::OnValidationBatchEnd:
      return "on_validation_batch_end";
    case Hook::OnTestBatchStart:
      return "on_test_batch_start";
    case Hook::OnTestBatchEnd:
      return "on_test_batch_end";
    case Hook::OnTrainStart:
      return "on_train_start";
    case Hook::OnTrainEpochStart:
      return "on_train_epoch_start";
    case Hook::OnTrainEpochEnd:
      return "on_train_epoch_end";
    case Hook::OnValidationStart:
      return "on_validation_start";
    case Hook::OnValidationEpochStart:
      return "on_validation_epoch_start";
    case Hook::OnValidationEpochEnd:
      return "on_validation_epoch_end";
    case Hook::OnValidationEnd:
      return "on_validation_end";
    case Hook::OnTestStart:
      return "on_test_start";
    case Hook::OnTestEpochStart:
      return "on_test_epoch_start";
    case Hook::OnTestEpochEnd:
      return "on_test_epoch_end";
    case Hook::OnTestEnd:
      return "on_test_end";
    case Hook::PredictStep:
      return "predict_step";
    case Hook::OnPredictStart:
      return "on_predict_start";
    case Hook::OnPredictEpochStart:
      return "on_predict_epoch_start";
    case Hook::OnPredictBatchStart:
      return "on_predict_batch_start";
    case Hook::OnPredictBatchEnd:
      return "on_predict_batch_end";
    case Hook::OnPredictEpochEnd:
      return "on_predict_epoch_end";
    case Hook::OnPredictEnd:
      return "on_predict_end";
    case Hook::OnFitStart:
      return "on_fit_start";
    case Hook::OnFitEnd:
      return "on_fit_end";
    case Hook::OnTrainEnd:
      return "on_train_end";
    case Hook::OnSanityCheckStart:
      return "on_sanity_check_start";
    case Hook::OnSanityCheckEnd:
      return "on_sanity_check_end";
    case Hook::Setup:
      return "setup";
    case Hook::Teardown:
      return "teardown";
    case Hook::PrepareData:
      return "prepare_data";
    case Hook::ConfigureOptimizers:
      return "configure_optimizers";
    case Hook::ConfigureCallbacks:
      return "configure_callbacks";
    case Hook::Dataloader:
      return "*_dataloader";
    case Hook::OnBeforeBatchTransfer:
      return "on_before_batch_transfer";
    case Hook::TransferBatchToDevice:
      return "transfer_batch_to_device";
    case Hook::OnAfterBatchTransfer:
      return "on_after_batch_transfer";
    case Hook::OnSaveCheckpoint:
      return "on_save_checkpoint";
    case Hook::OnLoadCheckpoint:
      return "on_load_checkpoint";
    case Hook::OnException:
      return "on_exception";
  }
  return "<unknown hook>";
}

LogRule log_rule(Hook hook) {
  const auto h = static_cast<int>(hook);
  if (h >= static_cast<int>(Hook::TrainingStep) &&
      h <= static_cast<int>(Hook::ConfigureGradientClipping))
    return {true, true, true, false};
  if (h >= static_cast<int>(Hook::ValidationStep) && h <= static_cast<int>(Hook::OnTestBatchEnd))
    return {true, true, false, true};
  if (h >= static_cast<int>(Hook::OnTrainStart) && h <= static_cast<int>(Hook::OnTestEnd))
    return {true, false, false, true};
  return {false, false, false, false};
}

namespace {

// A plain module whose vtable holds the base implementations.
const LightningModule& reference_module() {
  static const auto* reference = new LightningModule();  // never destroyed: used at exit too
  return *reference;
}

using StepFn2 = StepOutput (LightningModule::*)(Batch&, int64_t);
using StepFn3 = StepOutput (LightningModule::*)(Batch&, int64_t, int64_t);
using PredictFn2 = c10::IValue (LightningModule::*)(Batch&, int64_t);
using PredictFn3 = c10::IValue (LightningModule::*)(Batch&, int64_t, int64_t);

template <typename F2, typename F3>
bool overrides_either(const LightningModule& m, F2 two, F3 three) {
  return is_overridden(m, reference_module(), two) || is_overridden(m, reference_module(), three);
}

}  // namespace

bool overrides_val_dataloader(const LightningModule& m) {
  return is_overridden(m, reference_module(), &LightningModule::val_dataloader);
}
bool overrides_val_dataloader(const LightningDataModule& dm) {
  static const auto* reference = new LightningDataModule();  // never destroyed, as above
  return is_overridden(dm, *reference, &LightningDataModule::val_dataloader);
}

bool overrides_validation_step(const LightningModule& m) {
  return overrides_either(m, static_cast<StepFn2>(&LightningModule::validation_step),
                          static_cast<StepFn3>(&LightningModule::validation_step));
}
bool overrides_test_step(const LightningModule& m) {
  return overrides_either(m, static_cast<StepFn2>(&LightningModule::test_step),
                          static_cast<StepFn3>(&LightningModule::test_step));
}
bool overrides_predict_step(const LightningModule& m) {
  return overrides_either(m, static_cast<PredictFn2>(&LightningModule::predict_step),
                          static_cast<PredictFn3>(&LightningModule::predict_step));
}
bool overrides_training_step(const LightningModule& m) {
  return is_overridden(m, reference_module(), &LightningModule::training_step);
}

}  // namespace lightning::detail
