// validate / test / predict(ckpt_path): a checkpoint file, "best" or "last"
// evaluates that checkpoint's weights (Lightning's trainer.test(model,
// ckpt_path="best")), and the errors name the method and what to do.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "support/boring.h"
#include "support/temp_dir.h"

namespace L = lightning;
using ::testing::HasSubstr;

namespace {

// Fit 4 epochs with a checkpoint per epoch (val_loss monitored, best kept,
// last.ckpt too); returns the trainer.
std::unique_ptr<L::Trainer> fitted(std::shared_ptr<L::testing::BoringModule> model,
                                   const L::testing::TempDir& dir) {
  auto ckpt = std::make_shared<L::ModelCheckpoint>(L::ModelCheckpointOptions()
                                                       .dirpath(dir.str())
                                                       .monitor("val_loss")
                                                       .save_top_k(1)
                                                       .save_last(true));
  auto trainer = std::make_unique<L::Trainer>(L::testing::quiet()
                                                  .enable_checkpointing(true)
                                                  .callbacks({ckpt})
                                                  .max_epochs(4)
                                                  .num_sanity_val_steps(0));
  trainer->fit(model, L::testing::loader(64, 16, true), L::testing::loader(32, 16));
  return trainer;
}

double test_loss(L::Trainer& trainer, std::shared_ptr<L::LightningModule> model,
                 const std::optional<std::string>& ckpt) {
  return trainer.test(model, L::testing::loader(32, 16), ckpt, false).at(0).at("test_loss");
}

TEST(EvaluateCkptPath, BestLastAndAFileEvaluateThatCheckpointsWeights) {
  L::testing::TempDir dir;
  auto model = std::make_shared<L::testing::BoringModule>();
  auto trainer = fitted(model, dir);
  const std::string best = trainer->checkpoint_callback()->best_model_path();
  ASSERT_FALSE(best.empty());
  const at::Tensor final_weight = model->layer->weight.detach().clone();

  // The reference: a fresh module loaded from the best checkpoint.
  auto loaded = L::load_from_checkpoint<L::testing::BoringModule>(best);
  L::Trainer plain(L::testing::quiet());
  const double expected_best = test_loss(plain, loaded, std::nullopt);

  EXPECT_DOUBLE_EQ(test_loss(*trainer, model, "best"), expected_best);
  EXPECT_EQ(trainer->ckpt_path(), best);
  EXPECT_TRUE(at::equal(model->layer->weight, loaded->layer->weight));

  // "last" is the final epoch's weights; a path works for validate too.
  test_loss(*trainer, model, "last");
  EXPECT_EQ(std::filesystem::path(trainer->ckpt_path()).filename(), "last.ckpt");
  EXPECT_TRUE(at::equal(model->layer->weight, final_weight));
  trainer->validate(model, L::testing::loader(32, 16), best, false);
  EXPECT_EQ(trainer->ckpt_path(), best);
  EXPECT_TRUE(at::equal(model->layer->weight, loaded->layer->weight));

  // Without ckpt_path: the module's current weights, and ckpt_path() is empty.
  test_loss(*trainer, model, std::nullopt);
  EXPECT_EQ(trainer->ckpt_path(), "");

  // predict(ckpt_path) too: the best weights' outputs.
  trainer->predict(model, L::testing::loader(16, 16), "last");
  auto predictions = trainer->predict(model, L::testing::loader(16, 16), best);
  ASSERT_EQ(predictions.size(), 1u);
  const at::Tensor x = L::testing::random_dataset(16)->tensors()[0];
  at::Tensor expected;
  {
    at::NoGradGuard no_grad;
    expected = loaded->forward(x);
  }
  EXPECT_TRUE(at::allclose(predictions[0].toTensor(), expected));
}

TEST(EvaluateCkptPath, ErrorsNameTheMethodAndWhatToDo) {
  auto model = std::make_shared<L::testing::BoringModule>();
  L::Trainer trainer(L::testing::quiet());
  EXPECT_THAT(L::testing::error_of([&] { trainer.test(model, "best"); }),
              HasSubstr("test(ckpt_path=\"best\") needs a ModelCheckpoint callback to find that "
                        "checkpoint; checkpointing is off (enable_checkpointing(false)). Pass the "
                        "file's path instead."));
  EXPECT_THAT(
      L::testing::error_of([&] { trainer.validate(model, "nope.ckpt"); }),
      HasSubstr("validate(ckpt_path=\"nope.ckpt\"): no such checkpoint file. Pass a .ckpt path, "
                "\"last\" or \"best\"."));
  L::Trainer with_ckpt(L::testing::quiet().enable_checkpointing(true));
  EXPECT_THAT(L::testing::error_of([&] { with_ckpt.predict(model, "best"); }),
              HasSubstr("predict(ckpt_path=\"best\"): the ModelCheckpoint callback has no best "
                        "model yet (it saves during fit: run fit first, or pass the file's "
                        "path)."));
}

}  // namespace
