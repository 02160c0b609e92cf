// self.log semantics, with numbers: per-hook defaults, _step/_epoch names,
// batch-size weighted means with an uneven last batch, sum/max/min,
// log_every_n_steps, the three metric maps, and the forbidden hooks.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/boring.h"

namespace L = lightning;
using L::testing::BoringModule;
using L::testing::RecordingLogger;
using ::testing::HasSubstr;

namespace {

double value(const L::TensorMetrics& m, const std::string& key) {
  auto it = m.find(key);
  EXPECT_NE(it, m.end()) << "missing metric " << key;
  return it == m.end() ? NAN : it->second.item<double>();
}

// 10 samples in batches of 4, 4, 2.
class StepLogger : public BoringModule {
 public:
  L::StepOutput training_step(L::Batch& batch, int64_t batch_idx) override {
    const double v = static_cast<double>(batch_idx + 1);
    log("v", v, L::LogOptions().on_step(true).on_epoch(true).prog_bar(true));
    log("s", v, L::LogOptions().on_epoch(true).on_step(false).reduce_fx("sum"));
    log("mx", at::scalar_tensor(v), L::LogOptions().on_step(false).on_epoch(true).reduce_fx("max"));
    log("mn", at::scalar_tensor(v), L::LogOptions().on_step(false).on_epoch(true).reduce_fx("min"));
    log("plain", v);  // training defaults: on_step only
    return BoringModule::training_step(batch, batch_idx);
  }
  L::StepOutput validation_step(L::Batch& batch, int64_t batch_idx) override {
    log("val_v", static_cast<double>(batch_idx + 1));  // eval defaults: on_epoch only
    log("val_fixed_bs", static_cast<double>(batch_idx + 1), L::LogOptions().batch_size(1));
    return {};
  }
  L::DataLoaders train_dataloader() override { return L::testing::loader(10, 4); }
  L::DataLoaders val_dataloader() override { return L::testing::loader(10, 4); }
};

}  // namespace

TEST(Logging, StepAndEpochValuesWithUnevenLastBatch) {
  auto logger = std::make_shared<RecordingLogger>();
  auto module = std::make_shared<StepLogger>();
  L::Trainer trainer(
      L::testing::quiet().max_epochs(1).log_every_n_steps(1).num_sanity_val_steps(0).logger(
          logger));
  trainer.fit(module);

  // Step rows: batches 0, 1, 2 at steps 0, 1, 2 with "epoch" = 0.
  std::vector<std::pair<int64_t, L::Metrics>> step_rows;
  for (const auto& row : logger->rows) {
    if (row.second.count("v_step")) step_rows.push_back(row);
  }
  ASSERT_EQ(step_rows.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(step_rows[i].first, i);
    EXPECT_DOUBLE_EQ(step_rows[i].second.at("v_step"), i + 1.0);
    EXPECT_DOUBLE_EQ(step_rows[i].second.at("plain"), i + 1.0);
    EXPECT_DOUBLE_EQ(step_rows[i].second.at("epoch"), 0.0);
    EXPECT_EQ(step_rows[i].second.count("v"), 0u);
    EXPECT_EQ(step_rows[i].second.count("s"), 0u);
  }

  const auto& m = trainer.callback_metrics();
  // Mean weighted by batch size: (1*4 + 2*4 + 3*2) / 10.
  EXPECT_NEAR(value(m, "v_epoch"), 1.8, 1e-6);
  EXPECT_NEAR(value(m, "v"), 1.8, 1e-6);
  EXPECT_NEAR(value(m, "v_step"), 3.0, 1e-6);
  EXPECT_NEAR(value(m, "s"), 6.0, 1e-6);
  EXPECT_NEAR(value(m, "mx"), 3.0, 1e-6);
  EXPECT_NEAR(value(m, "mn"), 1.0, 1e-6);
  EXPECT_NEAR(value(m, "plain"), 3.0, 1e-6);
  // Validation: weighted (1*4 + 2*4 + 3*2)/10 and with batch_size(1) a plain mean 2.
  EXPECT_NEAR(value(m, "val_v"), 1.8, 1e-6);
  EXPECT_NEAR(value(m, "val_fixed_bs"), 2.0, 1e-6);

  // The epoch row, at the last step, carries the epoch reductions.
  bool found_epoch_row = false;
  for (const auto& [step, row] : logger->rows) {
    if (!row.count("v_epoch")) continue;
    found_epoch_row = true;
    EXPECT_EQ(step, 2);
    EXPECT_NEAR(row.at("v_epoch"), 1.8, 1e-6);
    EXPECT_NEAR(row.at("s"), 6.0, 1e-6);
    EXPECT_NEAR(row.at("mx"), 3.0, 1e-6);
    EXPECT_NEAR(row.at("mn"), 1.0, 1e-6);
    EXPECT_EQ(row.count("v_step"), 0u);
  }
  EXPECT_TRUE(found_epoch_row);

  const auto& logged = trainer.logged_metrics();
  EXPECT_NEAR(value(logged, "v_epoch"), 1.8, 1e-6);
  EXPECT_NEAR(value(logged, "val_v"), 1.8, 1e-6);
  EXPECT_EQ(logged.count("v"), 0u);  // loggers see the forked names only

  const auto& bar = trainer.progress_bar_metrics();
  EXPECT_NEAR(value(bar, "v_step"), 3.0, 1e-6);
  EXPECT_NEAR(value(bar, "v_epoch"), 1.8, 1e-6);
  EXPECT_EQ(bar.count("s"), 0u);
  EXPECT_EQ(logger->status, "success");
}

TEST(Logging, LogEveryNSteps) {
  struct M : BoringModule {
    L::StepOutput training_step(L::Batch& b, int64_t i) override {
      log("i", static_cast<double>(i));
      return BoringModule::training_step(b, i);
    }
    L::DataLoaders train_dataloader() override { return L::testing::loader(10, 2); }
  };
  auto logger = std::make_shared<RecordingLogger>();
  L::Trainer trainer(L::testing::quiet().max_epochs(1).log_every_n_steps(2).logger(logger));
  trainer.fit(std::make_shared<M>());
  // 5 batches: rows after the 2nd and 4th (steps 1 and 3), each with its latest value.
  ASSERT_EQ(logger->rows.size(), 2u);
  EXPECT_EQ(logger->rows[0].first, 1);
  EXPECT_DOUBLE_EQ(logger->rows[0].second.at("i"), 1.0);
  EXPECT_EQ(logger->rows[1].first, 3);
  EXPECT_DOUBLE_EQ(logger->rows[1].second.at("i"), 3.0);
}

TEST(Logging, MaxStepsForcesALastRow) {
  struct M : BoringModule {
    L::StepOutput training_step(L::Batch& b, int64_t i) override {
      log("i", static_cast<double>(i));
      return BoringModule::training_step(b, i);
    }
    L::DataLoaders train_dataloader() override { return L::testing::loader(10, 2); }
  };
  auto logger = std::make_shared<RecordingLogger>();
  L::Trainer trainer(L::testing::quiet().max_steps(3).log_every_n_steps(50).logger(logger));
  trainer.fit(std::make_shared<M>());
  ASSERT_EQ(logger->rows.size(), 1u);
  EXPECT_EQ(logger->rows[0].first, 2);
  EXPECT_DOUBLE_EQ(logger->rows[0].second.at("i"), 2.0);
}

TEST(Logging, LogDictAndHyperparameters) {
  struct M : BoringModule {
    M() { save_hyperparameters({{"lr", 0.1}, {"name", "boring"}}); }
    L::StepOutput validation_step(L::Batch& b, int64_t) override {
      log_dict(std::map<std::string, double>{{"a", 1.0}, {"b", 2.0}});
      log_dict(std::map<std::string, at::Tensor>{{"c", at::scalar_tensor(3.0)}});
      return {};
    }
  };
  auto logger = std::make_shared<RecordingLogger>();
  L::Trainer trainer(L::testing::quiet().logger(logger));
  auto results = trainer.validate(std::make_shared<M>(), L::testing::loader(6, 3));
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0], (L::Metrics{{"a", 1.0}, {"b", 2.0}, {"c", 3.0}}));
}

TEST(Logging, SeveralEvalDataloadersGetSuffixes) {
  struct M : BoringModule {
    L::StepOutput test_step(L::Batch&, int64_t, int64_t dataloader_idx) override {
      log("idx", static_cast<double>(dataloader_idx));
      return {};
    }
    using BoringModule::test_step;
  };
  L::Trainer trainer(L::testing::quiet());
  auto results = trainer.test(std::make_shared<M>(),
                              L::DataLoaders{L::testing::loader(4, 2), L::testing::loader(6, 2)});
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0], (L::Metrics{{"idx/dataloader_idx_0", 0.0}}));
  EXPECT_EQ(results[1], (L::Metrics{{"idx/dataloader_idx_1", 1.0}}));
}

TEST(Logging, EpochEndHookValuesReachTheLoggers) {
  struct M : BoringModule {
    void on_train_epoch_end() override { log("epoch_metric", 42.0); }
    L::DataLoaders train_dataloader() override { return L::testing::loader(4, 2); }
  };
  auto logger = std::make_shared<RecordingLogger>();
  L::Trainer trainer(L::testing::quiet().max_epochs(2).logger(logger));
  trainer.fit(std::make_shared<M>());
  std::vector<std::pair<int64_t, double>> seen;
  for (const auto& [step, row] : logger->rows) {
    if (row.count("epoch_metric")) seen.emplace_back(step, row.at("epoch"));
  }
  EXPECT_EQ(seen, (std::vector<std::pair<int64_t, double>>{{1, 0.0}, {3, 1.0}}));
  EXPECT_NEAR(value(trainer.callback_metrics(), "epoch_metric"), 42.0, 1e-9);
}

TEST(Logging, SanityCheckMetricsAreDiscarded) {
  struct M : BoringModule {
    L::StepOutput validation_step(L::Batch&, int64_t) override {
      log("seen_in_sanity", trainer().sanity_checking() ? 1.0 : 0.0);
      return {};
    }
    L::DataLoaders train_dataloader() override { return L::testing::loader(4, 2); }
    L::DataLoaders val_dataloader() override { return L::testing::loader(4, 2); }
  };
  L::Trainer trainer(L::testing::quiet().max_epochs(1).num_sanity_val_steps(2));
  trainer.fit(std::make_shared<M>());
  EXPECT_NEAR(value(trainer.callback_metrics(), "seen_in_sanity"), 0.0, 1e-9);
}

namespace {

void expect_fit_error(std::shared_ptr<L::LightningModule> module, const std::string& text) {
  L::Trainer trainer(L::testing::quiet().max_epochs(1).num_sanity_val_steps(0));
  EXPECT_LIGHTNING_ERROR(trainer.fit(module), text);
}

}  // namespace

TEST(Logging, ForbiddenHooksNameTheHook) {
  struct FitStart : BoringModule {
    void on_fit_start() override { log("x", 1.0); }
    L::DataLoaders train_dataloader() override { return L::testing::loader(4, 2); }
  };
  expect_fit_error(std::make_shared<FitStart>(), "You can't self.log('x') inside `on_fit_start`");

  struct Transfer : BoringModule {
    L::Batch on_before_batch_transfer(L::Batch b, int64_t) override {
      log("x", 1.0);
      return b;
    }
    L::DataLoaders train_dataloader() override { return L::testing::loader(4, 2); }
  };
  expect_fit_error(std::make_shared<Transfer>(), "inside `on_before_batch_transfer`");

  struct TrainEnd : BoringModule {
    void on_train_end() override { log("x", 1.0); }
    L::DataLoaders train_dataloader() override { return L::testing::loader(4, 2); }
  };
  expect_fit_error(std::make_shared<TrainEnd>(), "inside `on_train_end`");

  struct ValidationEnd : BoringModule {
    void on_validation_end() override { log("x", 1.0); }
    L::DataLoaders train_dataloader() override { return L::testing::loader(4, 2); }
    L::DataLoaders val_dataloader() override { return L::testing::loader(4, 2); }
  };
  expect_fit_error(std::make_shared<ValidationEnd>(),
                   "You can't self.log('x') inside `on_validation_end`");

  struct EpochEndOnStep : BoringModule {
    void on_train_epoch_end() override { log("x", 1.0, L::LogOptions().on_step(true)); }
    L::DataLoaders train_dataloader() override { return L::testing::loader(4, 2); }
  };
  expect_fit_error(std::make_shared<EpochEndOnStep>(),
                   "You can't self.log('x', on_step=true) inside `on_train_epoch_end`");

  struct Predict : BoringModule {
    c10::IValue predict_step(L::Batch& b, int64_t) override {
      log("x", 1.0);
      return b[0];
    }
  };
  L::Trainer trainer(L::testing::quiet());
  EXPECT_LIGHTNING_ERROR(trainer.predict(std::make_shared<Predict>(), L::testing::loader(4, 2)),
                         "inside `predict_step`");

  struct Setup : BoringModule {
    void setup(L::Stage) override { log("x", 1.0); }
  };
  EXPECT_LIGHTNING_ERROR(trainer.test(std::make_shared<Setup>(), L::testing::loader(4, 2)),
                         "inside `setup`");
}

TEST(Logging, BadValuesAndOptions) {
  struct NonScalar : BoringModule {
    L::StepOutput training_step(L::Batch& b, int64_t) override {
      log("vec", at::ones({3}));
      return {};
    }
    L::DataLoaders train_dataloader() override { return L::testing::loader(4, 2); }
  };
  expect_fit_error(std::make_shared<NonScalar>(),
                   "self.log('vec') needs a scalar (one-element) tensor, got shape [3]");

  struct BadReduce : BoringModule {
    L::StepOutput training_step(L::Batch& b, int64_t) override {
      log("x", 1.0, L::LogOptions().reduce_fx("median"));
      return {};
    }
    L::DataLoaders train_dataloader() override { return L::testing::loader(4, 2); }
  };
  expect_fit_error(std::make_shared<BadReduce>(),
                   "reduce_fx must be \"mean\", \"sum\", \"max\" or \"min\", got \"median\"");

  struct Nothing : BoringModule {
    L::StepOutput training_step(L::Batch& b, int64_t) override {
      log("x", 1.0, L::LogOptions().on_step(false).on_epoch(false));
      return {};
    }
    L::DataLoaders train_dataloader() override { return L::testing::loader(4, 2); }
  };
  expect_fit_error(std::make_shared<Nothing>(), "on_step=false and on_epoch=false logs nothing");

  struct BadBatchSize : BoringModule {
    L::StepOutput training_step(L::Batch& b, int64_t) override {
      log("x", 1.0, L::LogOptions().batch_size(0));
      return {};
    }
    L::DataLoaders train_dataloader() override { return L::testing::loader(4, 2); }
  };
  expect_fit_error(std::make_shared<BadBatchSize>(), "batch_size must be >= 1, got 0");
}

TEST(Logging, OnTrainStartValuesCountInTheFirstEpoch) {
  // Lightning keeps what on_train_start logs: it is reduced with epoch 0.
  struct TrainStart : BoringModule {
    void on_train_start() override { log("start", 5.0); }
    L::DataLoaders train_dataloader() override { return L::testing::loader(4, 2); }
  };
  L::Trainer trainer(L::testing::quiet().max_epochs(2));
  trainer.fit(std::make_shared<TrainStart>());
  ASSERT_EQ(trainer.callback_metrics().count("start"), 1u);
  EXPECT_DOUBLE_EQ(trainer.callback_metrics().at("start").item<double>(), 5.0);
}
