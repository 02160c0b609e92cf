// ModelCheckpoint: file names, triggers, top-k on disk, last.ckpt, version
// suffixes, state, messages — against Lightning 2.x's behaviour.
#include "lightning/callbacks/model_checkpoint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "lightning/lightning.h"
#include "support/boring.h"
#include "support/errors.h"
#include "support/scripted.h"
#include "support/temp_dir.h"

namespace L = lightning;
namespace fs = std::filesystem;
using L::testing::loader;
using L::testing::quiet;
using L::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace {

using L::testing::Scripted;

/// Every file under `dir`, relative to it.
std::set<std::string> files_in(const std::string& dir) {
  std::set<std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out.insert(fs::relative(e.path(), dir).string());
  }
  return out;
}

std::shared_ptr<L::ModelCheckpoint> checkpoint(L::ModelCheckpointOptions o) {
  return std::make_shared<L::ModelCheckpoint>(std::move(o));
}

/// Fits `model` for `epochs` epochs on 4 training batches (and 1 validation
/// batch unless `validate` is false).
void fit(std::shared_ptr<L::LightningModule> model, const std::string& root, int64_t epochs,
         std::vector<std::shared_ptr<L::Callback>> callbacks, bool validate = true,
         L::TrainerOptions options = quiet()) {
  L::Trainer trainer(options.max_epochs(epochs).default_root_dir(root).callbacks(callbacks));
  if (validate) {
    trainer.fit(model, loader(8, 2), loader(2, 2));
  } else {
    trainer.fit(model, loader(8, 2));
  }
}

std::string in(const TempDir& dir, const std::string& name) {
  return (dir.path() / "ckpts" / name).string();
}

}  // namespace

// ---- File names ------------------------------------------------------------------------

struct NameCase {
  std::string filename;
  bool auto_insert;
  L::Metrics metrics;
  int64_t epoch, step;
  std::string expected;
};

TEST(ModelCheckpointName, FormatsLikeLightning) {
  const std::vector<NameCase> cases = {
      {"", true, {}, 3, 12, "epoch=3-step=12.ckpt"},
      {"{epoch}", true, {}, 0, 0, "epoch=0.ckpt"},
      {"{epoch:03d}", true, {}, 5, 0, "epoch=005.ckpt"},
      {"{epoch}-{val_loss:.2f}",
       true,
       {{"val_loss", 0.123456}},
       2,
       0,
       "epoch=2-val_loss=0.12.ckpt"},
      {"{epoch:d}", true, {{"val_loss", 0.12}}, 2, 0, "epoch=2.ckpt"},
      {"epoch={epoch}-validation_loss={val_loss:.2f}",
       false,
       {{"val_loss", 0.123456}},
       2,
       0,
       "epoch=2-validation_loss=0.12.ckpt"},
      {"{missing:d}", true, {}, 0, 0, "missing=0.ckpt"},
      {"{step}", true, {}, 0, 0, "step=0.ckpt"},
      {"checkpoint_{epoch:02d}-{acc:02.0f}",
       true,
       {{"acc", 1.12}},
       1,
       0,
       "checkpoint_epoch=01-acc=01.ckpt"},
      {"sample-mnist-{epoch:02d}-{val_loss:.2f}",
       true,
       {{"val_loss", 0.3211}},
       2,
       0,
       "sample-mnist-epoch=02-val_loss=0.32.ckpt"},
      {"sample-mnist-epoch{epoch:02d}-val_loss{val/loss:.2f}",
       false,
       {{"val/loss", 0.3211}},
       2,
       0,
       "sample-mnist-epoch02-val_loss0.32.ckpt"},
      {"{val/loss:.3f}", true, {{"val/loss", 1.23456}}, 0, 0, "val/loss=1.235.ckpt"},
      {"{epoch}-{epoch_test}", true, {{"epoch_test", 2.5}}, 1, 0, "epoch=1-epoch_test=2.5.ckpt"},
      {"{val_loss:.4e}", true, {{"val_loss", 0.000123456}}, 0, 0, "val_loss=1.2346e-04.ckpt"},
      {"{val_loss:.3g}", true, {{"val_loss", 0.000123456}}, 0, 0, "val_loss=0.000123.ckpt"},
      {"{val_loss:.3g}", true, {{"val_loss", 1234567.0}}, 0, 0, "val_loss=1.23e+06.ckpt"},
      {"{val_loss:g}", true, {{"val_loss", 2.0}}, 0, 0, "val_loss=2.ckpt"},
      {"{val_loss}", true, {{"val_loss", 0.5}}, 0, 0, "val_loss=0.5.ckpt"},
      // A float32 metric prints as Python prints tensor(0.1).item().
      {"{val_loss}",
       true,
       {{"val_loss", static_cast<double>(0.1f)}},
       0,
       0,
       "val_loss=0.10000000149011612.ckpt"},
      {"{val_loss}", true, {{"val_loss", 1e-05}}, 0, 0, "val_loss=1e-05.ckpt"},
      // No type with a precision: 'g' with at least one decimal, exponent from p - 1 on.
      {"{val_loss:.3}", true, {{"val_loss", 0.5}}, 0, 0, "val_loss=0.5.ckpt"},
      {"{val_loss:.3}", true, {{"val_loss", 1.0}}, 0, 0, "val_loss=1.0.ckpt"},
      {"{val_loss:.3}", true, {{"val_loss", 100.0}}, 0, 0, "val_loss=1e+02.ckpt"},
      {"{epoch:.2f}", true, {}, 3, 0, "epoch=3.00.ckpt"},
      // Python's format(65, "c"): the code point, in UTF-8, padded as one character.
      {"{epoch:c}", true, {}, 65, 0, "epoch=A.ckpt"},
      {"{epoch:c}", true, {}, 233, 0, "epoch=\xC3\xA9.ckpt"},
      {"{epoch:>3c}", true, {}, 8364, 0, "epoch=  \xE2\x82\xAC.ckpt"},
      {"{epoch:c}", true, {}, 128512, 0, "epoch=\xF0\x9F\x98\x80.ckpt"},
      {"{val_loss:>8.2f}", true, {{"val_loss", 0.123}}, 0, 0, "val_loss=    0.12.ckpt"},
      {"{val_loss:+.1%}", true, {{"val_loss", 0.1234}}, 0, 0, "val_loss=+12.3%.ckpt"},
      {"{step:,}", true, {}, 0, 1234567, "step=1,234,567.ckpt"},
      {"{val_loss:.2f}", true, {{"val_loss", -0.001}}, 0, 0, "val_loss=-0.00.ckpt"},
      {"{val_loss:.2f}", true, {{"val_loss", std::nan("")}}, 0, 0, "val_loss=nan.ckpt"},
      {"{val_loss:.1f}-{val_loss:.3f}",
       true,
       {{"val_loss", 0.25}},
       0,
       0,
       "val_loss=0.2-val_loss=0.250.ckpt"},
  };
  for (const NameCase& c : cases) {
    L::ModelCheckpointOptions o;
    if (!c.filename.empty()) o.filename(c.filename);
    L::ModelCheckpoint cb(o.auto_insert_metric_name(c.auto_insert));
    EXPECT_EQ(cb.format_checkpoint_name(c.metrics, c.epoch, c.step), c.expected)
        << "template \"" << c.filename << "\"";
  }
  L::ModelCheckpoint cb(L::ModelCheckpointOptions().filename("{epoch}"));
  EXPECT_EQ(cb.format_checkpoint_name({}, 1, 2, "last"), "last.ckpt");
}

TEST(ModelCheckpointName, RejectsWhatPythonRejects) {
  L::ModelCheckpoint d(L::ModelCheckpointOptions().filename("{val_loss:d}"));
  EXPECT_LIGHTNING_ERROR(d.format_checkpoint_name({{"val_loss", 0.5}}, 0, 0),
                         "Unknown format code 'd' for object of type 'float'");
  L::ModelCheckpoint prec(L::ModelCheckpointOptions().filename("{epoch:.2d}"));
  EXPECT_LIGHTNING_ERROR(prec.format_checkpoint_name({}, 0, 0),
                         "Precision not allowed in integer format specifier");
  L::ModelCheckpoint brace(L::ModelCheckpointOptions().filename("x}{epoch}"));
  EXPECT_LIGHTNING_ERROR(brace.format_checkpoint_name({}, 0, 0), "single '}' encountered");
  // Python fails on this one too ("{{x" is taken for a metric name).
  L::ModelCheckpoint escaped(L::ModelCheckpointOptions().filename("{{x}}-{epoch}"));
  EXPECT_LIGHTNING_ERROR(escaped.format_checkpoint_name({}, 0, 0), "is not valid");
}

// ---- Top k ---------------------------------------------------------------------------------

TEST(ModelCheckpointTopK, KeepsTheBestKFilesInMinMode) {
  TempDir dir;
  auto ckpt = checkpoint(L::ModelCheckpointOptions()
                             .dirpath(dir.file("ckpts"))
                             .filename("{epoch}")
                             .monitor("val_metric")
                             .save_top_k(2));
  fit(std::make_shared<Scripted>(std::vector<double>{5, 3, 4, 1, 2, 6}), dir.str(), 6, {ckpt});
  EXPECT_EQ(files_in(dir.file("ckpts")), (std::set<std::string>{"epoch=3.ckpt", "epoch=4.ckpt"}));
  EXPECT_EQ(ckpt->best_model_path(), in(dir, "epoch=3.ckpt"));
  ASSERT_TRUE(ckpt->best_model_score().has_value());
  EXPECT_DOUBLE_EQ(*ckpt->best_model_score(), 1.0);
  EXPECT_EQ(ckpt->kth_best_model_path(), in(dir, "epoch=4.ckpt"));
  EXPECT_EQ(ckpt->best_k_models(), (std::map<std::string, double>{{in(dir, "epoch=3.ckpt"), 1.0},
                                                                  {in(dir, "epoch=4.ckpt"), 2.0}}));
  EXPECT_EQ(ckpt->last_model_path(), "");
  EXPECT_EQ(ckpt->dirpath(), dir.file("ckpts"));
}

TEST(ModelCheckpointTopK, KeepsTheBestKFilesInMaxMode) {
  TempDir dir;
  auto ckpt = checkpoint(L::ModelCheckpointOptions()
                             .dirpath(dir.file("ckpts"))
                             .filename("{epoch}-{val_metric:.1f}")
                             .monitor("val_metric")
                             .mode("max")
                             .save_top_k(3));
  fit(std::make_shared<Scripted>(std::vector<double>{5, 3, 4, 1, 2, 6}), dir.str(), 6, {ckpt});
  EXPECT_EQ(files_in(dir.file("ckpts")),
            (std::set<std::string>{"epoch=0-val_metric=5.0.ckpt", "epoch=2-val_metric=4.0.ckpt",
                                   "epoch=5-val_metric=6.0.ckpt"}));
  EXPECT_EQ(ckpt->best_model_path(), in(dir, "epoch=5-val_metric=6.0.ckpt"));
  EXPECT_DOUBLE_EQ(*ckpt->best_model_score(), 6.0);
  EXPECT_EQ(ckpt->kth_best_model_path(), in(dir, "epoch=2-val_metric=4.0.ckpt"));
}

TEST(ModelCheckpointTopK, MinusOneKeepsAllAndZeroKeepsNone) {
  TempDir dir;
  auto all = checkpoint(L::ModelCheckpointOptions()
                            .dirpath(dir.file("all"))
                            .filename("{epoch}")
                            .monitor("val_metric")
                            .save_top_k(-1));
  auto none = checkpoint(
      L::ModelCheckpointOptions().dirpath(dir.file("none")).monitor("val_metric").save_top_k(0));
  fit(std::make_shared<Scripted>(std::vector<double>{3, 1, 2}), dir.str(), 3, {all, none});
  EXPECT_EQ(files_in(dir.file("all")),
            (std::set<std::string>{"epoch=0.ckpt", "epoch=1.ckpt", "epoch=2.ckpt"}));
  EXPECT_EQ(all->best_model_path(), dir.file("all") + "/epoch=1.ckpt");
  EXPECT_EQ(all->best_k_models().size(), 3u);
  EXPECT_TRUE(files_in(dir.file("none")).empty());
  EXPECT_EQ(none->best_model_path(), "");
  EXPECT_FALSE(none->best_model_score().has_value());
}

TEST(ModelCheckpointTopK, WithoutMonitorKeepsTheLatest) {
  TempDir dir;
  auto ckpt = checkpoint(L::ModelCheckpointOptions().dirpath(dir.file("ckpts")));
  fit(std::make_shared<L::testing::BoringModule>(), dir.str(), 3, {ckpt});
  EXPECT_EQ(files_in(dir.file("ckpts")), (std::set<std::string>{"epoch=2-step=12.ckpt"}));
  EXPECT_EQ(ckpt->best_model_path(), in(dir, "epoch=2-step=12.ckpt"));
  EXPECT_FALSE(ckpt->best_model_score().has_value());
  EXPECT_TRUE(ckpt->best_k_models().empty());
}

TEST(ModelCheckpointTopK, NanCountsAsTheWorstScore) {
  TempDir dir;
  auto ckpt = checkpoint(L::ModelCheckpointOptions()
                             .dirpath(dir.file("ckpts"))
                             .filename("{epoch}")
                             .monitor("val_metric")
                             .save_top_k(2));
  fit(std::make_shared<Scripted>(std::vector<double>{std::nan(""), 2, 3}), dir.str(), 3, {ckpt});
  EXPECT_EQ(files_in(dir.file("ckpts")), (std::set<std::string>{"epoch=1.ckpt", "epoch=2.ckpt"}));
}

// ---- last.ckpt -------------------------------------------------------------------------------

TEST(ModelCheckpointLast, SaveLastWritesLastCkptAtEverySave) {
  TempDir dir;
  auto ckpt = checkpoint(L::ModelCheckpointOptions()
                             .dirpath(dir.file("ckpts"))
                             .filename("{epoch}")
                             .monitor("val_metric")
                             .save_last(true));
  fit(std::make_shared<Scripted>(std::vector<double>{3, 1, 2}), dir.str(), 3, {ckpt});
  EXPECT_EQ(files_in(dir.file("ckpts")), (std::set<std::string>{"epoch=1.ckpt", "last.ckpt"}));
  EXPECT_EQ(ckpt->last_model_path(), in(dir, "last.ckpt"));
  L::Checkpoint last = L::read_checkpoint(ckpt->last_model_path());
  EXPECT_EQ(last.get<int64_t>("global_step"), 12);
  EXPECT_EQ(last.get<int64_t>("epoch"), 2);
  // The callback state inside holds the path it was written to.
  auto states = last.get<L::StateDict>("callbacks");
  auto state = states.at(ckpt->state_key()).toGenericDict();
  EXPECT_EQ(state.at("last_model_path").toStringRef(), in(dir, "last.ckpt"));
  EXPECT_EQ(state.at("best_model_path").toStringRef(), in(dir, "epoch=1.ckpt"));
}

TEST(ModelCheckpointLast, SaveTopKZeroStillWritesLast) {
  TempDir dir;
  auto ckpt = checkpoint(
      L::ModelCheckpointOptions().dirpath(dir.file("ckpts")).save_top_k(0).save_last(true));
  fit(std::make_shared<L::testing::BoringModule>(), dir.str(), 2, {ckpt});
  EXPECT_EQ(files_in(dir.file("ckpts")), (std::set<std::string>{"last.ckpt"}));
}

TEST(ModelCheckpointLast, AnOldLastCkptGetsAVersionSuffix) {
  // Lightning: a last.ckpt this callback did not write is kept; the new one is last-v1.ckpt.
  TempDir dir;
  fs::create_directories(dir.file("ckpts"));
  { std::ofstream(dir.file("ckpts/last.ckpt")) << "old"; }
  auto ckpt = checkpoint(
      L::ModelCheckpointOptions().dirpath(dir.file("ckpts")).save_top_k(0).save_last(true));
  fit(std::make_shared<L::testing::BoringModule>(), dir.str(), 2, {ckpt});
  EXPECT_EQ(files_in(dir.file("ckpts")), (std::set<std::string>{"last.ckpt", "last-v1.ckpt"}));
  EXPECT_EQ(ckpt->last_model_path(), in(dir, "last-v1.ckpt"));
}

// ---- Triggers --------------------------------------------------------------------------------

TEST(ModelCheckpointTriggers, EveryNEpochs) {
  TempDir dir;
  auto ckpt = checkpoint(
      L::ModelCheckpointOptions().dirpath(dir.file("ckpts")).every_n_epochs(2).save_top_k(-1));
  fit(std::make_shared<L::testing::BoringModule>(), dir.str(), 5, {ckpt});
  EXPECT_EQ(files_in(dir.file("ckpts")),
            (std::set<std::string>{"epoch=1-step=8.ckpt", "epoch=3-step=16.ckpt"}));
}

TEST(ModelCheckpointTriggers, EveryNTrainSteps) {
  TempDir dir;
  auto ckpt = checkpoint(L::ModelCheckpointOptions()
                             .dirpath(dir.file("ckpts"))
                             .filename("{step}")
                             .every_n_train_steps(3)
                             .save_top_k(-1));
  fit(std::make_shared<L::testing::BoringModule>(), dir.str(), 2, {ckpt});  // 8 steps
  EXPECT_EQ(files_in(dir.file("ckpts")), (std::set<std::string>{"step=3.ckpt", "step=6.ckpt"}));
}

TEST(ModelCheckpointTriggers, OneSavePerGlobalStep) {
  // With accumulation, batch ends repeat a global step: it is saved once.
  TempDir dir;
  auto ckpt = checkpoint(L::ModelCheckpointOptions()
                             .dirpath(dir.file("ckpts"))
                             .filename("{step}")
                             .every_n_train_steps(1)
                             .save_top_k(-1));
  fit(std::make_shared<L::testing::BoringModule>(), dir.str(), 1, {ckpt}, true,
      quiet().accumulate_grad_batches(2));
  EXPECT_EQ(files_in(dir.file("ckpts")), (std::set<std::string>{"step=1.ckpt", "step=2.ckpt"}));
}

TEST(ModelCheckpointTriggers, TrainTimeIntervalZeroNeverSavesAndTurnsEpochsOff) {
  TempDir dir;
  auto ckpt = checkpoint(L::ModelCheckpointOptions()
                             .dirpath(dir.file("ckpts"))
                             .train_time_interval(std::chrono::milliseconds(0)));
  fit(std::make_shared<L::testing::BoringModule>(), dir.str(), 2, {ckpt});
  EXPECT_TRUE(files_in(dir.file("ckpts")).empty());
}

TEST(ModelCheckpointTriggers, TrainTimeIntervalSavesAtBatchEnds) {
  TempDir dir;
  class Slow : public L::testing::BoringModule {
   public:
    L::StepOutput training_step(L::Batch& batch, int64_t) override {
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
      return loss(batch);
    }
  };
  auto ckpt = checkpoint(L::ModelCheckpointOptions()
                             .dirpath(dir.file("ckpts"))
                             .filename("{step}")
                             .save_top_k(-1)
                             .train_time_interval(std::chrono::milliseconds(1)));
  fit(std::make_shared<Slow>(), dir.str(), 1, {ckpt});
  EXPECT_EQ(files_in(dir.file("ckpts")),
            (std::set<std::string>{"step=1.ckpt", "step=2.ckpt", "step=3.ckpt", "step=4.ckpt"}));
}

/// Logs "epoch_metric" in the module's on_train_epoch_end: present at the
/// training epoch end, absent at validation end.
class EpochEndLogger : public Scripted {
 public:
  EpochEndLogger() : Scripted({1.0}) {}
  void on_train_epoch_end() override { log("epoch_metric", 10.0 - current_epoch()); }
};

/// Logs "train_epoch_metric" from training_step with on_epoch only: its value
/// exists from the end of the training epoch on (after that epoch's validation).
class EpochOnlyLogger : public Scripted {
 public:
  EpochOnlyLogger() : Scripted({1.0}) {}
  L::StepOutput training_step(L::Batch& batch, int64_t) override {
    log("train_epoch_metric", 10.0 - current_epoch(),
        L::LogOptions().on_step(false).on_epoch(true));
    return loss(batch);
  }
};

TEST(ModelCheckpointTriggers, SavesAtTrainEpochEndByDefault) {
  // Lightning: with one validation per epoch the save happens at the end of
  // the training epoch (after validation), where epoch-level training
  // metrics exist.
  TempDir dir;
  auto ckpt = checkpoint(L::ModelCheckpointOptions()
                             .dirpath(dir.file("ckpts"))
                             .filename("{epoch}")
                             .monitor("train_epoch_metric")
                             .mode("max"));
  fit(std::make_shared<EpochOnlyLogger>(), dir.str(), 2, {ckpt});
  EXPECT_EQ(files_in(dir.file("ckpts")), (std::set<std::string>{"epoch=0.ckpt"}));
  EXPECT_DOUBLE_EQ(*ckpt->best_model_score(), 10.0);

  auto at_validation = checkpoint(L::ModelCheckpointOptions()
                                      .dirpath(dir.file("val"))
                                      .monitor("train_epoch_metric")
                                      .save_on_train_epoch_end(false));
  EXPECT_LIGHTNING_ERROR(fit(std::make_shared<EpochOnlyLogger>(), dir.str(), 2, {at_validation}),
                         "could not find the monitored key in the returned metrics: "
                         "['val_metric', 'epoch', 'step']");
}

// DISABLED until the Trainer refreshes callback_metrics after the module's
// on_train_epoch_end, before the monitoring callbacks' on_train_epoch_end
// (Lightning computes trainer.callback_metrics from the results on access, so
// a key logged in LightningModule.on_train_epoch_end is monitorable; that is
// why monitoring callbacks run after the module there).
TEST(ModelCheckpointTriggers, MonitorsAKeyLoggedInModuleOnTrainEpochEnd) {
  TempDir dir;
  auto ckpt = checkpoint(L::ModelCheckpointOptions()
                             .dirpath(dir.file("ckpts"))
                             .filename("{epoch}")
                             .monitor("epoch_metric"));
  fit(std::make_shared<EpochEndLogger>(), dir.str(), 2, {ckpt});
  EXPECT_EQ(files_in(dir.file("ckpts")), (std::set<std::string>{"epoch=1.ckpt"}));
  EXPECT_DOUBLE_EQ(*ckpt->best_model_score(), 9.0);  // min mode: 10 at epoch 0, 9 at epoch 1
}

TEST(ModelCheckpointTriggers, SaveOnTrainEpochEndFalseSavesAtValidationEnd) {
  TempDir dir;
  auto ckpt = checkpoint(L::ModelCheckpointOptions()
                             .dirpath(dir.file("ckpts"))
                             .monitor("epoch_metric")
                             .save_on_train_epoch_end(false));
  EXPECT_LIGHTNING_ERROR(fit(std::make_shared<EpochEndLogger>(), dir.str(), 2, {ckpt}),
                         "`ModelCheckpoint(monitor='epoch_metric')` could not find the monitored "
                         "key in the returned metrics: ['val_metric', 'epoch', 'step']. HINT: Did "
                         "you call `log('epoch_metric', value)` in the `LightningModule`?");
}

TEST(ModelCheckpointTriggers, SaveOnTrainEpochEndTrueSavesAtEpochEndEvenWithSeveralValidations) {
  TempDir dir;
  auto ckpt = checkpoint(L::ModelCheckpointOptions()
                             .dirpath(dir.file("ckpts"))
                             .save_top_k(-1)
                             .save_on_train_epoch_end(true));
  fit(std::make_shared<L::testing::BoringModule>(), dir.str(), 1, {ckpt}, true,
      quiet().val_check_interval(0.5));
  EXPECT_EQ(files_in(dir.file("ckpts")), (std::set<std::string>{"epoch=0-step=4.ckpt"}));
}

TEST(ModelCheckpointTriggers, SeveralValidationsPerEpochSaveAfterEach) {
  TempDir dir;
  auto ckpt = checkpoint(L::ModelCheckpointOptions().dirpath(dir.file("ckpts")).save_top_k(-1));
  fit(std::make_shared<L::testing::BoringModule>(), dir.str(), 1, {ckpt}, true,
      quiet().val_check_interval(0.5));
  EXPECT_EQ(files_in(dir.file("ckpts")),
            (std::set<std::string>{"epoch=0-step=2.ckpt", "epoch=0-step=4.ckpt"}));
}

TEST(ModelCheckpointTriggers, WithoutValidationSavesAtEpochEnd) {
  TempDir dir;
  auto ckpt = checkpoint(L::ModelCheckpointOptions()
                             .dirpath(dir.file("ckpts"))
                             .filename("{epoch}-{train_metric:.1f}")
                             .monitor("train_metric")
                             .save_top_k(-1));
  fit(std::make_shared<Scripted>(std::vector<double>{3, 2, 1}, "train_metric", true), dir.str(), 3,
      {ckpt}, /*validate=*/false);
  EXPECT_EQ(files_in(dir.file("ckpts")),
            (std::set<std::string>{"epoch=0-train_metric=3.0.ckpt", "epoch=1-train_metric=2.0.ckpt",
                                   "epoch=2-train_metric=1.0.ckpt"}));
}

TEST(ModelCheckpointTriggers, NothingDuringSanityCheckValidateOrFastDevRun) {
  TempDir dir;
  class Recorder : public L::Callback {
   public:
    void on_sanity_check_end(L::Trainer&, L::LightningModule&) override {
      files_after_sanity = files_in(dir_);
    }
    std::string dir_;
    std::set<std::string> files_after_sanity{"<not called>"};
  };
  auto recorder = std::make_shared<Recorder>();
  recorder->dir_ = dir.file("ckpts");
  auto ckpt = checkpoint(L::ModelCheckpointOptions().dirpath(dir.file("ckpts")));
  auto model = std::make_shared<L::testing::BoringModule>();
  L::Trainer trainer(quiet().max_epochs(1).default_root_dir(dir.str()).callbacks({recorder, ckpt}));
  trainer.fit(model, loader(8, 2), loader(2, 2));
  EXPECT_TRUE(recorder->files_after_sanity.empty());
  EXPECT_EQ(files_in(dir.file("ckpts")).size(), 1u);

  auto ckpt2 = checkpoint(L::ModelCheckpointOptions().dirpath(dir.file("validate")));
  L::Trainer validator(quiet().default_root_dir(dir.str()).callbacks({ckpt2}));
  validator.validate(model, loader(2, 2));
  EXPECT_TRUE(files_in(dir.file("validate")).empty());

  auto ckpt3 = checkpoint(L::ModelCheckpointOptions().dirpath(dir.file("fast")));
  L::Trainer fast(quiet().fast_dev_run(true).default_root_dir(dir.str()).callbacks({ckpt3}));
  fast.fit(model, loader(8, 2), loader(2, 2));
  EXPECT_TRUE(files_in(dir.file("fast")).empty());
}

// ---- Version suffixes --------------------------------------------------------------------

TEST(ModelCheckpointVersions, ClashesGetVSuffixes) {
  TempDir dir;
  auto ckpt = checkpoint(L::ModelCheckpointOptions()
                             .dirpath(dir.file("ckpts"))
                             .filename("fixed")
                             .monitor("val_metric")
                             .save_top_k(-1));
  fit(std::make_shared<Scripted>(std::vector<double>{3, 2, 1}), dir.str(), 3, {ckpt});
  EXPECT_EQ(files_in(dir.file("ckpts")),
            (std::set<std::string>{"fixed.ckpt", "fixed-v1.ckpt", "fixed-v2.ckpt"}));
  EXPECT_EQ(ckpt->best_model_path(), in(dir, "fixed-v2.ckpt"));

  // A second run into the same folder.
  auto again = checkpoint(
      L::ModelCheckpointOptions().dirpath(dir.file("ckpts")).filename("{epoch}").save_top_k(-1));
  fit(std::make_shared<L::testing::BoringModule>(), dir.str(), 1, {again});
  auto second = checkpoint(
      L::ModelCheckpointOptions().dirpath(dir.file("ckpts")).filename("{epoch}").save_top_k(-1));
  fit(std::make_shared<L::testing::BoringModule>(), dir.str(), 1, {second});
  EXPECT_EQ(second->best_model_path(), in(dir, "epoch=0-v1.ckpt"));
  EXPECT_TRUE(fs::exists(in(dir, "epoch=0.ckpt")));
}

TEST(ModelCheckpointVersions, WithoutVersionCounterFilesAreOverwritten) {
  TempDir dir;
  auto ckpt = checkpoint(L::ModelCheckpointOptions()
                             .dirpath(dir.file("ckpts"))
                             .filename("fixed")
                             .monitor("val_metric")
                             .save_top_k(-1)
                             .enable_version_counter(false));
  fit(std::make_shared<Scripted>(std::vector<double>{3, 2, 1}), dir.str(), 3, {ckpt});
  EXPECT_EQ(files_in(dir.file("ckpts")), (std::set<std::string>{"fixed.ckpt"}));
  EXPECT_EQ(L::read_checkpoint(in(dir, "fixed.ckpt")).get<int64_t>("epoch"), 2);
}

TEST(ModelCheckpointVersions, WithoutMonitorAConstantNameIsOverwritten) {
  // Lightning passes best_model_path as the file that may be replaced.
  TempDir dir;
  auto ckpt = checkpoint(
      L::ModelCheckpointOptions().dirpath(dir.file("ckpts")).filename("fixed").save_top_k(-1));
  fit(std::make_shared<L::testing::BoringModule>(), dir.str(), 3, {ckpt});
  EXPECT_EQ(files_in(dir.file("ckpts")), (std::set<std::string>{"fixed.ckpt"}));
  EXPECT_EQ(L::read_checkpoint(in(dir, "fixed.ckpt")).get<int64_t>("epoch"), 2);
}

TEST(ModelCheckpointVersions, TopOneWithAConstantNameKeepsOneFile) {
  // The file that drops out has the new file's name: it is overwritten, not deleted.
  TempDir dir;
  auto ckpt = checkpoint(L::ModelCheckpointOptions()
                             .dirpath(dir.file("ckpts"))
                             .filename("best")
                             .monitor("val_metric"));
  fit(std::make_shared<Scripted>(std::vector<double>{3, 2, 1}), dir.str(), 3, {ckpt});
  EXPECT_EQ(files_in(dir.file("ckpts")), (std::set<std::string>{"best.ckpt"}));
  EXPECT_EQ(L::read_checkpoint(in(dir, "best.ckpt")).get<int64_t>("epoch"), 2);
}

// ---- State -------------------------------------------------------------------------------

TEST(ModelCheckpointState, StateKeyAsLightning) {
  EXPECT_EQ(L::ModelCheckpoint().state_key(),
            "ModelCheckpoint{'monitor': None, 'mode': 'min', 'every_n_train_steps': 0, "
            "'every_n_epochs': 1, 'train_time_interval': None}");
  EXPECT_EQ(
      L::ModelCheckpoint(L::ModelCheckpointOptions().monitor("val_loss").mode("max")).state_key(),
      "ModelCheckpoint{'monitor': 'val_loss', 'mode': 'max', 'every_n_train_steps': 0, "
      "'every_n_epochs': 1, 'train_time_interval': None}");
  EXPECT_EQ(L::ModelCheckpoint(L::ModelCheckpointOptions().every_n_train_steps(5)).state_key(),
            "ModelCheckpoint{'monitor': None, 'mode': 'min', 'every_n_train_steps': 5, "
            "'every_n_epochs': 0, 'train_time_interval': None}");
  EXPECT_EQ(L::ModelCheckpoint(L::ModelCheckpointOptions().train_time_interval(
                                   std::chrono::milliseconds(90061500)))
                .state_key(),
            "ModelCheckpoint{'monitor': None, 'mode': 'min', 'every_n_train_steps': 0, "
            "'every_n_epochs': 0, 'train_time_interval': datetime.timedelta(days=1, "
            "seconds=3661, microseconds=500000)}");
}

TEST(ModelCheckpointState, RoundTripsAndLoadsIntoAFreshCallback) {
  TempDir dir;
  auto opts = L::ModelCheckpointOptions()
                  .dirpath(dir.file("ckpts"))
                  .filename("{epoch}")
                  .monitor("val_metric")
                  .save_top_k(2)
                  .save_last(true);
  auto ckpt = checkpoint(opts);
  fit(std::make_shared<Scripted>(std::vector<double>{5, 3, 4, 1}), dir.str(), 4, {ckpt});
  L::StateDict state = ckpt->state_dict();
  std::vector<std::string> keys;
  for (const auto& e : state) keys.push_back(e.key().toStringRef());
  EXPECT_THAT(keys, ElementsAre("monitor", "best_model_score", "best_model_path", "current_score",
                                "dirpath", "best_k_models", "kth_best_model_path", "kth_value",
                                "last_model_path"));
  EXPECT_EQ(state.at("monitor").toStringRef(), "val_metric");
  ASSERT_TRUE(state.at("best_model_score").isTensor());
  EXPECT_EQ(state.at("best_model_score").toTensor().item<double>(), 1.0);
  EXPECT_EQ(state.at("current_score").toTensor().item<double>(), 1.0);
  EXPECT_EQ(state.at("kth_value").toTensor().item<double>(), 3.0);
  EXPECT_EQ(state.at("dirpath").toStringRef(), dir.file("ckpts"));
  auto best_k = state.at("best_k_models").toGenericDict();
  ASSERT_EQ(best_k.size(), 2u);
  // Insertion order, as Lightning's dict: epoch 1 (3.0) was kept before epoch 3 (1.0).
  EXPECT_EQ(best_k.begin()->key().toStringRef(), in(dir, "epoch=1.ckpt"));

  L::ModelCheckpoint fresh(opts);
  fresh.load_state_dict(state);
  EXPECT_EQ(fresh.best_model_path(), ckpt->best_model_path());
  EXPECT_EQ(fresh.best_model_score(), ckpt->best_model_score());
  EXPECT_EQ(fresh.best_k_models(), ckpt->best_k_models());
  EXPECT_EQ(fresh.kth_best_model_path(), ckpt->kth_best_model_path());
  EXPECT_EQ(fresh.last_model_path(), ckpt->last_model_path());
  EXPECT_EQ(fresh.state_dict().at("kth_value").toTensor().item<double>(), 3.0);

  // Another folder: only best_model_path comes back (with a warning), as Lightning.
  L::ModelCheckpoint elsewhere(L::ModelCheckpointOptions(opts).dirpath(dir.file("other")));
  ::testing::internal::CaptureStderr();
  elsewhere.load_state_dict(state);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(err, HasSubstr("The dirpath has changed from '" + dir.file("ckpts") + "' to '" +
                             dir.file("other") + "'"));
  EXPECT_EQ(elsewhere.best_model_path(), ckpt->best_model_path());
  EXPECT_FALSE(elsewhere.best_model_score().has_value());
  EXPECT_TRUE(elsewhere.best_k_models().empty());
  EXPECT_EQ(elsewhere.last_model_path(), "");
}

TEST(ModelCheckpointState, ResumedFitKeepsRankingTheOldFiles) {
  TempDir dir;
  auto opts = L::ModelCheckpointOptions()
                  .dirpath(dir.file("ckpts"))
                  .filename("{epoch}")
                  .monitor("val_metric")
                  .save_top_k(2)
                  .save_last(true);
  const std::vector<double> values{5, 3, 4, 1, 2, 6};
  auto first = checkpoint(opts);
  fit(std::make_shared<Scripted>(values), dir.str(), 3, {first});
  EXPECT_EQ(files_in(dir.file("ckpts")),
            (std::set<std::string>{"epoch=1.ckpt", "epoch=2.ckpt", "last.ckpt"}));

  auto second = checkpoint(opts);
  L::Trainer trainer(quiet().max_epochs(6).default_root_dir(dir.str()).callbacks({second}));
  trainer.fit(std::make_shared<Scripted>(values), loader(8, 2), loader(2, 2), in(dir, "last.ckpt"));
  EXPECT_EQ(files_in(dir.file("ckpts")),
            (std::set<std::string>{"epoch=3.ckpt", "epoch=4.ckpt", "last.ckpt"}));
  EXPECT_EQ(second->best_model_path(), in(dir, "epoch=3.ckpt"));
}

// ---- Messages ----------------------------------------------------------------------------

TEST(ModelCheckpointErrors, MonitorNeverLoggedListsTheMetrics) {
  TempDir dir;
  auto ckpt = checkpoint(L::ModelCheckpointOptions().dirpath(dir.file("ckpts")).monitor("nope"));
  EXPECT_LIGHTNING_ERROR(
      fit(std::make_shared<Scripted>(std::vector<double>{1}), dir.str(), 2, {ckpt}),
      "`ModelCheckpoint(monitor='nope')` could not find the monitored key in the returned "
      "metrics: ['val_metric', 'epoch', 'step']. HINT: Did you call `log('nope', value)` in the "
      "`LightningModule`?");
  EXPECT_TRUE(files_in(dir.file("ckpts")).empty());
}

TEST(ModelCheckpointErrors, MonitorMissingBeforeAnyValidationWarnsAndSkips) {
  // Lightning raises only once validation has run; before that it warns.
  TempDir dir;
  auto ckpt =
      checkpoint(L::ModelCheckpointOptions().dirpath(dir.file("ckpts")).monitor("nope_train"));
  ::testing::internal::CaptureStderr();
  fit(std::make_shared<L::testing::BoringModule>(), dir.str(), 2, {ckpt}, /*validate=*/false);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(err, HasSubstr("`ModelCheckpoint(monitor='nope_train')` could not find the "
                             "monitored key in the returned metrics: ['epoch', 'step']."));
  EXPECT_TRUE(files_in(dir.file("ckpts")).empty());
}

TEST(ModelCheckpointErrors, InvalidOptions) {
  using O = L::ModelCheckpointOptions;
  EXPECT_LIGHTNING_ERROR(L::ModelCheckpoint(O().save_top_k(-2)),
                         "Invalid value for save_top_k=-2. Must be >= -1");
  EXPECT_LIGHTNING_ERROR(L::ModelCheckpoint(O().mode("avg")), "`mode` can be min, max but got avg");
  EXPECT_LIGHTNING_ERROR(L::ModelCheckpoint(O().save_top_k(3)),
                         "ModelCheckpoint(save_top_k=3, monitor=None) is not a valid "
                         "configuration. No quantity for top_k to track.");
  EXPECT_LIGHTNING_ERROR(L::ModelCheckpoint(O().every_n_train_steps(-1)),
                         "Invalid value for every_n_train_steps=-1. Must be >= 0");
  EXPECT_LIGHTNING_ERROR(L::ModelCheckpoint(O().every_n_epochs(-1)),
                         "Invalid value for every_n_epochs=-1. Must be >= 0");
  EXPECT_LIGHTNING_ERROR(L::ModelCheckpoint(O().every_n_epochs(2).every_n_train_steps(3)),
                         "Combination of parameters every_n_train_steps=3, every_n_epochs=2 and "
                         "train_time_interval=None should be mutually exclusive.");
  EXPECT_LIGHTNING_ERROR(
      L::ModelCheckpoint(O().every_n_epochs(1).train_time_interval(std::chrono::hours(1))),
      "every_n_train_steps=0, every_n_epochs=1 and train_time_interval=1:00:00 should be "
      "mutually exclusive.");
  EXPECT_LIGHTNING_ERROR(L::ModelCheckpoint(O().train_time_interval(std::chrono::milliseconds(-5))),
                         "Invalid value for train_time_interval");
  // Valid: every_n_epochs=0 with steps, k in {-1, 0, 1} without monitor.
  EXPECT_NO_THROW(L::ModelCheckpoint(O().every_n_epochs(0).every_n_train_steps(3)));
  EXPECT_NO_THROW(L::ModelCheckpoint(O().save_top_k(-1)));
  EXPECT_NO_THROW(L::ModelCheckpoint(O().save_top_k(0)));
}

TEST(ModelCheckpointVerbose, PrintsLightningsMessages) {
  TempDir dir;
  auto ckpt = checkpoint(L::ModelCheckpointOptions()
                             .dirpath(dir.file("ckpts"))
                             .filename("{epoch}")
                             .monitor("val_metric")
                             .verbose(true));
  ::testing::internal::CaptureStderr();
  fit(std::make_shared<Scripted>(std::vector<double>{2, 3}), dir.str(), 2, {ckpt});
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(err, HasSubstr("Epoch 0, global step 4: 'val_metric' reached 2.00000 (best "
                             "2.00000), saving model to '" +
                             in(dir, "epoch=0.ckpt") + "' as top 1"));
  EXPECT_THAT(err, HasSubstr("Epoch 1, global step 8: 'val_metric' was not in top 1"));
}

// ---- The Trainer's default ModelCheckpoint ---------------------------------------------------

class HModule : public L::testing::BoringModule {
 public:
  explicit HModule(L::HParams hp) { save_hyperparameters(hp); }
};

TEST(ModelCheckpointDefault, WritesTheLatestEpochUnderTheLogDir) {
  TempDir dir;
  auto model = std::make_shared<HModule>(L::HParams{{"lr", 0.01}});
  L::Trainer trainer(L::TrainerOptions()
                         .enable_progress_bar(false)
                         .enable_model_summary(false)
                         .max_epochs(2)
                         .default_root_dir(dir.str()));
  trainer.fit(model, loader(8, 2), loader(2, 2));
  L::ModelCheckpoint* ckpt = trainer.checkpoint_callback();
  ASSERT_NE(ckpt, nullptr);
  const std::string folder = (fs::path(trainer.log_dir()) / "checkpoints").string();
  EXPECT_EQ(folder, dir.file("lightning_logs/version_0/checkpoints"));
  EXPECT_EQ(ckpt->dirpath(), folder);
  EXPECT_EQ(files_in(folder), (std::set<std::string>{"epoch=1-step=8.ckpt"}));
  EXPECT_EQ(ckpt->best_model_path(), folder + "/epoch=1-step=8.ckpt");

  auto loaded = L::load_from_checkpoint<HModule>(ckpt->best_model_path());
  EXPECT_DOUBLE_EQ(loaded->hparams().get<double>("lr"), 0.01);
  auto a = model->named_parameters(), b = loaded->named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (const auto& p : a) EXPECT_TRUE(at::equal(p.value(), b[p.key()])) << p.key();

  // "best" resumes from it.
  EXPECT_EQ(L::read_checkpoint(ckpt->best_model_path()).get<int64_t>("global_step"), 8);
}

TEST(ModelCheckpointDefault, WithoutLoggersUsesDefaultRootDir) {
  TempDir dir;
  auto ckpt = checkpoint(L::ModelCheckpointOptions());
  fit(std::make_shared<L::testing::BoringModule>(), dir.str(), 1, {ckpt});
  EXPECT_EQ(ckpt->dirpath(), dir.file("checkpoints"));
  EXPECT_EQ(files_in(dir.file("checkpoints")), (std::set<std::string>{"epoch=0-step=4.ckpt"}));
}

TEST(ModelCheckpointDefault, WeightsOnlyLeavesOutTrainingState) {
  TempDir dir;
  auto ckpt =
      checkpoint(L::ModelCheckpointOptions().dirpath(dir.file("ckpts")).save_weights_only(true));
  fit(std::make_shared<L::testing::BoringModule>(), dir.str(), 1, {ckpt});
  L::Checkpoint c = L::read_checkpoint(ckpt->best_model_path());
  EXPECT_TRUE(c.contains("state_dict"));
  EXPECT_FALSE(c.contains("optimizer_states"));
  EXPECT_FALSE(c.contains("callbacks"));
}
