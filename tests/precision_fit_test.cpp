// The precision plugin inside fit: autocast around the steps, fp32 master
// weights, "-true" modes converting weights and inputs, and bf16-mixed
// reaching 32-true's accuracy on Fashion-MNIST.
#include <torch/cuda.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>

#include <filesystem>

#include "lightning/lightning.h"
#include "support/boring.h"
#include "support/errors.h"

namespace L = lightning;
using L::testing::BoringModule;
using L::testing::loader;
using L::testing::quiet;

namespace {

struct DtypeProbe : BoringModule {
  std::vector<c10::ScalarType> output_dtypes, param_dtypes, grad_dtypes, val_dtypes;
  L::StepOutput training_step(L::Batch& batch, int64_t) override {
    auto [x, y] = batch.unpack<2>();
    auto out = forward(x);
    output_dtypes.push_back(out.scalar_type());
    param_dtypes.push_back(layer->weight.scalar_type());
    auto diff = out - y.to(out.scalar_type());  // libtorch 1.13 has no bf16 mse_loss on CPU
    return (diff * diff).mean();
  }
  void on_after_backward() override { grad_dtypes.push_back(layer->weight.grad().scalar_type()); }
  L::StepOutput validation_step(L::Batch& batch, int64_t) override {
    val_dtypes.push_back(forward(batch[0]).scalar_type());
    return {};
  }
};

}  // namespace

TEST(PrecisionFit, Bf16MixedAutocastsTheStepsAndKeepsFp32Weights) {
  auto m = std::make_shared<DtypeProbe>();
  L::Trainer trainer(quiet().max_epochs(1).precision("bf16-mixed").num_sanity_val_steps(0));
  trainer.fit(m, loader(16, 4), loader(8, 4));
  ASSERT_EQ(m->output_dtypes.size(), 4u);
  for (auto t : m->output_dtypes) EXPECT_EQ(t, at::kBFloat16);
  for (auto t : m->param_dtypes) EXPECT_EQ(t, at::kFloat);
  for (auto t : m->grad_dtypes) EXPECT_EQ(t, at::kFloat);  // backward outside autocast, fp32 master
  for (auto t : m->val_dtypes) EXPECT_EQ(t, at::kBFloat16);
  EXPECT_EQ(m->layer->weight.scalar_type(), at::kFloat);
  // Autocast is off again after fit.
  EXPECT_EQ(m->forward(at::randn({2, 32})).scalar_type(), at::kFloat);
  EXPECT_EQ(trainer.precision_plugin().mode(), L::PrecisionMode::kBf16Mixed);
}

TEST(PrecisionFit, LegacySpellingsSelectTheSameModes) {
  EXPECT_EQ(L::Trainer(quiet().precision("bf16")).precision_plugin().mode(),
            L::PrecisionMode::kBf16Mixed);
  EXPECT_EQ(L::Trainer(quiet().precision("64")).precision_plugin().mode(),
            L::PrecisionMode::k64True);
  EXPECT_EQ(L::Trainer(quiet().precision("32")).precision_plugin().mode(),
            L::PrecisionMode::k32True);
}

TEST(PrecisionFit, SixtyFourTrueTrainsInDouble) {
  auto m = std::make_shared<DtypeProbe>();
  L::Trainer trainer(quiet().max_epochs(1).precision("64-true").num_sanity_val_steps(0));
  trainer.fit(m, loader(16, 4), loader(8, 4));
  for (auto t : m->output_dtypes) EXPECT_EQ(t, at::kDouble);
  EXPECT_EQ(m->layer->weight.scalar_type(), at::kDouble);
  EXPECT_EQ(m->layer->weight.grad().scalar_type(), at::kDouble);
}

TEST(PrecisionFit, Bf16TrueConvertsWeightsAndInputs) {
  auto m = std::make_shared<DtypeProbe>();
  L::Trainer trainer(quiet().max_epochs(1).precision("bf16-true").num_sanity_val_steps(0));
  trainer.fit(m, loader(16, 4));
  for (auto t : m->output_dtypes) EXPECT_EQ(t, at::kBFloat16);
  EXPECT_EQ(m->layer->weight.scalar_type(), at::kBFloat16);
}

TEST(PrecisionFit, Fp16MixedOnCpuIsAnErrorSuggestingBf16Mixed) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "this machine has CUDA";
  EXPECT_LIGHTNING_ERROR(L::Trainer(quiet().precision("16-mixed")), "\"bf16-mixed\"");
  EXPECT_LIGHTNING_ERROR(L::Trainer(quiet().precision("16")), "\"bf16-mixed\"");
}

// ---- bf16-mixed reaches 32-true's accuracy on Fashion-MNIST -------------------

namespace {

class Mlp : public L::LightningModule {
 public:
  Mlp() {
    net = register_module("net",
                          torch::nn::Sequential(torch::nn::Flatten(), torch::nn::Linear(784, 256),
                                                torch::nn::ReLU(), torch::nn::Linear(256, 128),
                                                torch::nn::ReLU(), torch::nn::Linear(128, 10)));
  }
  L::StepOutput training_step(L::Batch& batch, int64_t) override {
    auto [x, y] = batch.unpack<2>();
    return torch::nn::functional::cross_entropy(net->forward(x), y);
  }
  L::StepOutput test_step(L::Batch& batch, int64_t) override {
    auto [x, y] = batch.unpack<2>();
    log("test_acc", (net->forward(x).argmax(1) == y).to(at::kFloat).mean());
    return {};
  }
  L::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::Adam>(parameters(), torch::optim::AdamOptions(1e-3));
  }
  torch::nn::Sequential net{nullptr};
};

double test_accuracy(const std::string& precision) {
  L::seed_everything(42);
  auto model = std::make_shared<Mlp>();
  L::FashionMNISTDataModule data(L::FashionMNISTOptions().batch_size(128));
  L::Trainer trainer(quiet().max_epochs(2).precision(precision).limit_val_batches(0));
  trainer.fit(model, data);
  return trainer.test(model, data)[0].at("test_acc");
}

}  // namespace

TEST(PrecisionFit, Bf16MixedMatchesFp32AccuracyOnFashionMnist) {
  if (!std::filesystem::exists(L::kFashionMNISTDefaultDir)) {
    GTEST_FAIL() << "Fashion-MNIST is missing at " << L::kFashionMNISTDefaultDir
                 << ": run scripts/setup.sh (it installs dataset-fashion-mnist).";
  }
  const double fp32 = test_accuracy("32-true");
  const double bf16 = test_accuracy("bf16-mixed");
  std::cout << "test_acc 32-true " << fp32 << ", bf16-mixed " << bf16 << "\n";
  EXPECT_GT(fp32, 0.84);
  EXPECT_NEAR(bf16, fp32, 0.01);
}
