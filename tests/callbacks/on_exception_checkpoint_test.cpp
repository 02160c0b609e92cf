// OnExceptionCheckpoint: a failing step leaves a checkpoint of the moment it
// failed, which loads and resumes; a stage that ends normally removes it.
#include "lightning/callbacks/on_exception_checkpoint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <stdexcept>

#include "lightning/callbacks/lambda_callback.h"
#include "support/boring.h"
#include "support/temp_dir.h"

namespace L = lightning;
using ::testing::HasSubstr;

namespace {

// Raises in training_step at batch `fail_at` of the first epoch (when >= 0).
struct FailingModule : L::testing::BoringModule {
  explicit FailingModule(int64_t fail_at) : fail_at(fail_at) {}
  L::StepOutput training_step(L::Batch& batch, int64_t i) override {
    if (i == fail_at) throw std::runtime_error("step failed on purpose");
    return BoringModule::training_step(batch, i);
  }
  L::DataLoaders train_dataloader() override { return L::testing::loader(16, 2); }  // 8 batches
  int64_t fail_at;
};

}  // namespace

TEST(OnExceptionCheckpoint, SavesWhenAStepRaisesAndTheFileLoads) {
  L::testing::TempDir dir;
  auto callback = std::make_shared<L::OnExceptionCheckpoint>(dir.str());
  EXPECT_EQ(callback->ckpt_path(), dir.file("on_exception.ckpt"));
  auto model = std::make_shared<FailingModule>(3);
  L::Trainer trainer(L::testing::quiet().max_epochs(1).callbacks({callback}));
  try {
    trainer.fit(model);
    FAIL() << "fit did not raise";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "step failed on purpose");
  }
  ASSERT_TRUE(std::filesystem::exists(callback->ckpt_path()));
  L::Checkpoint ckpt = L::read_checkpoint(callback->ckpt_path());
  // Three optimizer steps were taken before batch 3 raised.
  EXPECT_EQ(ckpt.get<int64_t>("global_step"), 3);
  EXPECT_EQ(ckpt.get<int64_t>("epoch"), 0);
  // The weights are the module's at the failure.
  const L::StateDict weights = ckpt.at("state_dict").toGenericDict();
  EXPECT_TRUE(weights.at("layer.weight").toTensor().equal(model->layer->weight.detach()));

  // It resumes: batch 3 (which raised) and the rest of the epoch run.
  auto resumed = std::make_shared<FailingModule>(-1);
  L::Trainer again(L::testing::quiet().max_epochs(1));
  again.fit(resumed, callback->ckpt_path());
  EXPECT_EQ(again.global_step(), 8);
}

TEST(OnExceptionCheckpoint, CustomFilenameAndRemovalAfterANormalStage) {
  L::testing::TempDir dir;
  auto callback = std::make_shared<L::OnExceptionCheckpoint>(dir.str(), "crash");
  L::Trainer trainer(L::testing::quiet().max_epochs(1).callbacks({callback}));
  EXPECT_THROW(trainer.fit(std::make_shared<FailingModule>(0)), std::runtime_error);
  const std::string path = dir.file("crash.ckpt");
  ASSERT_TRUE(std::filesystem::exists(path));
  // Lightning's teardown removes the file once a stage ends without an error.
  trainer.fit(std::make_shared<FailingModule>(-1));
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(OnExceptionCheckpoint, NothingIsWrittenWithoutAnException) {
  L::testing::TempDir dir;
  auto callback = std::make_shared<L::OnExceptionCheckpoint>(dir.str());
  L::Trainer trainer(L::testing::quiet().max_epochs(1).callbacks({callback}));
  trainer.fit(std::make_shared<FailingModule>(-1));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(OnExceptionCheckpoint, RunsAfterTheOtherCallbacksLikeLightningsCheckpoints) {
  L::testing::TempDir dir;
  auto callback = std::make_shared<L::OnExceptionCheckpoint>(dir.str());
  bool existed_before_others = true;
  auto other = std::make_shared<L::LambdaCallback>(L::LambdaCallbackOptions().on_exception(
      [&](L::Trainer&, L::LightningModule&, const std::exception&) {
        existed_before_others = std::filesystem::exists(callback->ckpt_path());
      }));
  // Listed first, it still runs last (Lightning moves Checkpoint callbacks to the end).
  L::Trainer trainer(L::testing::quiet().max_epochs(1).callbacks({callback, other}));
  EXPECT_THROW(trainer.fit(std::make_shared<FailingModule>(1)), std::runtime_error);
  EXPECT_FALSE(existed_before_others);
  EXPECT_TRUE(std::filesystem::exists(callback->ckpt_path()));
  EXPECT_EQ(trainer.callbacks().back(), callback);
}

TEST(OnExceptionCheckpoint, EmptyFilenameIsRejected) {
  EXPECT_EQ(L::testing::error_of([] { L::OnExceptionCheckpoint("ckpts", ""); }),
            "OnExceptionCheckpoint: the filename cannot be empty; pass a name without the .ckpt "
            "extension, e.g. \"on_exception\" (the default).");
}
