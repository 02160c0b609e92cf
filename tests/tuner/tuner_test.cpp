// The Tuner: LRFinder's suggestion and chart, lr_find (sweep, restore,
// update_attr, early stop, linear mode, errors), LearningRateFinder's timing
// in a fit, scale_batch_size against a CPU memory ceiling with known answers,
// BatchSizeFinder in a fit.
#include "lightning/tuner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>

#include "detail/torch_compat.h"
#include "lightning/callbacks/batch_size_finder.h"
#include "lightning/callbacks/lr_finder.h"
#include "lightning/lightning.h"
#include "support/boring.h"
#include "support/errors.h"
#include "support/temp_dir.h"

namespace L = lightning;
using L::testing::TempDir;

namespace {

// Linear(32, 2) with MSE; the optimizer's learning rate is the "lr" hparam.
class TunableModule : public L::LightningModule {
 public:
  explicit TunableModule(L::HParams hp = {{"lr", 0.01}, {"batch_size", int64_t{2}}}) {
    save_hyperparameters(hp);
    layer = register_module("layer", torch::nn::Linear(32, 2));
  }
  L::StepOutput training_step(L::Batch& batch, int64_t) override {
    auto [x, y] = batch.unpack<2>();
    batch_sizes.push_back(x.size(0));
    if (bytes_per_sample > 0) {
      // Memory that grows with the batch: bytes_per_sample per sample, alive
      // during the step.
      at::Tensor big = at::ones({x.size(0), bytes_per_sample / 4});
      return torch::nn::functional::mse_loss(layer->forward(x), y) + big.sum() * 0;
    }
    return torch::nn::functional::mse_loss(layer->forward(x), y);
  }
  L::OptimizerConfig configure_optimizers() override {
    const double lr = hparams().contains("lr") ? hparams().get<double>("lr") : 0.01;
    if (use_sgd)
      return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(lr));
    return std::make_shared<torch::optim::Adam>(parameters(), torch::optim::AdamOptions(lr));
  }
  L::DataLoaders train_dataloader() override {
    return L::DataLoader(L::testing::random_dataset(samples),
                         L::DataLoaderOptions().batch_size(hparams().get<int64_t>("batch_size")));
  }
  torch::nn::Linear layer{nullptr};
  std::vector<int64_t> batch_sizes;
  int64_t bytes_per_sample = 0;
  int64_t samples = 640;
  bool use_sgd = false;
};

// Its data as a datamodule whose loader reads the "batch_size" hparam.
class SizedData : public L::LightningDataModule {
 public:
  explicit SizedData(int64_t batch_size, int64_t samples = 4096) : samples_(samples) {
    save_hyperparameters(L::HParams{{"batch_size", batch_size}});
  }
  L::DataLoaders train_dataloader() override {
    return L::DataLoader(L::testing::random_dataset(samples_),
                         L::DataLoaderOptions().batch_size(hparams().get<int64_t>("batch_size")));
  }

 private:
  int64_t samples_;
};

L::TrainerOptions options(const TempDir& dir) {
  return L::testing::quiet().default_root_dir(dir.str()).accelerator("cpu");
}

std::vector<at::Tensor> weights(const L::LightningModule& module) {
  std::vector<at::Tensor> out;
  for (const auto& p : module.parameters()) out.push_back(p.detach().clone());
  return out;
}

void expect_same(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(at::equal(a[i], b[i])) << "tensor " << i;
}

bool leftover_checkpoints(const TempDir& dir) {
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    if (entry.path().extension() == ".ckpt") return true;
  }
  return false;
}

}  // namespace

// ---- LRFinder --------------------------------------------------------------------

// Expected values from Lightning's _LRFinder.suggestion on the same results.
TEST(LRFinder, SuggestsSteepestDescentAsLightning) {
  std::vector<double> lrs, losses;
  for (int i = 0; i < 24; ++i) {
    lrs.push_back(std::pow(10.0, -5 + i * 0.25));
    losses.push_back(2 - std::tanh(i - 14));
  }
  L::LRFinder finder("exponential", 1e-5, 1.0, 24);
  finder.set_results(lrs, losses);
  ASSERT_TRUE(finder.suggestion().has_value());
  EXPECT_EQ(*finder.optimal_idx(), 14);
  EXPECT_DOUBLE_EQ(*finder.suggestion(), lrs[14]);
  // A non-finite loss is left out: the next steepest point wins.
  losses[14] = std::numeric_limits<double>::quiet_NaN();
  finder.set_results(lrs, losses);
  EXPECT_EQ(finder.suggestion(), lrs[13]);
  EXPECT_EQ(*finder.optimal_idx(), 13);
  EXPECT_EQ(finder.suggestion(3, 5), lrs[13]);
}

TEST(LRFinder, NoSuggestionFromTooFewPoints) {
  L::LRFinder finder("linear", 1e-3, 1.0, 12);
  finder.set_results({1e-3, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0},
                     {3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 1});
  EXPECT_FALSE(finder.suggestion().has_value());  // only index 10 is left
  EXPECT_FALSE(finder.optimal_idx().has_value());
  // Python's slice [0:-0] is empty, as in Lightning.
  EXPECT_FALSE(finder.suggestion(0, 0).has_value());
  EXPECT_TRUE(finder.suggestion(0, 1).has_value());
}

TEST(LRFinder, RejectsBadArguments) {
  EXPECT_LIGHTNING_ERROR(L::LRFinder("cubic", 1e-8, 1, 100),
                         "mode must be \"linear\" or \"exponential\", got \"cubic\"");
  EXPECT_LIGHTNING_ERROR(L::LRFinder("linear", 1, 1e-3, 100), "0 < min_lr < max_lr");
  EXPECT_LIGHTNING_ERROR(L::LearningRateFinder(L::LRFindOptions().mode("fast")), "got \"fast\"");
  EXPECT_NO_THROW(L::LearningRateFinder(L::LRFindOptions().mode("Linear")));
}

namespace {

// The pixels of a PNG written by LRFinder::plot (8-bit RGB, unfiltered
// rows), as 0xRRGGBB; checks the signature and reads the size from IHDR.
std::vector<uint32_t> read_png(const std::string& path, int& width, int& height) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  auto u32 = [&](size_t at) {
    return (uint32_t(uint8_t(bytes[at])) << 24) | (uint32_t(uint8_t(bytes[at + 1])) << 16) |
           (uint32_t(uint8_t(bytes[at + 2])) << 8) | uint32_t(uint8_t(bytes[at + 3]));
  };
  std::string idat;
  for (size_t at = 8; at + 8 <= bytes.size();) {
    const uint32_t length = u32(at);
    const std::string type = bytes.substr(at + 4, 4);
    if (type == "IHDR") {
      width = static_cast<int>(u32(at + 8));
      height = static_cast<int>(u32(at + 12));
    }
    if (type == "IDAT") idat += bytes.substr(at + 8, length);
    at += 12 + length;
  }
  std::string raw(static_cast<size_t>(width * 3 + 1) * height, '\0');
  uLongf size = raw.size();
  EXPECT_EQ(uncompress(reinterpret_cast<Bytef*>(raw.data()), &size,
                       reinterpret_cast<const Bytef*>(idat.data()), idat.size()),
            Z_OK);
  std::vector<uint32_t> pixels;
  for (int y = 0; y < height; ++y) {
    const char* row = raw.data() + static_cast<size_t>(y) * (width * 3 + 1);
    EXPECT_EQ(row[0], 0);  // filter type None
    for (int x = 0; x < width; ++x) {
      const auto* p = reinterpret_cast<const uint8_t*>(row + 1 + 3 * x);
      pixels.push_back((uint32_t(p[0]) << 16) | (uint32_t(p[1]) << 8) | p[2]);
    }
  }
  return pixels;
}

}  // namespace

TEST(LRFinder, PlotWritesPng) {
  TempDir dir;
  std::vector<double> lrs, losses;
  for (int i = 0; i < 50; ++i) {
    lrs.push_back(std::pow(10.0, -6 + i * 0.12));
    losses.push_back(2 - std::tanh((i - 25) / 5.0));
  }
  L::LRFinder finder("exponential", 1e-6, 1.0, 50);
  finder.set_results(lrs, losses);
  finder.plot(dir.file("lr.png"), /*suggest=*/true);
  EXPECT_TRUE(finder.optimal_idx().has_value());
  int width = 0, height = 0;
  const auto pixels = read_png(dir.file("lr.png"), width, height);
  EXPECT_EQ(width, 640);
  EXPECT_EQ(height, 480);
  const auto count = [&](uint32_t rgb) { return std::count(pixels.begin(), pixels.end(), rgb); };
  EXPECT_GT(count(0x1f77b4), 500);  // the loss curve, 2 px wide across the plot
  EXPECT_GT(count(0xff0000), 50);   // the suggestion's dot
  // Without suggest: no dot.
  finder.plot(dir.file("plain.png"));
  const auto plain = read_png(dir.file("plain.png"), width, height);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 0xff0000u), 0);

  EXPECT_LIGHTNING_ERROR(finder.plot(dir.file("missing/lr.png")), "could not write the PNG");
  L::LRFinder empty("linear", 1e-3, 1.0, 10);
  EXPECT_LIGHTNING_ERROR(empty.plot(dir.file("e.png")), "0 finite loss value(s) to plot");
}

// ---- lr_find ---------------------------------------------------------------------

TEST(LrFind, SweepsRestoresWeightsAndUpdatesTheHparam) {
  TempDir dir;
  auto model = std::make_shared<TunableModule>();
  const auto before = weights(*model);
  L::Trainer trainer(options(dir));
  auto finder = L::Tuner(trainer).lr_find(model, L::testing::loader(640, 16), {},
                                          L::LRFindOptions().num_training(30));
  ASSERT_NE(finder, nullptr);
  ASSERT_EQ(finder->lrs().size(), 30u);
  ASSERT_EQ(finder->losses().size(), 30u);
  // Lightning's _ExponentialLR: min_lr first, then r = (k + 1) / num_training.
  EXPECT_DOUBLE_EQ(finder->lrs()[0], 1e-8);
  EXPECT_DOUBLE_EQ(finder->lrs()[1], 1e-8 * std::pow(1e8, 2.0 / 30));
  EXPECT_DOUBLE_EQ(finder->lrs()[29], 1.0);
  for (double loss : finder->losses()) EXPECT_TRUE(std::isfinite(loss));
  expect_same(before, weights(*model));  // the sweep's training is undone
  const std::optional<double> lr = finder->suggestion();
  ASSERT_TRUE(lr.has_value());
  EXPECT_DOUBLE_EQ(model->hparams().get<double>("lr"), *lr);  // update_attr
  EXPECT_EQ(trainer.global_step(), 0);
  EXPECT_FALSE(trainer.should_stop());
  EXPECT_FALSE(leftover_checkpoints(dir));  // the temporary checkpoint is removed
  EXPECT_TRUE(trainer.callbacks().empty() ||
              dynamic_cast<L::LearningRateFinder*>(trainer.callbacks()[0].get()) == nullptr);
}

TEST(LrFind, LinearModeAndNoUpdate) {
  TempDir dir;
  auto model = std::make_shared<TunableModule>();
  L::Trainer trainer(options(dir));
  auto finder = L::Tuner(trainer).lr_find(
      model, L::testing::loader(640, 16), {},
      L::LRFindOptions().mode("linear").min_lr(1e-4).max_lr(0.1).num_training(20).update_attr(
          false));
  ASSERT_EQ(finder->lrs().size(), 20u);
  EXPECT_EQ(finder->mode(), "linear");
  EXPECT_DOUBLE_EQ(finder->lrs()[0], 1e-4);
  for (size_t k = 1; k < 20; ++k) {
    const double r = static_cast<double>(k + 1) / 20;
    EXPECT_DOUBLE_EQ(finder->lrs()[k], 1e-4 + r * (0.1 - 1e-4)) << k;
  }
  EXPECT_DOUBLE_EQ(model->hparams().get<double>("lr"), 0.01);  // untouched
}

TEST(LrFind, StopsEarlyWhenTheLossDiverges) {
  TempDir dir;
  auto model = std::make_shared<TunableModule>();
  model->use_sgd = true;  // SGD on least squares diverges above lr ~ 0.3
  L::Trainer trainer(options(dir));
  auto finder = L::Tuner(trainer).lr_find(model, L::testing::loader(1600, 16), {},
                                          L::LRFindOptions().max_lr(100).num_training(100));
  const auto& losses = finder->losses();
  ASSERT_GT(losses.size(), 3u);
  ASSERT_LT(losses.size(), 100u);
  // Stopped at the first step whose smoothed loss exceeds 4x the best before it.
  double best = losses[0];
  for (size_t i = 1; i + 1 < losses.size(); ++i) {
    EXPECT_LE(losses[i], 4 * best) << i;
    best = std::min(best, losses[i]);
  }
  EXPECT_GT(losses.back(), 4 * best);
  EXPECT_FALSE(trainer.should_stop());
  // Without a threshold, all 100 steps run.
  auto all = L::Tuner(trainer).lr_find(
      model, L::testing::loader(1600, 16), {},
      L::LRFindOptions().max_lr(100).num_training(100).early_stop_threshold(std::nullopt));
  EXPECT_EQ(all->losses().size(), 100u);
}

TEST(LrFind, Errors) {
  TempDir dir;
  L::Trainer trainer(options(dir));
  auto no_lr = std::make_shared<TunableModule>(L::HParams{{"batch_size", int64_t{2}}});
  EXPECT_LIGHTNING_ERROR(L::Tuner(trainer).lr_find(no_lr, L::testing::loader(64, 16), {}),
                         "hparams must have one of these keys: (\"lr\", \"learning_rate\")");
  auto model = std::make_shared<TunableModule>();
  EXPECT_LIGHTNING_ERROR(L::Tuner(trainer).lr_find(model, L::testing::loader(64, 16), {},
                                                   L::LRFindOptions().attr_name("my_lr")),
                         "The attribute name for the learning rate was set to \"my_lr\"");
  auto finder = std::make_shared<L::LearningRateFinder>();
  L::Trainer with_finder(options(dir).callbacks({finder}));
  EXPECT_LIGHTNING_ERROR(L::Tuner(with_finder).lr_find(model, L::testing::loader(64, 16), {}),
                         "already configured with a LearningRateFinder callback");

  class TwoOptimizers : public TunableModule {
   public:
    TwoOptimizers() { set_automatic_optimization(false); }
    L::OptimizerConfig configure_optimizers() override {
      auto a = std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.1));
      auto b = std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.1));
      return std::vector<L::OptimizerConfig::OptimizerPtr>{a, b};
    }
  };
  EXPECT_LIGHTNING_ERROR(
      L::Tuner(trainer).lr_find(std::make_shared<TwoOptimizers>(), L::testing::loader(64, 16), {}),
      "returned 2 optimizers, but the learning rate finder only works with a single optimizer");
}

TEST(LrFind, SkippedUnderFastDevRun) {
  TempDir dir;
  L::Trainer trainer(options(dir).fast_dev_run(true));
  auto model = std::make_shared<TunableModule>();
  EXPECT_EQ(L::Tuner(trainer).lr_find(model, L::testing::loader(64, 16), {}), nullptr);
  EXPECT_DOUBLE_EQ(model->hparams().get<double>("lr"), 0.01);
}

namespace {

// Records the optimizer's learning rate at each training batch of the real fit.
class LrRecorder : public L::Callback {
 public:
  void on_train_batch_start(L::Trainer& trainer, L::LightningModule&, L::Batch&, int64_t) override {
    lrs.push_back(trainer.optimizers()[0]->param_groups()[0].options().get_lr());
  }
  std::vector<double> lrs;
};

}  // namespace

TEST(LearningRateFinderCallback, SweepsAtFitStartThenTrainsWithTheSuggestion) {
  TempDir dir;
  auto model = std::make_shared<TunableModule>();
  auto finder = std::make_shared<L::LearningRateFinder>(L::LRFindOptions().num_training(20));
  auto recorder = std::make_shared<LrRecorder>();
  L::Trainer trainer(options(dir).max_epochs(1).callbacks({finder, recorder}));
  trainer.fit(model, L::testing::loader(320, 16));
  ASSERT_NE(finder->optimal_lr(), nullptr);
  EXPECT_EQ(finder->optimal_lr()->lrs().size(), 20u);
  // The recorder saw the real fit only (the sweep runs with its own callback):
  // one epoch of 20 batches at the suggested rate.
  ASSERT_EQ(recorder->lrs.size(), 20u);
  const double suggested = *finder->optimal_lr()->suggestion();
  EXPECT_DOUBLE_EQ(recorder->lrs[0], suggested);
  EXPECT_DOUBLE_EQ(model->hparams().get<double>("lr"), suggested);
  EXPECT_EQ(trainer.global_step(), 20);
}

namespace {

// Lightning's milestone example: a sweep at the start of epoch 1, mid-fit.
class EpochOneFinder : public L::LearningRateFinder {
 public:
  using L::LearningRateFinder::LearningRateFinder;
  void on_fit_start(L::Trainer&, L::LightningModule&) override {}
  void on_train_epoch_start(L::Trainer& trainer, L::LightningModule& module) override {
    if (trainer.current_epoch() == 1) lr_find(trainer, module);
  }
};

// Snapshots the weights, Adam's state and the counters at on_train_epoch_start.
class Snapshot : public L::Callback {
 public:
  void on_train_epoch_start(L::Trainer& trainer, L::LightningModule& module) override {
    if (trainer.current_epoch() != 1) return;
    params = weights(module);
    step = trainer.global_step();
    auto& optimizer = *trainer.optimizers()[0];
    lr = optimizer.param_groups()[0].options().get_lr();
    state.clear();
    for (const auto& p : module.parameters()) {
      auto it = optimizer.state().find(L::detail::torch_compat::optimizer_state_key(p));
      ASSERT_NE(it, optimizer.state().end());
      auto& s = static_cast<torch::optim::AdamParamState&>(*it->second);
      state.push_back(s.exp_avg().clone());
      state.push_back(s.exp_avg_sq().clone());
      steps.push_back(s.step());
    }
  }
  std::vector<at::Tensor> params, state;
  std::vector<int64_t> steps;
  int64_t step = -1;
  double lr = 0;
};

}  // namespace

TEST(LearningRateFinderCallback, MidFitSweepRestoresOptimizerStateBitForBit) {
  TempDir dir;
  auto model = std::make_shared<TunableModule>();
  auto before = std::make_shared<Snapshot>();
  auto finder =
      std::make_shared<EpochOneFinder>(L::LRFindOptions().num_training(8).update_attr(false));
  auto after = std::make_shared<Snapshot>();
  auto counter = std::make_shared<L::testing::CountingCallback>();
  L::Trainer trainer(options(dir).max_epochs(2).callbacks({before, finder, after, counter}));
  trainer.fit(model, L::testing::loader(160, 16));
  ASSERT_NE(finder->optimal_lr(), nullptr);
  EXPECT_EQ(finder->optimal_lr()->lrs().size(), 8u);
  ASSERT_EQ(before->step, 10);
  EXPECT_EQ(after->step, 10);
  expect_same(before->params, after->params);
  expect_same(before->state, after->state);
  EXPECT_EQ(before->steps, after->steps);
  EXPECT_DOUBLE_EQ(before->lr, after->lr);
  EXPECT_EQ(counter->train_batches.size(), 20u);  // both epochs, the sweep not counted
  EXPECT_EQ(trainer.global_step(), 20);
}

// ---- scale_batch_size --------------------------------------------------------------

namespace {

constexpr int64_t kMiB = 1 << 20;

std::shared_ptr<TunableModule> memory_hungry() {
  auto model = std::make_shared<TunableModule>(L::HParams{{"lr", 0.01}});
  model->bytes_per_sample = kMiB;
  return model;
}

// 40.5 MiB: a batch of 40 fits (40 MiB plus a few KiB), 41 does not.
const int64_t kCeiling = 40 * kMiB + kMiB / 2;

}  // namespace

TEST(ScaleBatchSize, PowerDoublesUntilOutOfMemory) {
  TempDir dir;
  auto model = memory_hungry();
  const auto before = weights(*model);
  SizedData data(7);
  L::Trainer trainer(options(dir));
  const auto found = L::Tuner(trainer).scale_batch_size(
      model, data, L::BatchSizeFinderOptions().max_memory_bytes(kCeiling));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(*found, 32);  // 2, 4, 8, 16, 32 fit; 64 does not
  EXPECT_EQ(data.hparams().get<int64_t>("batch_size"), 32);
  // steps_per_trial = 3 steps per successful trial, from init_val 2 on.
  std::vector<int64_t> tried;
  for (int64_t s : model->batch_sizes) {
    if (tried.empty() || tried.back() != s) tried.push_back(s);
  }
  EXPECT_EQ(tried, (std::vector<int64_t>{2, 4, 8, 16, 32, 64}));
  EXPECT_EQ(std::count(model->batch_sizes.begin(), model->batch_sizes.end(), 16), 3);
  expect_same(before, weights(*model));
  EXPECT_FALSE(leftover_checkpoints(dir));
}

TEST(ScaleBatchSize, BinsearchBisectsAndAppliesTheMargin) {
  TempDir dir;
  {
    auto model = memory_hungry();
    SizedData data(7);
    L::Trainer trainer(options(dir));
    EXPECT_EQ(
        L::Tuner(trainer).scale_batch_size(
            model, data,
            L::BatchSizeFinderOptions().mode("binsearch").margin(0).max_memory_bytes(kCeiling)),
        40);
    EXPECT_EQ(data.hparams().get<int64_t>("batch_size"), 40);
  }
  auto model = memory_hungry();
  SizedData data(7);
  L::Trainer trainer(options(dir));
  // Lightning's default margin 0.05: int(40 * 0.95) = 38.
  EXPECT_EQ(
      L::Tuner(trainer).scale_batch_size(
          model, data, L::BatchSizeFinderOptions().mode("binsearch").max_memory_bytes(kCeiling)),
      38);
  EXPECT_EQ(data.hparams().get<int64_t>("batch_size"), 38);
}

TEST(ScaleBatchSize, StopsAtMaxValAndDatasetLength) {
  TempDir dir;
  auto model = std::make_shared<TunableModule>(L::HParams{{"lr", 0.01}});
  SizedData data(2, /*samples=*/100);
  L::Trainer trainer(options(dir));
  // 2..64 fit, 128 would exceed the 100 samples: Lightning keeps 128 as the
  // next size and stops there ("batch size >= dataset length").
  const auto found = L::Tuner(trainer).scale_batch_size(model, data);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(*found, 128);
  SizedData capped(2);
  EXPECT_EQ(
      L::Tuner(trainer).scale_batch_size(model, capped, L::BatchSizeFinderOptions().max_val(16)),
      16);
}

TEST(ScaleBatchSize, OtherErrorsPropagate) {
  TempDir dir;
  class Failing : public TunableModule {
   public:
    L::StepOutput training_step(L::Batch&, int64_t) override {
      throw std::runtime_error("not a memory problem");
    }
  };
  SizedData data(2);
  L::Trainer trainer(options(dir));
  EXPECT_THROW(L::Tuner(trainer).scale_batch_size(std::make_shared<Failing>(), data),
               std::runtime_error);
  EXPECT_FALSE(leftover_checkpoints(dir));
}

TEST(ScaleBatchSize, Errors) {
  TempDir dir;
  EXPECT_LIGHTNING_ERROR(L::BatchSizeFinder(L::BatchSizeFinderOptions().mode("triple")),
                         "mode must be \"power\" or \"binsearch\", got \"triple\"");
  EXPECT_LIGHTNING_ERROR(L::BatchSizeFinder(L::BatchSizeFinderOptions().margin(1.5)),
                         "margin must be in [0, 1)");
  EXPECT_LIGHTNING_ERROR(L::BatchSizeFinder(L::BatchSizeFinderOptions().steps_per_trial(0)),
                         "steps_per_trial must be >= 1");
  L::Trainer trainer(options(dir));
  auto model = std::make_shared<TunableModule>(L::HParams{{"lr", 0.01}});
  L::LightningDataModule no_hparam;
  EXPECT_LIGHTNING_ERROR(L::Tuner(trainer).scale_batch_size(model, no_hparam),
                         "Field \"batch_size\" not found in the module's hparams nor the "
                         "datamodule's");
  auto finder = std::make_shared<L::BatchSizeFinder>();
  L::Trainer passed(options(dir).callbacks({finder}));
  EXPECT_LIGHTNING_ERROR(passed.fit(std::make_shared<TunableModule>(), L::testing::loader(64, 8)),
                         "cannot be used with dataloaders passed directly to fit()");
  L::Trainer with_finder(options(dir).callbacks({finder}));
  SizedData data(2);
  EXPECT_LIGHTNING_ERROR(L::Tuner(with_finder).scale_batch_size(model, data),
                         "already configured with a BatchSizeFinder callback");
}

TEST(BatchSizeFinderCallback, SearchesAtFitStartThenTrainsWithTheResult) {
  TempDir dir;
  auto model = memory_hungry();
  auto finder =
      std::make_shared<L::BatchSizeFinder>(L::BatchSizeFinderOptions().max_memory_bytes(kCeiling));
  EXPECT_EQ(finder->optimal_batch_size(), 2);  // init_val until a search ran
  SizedData data(7, /*samples=*/640);
  L::Trainer trainer(options(dir).max_epochs(1).callbacks({finder}));
  trainer.fit(model, data);
  EXPECT_EQ(finder->optimal_batch_size(), 32);
  // The real fit: 640 / 32 = 20 batches of 32 after the trials.
  ASSERT_GE(model->batch_sizes.size(), 20u);
  const std::vector<int64_t> fit_sizes(model->batch_sizes.end() - 20, model->batch_sizes.end());
  EXPECT_EQ(fit_sizes, std::vector<int64_t>(20, 32));
  EXPECT_EQ(trainer.global_step(), 20);
}

TEST(FashionMNISTDataModule, BatchSizeIsAnHparamTheLoadersRead) {
  L::FashionMNISTDataModule data(L::FashionMNISTOptions().batch_size(8).val_size(100));
  EXPECT_EQ(data.hparams().get<int64_t>("batch_size"), 8);
  EXPECT_EQ(data.batch_size(), 8);
  data.save_hyperparameters(L::HParams{{"batch_size", int64_t{16}}});
  EXPECT_EQ(data.batch_size(), 16);
  if (!std::filesystem::is_directory(L::kFashionMNISTDefaultDir)) {
    GTEST_SKIP() << "Fashion-MNIST is not installed (dataset-fashion-mnist)";
  }
  data.setup(L::Stage::Fit);
  EXPECT_EQ(data.train_dataloader()[0].options().batch_size(), 16);
}

namespace {

// Records the fit hooks the module sees.
class HookedModule : public TunableModule {
 public:
  void on_fit_start() override { hooks.push_back("on_fit_start"); }
  void on_train_start() override { hooks.push_back("on_train_start"); }
  void on_fit_end() override { hooks.push_back("on_fit_end"); }
  void teardown(L::Stage) override { hooks.push_back("teardown"); }
  std::vector<std::string> hooks;
};

}  // namespace

namespace {

// Logs its training loss, so that the fit writes metrics.csv and the report.
class LoggingModule : public TunableModule {
 public:
  L::StepOutput training_step(L::Batch& batch, int64_t batch_idx) override {
    L::StepOutput loss = TunableModule::training_step(batch, batch_idx);
    log("train_loss", loss.loss());
    return loss;
  }
};

}  // namespace

// The sweep goes to the CSVLogger's lr_find.csv (one row per rate, the
// suggestion marked) and from there into report.html, once the fit that
// follows has logged its metrics; a second sweep is appended as sweep 1.
TEST(Tuner, SweepReachesTheRunReport) {
  TempDir dir;
  auto model = std::make_shared<LoggingModule>();
  auto csv = std::make_shared<L::CSVLogger>(L::CSVLoggerOptions(dir.str()).version(0));
  L::Trainer trainer(
      options(dir).logger(csv).log_every_n_steps(1).max_epochs(1).limit_train_batches(40));
  L::Tuner tuner(trainer);
  auto finder = tuner.lr_find(model, L::LRFindOptions()
                                         .num_training(20)
                                         .min_lr(1e-4)
                                         .max_lr(0.1)
                                         .early_stop_threshold(std::nullopt)
                                         .update_attr(false));
  ASSERT_NE(finder, nullptr);
  const std::filesystem::path run = dir.path() / "lightning_logs" / "version_0";
  const L::MetricsTable table = L::read_metrics_csv((run / "lr_find.csv").string());
  EXPECT_EQ(table.columns,
            (std::vector<std::string>{"sweep", "step", "exponential", "lr", "loss", "suggested"}));
  ASSERT_EQ(table.values.size(), finder->lrs().size());
  const std::optional<int64_t> suggested = finder->suggestion_index();
  ASSERT_TRUE(suggested.has_value());
  EXPECT_FALSE(finder->optimal_idx().has_value());  // update_attr(false): nobody asked
  for (size_t i = 0; i < table.values.size(); ++i) {
    const auto& row = table.values[i];
    EXPECT_EQ(row[0], 0);
    EXPECT_EQ(row[1], 0);
    EXPECT_EQ(row[2], 1);
    EXPECT_EQ(row[3], finder->lrs()[i]) << i;  // round-trip exact
    EXPECT_EQ(row[4], finder->losses()[i]) << i;
    EXPECT_EQ(row[5], static_cast<int64_t>(i) == *suggested ? 1 : 0) << i;
  }
  // Nothing was logged yet: no report until the fit.
  EXPECT_FALSE(std::filesystem::exists(run / "report.html"));

  trainer.fit(model);
  // A sweep from a callback at the second epoch's start (after 12 steps), as
  // Lightning's milestones example, with the same logger: sweep 1.
  auto callback = std::make_shared<EpochOneFinder>(L::LRFindOptions()
                                                       .num_training(10)
                                                       .mode("linear")
                                                       .min_lr(1e-3)
                                                       .max_lr(0.1)
                                                       .early_stop_threshold(std::nullopt));
  L::Trainer second(
      options(dir).logger(csv).max_epochs(2).limit_train_batches(12).callbacks({callback}));
  second.fit(std::make_shared<LoggingModule>());
  ASSERT_NE(callback->optimal_lr(), nullptr);
  const L::MetricsTable both = L::read_metrics_csv((run / "lr_find.csv").string());
  ASSERT_EQ(both.values.size(), finder->lrs().size() + 10);
  EXPECT_EQ(both.values.back()[0], 1);
  EXPECT_EQ(both.values.back()[1], 12);
  EXPECT_EQ(both.values.back()[2], 0);

  const std::string html = [&] {
    std::ifstream in(run / "report.html", std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  EXPECT_THAT(html, ::testing::HasSubstr("<h2>Learning-rate finder</h2>"));
  EXPECT_THAT(html, ::testing::HasSubstr("exponential sweep 0 at step 0"));
  EXPECT_THAT(html, ::testing::HasSubstr("<circle class=\"mark\""));
  EXPECT_THAT(html, ::testing::HasSubstr("data-metric=\"train_loss\""));

  // A new logger on the same version folder starts again: the earlier
  // run's sweeps are not its own.
  auto fresh = std::make_shared<L::CSVLogger>(L::CSVLoggerOptions(dir.str()).version(0));
  L::Trainer third(options(dir).logger(fresh).max_epochs(1).limit_train_batches(2));
  third.fit(std::make_shared<LoggingModule>());
  EXPECT_FALSE(std::filesystem::exists(run / "lr_find.csv"));
}

// Lightning's _TunerExitException: the fit ends after the finder's
// on_fit_start (before the module's), teardown runs and the loggers are
// finalized as a success; nothing reaches them during the sweep.
TEST(Tuner, EndsTheFitAfterTheSearch) {
  TempDir dir;
  auto model = std::make_shared<HookedModule>();
  auto logger = std::make_shared<L::testing::RecordingLogger>();
  L::Trainer trainer(options(dir).logger(logger));
  auto finder = L::Tuner(trainer).lr_find(model, L::testing::loader(320, 16), {},
                                          L::LRFindOptions().num_training(10));
  ASSERT_NE(finder, nullptr);
  // The sweep's own loop ran on_train_start; the fit never reached the
  // module's on_fit_start or on_fit_end.
  EXPECT_EQ(model->hooks, (std::vector<std::string>{"on_train_start", "teardown"}));
  EXPECT_EQ(logger->status, "success");
  EXPECT_TRUE(logger->rows.empty());
  EXPECT_TRUE(trainer.callbacks().empty());  // the finder is gone again
}
