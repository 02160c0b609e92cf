// The golden hook-order test: a module and a callback record every hook call
// of fit / validate / test / predict; the recorded lists are the spec
// (docs/hooks.md, Lightning's own test_hooks.py order).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/boring.h"
#include "support/hook_recorder.h"

namespace L = lightning;
using L::testing::BoringModule;

namespace {

using Calls = L::testing::HookCalls;
using L::testing::RecordingCallback;
using L::testing::RecordingModule;

Calls transfer() {
  return {"on_before_batch_transfer", "transfer_batch_to_device", "on_after_batch_transfer"};
}

Calls eval_batch(const std::string& stage, const std::string& step) {
  Calls c = transfer();
  Calls rest = {"Callback.on_" + stage + "_batch_start", "on_" + stage + "_batch_start", step,
                "Callback.on_" + stage + "_batch_end", "on_" + stage + "_batch_end"};
  c.insert(c.end(), rest.begin(), rest.end());
  return c;
}

Calls eval_loop(const std::string& stage, const std::string& step, int batches) {
  Calls c = {"Callback.on_" + stage + "_start", "on_" + stage + "_start",
             "Callback.on_" + stage + "_epoch_start", "on_" + stage + "_epoch_start"};
  for (int i = 0; i < batches; ++i) {
    Calls b = eval_batch(stage, step);
    c.insert(c.end(), b.begin(), b.end());
  }
  Calls end = {"Callback.on_" + stage + "_epoch_end", "on_" + stage + "_epoch_end",
               "Callback.on_" + stage + "_end", "on_" + stage + "_end"};
  c.insert(c.end(), end.begin(), end.end());
  return c;
}

Calls train_batch() {
  Calls c = transfer();
  Calls rest = {"Callback.on_train_batch_start",
                "on_train_batch_start",
                "training_step",
                "Callback.on_before_zero_grad",
                "on_before_zero_grad",
                "Callback.on_before_backward",
                "on_before_backward",
                "Callback.on_after_backward",
                "on_after_backward",
                "Callback.on_before_optimizer_step",
                "on_before_optimizer_step",
                "configure_gradient_clipping",
                "Callback.on_train_batch_end",
                "on_train_batch_end"};
  c.insert(c.end(), rest.begin(), rest.end());
  return c;
}

void append(Calls& to, const Calls& from) { to.insert(to.end(), from.begin(), from.end()); }

struct Recorded {
  // 2 train and 2 validation batches, 1 test and 1 predict batch, of 2 samples.
  std::shared_ptr<RecordingModule> module = std::make_shared<RecordingModule>(
      L::testing::LoaderSizes{/*train=*/4, /*val=*/4, /*test=*/2, /*predict=*/2,
                              /*batch_size=*/2});
  std::unique_ptr<L::Trainer> trainer;
  explicit Recorded(L::TrainerOptions options) {
    options.callbacks({std::make_shared<RecordingCallback>(module->calls)});
    trainer = std::make_unique<L::Trainer>(options);
  }
};

}  // namespace

TEST(HookOrder, Fit) {
  Recorded r(L::testing::quiet()
                 .max_epochs(1)
                 .limit_train_batches(2)
                 .limit_val_batches(1)
                 .num_sanity_val_steps(1));
  r.trainer->fit(r.module);

  Calls expected = {"configure_callbacks",  "prepare_data",
                    "Callback.setup(fit)",  "setup(fit)",
                    "configure_optimizers", "Callback.on_fit_start",
                    "on_fit_start",         "Callback.on_sanity_check_start",
                    "val_dataloader"};
  append(expected, eval_loop("validation", "validation_step", 1));
  append(expected, {"Callback.on_sanity_check_end", "train_dataloader", "Callback.on_train_start",
                    "on_train_start", "Callback.on_train_epoch_start", "on_train_epoch_start"});
  append(expected, train_batch());
  append(expected, train_batch());
  append(expected, eval_loop("validation", "validation_step", 1));  // end-of-epoch validation
  append(expected, {"Callback.on_train_epoch_end", "on_train_epoch_end", "Callback.on_train_end",
                    "on_train_end", "Callback.on_fit_end", "on_fit_end", "Callback.teardown(fit)",
                    "teardown(fit)"});
  EXPECT_EQ(r.module->calls, expected);
}

TEST(HookOrder, FitWithoutSanityCheckAsksForTheTrainLoaderFirst) {
  Recorded r(L::testing::quiet()
                 .max_epochs(1)
                 .limit_train_batches(1)
                 .limit_val_batches(1)
                 .num_sanity_val_steps(0));
  r.trainer->fit(r.module);
  const Calls expected = {
      "configure_callbacks",  "prepare_data",           "Callback.setup(fit)", "setup(fit)",
      "configure_optimizers", "Callback.on_fit_start",  "on_fit_start",        "train_dataloader",
      "val_dataloader",       "Callback.on_train_start"};
  ASSERT_GE(r.module->calls.size(), expected.size());
  EXPECT_EQ(Calls(r.module->calls.begin(), r.module->calls.begin() + expected.size()), expected);
}

TEST(HookOrder, Validate) {
  Recorded r(L::testing::quiet().limit_val_batches(1));
  r.trainer->validate(r.module);
  Calls expected = {"configure_callbacks", "prepare_data", "Callback.setup(validate)",
                    "setup(validate)", "val_dataloader"};
  append(expected, eval_loop("validation", "validation_step", 1));
  append(expected, {"Callback.teardown(validate)", "teardown(validate)"});
  EXPECT_EQ(r.module->calls, expected);
}

TEST(HookOrder, Test) {
  Recorded r(L::testing::quiet());
  r.trainer->test(r.module);
  Calls expected = {"configure_callbacks", "prepare_data", "Callback.setup(test)", "setup(test)",
                    "test_dataloader"};
  append(expected, eval_loop("test", "test_step", 1));
  append(expected, {"Callback.teardown(test)", "teardown(test)"});
  EXPECT_EQ(r.module->calls, expected);
}

TEST(HookOrder, Predict) {
  Recorded r(L::testing::quiet());
  auto outputs = r.trainer->predict(r.module);
  Calls expected = {"configure_callbacks", "prepare_data", "Callback.setup(predict)",
                    "setup(predict)", "predict_dataloader"};
  append(expected, eval_loop("predict", "predict_step", 1));
  append(expected, {"Callback.teardown(predict)", "teardown(predict)"});
  EXPECT_EQ(r.module->calls, expected);
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].toTensor().sizes(), (std::vector<int64_t>{2, 2}));
}

TEST(HookOrder, TrainBatchStartMinusOneEndsTheEpoch) {
  struct Stopper : BoringModule {
    int64_t on_train_batch_start(L::Batch&, int64_t batch_idx) override {
      return batch_idx == 2 ? -1 : 0;
    }
    L::DataLoaders train_dataloader() override { return L::testing::loader(16, 2); }
  };
  auto module = std::make_shared<Stopper>();
  auto counter = std::make_shared<L::testing::CountingCallback>();
  L::Trainer trainer(L::testing::quiet().max_epochs(2).callbacks({counter}));
  trainer.fit(module);
  // Two epochs, each cut after batches 0 and 1.
  EXPECT_EQ(counter->train_batches, (std::vector<int64_t>{0, 1, 0, 1}));
  EXPECT_EQ(trainer.global_step(), 4);
  EXPECT_EQ(trainer.current_epoch(), 2);
}

TEST(HookOrder, ModuleCallbacksReplaceTrainerCallbacksOfTheSameType) {
  struct Module : BoringModule {
    std::shared_ptr<L::testing::CountingCallback> mine =
        std::make_shared<L::testing::CountingCallback>();
    std::vector<std::shared_ptr<L::Callback>> configure_callbacks() override { return {mine}; }
    L::DataLoaders train_dataloader() override { return L::testing::loader(4, 2); }
  };
  auto module = std::make_shared<Module>();
  auto trainers = std::make_shared<L::testing::CountingCallback>();
  L::Trainer trainer(L::testing::quiet().max_epochs(1).callbacks({trainers}));
  trainer.fit(module);
  EXPECT_EQ(trainers->epochs, 0);
  EXPECT_EQ(module->mine->epochs, 1);
  ASSERT_EQ(trainer.callbacks().size(), 1u);
  EXPECT_EQ(trainer.callbacks()[0], module->mine);
}
