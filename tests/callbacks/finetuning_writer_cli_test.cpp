// BackboneFinetuning and PredictionWriter from a LightningCLI config
// (`trainer.callbacks` entries with class_path / init_args).
#include <gtest/gtest.h>

#include "cli/trainer_config.h"
#include "lightning/lightning.h"
#include "support/errors.h"

namespace L = lightning;
namespace D = lightning::detail;

namespace {

L::HParamValue value(const std::string& yaml) { return L::hparams_from_yaml("v: " + yaml).at("v"); }

std::shared_ptr<L::Callback> make(const std::string& yaml) {
  return D::make_callback(value(yaml), "trainer.callbacks[0]");
}

}  // namespace

TEST(FinetuningWriterCli, BackboneFinetuningFromConfig) {
  auto made = std::dynamic_pointer_cast<L::BackboneFinetuning>(
      make("{class_path: lightning.pytorch.callbacks.BackboneFinetuning, init_args: "
           "{unfreeze_backbone_at_epoch: 3, backbone_initial_lr: 0.05, should_align: false, "
           "train_bn: false, lambda_func: "
           "lightning.pytorch.callbacks.finetuning.multiplicative}}"));
  ASSERT_NE(made, nullptr);
  EXPECT_EQ(made->options().unfreeze_backbone_at_epoch(), 3);
  EXPECT_DOUBLE_EQ(*made->options().backbone_initial_lr(), 0.05);
  EXPECT_FALSE(made->options().should_align());
  EXPECT_FALSE(made->options().train_bn());
  EXPECT_DOUBLE_EQ(made->options().backbone_initial_ratio_lr(), 0.1);  // Lightning's default

  EXPECT_LIGHTNING_ERROR(make("{class_path: BackboneFinetuning, init_args: {lambda_func: "
                              "my.module.schedule}}"),
                         "lambda_func");
  EXPECT_LIGHTNING_ERROR(
      make("{class_path: BackboneFinetuning, init_args: {unfreeze_backbone_at_epoch: -2}}"),
      "unfreeze_backbone_at_epoch must be >= 0, got -2");
  EXPECT_LIGHTNING_ERROR(make("{class_path: BaseFinetuning}"), "subclass L::BaseFinetuning");
}

TEST(FinetuningWriterCli, PredictionWriterFromConfig) {
  auto made = std::dynamic_pointer_cast<L::PredictionWriter>(
      make("{class_path: PredictionWriter, init_args: {output_dir: preds, write_interval: "
           "batch_and_epoch}}"));
  ASSERT_NE(made, nullptr);
  EXPECT_EQ(made->output_dir(), "preds");
  EXPECT_EQ(made->write_interval(), "batch_and_epoch");
  EXPECT_LIGHTNING_ERROR(make("{class_path: PredictionWriter, init_args: {output_dir: p, "
                              "write_interval: step}}"),
                         "got \"step\"");
  EXPECT_LIGHTNING_ERROR(make("{class_path: PredictionWriter}"), "output_dir");
  EXPECT_LIGHTNING_ERROR(make("{class_path: BasePredictionWriter}"), "use PredictionWriter");
}
