// LambdaCallback: every function runs exactly where the Callback hook of the
// same name runs (the call log of a LambdaCallback with all functions set
// equals a Callback subclass's over fit, a resumed fit, validate, test,
// predict and a failing fit), with the hook's arguments; unset ones do nothing.
#include "lightning/callbacks/lambda_callback.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/boring.h"
#include "support/hook_recorder.h"
#include "support/temp_dir.h"

namespace L = lightning;
using L::testing::HookCalls;

namespace {

// A LambdaCallback logging each hook as RecordingCallback does ("Callback.<hook>").
std::shared_ptr<L::LambdaCallback> recording_lambda(HookCalls& log) {
  auto rec = [&log](const char* hook) {
    return [&log, hook](auto&&...) { log.push_back(std::string("Callback.") + hook); };
  };
  auto staged = [&log](const char* hook) {
    return [&log, hook](L::Trainer&, L::LightningModule&, L::Stage stage) {
      log.push_back(std::string("Callback.") + hook + "(" + L::to_string(stage) + ")");
    };
  };
  L::LambdaCallbackOptions o;
  o.setup(staged("setup")).teardown(staged("teardown"));
  o.on_fit_start(rec("on_fit_start")).on_fit_end(rec("on_fit_end"));
  o.on_sanity_check_start(rec("on_sanity_check_start"));
  o.on_sanity_check_end(rec("on_sanity_check_end"));
  o.on_train_batch_start(rec("on_train_batch_start"));
  o.on_train_batch_end(rec("on_train_batch_end"));
  o.on_train_epoch_start(rec("on_train_epoch_start"));
  o.on_train_epoch_end(rec("on_train_epoch_end"));
  o.on_validation_epoch_start(rec("on_validation_epoch_start"));
  o.on_validation_epoch_end(rec("on_validation_epoch_end"));
  o.on_test_epoch_start(rec("on_test_epoch_start"));
  o.on_test_epoch_end(rec("on_test_epoch_end"));
  o.on_validation_batch_start(rec("on_validation_batch_start"));
  o.on_validation_batch_end(rec("on_validation_batch_end"));
  o.on_test_batch_start(rec("on_test_batch_start"));
  o.on_test_batch_end(rec("on_test_batch_end"));
  o.on_train_start(rec("on_train_start")).on_train_end(rec("on_train_end"));
  o.on_validation_start(rec("on_validation_start")).on_validation_end(rec("on_validation_end"));
  o.on_test_start(rec("on_test_start")).on_test_end(rec("on_test_end"));
  o.on_exception(rec("on_exception"));
  o.on_save_checkpoint(rec("on_save_checkpoint")).on_load_checkpoint(rec("on_load_checkpoint"));
  o.on_before_backward(rec("on_before_backward")).on_after_backward(rec("on_after_backward"));
  o.on_before_optimizer_step(rec("on_before_optimizer_step"));
  o.on_before_zero_grad(rec("on_before_zero_grad"));
  o.on_predict_start(rec("on_predict_start")).on_predict_end(rec("on_predict_end"));
  o.on_predict_batch_start(rec("on_predict_batch_start"));
  o.on_predict_batch_end(rec("on_predict_batch_end"));
  o.on_predict_epoch_start(rec("on_predict_epoch_start"));
  o.on_predict_epoch_end(rec("on_predict_epoch_end"));
  return std::make_shared<L::LambdaCallback>(o);
}

// Raises in the second training step when `fail` is set.
struct Module : L::testing::RecordingModule {
  explicit Module(bool fail = false)
      : RecordingModule(L::testing::LoaderSizes{4, 4, 2, 2, 2}), fail(fail) {}
  L::StepOutput training_step(L::Batch& b, int64_t i) override {
    if (fail && i == 1) throw std::runtime_error("fails on purpose");
    return RecordingModule::training_step(b, i);
  }
  bool fail;
};

}  // namespace

TEST(LambdaCallback, EachFunctionRunsWhereItsHookRuns) {
  L::testing::TempDir dir;
  HookCalls expected, actual;
  auto options = [&] {
    return L::testing::quiet()
        .max_epochs(1)
        .num_sanity_val_steps(1)
        .enable_checkpointing(true)  // on_save_checkpoint
        .default_root_dir(dir.str())
        .callbacks(
            {std::make_shared<L::testing::RecordingCallback>(expected), recording_lambda(actual)});
  };
  L::Trainer trainer(options());
  trainer.fit(std::make_shared<Module>());
  trainer.validate(std::make_shared<Module>());
  trainer.test(std::make_shared<Module>());
  trainer.predict(std::make_shared<Module>());
  const std::string ckpt = dir.file("mid.ckpt");
  trainer.save_checkpoint(ckpt);
  L::Trainer resumed(options().max_epochs(2));
  resumed.fit(std::make_shared<Module>(), ckpt);  // on_load_checkpoint
  L::Trainer failing(options());
  EXPECT_THROW(failing.fit(std::make_shared<Module>(/*fail=*/true)), std::runtime_error);

  EXPECT_EQ(actual, expected);
  // Every hook took part.
  for (const char* hook :
       {"Callback.setup(fit)", "Callback.teardown(predict)", "Callback.on_exception",
        "Callback.on_load_checkpoint", "Callback.on_save_checkpoint",
        "Callback.on_before_optimizer_step", "Callback.on_predict_batch_end",
        "Callback.on_sanity_check_end", "Callback.on_test_epoch_end"}) {
    EXPECT_NE(std::find(actual.begin(), actual.end(), hook), actual.end()) << hook;
  }
}

TEST(LambdaCallback, FunctionsGetTheHooksArguments) {
  std::vector<int64_t> batch_indices;
  std::vector<int64_t> batch_sizes;
  std::vector<std::string> exceptions;
  int64_t epochs_ended = 0;
  auto cb = std::make_shared<L::LambdaCallback>(
      L::LambdaCallbackOptions()
          .on_train_batch_end([&](L::Trainer& trainer, L::LightningModule&,
                                  const L::StepOutput& outputs, L::Batch& batch,
                                  int64_t batch_idx) {
            EXPECT_TRUE(outputs.loss().defined());
            EXPECT_EQ(trainer.loop_state().batch_idx, batch_idx);
            batch_indices.push_back(batch_idx);
            batch_sizes.push_back(batch.batch_size());
          })
          .on_train_epoch_end([&](L::Trainer&, L::LightningModule&) { ++epochs_ended; })
          .on_exception([&](L::Trainer&, L::LightningModule&, const std::exception& e) {
            exceptions.emplace_back(e.what());
          }));
  L::Trainer trainer(L::testing::quiet().max_epochs(2).callbacks({cb}));
  trainer.fit(std::make_shared<Module>());
  EXPECT_EQ(batch_indices, (std::vector<int64_t>{0, 1, 0, 1}));
  EXPECT_EQ(batch_sizes, (std::vector<int64_t>{2, 2, 2, 2}));
  EXPECT_EQ(epochs_ended, 2);
  EXPECT_TRUE(exceptions.empty());
  L::Trainer failing(L::testing::quiet().max_epochs(1).callbacks({cb}));
  EXPECT_THROW(failing.fit(std::make_shared<Module>(/*fail=*/true)), std::runtime_error);
  EXPECT_EQ(exceptions, (std::vector<std::string>{"fails on purpose"}));
}
