#include "trainer/hooks.h"

#include <cstddef>
#include <iterator>

namespace lightning::detail {

namespace {

// The four `self.log` rules of Lightning's _FxValidator.
// Per step and per epoch, on_step by default: the training step and what runs
// around its backward and optimizer step.
constexpr LogRule kTrainStep{true, true, true, false};
// Per step and per epoch, on_epoch by default: the evaluation steps and their batch hooks.
constexpr LogRule kEvalStep{true, true, false, true};
// Epoch level: on_step must be false.
constexpr LogRule kEpoch{true, false, false, true};
constexpr LogRule kNoLogging{false, false, false, false};

struct Row {
  Hook hook;
  const char* name;
  LogRule log;
};

// One row per Hook, in the enum's order (checked below).
constexpr Row kHooks[] = {
    {Hook::None, "<no hook>", kNoLogging},
    {Hook::TrainingStep, "training_step", kTrainStep},
    {Hook::OnTrainBatchStart, "on_train_batch_start", kTrainStep},
    {Hook::OnTrainBatchEnd, "on_train_batch_end", kTrainStep},
    {Hook::OnBeforeBackward, "on_before_backward", kTrainStep},
    {Hook::OnAfterBackward, "on_after_backward", kTrainStep},
    {Hook::OnBeforeOptimizerStep, "on_before_optimizer_step", kTrainStep},
    {Hook::OnBeforeZeroGrad, "on_before_zero_grad", kTrainStep},
    {Hook::ConfigureGradientClipping, "configure_gradient_clipping", kTrainStep},
    {Hook::ValidationStep, "validation_step", kEvalStep},
    {Hook::TestStep, "test_step", kEvalStep},
    {Hook::OnValidationBatchStart, "on_validation_batch_start", kEvalStep},
    {Hook::OnValidationBatchEnd, "on_validation_batch_end", kEvalStep},
    {Hook::OnTestBatchStart, "on_test_batch_start", kEvalStep},
    {Hook::OnTestBatchEnd, "on_test_batch_end", kEvalStep},
    {Hook::OnTrainStart, "on_train_start", kEpoch},
    {Hook::OnTrainEpochStart, "on_train_epoch_start", kEpoch},
    {Hook::OnTrainEpochEnd, "on_train_epoch_end", kEpoch},
    {Hook::OnValidationStart, "on_validation_start", kEpoch},
    {Hook::OnValidationEpochStart, "on_validation_epoch_start", kEpoch},
    {Hook::OnValidationEpochEnd, "on_validation_epoch_end", kEpoch},
    {Hook::OnValidationEnd, "on_validation_end", kNoLogging},
    {Hook::OnTestStart, "on_test_start", kEpoch},
    {Hook::OnTestEpochStart, "on_test_epoch_start", kEpoch},
    {Hook::OnTestEpochEnd, "on_test_epoch_end", kEpoch},
    {Hook::OnTestEnd, "on_test_end", kNoLogging},
    {Hook::PredictStep, "predict_step", kNoLogging},
    {Hook::OnPredictStart, "on_predict_start", kNoLogging},
    {Hook::OnPredictEpochStart, "on_predict_epoch_start", kNoLogging},
    {Hook::OnPredictBatchStart, "on_predict_batch_start", kNoLogging},
    {Hook::OnPredictBatchEnd, "on_predict_batch_end", kNoLogging},
    {Hook::OnPredictEpochEnd, "on_predict_epoch_end", kNoLogging},
    {Hook::OnPredictEnd, "on_predict_end", kNoLogging},
    {Hook::OnFitStart, "on_fit_start", kNoLogging},
    {Hook::OnFitEnd, "on_fit_end", kNoLogging},
    {Hook::OnTrainEnd, "on_train_end", kNoLogging},
    {Hook::OnSanityCheckStart, "on_sanity_check_start", kNoLogging},
    {Hook::OnSanityCheckEnd, "on_sanity_check_end", kNoLogging},
    {Hook::Setup, "setup", kNoLogging},
    {Hook::Teardown, "teardown", kNoLogging},
    {Hook::PrepareData, "prepare_data", kNoLogging},
    {Hook::ConfigureOptimizers, "configure_optimizers", kNoLogging},
    {Hook::ConfigureCallbacks, "configure_callbacks", kNoLogging},
    {Hook::Dataloader, "*_dataloader", kNoLogging},
    {Hook::OnBeforeBatchTransfer, "on_before_batch_transfer", kNoLogging},
    {Hook::TransferBatchToDevice, "transfer_batch_to_device", kNoLogging},
    {Hook::OnAfterBatchTransfer, "on_after_batch_transfer", kNoLogging},
    {Hook::OnSaveCheckpoint, "on_save_checkpoint", kNoLogging},
    {Hook::OnLoadCheckpoint, "on_load_checkpoint", kNoLogging},
    {Hook::OnException, "on_exception", kNoLogging},
};

constexpr bool rows_match_the_enum() {
  for (std::size_t i = 0; i < std::size(kHooks); ++i) {
    if (static_cast<std::size_t>(kHooks[i].hook) != i) return false;
  }
  return static_cast<std::size_t>(Hook::OnException) + 1 == std::size(kHooks);
}
static_assert(rows_match_the_enum(), "kHooks needs exactly one row per Hook, in the enum's order");

}  // namespace

const char* hook_name(Hook hook) { return kHooks[static_cast<std::size_t>(hook)].name; }

const LogRule& log_rule(Hook hook) { return kHooks[static_cast<std::size_t>(hook)].log; }

}  // namespace lightning::detail
