// Internal: the hook identifiers, their Lightning names, the self.log rules per
// hook (Lightning's _FxValidator table), and override detection.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace lightning {
class LightningModule;
class LightningDataModule;
}  // namespace lightning

namespace lightning::detail {

enum class Hook : int {
  None = 0,
  // may log per step and per epoch; defaults on_step=true, on_epoch=false
  TrainingStep,
  OnTrainBatchStart,
  OnTrainBatchEnd,
  OnBeforeBackward,
  OnAfterBackward,
  OnBeforeOptimizerStep,
  OnBeforeZeroGrad,
  ConfigureGradientClipping,
  // may log per step and per epoch; defaults on_step=false, on_epoch=true
  ValidationStep,
  TestStep,
  OnValidationBatchStart,
  OnValidationBatchEnd,
  OnTestBatchStart,
  OnTestBatchEnd,
  // epoch level: on_step must be false; defaults on_step=false, on_epoch=true
  OnTrainStart,
  OnTrainEpochStart,
  OnTrainEpochEnd,
  OnValidationStart,
  OnValidationEpochStart,
  OnValidationEpochEnd,
  OnValidationEnd,
  OnTestStart,
  OnTestEpochStart,
  OnTestEpochEnd,
  OnTestEnd,
  // logging not allowed
  PredictStep,
  OnPredictStart,
  OnPredictEpochStart,
  OnPredictBatchStart,
  OnPredictBatchEnd,
  OnPredictEpochEnd,
  OnPredictEnd,
  OnFitStart,
  OnFitEnd,
  OnTrainEnd,
  OnSanityCheckStart,
  OnSanityCheckEnd,
  Setup,
  Teardown,
  PrepareData,
  ConfigureOptimizers,
  ConfigureCallbacks,
  Dataloader,
  OnBeforeBatchTransfer,
  TransferBatchToDevice,
  OnAfterBatchTransfer,
  OnSaveCheckpoint,
  OnLoadCheckpoint,
  OnException,
};

/// Lightning's name of the hook ("training_step", "on_fit_start", ...).
const char* hook_name(Hook hook);

/// What `self.log` may do in a hook.
struct LogRule {
  bool allowed;
  bool step_allowed;     // on_step=true permitted
  bool default_on_step;  // defaults when the option is unset
  bool default_on_epoch;
};
LogRule log_rule(Hook hook);

/// Whether the dynamic type of `object` overrides the virtual member `method`
/// of `Base`. Works by comparing the object's vtable slot with the slot of a
/// plain `Base` instance (`reference`), using the Itanium C++ ABI layout of
/// pointers to virtual members (GCC and Clang on Linux/macOS, the compilers
/// libtorch supports there). Used where Lightning asks `is_overridden`, e.g.
/// to skip validation when `validation_step` is not defined.
template <typename Base, typename Method>
bool is_overridden(const Base& object, const Base& reference, Method method) {
  struct ItaniumPmf {
    std::uintptr_t ptr;
    std::ptrdiff_t adj;
  };
  static_assert(sizeof(Method) == sizeof(ItaniumPmf), "unexpected member pointer layout");
  ItaniumPmf pmf;
  std::memcpy(&pmf, &method, sizeof pmf);
#if defined(__arm__) || defined(__aarch64__)
  // ARM's variant keeps the virtual flag in the low bit of adj and the offset in ptr.
  if (!(pmf.adj & 1)) return true;
  const std::uintptr_t offset = pmf.ptr;
#else
  if (!(pmf.ptr & 1)) return true;  // not a virtual member: nothing to compare
  const std::uintptr_t offset = pmf.ptr - 1;
#endif
  auto slot = [offset](const Base& o) {
    auto vtable = *reinterpret_cast<const char* const*>(&o);
    return *reinterpret_cast<const void* const*>(vtable + offset);
  };
  return slot(object) != slot(reference);
}

/// Hooks of LightningModule whose absence changes what the Trainer runs.
bool overrides_validation_step(const LightningModule& module);
bool overrides_test_step(const LightningModule& module);
bool overrides_predict_step(const LightningModule& module);
bool overrides_training_step(const LightningModule& module);
/// Whether a val dataloader is defined (Lightning's `_data_source.is_defined()`).
bool overrides_val_dataloader(const LightningModule& module);
bool overrides_val_dataloader(const LightningDataModule& datamodule);

}  // namespace lightning::detail
