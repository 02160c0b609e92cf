#include "trainer/overrides.h"

#include "lightning/data/batch.h"
#include "lightning/datamodule.h"
#include "lightning/module.h"

namespace lightning::detail {

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
