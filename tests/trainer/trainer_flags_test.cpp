// Trainer flags: inference_mode, detect_anomaly, reload_dataloaders_every_n_epochs,
// barebones, benchmark; warnings once per Trainer; loggers told after each
// checkpoint save.
#include <ATen/Context.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/anomaly_mode.h>

#include "support/boring.h"
#include "support/temp_dir.h"

namespace L = lightning;
using L::testing::BoringModule;
using ::testing::HasSubstr;

namespace {

// Records the autograd mode its evaluation and predict steps run in.
class ModeProbe : public BoringModule {
 public:
  L::StepOutput validation_step(L::Batch& batch, int64_t i) override {
    inference = c10::InferenceMode::is_enabled();
    grad = at::GradMode::is_enabled();
    return BoringModule::validation_step(batch, i);
  }
  c10::IValue predict_step(L::Batch& batch, int64_t i) override {
    predict_inference = c10::InferenceMode::is_enabled();
    return BoringModule::predict_step(batch, i);
  }
  bool inference = false, grad = true, predict_inference = false;
};

TEST(TrainerFlags, InferenceModeFalseEvaluatesUnderNoGrad) {
  auto model = std::make_shared<ModeProbe>();
  L::Trainer on(L::testing::quiet());
  on.validate(model, L::testing::loader(8, 4), std::nullopt, false);
  on.predict(model, L::testing::loader(8, 4));
  EXPECT_TRUE(model->inference);
  EXPECT_TRUE(model->predict_inference);
  EXPECT_FALSE(model->grad);

  L::Trainer off(L::testing::quiet().inference_mode(false));
  off.validate(model, L::testing::loader(8, 4), std::nullopt, false);
  off.predict(model, L::testing::loader(8, 4));
  EXPECT_FALSE(model->inference);
  EXPECT_FALSE(model->predict_inference);
  EXPECT_FALSE(model->grad);  // no_grad
}

// A loss whose backward produces NaN: sqrt of a negative number.
class NanBackward : public BoringModule {
 public:
  L::StepOutput training_step(L::Batch& batch, int64_t) override {
    return torch::sqrt(layer->weight.sum() - 1e6);
  }
};

TEST(TrainerFlags, DetectAnomalyNamesTheOperationThatMadeNaN) {
  auto model = std::make_shared<NanBackward>();
  L::Trainer plain(L::testing::quiet().max_steps(1));
  EXPECT_NO_THROW(plain.fit(model, L::testing::loader(8, 4)));  // NaN weights, no error

  L::Trainer detecting(L::testing::quiet().max_steps(1).detect_anomaly(true));
  try {
    detecting.fit(std::make_shared<NanBackward>(), L::testing::loader(8, 4));
    ADD_FAILURE() << "no error";
  } catch (const std::exception& e) {
    EXPECT_THAT(e.what(), HasSubstr("SqrtBackward0' returned nan values"));
  }
  EXPECT_FALSE(torch::autograd::AnomalyMode::is_enabled());  // restored
}

// Counts how often its dataloader hooks are called; the training loader
// grows by one batch per call.
class CountingLoaders : public BoringModule {
 public:
  L::DataLoaders train_dataloader() override {
    ++train_calls;
    return L::testing::loader(4 * (1 + train_calls), 4);
  }
  L::DataLoaders val_dataloader() override {
    ++val_calls;
    return L::testing::loader(8, 4);
  }
  void on_train_epoch_start() override {
    batches_per_epoch.push_back(trainer().num_training_batches());
  }
  int train_calls = 0, val_calls = 0;
  std::vector<int64_t> batches_per_epoch;
};

TEST(TrainerFlags, ReloadDataloadersEveryNEpochsCallsTheHooksAgain) {
  auto model = std::make_shared<CountingLoaders>();
  L::Trainer trainer(L::testing::quiet().max_epochs(5).reload_dataloaders_every_n_epochs(2));
  trainer.fit(model);
  // Epochs 0, 2 and 4 (the val loader first for the sanity check, as Lightning).
  EXPECT_EQ(model->train_calls, 3);
  EXPECT_EQ(model->val_calls, 3);
  EXPECT_EQ(model->batches_per_epoch, (std::vector<int64_t>{2, 2, 3, 3, 4}));

  auto once = std::make_shared<CountingLoaders>();
  L::Trainer default_trainer(L::testing::quiet().max_epochs(5));
  default_trainer.fit(once);
  EXPECT_EQ(once->train_calls, 1);
  EXPECT_EQ(once->val_calls, 1);

  // Loaders passed to fit are not the hooks': never reloaded.
  auto passed = std::make_shared<CountingLoaders>();
  L::Trainer given(L::testing::quiet().max_epochs(3).reload_dataloaders_every_n_epochs(1));
  given.fit(passed, L::testing::loader(8, 4), L::testing::loader(8, 4));
  EXPECT_EQ(passed->train_calls, 0);
  EXPECT_EQ(passed->val_calls, 0);

  EXPECT_LIGHTNING_ERROR(L::Trainer(L::TrainerOptions().reload_dataloaders_every_n_epochs(-1)),
                         "reload_dataloaders_every_n_epochs must be >= 0 (0: load once per fit), "
                         "got -1.");
}

// Logs in every step.
class Logging : public BoringModule {
 public:
  L::StepOutput training_step(L::Batch& batch, int64_t i) override {
    auto loss = BoringModule::training_step(batch, i).loss();
    log("train_loss", loss);
    return loss;
  }
};

TEST(TrainerFlags, BarebonesTurnsOffWhatCostsSpeed) {
  L::testing::TempDir dir;
  auto model = std::make_shared<Logging>();
  L::Trainer trainer(L::TrainerOptions().barebones(true).max_epochs(1).default_root_dir(dir.str()));
  ::testing::internal::CaptureStderr();
  trainer.fit(model, L::testing::loader(16, 4), L::testing::loader(8, 4));
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(trainer.checkpoint_callback(), nullptr);
  EXPECT_TRUE(trainer.loggers().empty());
  EXPECT_TRUE(trainer.callbacks().empty());  // no progress bar, no model summary
  EXPECT_EQ(trainer.callback_metrics().count("train_loss"), 0u);
  EXPECT_TRUE(std::filesystem::is_empty(dir.str()));  // no files at all
  // self.log's warning, once.
  const std::string warning = "self.log() is called but TrainerOptions().barebones(true) is set";
  EXPECT_THAT(err, HasSubstr(warning));
  EXPECT_EQ(err.find(warning), err.rfind(warning));

  EXPECT_LIGHTNING_ERROR(L::Trainer(L::TrainerOptions().barebones(true).fast_dev_run(true)),
                         "TrainerOptions().barebones(true).fast_dev_run(1): a development run is "
                         "not meant for raw speed evaluation");
  EXPECT_LIGHTNING_ERROR(L::Trainer(L::TrainerOptions().barebones(true).detect_anomaly(true)),
                         "barebones(true).detect_anomaly(true): anomaly detection can impact "
                         "raw speed");
  EXPECT_LIGHTNING_ERROR(
      L::Trainer(
          L::TrainerOptions().barebones(true).callbacks({std::make_shared<L::ModelCheckpoint>()})),
      "TrainerOptions().barebones(true) with a ModelCheckpoint callback: barebones mode turns "
      "checkpointing, the progress bar and the model summary off.");
  EXPECT_LIGHTNING_ERROR(L::Trainer(L::TrainerOptions().barebones(true).logger(
                             std::make_shared<L::testing::RecordingLogger>())),
                         "TrainerOptions().barebones(true) with loggers given");
}

TEST(TrainerFlags, BenchmarkSetsCuDNNsFlag) {
  const bool before = at::globalContext().benchmarkCuDNN();
  L::Trainer on(L::TrainerOptions().benchmark(true));
  EXPECT_TRUE(at::globalContext().benchmarkCuDNN());
  L::Trainer deterministic(L::TrainerOptions().deterministic(true));
  EXPECT_FALSE(at::globalContext().benchmarkCuDNN());
  at::globalContext().setDeterministicAlgorithms(false, false);
  at::globalContext().setBenchmarkCuDNN(before);
}

// training_step returns nothing: the Trainer warns.
class Skipping : public BoringModule {
 public:
  L::StepOutput training_step(L::Batch&, int64_t) override { return {}; }
};

TEST(TrainerFlags, AWarningIsPrintedOncePerTrainer) {
  const std::string warning = "training_step returned nothing";
  auto count = [&](const std::string& text) {
    size_t n = 0;
    for (size_t at = text.find(warning); at != std::string::npos; at = text.find(warning, at + 1))
      ++n;
    return n;
  };
  ::testing::internal::CaptureStderr();
  L::Trainer first(L::testing::quiet().max_epochs(2));
  first.fit(std::make_shared<Skipping>(), L::testing::loader(16, 4));
  L::Trainer second(L::testing::quiet().max_epochs(1));
  second.fit(std::make_shared<Skipping>(), L::testing::loader(16, 4));
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(count(err), 2u) << err;  // 12 skipped batches, two Trainers
}

// Counts the checkpoint files in the callback's folder each time it is told.
class CheckpointRecorder : public L::testing::RecordingLogger {
 public:
  void after_save_checkpoint(const L::ModelCheckpoint& callback) override {
    size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(callback.dirpath())) {
      n += e.path().extension() == ".ckpt";
    }
    files.push_back(n);
  }
  std::vector<size_t> files;
};

TEST(TrainerFlags, LoggersAreToldAfterEachCheckpointSave) {
  L::testing::TempDir dir;
  auto logger = std::make_shared<CheckpointRecorder>();
  auto ckpt = std::make_shared<L::ModelCheckpoint>(
      L::ModelCheckpointOptions().dirpath(dir.str()).save_top_k(-1).save_last(true));
  L::Trainer trainer(
      L::testing::quiet().max_epochs(3).logger(logger).enable_checkpointing(true).callbacks(
          {ckpt}));
  trainer.fit(std::make_shared<BoringModule>(), L::testing::loader(16, 4));
  // Per epoch: the epoch's checkpoint, then last.ckpt (rewritten), each told
  // after its file is written.
  EXPECT_EQ(logger->files, (std::vector<size_t>{1, 2, 3, 3, 4, 4}));
}

}  // namespace
