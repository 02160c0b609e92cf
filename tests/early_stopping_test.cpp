// EarlyStopping: patience, min_delta, modes, thresholds, non-finite values,
// strictness, min_epochs, where it checks, state and Lightning's messages.
#include "lightning/callbacks/early_stopping.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "lightning/lightning.h"
#include "support/boring.h"
#include "support/errors.h"
#include "support/scripted.h"

namespace L = lightning;
using L::testing::loader;
using L::testing::quiet;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

using L::testing::Scripted;

struct Outcome {
  int64_t epochs = 0;  // training epochs that ran
  std::shared_ptr<L::EarlyStopping> callback;
};

/// Fits a Scripted module (4 training batches, 1 validation batch per epoch)
/// for at most `max_epochs` with an EarlyStopping of `options`.
Outcome run(std::vector<double> values, L::EarlyStoppingOptions options, int64_t max_epochs = 20,
            L::TrainerOptions trainer_options = quiet(), bool in_training = false) {
  auto counter = std::make_shared<L::testing::CountingCallback>();
  auto early = std::make_shared<L::EarlyStopping>(options);
  L::Trainer trainer(trainer_options.max_epochs(max_epochs).callbacks({counter, early}));
  auto model = std::make_shared<Scripted>(std::move(values), options.monitor(), in_training);
  if (in_training) {
    trainer.fit(model, loader(8, 2));
  } else {
    trainer.fit(model, loader(8, 2), loader(2, 2));
  }
  return {counter->epochs, early};
}

}  // namespace

TEST(EarlyStopping, StopsAfterPatienceChecksWithoutImprovement) {
  Outcome r = run({5, 4, 4, 4, 4, 4, 4}, L::EarlyStoppingOptions("val_metric").patience(3));
  EXPECT_EQ(r.epochs, 5);  // improved at 0 and 1, then 3 checks without
  EXPECT_EQ(r.callback->stopped_epoch(), 4);
  EXPECT_EQ(r.callback->wait_count(), 3);
  EXPECT_DOUBLE_EQ(r.callback->best_score(), 4.0);
  EXPECT_EQ(r.callback->stopping_reason_message(),
            "Monitored metric val_metric did not improve in the last 3 records. Best score: "
            "4.000. Signaling Trainer to stop.");
}

TEST(EarlyStopping, ImprovementResetsTheWait) {
  Outcome r = run({5, 4, 4, 3, 3, 3, 3}, L::EarlyStoppingOptions("val_metric").patience(2));
  EXPECT_EQ(r.epochs, 6);  // improved at 0, 1, 3; no improvement at 4, 5
  EXPECT_EQ(r.callback->stopped_epoch(), 5);
}

TEST(EarlyStopping, NeverStopsWhileImproving) {
  Outcome r = run({9, 8, 7, 6, 5}, L::EarlyStoppingOptions("val_metric").patience(1), 5);
  EXPECT_EQ(r.epochs, 5);
  EXPECT_EQ(r.callback->stopped_epoch(), 0);
  EXPECT_EQ(r.callback->stopping_reason_message(), "");
}

TEST(EarlyStopping, MinDeltaIgnoresSmallImprovements) {
  Outcome r = run({5, 4.95, 4.92, 4.94, 4.8}, L::EarlyStoppingOptions("val_metric").min_delta(0.1));
  EXPECT_EQ(r.epochs, 4);
  EXPECT_DOUBLE_EQ(r.callback->best_score(), 5.0);
  // Without min_delta 4.95 and 4.92 improve, so it runs to the end.
  Outcome plain = run({5, 4.95, 4.92, 4.94, 4.8}, L::EarlyStoppingOptions("val_metric"), 5);
  EXPECT_EQ(plain.epochs, 5);
  EXPECT_FLOAT_EQ(plain.callback->best_score(), 4.8f);
}

TEST(EarlyStopping, ModeMax) {
  Outcome r = run({1, 2, 2, 1.5, 3}, L::EarlyStoppingOptions("val_metric").mode("max").patience(2));
  EXPECT_EQ(r.epochs, 4);
  EXPECT_DOUBLE_EQ(r.callback->best_score(), 2.0);
  Outcome delta = run({1, 2, 2.05, 2.1, 3},
                      L::EarlyStoppingOptions("val_metric").mode("max").patience(2).min_delta(0.5));
  EXPECT_EQ(delta.epochs, 4);
}

TEST(EarlyStopping, StoppingThreshold) {
  Outcome r = run({3, 2, 1, 0.4, 0.3},
                  L::EarlyStoppingOptions("val_metric").stopping_threshold(0.5).patience(10));
  EXPECT_EQ(r.epochs, 4);
  EXPECT_EQ(r.callback->stopped_epoch(), 3);
  // The value prints as Python prints a float32 tensor.
  EXPECT_EQ(r.callback->stopping_reason_message(),
            "Stopping threshold reached: val_metric = 0.4000000059604645 < 0.5. Signaling "
            "Trainer to stop.");
}

TEST(EarlyStopping, DivergenceThreshold) {
  Outcome r = run({3, 20, 1},
                  L::EarlyStoppingOptions("val_metric").divergence_threshold(10.0).patience(10));
  EXPECT_EQ(r.epochs, 2);
  // Lightning prints the mode's sign ("<" in min mode) here too.
  EXPECT_EQ(r.callback->stopping_reason_message(),
            "Divergence threshold reached: val_metric = 20.0 < 10.0. Signaling Trainer to stop.");
  Outcome max =
      run({3, 0.5}, L::EarlyStoppingOptions("val_metric").mode("max").divergence_threshold(1));
  EXPECT_EQ(max.epochs, 2);
  EXPECT_EQ(max.callback->stopping_reason_message(),
            "Divergence threshold reached: val_metric = 0.5 > 1.0. Signaling Trainer to stop.");
}

TEST(EarlyStopping, CheckFiniteStopsOnNan) {
  Outcome r = run({3, NAN, 2}, L::EarlyStoppingOptions("val_metric").patience(10));
  EXPECT_EQ(r.epochs, 2);
  EXPECT_EQ(r.callback->stopping_reason_message(),
            "Monitored metric val_metric = nan is not finite. Previous best value was 3.000. "
            "Signaling Trainer to stop.");
  Outcome inf = run({INFINITY}, L::EarlyStoppingOptions("val_metric").patience(10));
  EXPECT_EQ(inf.epochs, 1);
  EXPECT_EQ(inf.callback->stopping_reason_message(),
            "Monitored metric val_metric = inf is not finite. Previous best value was inf. "
            "Signaling Trainer to stop.");
  // check_finite(false): NaN is just no improvement.
  Outcome off = run({3, NAN, NAN, 2},
                    L::EarlyStoppingOptions("val_metric").patience(10).check_finite(false), 4);
  EXPECT_EQ(off.epochs, 4);
  EXPECT_DOUBLE_EQ(off.callback->best_score(), 2.0);
}

TEST(EarlyStopping, StrictMissingMetricListsTheMetrics) {
  auto early = std::make_shared<L::EarlyStopping>(L::EarlyStoppingOptions("val_los"));
  L::Trainer trainer(quiet().max_epochs(3).callbacks({early}));
  EXPECT_LIGHTNING_ERROR(trainer.fit(std::make_shared<Scripted>(std::vector<double>{1}, "val_loss"),
                                     loader(8, 2), loader(2, 2)),
                         "Early stopping conditioned on metric `val_los` which is not available. "
                         "Pass in or modify your `EarlyStopping` callback to use any of the "
                         "following: `val_loss`");
}

TEST(EarlyStopping, NonStrictMissingMetricSkipsTheCheck) {
  auto counter = std::make_shared<L::testing::CountingCallback>();
  auto early = std::make_shared<L::EarlyStopping>(
      L::EarlyStoppingOptions("nope").strict(false).patience(0).verbose(true));
  L::Trainer trainer(quiet().max_epochs(3).callbacks({counter, early}));
  ::testing::internal::CaptureStderr();
  trainer.fit(std::make_shared<Scripted>(std::vector<double>{1}), loader(8, 2), loader(2, 2));
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(counter->epochs, 3);
  EXPECT_THAT(err, HasSubstr("warning: Early stopping conditioned on metric `nope` which is not "
                             "available. Pass in or modify your `EarlyStopping` callback to use "
                             "any of the following: `val_metric`"));
  // Not verbose: silent, as Lightning.
  auto quiet_early =
      std::make_shared<L::EarlyStopping>(L::EarlyStoppingOptions("nope").strict(false));
  L::Trainer t2(quiet().max_epochs(1).callbacks({quiet_early}));
  ::testing::internal::CaptureStderr();
  t2.fit(std::make_shared<Scripted>(std::vector<double>{1}), loader(8, 2), loader(2, 2));
  EXPECT_THAT(::testing::internal::GetCapturedStderr(), Not(HasSubstr("Early stopping")));
}

TEST(EarlyStopping, MinEpochsKeepsTraining) {
  Outcome r = run({1, 1, 1, 1, 1, 1, 1}, L::EarlyStoppingOptions("val_metric").patience(1), 20,
                  quiet().min_epochs(5));
  EXPECT_EQ(r.epochs, 5);
  EXPECT_EQ(r.callback->stopped_epoch(), 4);  // asked to stop at every check from epoch 1 on
}

TEST(EarlyStopping, ChecksAtTrainEpochEndWithoutValidation) {
  Outcome r = run({5, 6, 7, 8}, L::EarlyStoppingOptions("train_metric").patience(2), 20, quiet(),
                  /*in_training=*/true);
  EXPECT_EQ(r.epochs, 3);
}

TEST(EarlyStopping, ChecksAfterValidationWhenItDoesNotRunEveryEpoch) {
  // check_val_every_n_epoch=2: checks at validation end (epochs 1, 3, 5, ...),
  // not at every training epoch end (epoch 0 has no val_metric yet).
  Outcome r = run({1, 1, 1, 1, 1, 1, 1, 1}, L::EarlyStoppingOptions("val_metric").patience(1), 20,
                  quiet().check_val_every_n_epoch(2));
  EXPECT_EQ(r.epochs, 4);  // improved at epoch 1, no improvement at epoch 3
  EXPECT_EQ(r.callback->stopped_epoch(), 3);

  // Forcing the training epoch end there fails at epoch 0, as in Lightning.
  EXPECT_LIGHTNING_ERROR(
      run({1}, L::EarlyStoppingOptions("val_metric").check_on_train_epoch_end(true), 20,
          quiet().check_val_every_n_epoch(2)),
      "Early stopping conditioned on metric `val_metric` which is not available");
}

TEST(EarlyStopping, ChecksAfterEachValidationWhenSeveralPerEpoch) {
  // val_check_interval=0.5: two checks per epoch.
  Outcome r = run({1, 1, 1}, L::EarlyStoppingOptions("val_metric").patience(1), 20,
                  quiet().val_check_interval(0.5));
  EXPECT_EQ(r.epochs, 1);  // improved at the first check, not at the second
}

TEST(EarlyStopping, StateDictRoundTrip) {
  Outcome r = run({5, 4, 4, 4, 4}, L::EarlyStoppingOptions("val_metric").patience(3));
  EXPECT_EQ(r.callback->state_key(), "EarlyStopping{'monitor': 'val_metric', 'mode': 'min'}");
  L::StateDict state = r.callback->state_dict();
  std::vector<std::string> keys;
  for (const auto& e : state) keys.push_back(e.key().toStringRef());
  EXPECT_THAT(keys, ElementsAre("wait_count", "stopped_epoch", "best_score", "patience"));
  EXPECT_EQ(state.at("wait_count").toInt(), 3);
  EXPECT_EQ(state.at("stopped_epoch").toInt(), 4);
  ASSERT_TRUE(state.at("best_score").isTensor());
  EXPECT_EQ(state.at("best_score").toTensor().item<double>(), 4.0);
  EXPECT_EQ(state.at("patience").toInt(), 3);

  L::EarlyStopping fresh(L::EarlyStoppingOptions("val_metric").patience(7));
  EXPECT_TRUE(std::isinf(fresh.best_score()));
  fresh.load_state_dict(state);
  EXPECT_EQ(fresh.wait_count(), 3);
  EXPECT_EQ(fresh.stopped_epoch(), 4);
  EXPECT_DOUBLE_EQ(fresh.best_score(), 4.0);
  EXPECT_EQ(fresh.options().patience(), 3);  // restored, as Lightning

  // A plain number loads too.
  L::StateDict numbers = L::make_state_dict();
  numbers.insert("wait_count", int64_t{1});
  numbers.insert("stopped_epoch", int64_t{0});
  numbers.insert("best_score", 0.25);
  numbers.insert("patience", int64_t{2});
  fresh.load_state_dict(numbers);
  EXPECT_DOUBLE_EQ(fresh.best_score(), 0.25);
  EXPECT_EQ(L::EarlyStopping(L::EarlyStoppingOptions("acc").mode("max")).state_key(),
            "EarlyStopping{'monitor': 'acc', 'mode': 'max'}");
}

TEST(EarlyStopping, VerbosePrintsEveryReason) {
  ::testing::internal::CaptureStderr();
  run({5, 4, 4}, L::EarlyStoppingOptions("val_metric").patience(1).verbose(true));
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(err, HasSubstr("Metric val_metric improved. New best score: 5.000\n"));
  EXPECT_THAT(err, HasSubstr("Metric val_metric improved by 1.000 >= min_delta = 0.0. New best "
                             "score: 4.000\n"));
  EXPECT_THAT(err, HasSubstr("Monitored metric val_metric did not improve in the last 1 records. "
                             "Best score: 4.000. Signaling Trainer to stop.\n"));
}

TEST(EarlyStopping, NothingDuringSanityCheckOrFastDevRun) {
  // The sanity check logs val_metric = NaN; it must not count.
  class SanityNan : public L::testing::BoringModule {
   public:
    L::StepOutput validation_step(L::Batch&, int64_t) override {
      log("val_metric", trainer().sanity_checking() ? NAN : 1.0);
      return {};
    }
  };
  auto counter = std::make_shared<L::testing::CountingCallback>();
  auto early = std::make_shared<L::EarlyStopping>(L::EarlyStoppingOptions("val_metric"));
  L::Trainer trainer(quiet().max_epochs(3).callbacks({counter, early}));
  trainer.fit(std::make_shared<SanityNan>(), loader(8, 2), loader(2, 2));
  EXPECT_EQ(counter->epochs, 3);
  EXPECT_EQ(early->stopping_reason_message(), "");
  EXPECT_DOUBLE_EQ(early->best_score(), 1.0);
  Outcome fast = run({NAN}, L::EarlyStoppingOptions("val_metric"), 3, quiet().fast_dev_run(true));
  EXPECT_EQ(fast.callback->stopping_reason_message(), "");
}

TEST(EarlyStopping, InvalidOptions) {
  EXPECT_LIGHTNING_ERROR(L::EarlyStopping(L::EarlyStoppingOptions("x").mode("avg")),
                         "`mode` can be min, max, got avg");
  EXPECT_LIGHTNING_ERROR(L::EarlyStopping(L::EarlyStoppingOptions("x").patience(-1)),
                         "EarlyStopping patience must be >= 0, got -1");
}
