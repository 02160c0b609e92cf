// TrainerOptions::tune_allocator: after fit, batch-sized heap buffers freed
// and allocated again are not faulted in again. Each case runs in a forked
// child, because malloc's settings are process-wide and cannot be undone.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "lightning/data/dataloader.h"
#include "lightning/module.h"
#include "lightning/trainer.h"

namespace L = lightning;

namespace {

class Regression : public L::LightningModule {
 public:
  Regression() { weight_ = register_parameter("weight", at::zeros({4, 1})); }
  L::StepOutput training_step(L::Batch& batch, int64_t) override {
    auto [x, y] = batch.unpack<2>();
    return (x.matmul(weight_) - y).pow(2).mean();
  }
  L::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.1));
  }

 private:
  at::Tensor weight_;
};

long minor_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

// Page faults of three rounds of: four 12 MiB blocks allocated, written and
// freed (after one round to warm up). 12 MiB is above glibc's default mmap
// threshold and, once glibc has raised it, 48 MiB freed at the top of the heap
// is above its default trim threshold: without tuning every round faults in
// 48 MiB again (12288 pages).
long churn_faults() {
  constexpr size_t kBlock = size_t{12} << 20;
  void* (*volatile allocate)(size_t) = std::malloc;  // kept: not optimised away
  void (*volatile release)(void*) = std::free;
  long before = 0;
  for (int round = 0; round < 4; ++round) {
    if (round == 1) before = minor_faults();
    void* blocks[4];
    for (void*& b : blocks) {
      b = allocate(kBlock);
      std::memset(b, round + 1, kBlock);
    }
    for (void* b : blocks) release(b);
  }
  return minor_faults() - before;
}

// Forks; the child fits one step with tune_allocator(tune) (after setting
// `env_name` when given) and reports churn_faults(), or -1 when fit threw.
long faults_after_fit_in_child(bool tune, const char* env_name = nullptr) {
  int fds[2];
  if (pipe(fds) != 0) return -2;
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    long faults = -1;
    try {
      if (env_name) setenv(env_name, "1048576", 1);
      auto ds = std::make_shared<L::TensorDataset>(
          std::vector<at::Tensor>{at::ones({8, 4}), at::ones({8, 1})});
      L::Trainer trainer(L::TrainerOptions()
                             .max_steps(1)
                             .num_threads(1)
                             .logger(false)
                             .enable_checkpointing(false)
                             .enable_progress_bar(false)
                             .enable_model_summary(false)
                             .tune_allocator(tune));
      trainer.fit(std::make_shared<Regression>(),
                  L::DataLoader(ds, L::DataLoaderOptions().batch_size(4)));
      faults = churn_faults();
    } catch (...) {
    }
    const ssize_t written = write(fds[1], &faults, sizeof(faults));
    _exit(written == sizeof(faults) ? 0 : 1);
  }
  close(fds[1]);
  long faults = -3;
  if (read(fds[0], &faults, sizeof(faults)) != sizeof(faults)) faults = -4;
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return faults;
}

}  // namespace

TEST(TuneAllocatorTest, FreedBatchBuffersStayMappedAfterFit) {
  const long tuned = faults_after_fit_in_child(true);
  ASSERT_GE(tuned, 0);
  EXPECT_LT(tuned, 100) << "the 48 MiB were faulted in again";
}

TEST(TuneAllocatorTest, OffLeavesGlibcsDynamicThresholds) {
  // The control: without the tuning, every round faults the blocks in again.
  const long untuned = faults_after_fit_in_child(false);
  ASSERT_GE(untuned, 0);
  EXPECT_GT(untuned, 3 * 12000);
}

TEST(TuneAllocatorTest, MallocSettingsFromTheEnvironmentWin) {
  const long left = faults_after_fit_in_child(true, "MALLOC_TRIM_THRESHOLD_");
  ASSERT_GE(left, 0);
  EXPECT_GT(left, 3 * 12000);
}
