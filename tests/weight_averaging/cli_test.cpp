// LightningCLI: StochasticWeightAveraging, WeightAveraging and
// EMAWeightAveraging as trainer.callbacks class_path objects.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli/trainer_config.h"
#include "lightning/callbacks/stochastic_weight_averaging.h"
#include "lightning/callbacks/weight_averaging.h"
#include "lightning/hparams.h"
#include "support/errors.h"

namespace L = lightning;
namespace D = lightning::detail;

namespace {

std::shared_ptr<L::Callback> make(const std::string& yaml) {
  return D::make_callback(L::hparams_from_yaml("v: " + yaml).at("v"), "trainer.callbacks[0]");
}

}  // namespace

TEST(WeightAveragingCLI, StochasticWeightAveragingInitArgs) {
  auto swa = std::dynamic_pointer_cast<L::StochasticWeightAveraging>(
      make("{class_path: lightning.pytorch.callbacks.StochasticWeightAveraging, init_args: "
           "{swa_lrs: [0.01, 0.02], swa_epoch_start: 3, annealing_epochs: 4, "
           "annealing_strategy: linear, device: null}}"));
  ASSERT_NE(swa, nullptr);
  EXPECT_EQ(swa->options().swa_lrs(), (std::vector<double>{0.01, 0.02}));
  EXPECT_FALSE(swa->options().swa_epoch_start().is_fraction);
  EXPECT_EQ(swa->options().swa_epoch_start().epoch, 3);
  EXPECT_EQ(swa->options().annealing_epochs(), 4);
  EXPECT_EQ(swa->options().annealing_strategy(), "linear");
  EXPECT_FALSE(swa->options().device().has_value());

  auto frac = std::dynamic_pointer_cast<L::StochasticWeightAveraging>(
      make("{class_path: StochasticWeightAveraging, init_args: {swa_lrs: 0.05, "
           "swa_epoch_start: 0.5}}"));
  ASSERT_NE(frac, nullptr);
  EXPECT_TRUE(frac->options().swa_epoch_start().is_fraction);
  EXPECT_DOUBLE_EQ(frac->options().swa_epoch_start().fraction, 0.5);
  EXPECT_EQ(frac->options().device(), c10::Device(c10::kCPU));  // Lightning's default

  EXPECT_LIGHTNING_ERROR(make("StochasticWeightAveraging"), "swa_lrs");
  EXPECT_LIGHTNING_ERROR(
      make("{class_path: StochasticWeightAveraging, init_args: {swa_lrs: -1.0}}"),
      "trainer.callbacks[0] (StochasticWeightAveraging): The `swa_lrs` should a positive float");
  EXPECT_LIGHTNING_ERROR(
      make("{class_path: StochasticWeightAveraging, init_args: {swa_lrs: 0.1, avg_fn: f}}"),
      "trainer.callbacks[0].init_args.avg_fn: StochasticWeightAveraging's 'avg_fn' exists in "
      "Python Lightning but not in lightning.cpp");
  EXPECT_LIGHTNING_ERROR(
      make("{class_path: StochasticWeightAveraging, init_args: {swa_lrs: 0.1, device: gpu7}}"),
      "trainer.callbacks[0].init_args.device: expected a device such as \"cpu\" or \"cuda:0\", "
      "got 'gpu7'");
}

TEST(WeightAveragingCLI, EmaAndWeightAveragingInitArgs) {
  auto ema = std::dynamic_pointer_cast<L::EMAWeightAveraging>(
      make("{class_path: EMAWeightAveraging, init_args: {decay: 0.99, update_every_n_steps: 5, "
           "update_starting_at_step: 100, update_starting_at_epoch: 2, use_buffers: false}}"));
  ASSERT_NE(ema, nullptr);
  EXPECT_DOUBLE_EQ(ema->options().decay(), 0.99);
  EXPECT_EQ(ema->options().update_every_n_steps(), 5);
  EXPECT_EQ(ema->options().update_starting_at_step(), 100);
  EXPECT_EQ(ema->options().update_starting_at_epoch(), 2);
  EXPECT_FALSE(ema->options().use_buffers());
  EXPECT_NE(std::dynamic_pointer_cast<L::WeightAveraging>(
                make("{class_path: WeightAveraging, init_args: {device: cpu}}")),
            nullptr);
  EXPECT_LIGHTNING_ERROR(make("{class_path: EMAWeightAveraging, init_args: {decay: 2}}"),
                         "Invalid decay value 2");
}
