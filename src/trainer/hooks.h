// Internal: the hooks the Trainer calls, one row each in one table (hooks.cpp):
// Lightning's name and what `self.log` may do inside it (Lightning's
// _FxValidator rules). The running hook is tracked so that `self.log` applies
// that hook's rule and a failure names the hook.
#pragma once

#include <exception>
#include <memory>
#include <vector>

namespace lightning {
class Callback;
}

namespace lightning::detail {

enum class Hook : int {
  None = 0,
  TrainingStep,
  OnTrainBatchStart,
  OnTrainBatchEnd,
  OnBeforeBackward,
  OnAfterBackward,
  OnBeforeOptimizerStep,
  OnBeforeZeroGrad,
  ConfigureGradientClipping,
  ValidationStep,
  TestStep,
  OnValidationBatchStart,
  OnValidationBatchEnd,
  OnTestBatchStart,
  OnTestBatchEnd,
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

/// What `self.log` may do in a hook.
struct LogRule {
  bool allowed;
  bool step_allowed;     // on_step=true permitted
  bool default_on_step;  // defaults when the option is unset
  bool default_on_epoch;
};

/// Lightning's name of the hook ("training_step", "on_fit_start", ...).
const char* hook_name(Hook hook);
/// The `self.log` rule of the hook.
const LogRule& log_rule(Hook hook);

/// Marks the hook running now for the scope's lifetime. When the hook throws,
/// the mark stays: the entry point's handler reports the innermost failed hook
/// (DDP tells the other ranks its name).
class HookScope {
 public:
  HookScope(Hook& current, Hook hook)
      : current_(current), saved_(current), uncaught_(std::uncaught_exceptions()) {
    current_ = hook;
  }
  ~HookScope() {
    if (std::uncaught_exceptions() == uncaught_) current_ = saved_;
  }
  HookScope(const HookScope&) = delete;
  HookScope& operator=(const HookScope&) = delete;

 private:
  Hook& current_;
  Hook saved_;
  int uncaught_;
};

/// The one dispatch helper: every callback in order, then the module.
template <typename OnCallback, typename OnModule>
void dispatch(Hook& current, Hook hook, const std::vector<std::shared_ptr<Callback>>& callbacks,
              OnCallback&& on_callback, OnModule&& on_module) {
  HookScope scope(current, hook);
  for (const auto& callback : callbacks) on_callback(*callback);
  on_module();
}

/// Module-only hooks (data and step hooks): runs `fn` with the hook marked.
template <typename Fn>
auto call_module(Hook& current, Hook hook, Fn&& fn) {
  HookScope scope(current, hook);
  return fn();
}

}  // namespace lightning::detail
