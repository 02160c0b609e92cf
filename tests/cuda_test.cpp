// The Trainer's CUDA paths: device selection, pinned memory with non-blocking
// batch transfer, the CUDA RNG state in checkpoints, mixed precision on the
// GPU. Tests named *_CUDA skip where libtorch sees no GPU (saying so) and are
// run by scripts/gpu_check.sh on a machine with one; the others run
// everywhere.
#include "support/cuda.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/nn/functional/dropout.h>

#include "support/boring.h"
#include "support/errors.h"
#include "support/temp_dir.h"

namespace L = lightning;
using L::testing::BoringModule;
using L::testing::loader;
using L::testing::quiet;

namespace {

/// Records the device and pinning of the batches it sees, and uses the CUDA
/// generator in every step (dropout), so that its RNG state matters.
class DeviceModule : public BoringModule {
 public:
  L::Batch on_before_batch_transfer(L::Batch batch, int64_t) override {
    pinned.push_back(batch.is_pinned());
    return batch;
  }
  L::StepOutput training_step(L::Batch& batch, int64_t) override {
    devices.push_back(batch[0].device());
    auto [x, y] = batch.unpack<2>();
    auto hidden = torch::nn::functional::dropout(
        forward(x), torch::nn::functional::DropoutFuncOptions().p(0.5).training(true));
    return torch::nn::functional::mse_loss(hidden, y);
  }
  std::vector<bool> pinned;
  std::vector<at::Device> devices;
};

L::DataLoader pinned_loader(int64_t n, int64_t batch_size, int64_t workers) {
  return L::DataLoader(
      L::testing::random_dataset(n),
      L::DataLoaderOptions().batch_size(batch_size).num_workers(workers).pin_memory(true));
}

}  // namespace

// ---- everywhere -------------------------------------------------------------------

TEST(PinMemory, IgnoredWithAWarningWithoutCuda) {
  if (torch::cuda::is_available()) {
    // With a GPU the batches are pinned instead (PinnedBatchesReachTheGpu_CUDA).
    for (const L::Batch& batch : pinned_loader(6, 2, 0)) EXPECT_TRUE(batch.is_pinned());
    return;
  }
  testing::internal::CaptureStderr();
  std::vector<bool> pinned;
  for (const L::Batch& batch : pinned_loader(6, 2, 1)) pinned.push_back(batch.is_pinned());
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(pinned, std::vector<bool>(3, false));
  EXPECT_THAT(err, testing::HasSubstr("DataLoader pin_memory is true but this libtorch sees no "
                                      "CUDA device, so pinned memory is not used"));
}

TEST(CudaDevices, CudaAcceleratorWithoutAGpuIsAnError) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "this machine has a GPU";
  EXPECT_LIGHTNING_ERROR(L::Trainer(quiet().accelerator("cuda")),
                         "accelerator(\"cuda\") needs a CUDA device, but this libtorch sees none");
  // "auto" falls back to the CPU.
  EXPECT_TRUE(L::Trainer(quiet().accelerator("auto")).root_device().is_cpu());
}

// ---- on a GPU ---------------------------------------------------------------------

TEST(CudaDevices, AutoAndCudaSelectTheFirstGpu_CUDA) {
  LIGHTNING_REQUIRE_CUDA(1);
  EXPECT_EQ(L::Trainer(quiet()).root_device(), at::Device(at::kCUDA, 0));
  EXPECT_EQ(L::Trainer(quiet().accelerator("gpu").devices(1)).root_device(),
            at::Device(at::kCUDA, 0));
  EXPECT_TRUE(L::Trainer(quiet().accelerator("cpu")).root_device().is_cpu());
}

TEST(CudaDevices, MoreDevicesThanGpusIsAnError_CUDA) {
  LIGHTNING_REQUIRE_CUDA(1);
  const int64_t have = static_cast<int64_t>(torch::cuda::device_count());
  EXPECT_LIGHTNING_ERROR(
      L::Trainer(quiet().accelerator("cuda").devices(have + 1)),
      "devices(" + std::to_string(have + 1) +
          ") asks for that many CUDA devices on each machine, but this one has " +
          std::to_string(have) + ".");
}

TEST(CudaTrainer, PinnedBatchesReachTheGpu_CUDA) {
  LIGHTNING_REQUIRE_CUDA(1);
  auto model = std::make_shared<DeviceModule>();
  const at::Tensor before = model->layer->weight.detach().clone();
  L::Trainer trainer(quiet().accelerator("cuda").max_epochs(2));
  trainer.fit(model, pinned_loader(16, 4, 2));
  EXPECT_EQ(model->pinned, std::vector<bool>(8, true));
  ASSERT_EQ(model->devices.size(), 8u);
  for (const auto& d : model->devices) EXPECT_EQ(d, at::Device(at::kCUDA, 0));
  EXPECT_TRUE(model->layer->weight.is_cuda());
  EXPECT_FALSE(torch::equal(model->layer->weight.detach().cpu(), before));
}

TEST(CudaTrainer, ResumeRestoresTheCudaGenerator_CUDA) {
  LIGHTNING_REQUIRE_CUDA(1);
  L::testing::TempDir dir("cuda_resume");
  const std::string path = dir.file("epoch1.ckpt");
  // Uninterrupted: 2 epochs.
  L::seed_everything(7);
  auto straight = std::make_shared<DeviceModule>();
  L::Trainer(quiet().accelerator("cuda").max_epochs(2)).fit(straight, loader(16, 4));
  // Interrupted after epoch 1, the CUDA generator moved on, resumed.
  L::seed_everything(7);
  auto first = std::make_shared<DeviceModule>();
  L::Trainer one(quiet().accelerator("cuda").max_epochs(1));
  one.fit(first, loader(16, 4));
  one.save_checkpoint(path);
  at::randn({1000}, at::TensorOptions().device(at::kCUDA));  // disturbs the generator
  auto resumed = std::make_shared<DeviceModule>();
  L::Trainer(quiet().accelerator("cuda").max_epochs(2)).fit(resumed, loader(16, 4), {}, path);
  EXPECT_TRUE(
      torch::equal(resumed->layer->weight.detach().cpu(), straight->layer->weight.detach().cpu()));
  EXPECT_TRUE(
      torch::equal(resumed->layer->bias.detach().cpu(), straight->layer->bias.detach().cpu()));
}

TEST(CudaTrainer, Fp16MixedFitScalesTheLoss_CUDA) {
  LIGHTNING_REQUIRE_CUDA(1);
  auto model = std::make_shared<BoringModule>();
  L::Trainer trainer(quiet().accelerator("cuda").precision("16-mixed").max_epochs(2));
  trainer.fit(model, loader(32, 4));
  EXPECT_EQ(model->layer->weight.scalar_type(), at::kFloat);  // fp32 master weights
  const L::Checkpoint ckpt = trainer.dump_checkpoint();
  ASSERT_TRUE(ckpt.contains("MixedPrecision"));  // the loss scaler's state
  EXPECT_GT(ckpt.at("MixedPrecision").toGenericDict().at("scale").toDouble(), 0.0);
}
