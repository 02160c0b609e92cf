// Tests of the built-in callbacks' text: ProgressBar::format_line /
// format_postfix (tqdm's format_meter and Lightning's Tqdm.format_num) and
// ModelSummary::summarize / format_count (Lightning's ModelSummary table).
// Expected strings were computed with Python's formatting of the same values.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>

#include <string>

#include "lightning/callbacks/model_summary.h"
#include "lightning/callbacks/progress_bar.h"
#include "lightning/error.h"
#include "support/errors.h"

namespace L = lightning;
using ::testing::HasSubstr;

namespace {

// Code points: what a terminal shows (each bar glyph is one column).
size_t display_length(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// ---- ProgressBar::format_line ------------------------------------------------

TEST(ProgressBarFormat, KnownTotalWithFixedBar) {
  EXPECT_EQ(L::ProgressBar::format_line("Epoch 0", 45, 100, 1.5, "loss=0.123", 0),
            "Epoch 0:  45%|████▌     | 45/100 [00:01<00:01, 30.00it/s, loss=0.123]");
}

TEST(ProgressBarFormat, PercentRoundsHalfToEvenAndPartialBlocks) {
  // 1/8 = 12.5% prints " 12" as Python's f"{12.5:3.0f}"; 10 eighths = one full block and 2/8.
  EXPECT_EQ(L::ProgressBar::format_line("Validation", 1, 8, 0.5, "", 0),
            "Validation:  12%|█▎        | 1/8 [00:00<00:03,  2.00it/s]");
}

TEST(ProgressBarFormat, NothingDoneYet) {
  EXPECT_EQ(L::ProgressBar::format_line("Sanity Checking", 0, 2, 0.0, "", 0),
            "Sanity Checking:   0%|          | 0/2 [00:00<?, ?it/s]");
}

TEST(ProgressBarFormat, Complete) {
  EXPECT_EQ(L::ProgressBar::format_line("Epoch 1", 8, 8, 0.04, "loss=0.500", 0),
            "Epoch 1: 100%|██████████| 8/8 [00:00<00:00, 200.00it/s, loss=0.500]");
}

TEST(ProgressBarFormat, SlowRateShowsSecondsPerIteration) {
  EXPECT_EQ(L::ProgressBar::format_line("Testing", 1, 10, 2.5, "", 0),
            "Testing:  10%|█         | 1/10 [00:02<00:22,  2.50s/it]");
}

TEST(ProgressBarFormat, HoursInIntervals) {
  EXPECT_EQ(L::ProgressBar::format_line("Predicting", 1, 2, 3725.0, "", 0),
            "Predicting:  50%|█████     | 1/2 [1:02:05<1:02:05, 3725.00s/it]");
}

TEST(ProgressBarFormat, UnknownTotal) {
  EXPECT_EQ(L::ProgressBar::format_line("Epoch 0", 45, -1, 1.5, "", 0),
            "Epoch 0: 45it [00:01, 30.00it/s]");
  EXPECT_EQ(L::ProgressBar::format_line("Epoch 0", 45, 0, 1.5, "loss=0.123"),
            "Epoch 0: 45it [00:01, 30.00it/s, loss=0.123]");
  // tqdm drops a total that has been overtaken.
  EXPECT_EQ(L::ProgressBar::format_line("", 12, 10, 0.0, "", 0), "12it [00:00, ?it/s]");
}

TEST(ProgressBarFormat, BarFillsTheWidth) {
  std::string line = L::ProgressBar::format_line("Epoch 0", 45, 100, 1.5, "loss=0.123", 80);
  EXPECT_EQ(display_length(line), 80u);
  // 80 - 14 (left) - 45 (right) = 21 columns: 9.45 blocks = 9 full and 3/8.
  EXPECT_EQ(line,
            "Epoch 0:  45%|█████████▍           | 45/100 [00:01<00:01, 30.00it/s, "
            "loss=0.123]");
}

TEST(ProgressBarFormat, NarrowWidthKeepsOneColumnAndCuts) {
  std::string line = L::ProgressBar::format_line("Epoch 0", 100, 100, 1.0, "a=1.000, b=2.000", 30);
  EXPECT_EQ(display_length(line), 30u);
  EXPECT_EQ(line, "Epoch 0: 100%|█| 100/100 [00:0");
}

// ---- ProgressBar::format_postfix ---------------------------------------------

TEST(ProgressBarFormat, PostfixFollowsLightningsFormatNum) {
  L::TensorMetrics metrics{
      {"loss", at::scalar_tensor(0.123456, at::kFloat)},  // f"{:.3g}" is shorter
      {"acc", at::scalar_tensor(0.5, at::kFloat)},        // padded to 5 characters
      {"big", at::scalar_tensor(1234.0, at::kFloat)},     // str() is shorter than "1.23e+3"
      {"tiny", at::scalar_tensor(1e-5, at::kFloat)},      // exponent loses its leading 0
      {"zero", at::scalar_tensor(0.0, at::kFloat)},
      {"neg", at::scalar_tensor(-2.5, at::kFloat)},
      {"huge", at::scalar_tensor(12345.678, at::kFloat)},
      {"step", at::scalar_tensor(2, at::kLong)},  // integers are not padded
  };
  EXPECT_EQ(L::ProgressBar::format_postfix(metrics),
            "acc=0.500, big=1234.0, huge=1.23e+4, loss=0.123, neg=-2.50, step=2, tiny=1e-5, "
            "zero=0.000");
  EXPECT_EQ(L::ProgressBar::format_postfix({}), "");
  EXPECT_EQ(L::ProgressBar::format_postfix({{"x", at::scalar_tensor(1.2345, at::kFloat)}}),
            "x=1.230");
  EXPECT_EQ(L::ProgressBar::format_postfix({{"x", at::scalar_tensor(100.0, at::kDouble)}}),
            "x=100.0");
  EXPECT_EQ(L::ProgressBar::format_postfix({{"x", at::scalar_tensor(0.0001, at::kFloat)}}),
            "x=0.0001");
}

TEST(ProgressBarOptionsTest, NegativeRefreshRateIsRejected) {
  EXPECT_EQ(L::testing::error_of([] { L::ProgressBar(L::ProgressBarOptions().refresh_rate(-1)); }),
            "ProgressBar refresh_rate must be >= 0, got -1. Use 0 to disable the bar.");
  EXPECT_NO_THROW(L::ProgressBar(L::ProgressBarOptions().refresh_rate(0)));
}

// ---- ModelSummary::format_count ------------------------------------------------

TEST(ModelSummaryFormat, CountLikeGetHumanReadableCount) {
  EXPECT_EQ(L::ModelSummary::format_count(0), "0  ");
  EXPECT_EQ(L::ModelSummary::format_count(999), "999  ");
  EXPECT_EQ(L::ModelSummary::format_count(1000), "1.0 K");
  EXPECT_EQ(L::ModelSummary::format_count(1234), "1.2 K");
  EXPECT_EQ(L::ModelSummary::format_count(12345), "12.3 K");
  EXPECT_EQ(L::ModelSummary::format_count(99949), "99.9 K");
  EXPECT_EQ(L::ModelSummary::format_count(99950), "100.0 K");  // .1f after the < 100 test
  EXPECT_EQ(L::ModelSummary::format_count(235146), "235 K");
  EXPECT_EQ(L::ModelSummary::format_count(999999), "999 K");
  EXPECT_EQ(L::ModelSummary::format_count(1234567), "1.2 M");
  EXPECT_EQ(L::ModelSummary::format_count(2000000), "2.0 M");
  EXPECT_EQ(L::ModelSummary::format_count(3000000000), "3.0 B");
  EXPECT_EQ(L::ModelSummary::format_count(400000000000000), "400 T");
  EXPECT_EQ(L::ModelSummary::format_count(5000000000000000), "5,000 T");
  EXPECT_EQ(L::ModelSummary::format_count(123456789012345678), "123,456 T");
  EXPECT_EQ(L::testing::error_of([] { L::ModelSummary::format_count(-1); }),
            "format_count needs a count >= 0, got -1.");
}

// ---- ModelSummary::summarize ---------------------------------------------------

struct BlockImpl : torch::nn::Module {
  BlockImpl() { fc = register_module("fc", torch::nn::Linear(3, 3)); }
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(Block);

// fc1 20200 params, seq 10050 + 0 + 510, and 1000 frozen parameters of its own.
struct Net : torch::nn::Module {
  Net() {
    fc1 = register_module("fc1", torch::nn::Linear(100, 200));
    seq =
        register_module("seq", torch::nn::Sequential(torch::nn::Linear(200, 50), torch::nn::ReLU(),
                                                     torch::nn::Linear(50, 10)));
    scale = register_parameter("scale", at::ones({1000}), /*requires_grad=*/false);
  }
  torch::nn::Linear fc1{nullptr};
  torch::nn::Sequential seq{nullptr};
  at::Tensor scale;
};

// The text Python Lightning 2.6 prints for this Net (same layers and frozen
// parameter), max_depth 1, 2 and 0.
const char* const kTotals =
    "30.8 K    Trainable params\n"
    "1.0 K     Non-trainable params\n"
    "31.8 K    Total params\n"
    "0.127     Total estimated model params size (MB)\n"
    "5         Modules in train mode\n"
    "0         Modules in eval mode\n"
    "0         Total Flops";

TEST(ModelSummaryTest, DepthOneListsChildrenAndTheRootsOwnParameters) {
  Net net;
  EXPECT_EQ(L::ModelSummary::summarize(net, 1),
            std::string("  | Name         | Type       | Params | Mode  | FLOPs\n"
                        "------------------------------------------------------------\n"
                        "0 | fc1          | Linear     | 20.2 K | train | 0    \n"
                        "1 | seq          | Sequential | 10.6 K | train | 0    \n"
                        "  | other params | n/a        | 1.0 K  | n/a   | n/a  \n"
                        "------------------------------------------------------------\n") +
                kTotals);
}

TEST(ModelSummaryTest, DepthTwoListsGrandchildrenWithDottedNames) {
  Net net;
  std::string expected = std::string(
                             "  | Name  | Type       | Params | Mode  | FLOPs\n"
                             "-----------------------------------------------------\n"
                             "0 | fc1   | Linear     | 20.2 K | train | 0    \n"
                             "1 | seq   | Sequential | 10.6 K | train | 0    \n"
                             "2 | seq.0 | Linear     | 10.1 K | train | 0    \n"
                             "3 | seq.1 | ReLU       | 0      | train | 0    \n"
                             "4 | seq.2 | Linear     | 510    | train | 0    \n"
                             "-----------------------------------------------------\n") +
                         kTotals;
  EXPECT_EQ(L::ModelSummary::summarize(net, 2), expected);
  EXPECT_EQ(L::ModelSummary::summarize(net, -1), expected);
}

TEST(ModelSummaryTest, DepthZeroPutsEveryParameterUnderOtherParams) {
  Net net;
  EXPECT_EQ(L::ModelSummary::summarize(net, 0),
            std::string("  | Name         | Type | Params | Mode | FLOPs\n"
                        "-----------------------------------------------------\n"
                        "  | other params | n/a  | 31.8 K | n/a  | n/a  \n"
                        "-----------------------------------------------------\n") +
                kTotals);
}

TEST(ModelSummaryTest, UserModuleTypesLoseNamespaceAndImpl) {
  torch::nn::Module root;
  root.register_module("block", Block());
  root.register_module("net", std::make_shared<Net>());
  std::string summary = L::ModelSummary::summarize(root, 1);
  EXPECT_THAT(summary, HasSubstr("0 | block | Block | 12     | train | 0    \n"));
  EXPECT_THAT(summary, HasSubstr("1 | net   | Net   | 31.8 K | train | 0    \n"));
}

TEST(ModelSummaryTest, SharedModulesAndParametersCountOnce) {
  torch::nn::Module root;
  torch::nn::Linear shared(10, 10);  // 110 parameters
  root.register_module("a", shared);
  root.register_module("b", shared);
  std::string summary = L::ModelSummary::summarize(root, 1);
  EXPECT_THAT(summary, HasSubstr("0 | a    | Linear | 110    | train | 0    \n"));
  EXPECT_THAT(summary, ::testing::Not(HasSubstr("| b ")));
  EXPECT_THAT(summary, HasSubstr("110       Total params\n"));
  EXPECT_THAT(summary, HasSubstr("1         Modules in train mode\n"));
}

TEST(ModelSummaryTest, InvalidDepthIsRejected) {
  Net net;
  const std::string message =
      "ModelSummary max_depth must be >= -1, got -2. Use -1 to list every level, 0 for ";
  EXPECT_EQ(L::testing::error_of([&] { L::ModelSummary::summarize(net, -2); }),
            message + std::string("no layers."));
  EXPECT_EQ(L::testing::error_of([] { L::ModelSummary(L::ModelSummaryOptions().max_depth(-2)); }),
            message + std::string("no summary."));
}

}  // namespace
