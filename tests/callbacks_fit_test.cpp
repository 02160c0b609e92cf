// Tests of ProgressBar and ModelSummary inside a running Trainer: what a fit,
// test and predict print, in plain (log) and terminal mode.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/sgd.h>

#include <algorithm>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "lightning/lightning.h"

namespace L = lightning;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

// Linear(4, 2) with MSE; shows its losses in the bar.
class TinyModule : public L::LightningModule {
 public:
  TinyModule() { layer = register_module("layer", torch::nn::Linear(4, 2)); }
  at::Tensor loss(L::Batch& batch) {
    auto [x, y] = batch.unpack<2>();
    return torch::nn::functional::mse_loss(layer->forward(x), y);
  }
  L::StepOutput training_step(L::Batch& batch, int64_t) override {
    auto value = loss(batch);
    log("train_loss", value, L::LogOptions().prog_bar(true));
    return value;
  }
  L::StepOutput validation_step(L::Batch& batch, int64_t) override {
    log("val_loss", loss(batch), L::LogOptions().prog_bar(true));
    return {};
  }
  L::StepOutput test_step(L::Batch& batch, int64_t) override {
    log("test_loss", loss(batch));
    return {};
  }
  c10::IValue predict_step(L::Batch& batch, int64_t) override { return layer->forward(batch[0]); }
  L::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.1));
  }
  torch::nn::Linear layer{nullptr};
};

// 64 random samples in batches of 8: 8 batches per epoch.
L::DataLoader tiny_loader() {
  auto x = at::randn({64, 4});
  auto y = at::randn({64, 2});
  return L::DataLoader(std::make_shared<L::TensorDataset>(std::vector<at::Tensor>{x, y}),
                       L::DataLoaderOptions().batch_size(8));
}

std::shared_ptr<L::ProgressBar> bar_to(std::ostringstream& out, bool interactive,
                                       int64_t refresh_rate = 1) {
  return std::make_shared<L::ProgressBar>(
      L::ProgressBarOptions().interactive(interactive).refresh_rate(refresh_rate).stream(&out));
}

// No files, no summary; a plain-mode bar writing to `out`.
L::TrainerOptions plain_bar_options(std::ostringstream& out) {
  return L::TrainerOptions()
      .logger(false)
      .enable_checkpointing(false)
      .enable_model_summary(false)
      .callbacks({bar_to(out, /*interactive=*/false)});
}

std::vector<std::string> lines_starting_with(const std::string& text, const std::string& prefix) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) == 0) lines.push_back(line);
  }
  return lines;
}

TEST(ProgressBarFit, PlainModePrintsQuartersAndTheSummary) {
  std::ostringstream out;
  auto summary = std::make_shared<L::ModelSummary>(L::ModelSummaryOptions().stream(&out));
  L::Trainer trainer(L::TrainerOptions()
                         .max_epochs(2)
                         .logger(false)
                         .enable_checkpointing(false)
                         .enable_model_summary(true)
                         .callbacks({bar_to(out, /*interactive=*/false), summary}));
  trainer.fit(std::make_shared<TinyModule>(), tiny_loader());
  const std::string text = out.str();

  EXPECT_THAT(text, HasSubstr("  | Name  | Type   | Params | Mode  | FLOPs\n"
                              "-------------------------------------------------\n"
                              "0 | layer | Linear | 10     | train | 0    \n"
                              "-------------------------------------------------\n"
                              "10        Trainable params\n"
                              "0         Non-trainable params\n"
                              "10        Total params\n"
                              "0.000     Total estimated model params size (MB)\n"
                              "1         Modules in train mode\n"
                              "0         Modules in eval mode\n"
                              "0         Total Flops\n"));
  EXPECT_THAT(text, Not(HasSubstr("\r")));
  for (const std::string epoch : {"Epoch 0:", "Epoch 1:"}) {
    auto lines = lines_starting_with(text, epoch);
    ASSERT_EQ(lines.size(), 4u) << text;  // 25, 50, 75 and 100%: no validation ran
    EXPECT_THAT(lines[0], HasSubstr(epoch + "  25%|██▌       | 2/8 ["));
    EXPECT_THAT(lines[1], HasSubstr(epoch + "  50%|█████     | 4/8 ["));
    EXPECT_THAT(lines[2], HasSubstr(epoch + "  75%|███████▌  | 6/8 ["));
    EXPECT_THAT(lines[3], HasSubstr(epoch + " 100%|██████████| 8/8 ["));
    EXPECT_THAT(lines[3], HasSubstr(", train_loss="));
  }
  EXPECT_THAT(text, Not(HasSubstr("Epoch 2")));
}

TEST(ProgressBarFit, TerminalModeRedrawsInPlace) {
  std::ostringstream out;
  L::Trainer trainer(L::TrainerOptions()
                         .max_epochs(2)
                         .logger(false)
                         .enable_checkpointing(false)
                         .enable_model_summary(false)
                         .callbacks({bar_to(out, /*interactive=*/true, /*refresh_rate=*/4)}));
  trainer.fit(std::make_shared<TinyModule>(), tiny_loader());
  const std::string text = out.str();

  // Per epoch: the empty bar at start, batches 4 and 8, the closing draw; then one newline.
  EXPECT_EQ(std::count(text.begin(), text.end(), '\r'), 8) << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2) << text;
  EXPECT_THAT(text, HasSubstr("\rEpoch 0:   0%|"));
  EXPECT_THAT(text, HasSubstr("\rEpoch 0:  50%|"));
  EXPECT_THAT(text, HasSubstr("\rEpoch 1: 100%|"));
  EXPECT_EQ(text.back(), '\n');
}

TEST(ProgressBarFit, AnExceptionEndsTheOpenLine) {
  struct Failing : TinyModule {
    L::StepOutput training_step(L::Batch& batch, int64_t batch_idx) override {
      if (batch_idx == 3) throw std::runtime_error("boom");
      return TinyModule::training_step(batch, batch_idx);
    }
  };
  std::ostringstream out;
  L::Trainer trainer(L::TrainerOptions()
                         .max_epochs(1)
                         .logger(false)
                         .enable_checkpointing(false)
                         .enable_model_summary(false)
                         .callbacks({bar_to(out, /*interactive=*/true, /*refresh_rate=*/1)}));
  EXPECT_THROW(trainer.fit(std::make_shared<Failing>(), tiny_loader()), std::runtime_error);
  const std::string text = out.str();
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n') << text;
  EXPECT_THAT(text, HasSubstr("| 3/8 ["));
}

TEST(ProgressBarFit, SanityCheckAndValidationBars) {
  std::ostringstream out;
  L::Trainer trainer(L::TrainerOptions()
                         .max_epochs(1)
                         .logger(false)
                         .enable_checkpointing(false)
                         .enable_model_summary(false)
                         .callbacks({bar_to(out, /*interactive=*/false)}));
  trainer.fit(std::make_shared<TinyModule>(), tiny_loader(), tiny_loader());
  const std::string text = out.str();

  EXPECT_THAT(text, HasSubstr("Sanity Checking: 100%|██████████| 2/2 ["));
  EXPECT_THAT(text, HasSubstr("Validation: 100%|██████████| 8/8 ["));
  // The epoch line is printed once more after validation, with val_loss.
  auto lines = lines_starting_with(text, "Epoch 0:");
  ASSERT_EQ(lines.size(), 5u) << text;
  EXPECT_THAT(lines[3], Not(HasSubstr("val_loss=")));
  EXPECT_THAT(lines[4], HasSubstr(" 100%|██████████| 8/8 ["));
  EXPECT_THAT(lines[4], HasSubstr("val_loss="));
}

TEST(ProgressBarFit, TerminalModeErasesTheValidationLine) {
  std::ostringstream out;
  L::Trainer trainer(L::TrainerOptions()
                         .max_epochs(1)
                         .logger(false)
                         .enable_checkpointing(false)
                         .enable_model_summary(false)
                         .callbacks({bar_to(out, /*interactive=*/true)}));
  trainer.fit(std::make_shared<TinyModule>(), tiny_loader(), tiny_loader());
  const std::string text = out.str();

  EXPECT_THAT(text, HasSubstr("\rSanity Checking:   0%|"));
  EXPECT_THAT(text, HasSubstr("\rValidation: 100%|"));
  // Only the epoch line stays: sanity and validation lines are temporary.
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
  auto last = text.rfind('\r');
  ASSERT_NE(last, std::string::npos);
  EXPECT_THAT(text.substr(last), HasSubstr("Epoch 0: 100%|"));
  EXPECT_THAT(text.substr(last), HasSubstr("val_loss="));
}

TEST(ProgressBarFit, TestAndPredictBars) {
  std::ostringstream out;
  L::Trainer trainer(plain_bar_options(out));
  auto model = std::make_shared<TinyModule>();
  trainer.test(model, tiny_loader());
  trainer.predict(model, tiny_loader());
  const std::string text = out.str();

  EXPECT_EQ(lines_starting_with(text, "Testing:").size(), 4u) << text;
  EXPECT_THAT(text, HasSubstr("Testing: 100%|██████████| 8/8 ["));
  EXPECT_EQ(lines_starting_with(text, "Predicting:").size(), 4u) << text;
  EXPECT_THAT(text, HasSubstr("Predicting: 100%|██████████| 8/8 ["));
}

TEST(ProgressBarFit, OneBarPerDataloader) {
  std::ostringstream out;
  L::Trainer trainer(plain_bar_options(out));
  auto model = std::make_shared<TinyModule>();
  auto four = L::DataLoader(std::make_shared<L::TensorDataset>(
                                std::vector<at::Tensor>{at::randn({16, 4}), at::randn({16, 2})}),
                            L::DataLoaderOptions().batch_size(4));
  trainer.validate(model, L::DataLoaders{tiny_loader(), four}, std::nullopt, false);
  trainer.test(model, L::DataLoaders{four, tiny_loader()}, std::nullopt, false);
  const std::string text = out.str();
  // Lightning's names, each loader with its own count.
  EXPECT_EQ(lines_starting_with(text, "Validation DataLoader 0:").size(), 4u) << text;
  EXPECT_THAT(text, HasSubstr("Validation DataLoader 0: 100%|██████████| 8/8 ["));
  EXPECT_EQ(lines_starting_with(text, "Validation DataLoader 1:").size(), 4u) << text;
  EXPECT_THAT(text, HasSubstr("Validation DataLoader 1: 100%|██████████| 4/4 ["));
  EXPECT_THAT(text, HasSubstr("Testing DataLoader 0: 100%|██████████| 4/4 ["));
  EXPECT_THAT(text, HasSubstr("Testing DataLoader 1: 100%|██████████| 8/8 ["));
  EXPECT_THAT(text, Not(HasSubstr("12/12")));
}

TEST(ProgressBarFit, RefreshRateZeroDisablesTheBar) {
  std::ostringstream out;
  L::Trainer trainer(L::TrainerOptions()
                         .max_epochs(1)
                         .logger(false)
                         .enable_checkpointing(false)
                         .enable_model_summary(false)
                         .callbacks({bar_to(out, /*interactive=*/true, /*refresh_rate=*/0)}));
  trainer.fit(std::make_shared<TinyModule>(), tiny_loader());
  EXPECT_EQ(out.str(), "");
}

}  // namespace
