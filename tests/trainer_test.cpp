// Trainer behaviour: limits, validation scheduling, stopping rules, results of
// validate/test/predict, determinism, and the errors a user can cause.
#include <c10/core/InferenceMode.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include "lightning/strategies/ddp.h"
#include "support/boring.h"

namespace L = lightning;
using L::testing::BoringModule;
using L::testing::CountingCallback;
using L::testing::quiet;

namespace {

// BoringModule with its own loaders: `train_n` samples in batches of 2, val 8 samples.
struct Data : BoringModule {
  explicit Data(int64_t train_n = 20, int64_t val_n = 8) : train_n(train_n), val_n(val_n) {}
  L::DataLoaders train_dataloader() override { return L::testing::loader(train_n, 2); }
  L::DataLoaders val_dataloader() override { return L::testing::loader(val_n, 2); }
  int64_t train_n, val_n;
};

struct FitRun {
  std::shared_ptr<CountingCallback> counter = std::make_shared<CountingCallback>();
  std::unique_ptr<L::Trainer> trainer;
  FitRun(L::TrainerOptions options, std::shared_ptr<L::LightningModule> module = nullptr) {
    trainer = std::make_unique<L::Trainer>(options.callbacks({counter}));
    trainer->fit(module ? module : std::make_shared<Data>());
  }
};

std::vector<int64_t> range(int64_t n) {
  std::vector<int64_t> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = i;
  return v;
}

std::vector<int64_t> repeat(const std::vector<int64_t>& v, int times) {
  std::vector<int64_t> out;
  for (int i = 0; i < times; ++i) out.insert(out.end(), v.begin(), v.end());
  return out;
}

}  // namespace

TEST(TrainerLimits, MaxEpochs) {
  FitRun r(quiet().max_epochs(3).num_sanity_val_steps(0));
  EXPECT_EQ(r.counter->train_batches, repeat(range(10), 3));
  EXPECT_EQ(r.trainer->current_epoch(), 3);
  EXPECT_EQ(r.trainer->global_step(), 30);
  EXPECT_EQ(r.counter->val_runs_at_step, (std::vector<int64_t>{10, 20, 30}));
  EXPECT_EQ(r.counter->val_batches, 12);
}

TEST(TrainerLimits, MaxEpochsDefaultsTo1000UnlessMaxStepsIsSet) {
  EXPECT_EQ(L::Trainer(quiet()).max_epochs(), 1000);
  EXPECT_EQ(L::Trainer(quiet().max_steps(5)).max_epochs(), -1);
  EXPECT_EQ(L::Trainer(quiet().max_steps(5).max_epochs(2)).max_epochs(), 2);
}

TEST(TrainerLimits, MaxStepsStopsMidEpoch) {
  FitRun r(quiet().max_steps(13).num_sanity_val_steps(0));
  EXPECT_EQ(r.trainer->global_step(), 13);
  EXPECT_EQ(r.counter->train_batches.size(), 13u);
  EXPECT_EQ(r.trainer->current_epoch(), 2);  // epoch 1 ended early, the loop then stops
}

TEST(TrainerLimits, LimitTrainBatchesIntAndFraction) {
  FitRun a(quiet().max_epochs(2).limit_train_batches(3).num_sanity_val_steps(0));
  EXPECT_EQ(a.counter->train_batches, repeat(range(3), 2));
  EXPECT_EQ(a.trainer->num_training_batches(), 3);

  FitRun b(quiet().max_epochs(1).limit_train_batches(0.25).num_sanity_val_steps(0));
  EXPECT_EQ(b.counter->train_batches, range(2));  // int(10 * 0.25)

  FitRun c(quiet().max_epochs(1).limit_train_batches(0.01).num_sanity_val_steps(0));
  EXPECT_EQ(c.counter->train_batches, range(1));  // a positive fraction runs at least one batch

  FitRun d(quiet().max_epochs(1).limit_train_batches(0).num_sanity_val_steps(0));
  EXPECT_TRUE(d.counter->train_batches.empty());
  EXPECT_EQ(d.trainer->global_step(), 0);
}

TEST(TrainerLimits, LimitValAndTestBatches) {
  FitRun r(quiet().max_epochs(1).limit_val_batches(0.5).num_sanity_val_steps(0));
  EXPECT_EQ(r.counter->val_batches, 2);  // 4 val batches * 0.5
  EXPECT_EQ(r.trainer->num_val_batches(), (std::vector<int64_t>{2}));

  FitRun off(quiet().max_epochs(1).limit_val_batches(0));
  EXPECT_EQ(off.counter->val_batches, 0);
  EXPECT_EQ(off.counter->sanity_runs, 0);

  auto counter = std::make_shared<CountingCallback>();
  L::Trainer trainer(quiet().limit_test_batches(3).callbacks({counter}));
  trainer.test(std::make_shared<BoringModule>(), L::testing::loader(20, 2));
  EXPECT_EQ(counter->test_batches, 3);
  EXPECT_EQ(trainer.num_test_batches(), (std::vector<int64_t>{3}));

  L::Trainer predictor(quiet().limit_predict_batches(0.5));
  EXPECT_EQ(predictor.predict(std::make_shared<BoringModule>(), L::testing::loader(20, 2)).size(),
            5u);
}

TEST(TrainerLimits, FastDevRun) {
  auto logger = std::make_shared<L::testing::RecordingLogger>();
  FitRun r(quiet().fast_dev_run(true).max_epochs(5).logger(logger));
  EXPECT_EQ(r.counter->train_batches, range(1));
  EXPECT_EQ(r.counter->val_batches, 1);
  EXPECT_EQ(r.counter->sanity_runs, 0);
  EXPECT_EQ(r.trainer->global_step(), 1);
  EXPECT_TRUE(logger->rows.empty());  // fast_dev_run turns loggers off
  EXPECT_TRUE(r.trainer->loggers().empty());

  FitRun seven(quiet().fast_dev_run(7));
  EXPECT_EQ(seven.counter->train_batches, range(7));
  EXPECT_EQ(seven.counter->val_batches, 4);  // only 4 val batches exist
  EXPECT_EQ(seven.trainer->current_epoch(), 1);
}

TEST(TrainerLimits, ValCheckIntervalInt) {
  FitRun r(quiet().max_epochs(2).val_check_interval(4).num_sanity_val_steps(0));
  // Every 4 batches within an epoch of 10: after batches 4 and 8 of each epoch.
  EXPECT_EQ(r.counter->val_runs_at_step, (std::vector<int64_t>{4, 8, 14, 18}));
}

TEST(TrainerLimits, ValCheckIntervalFraction) {
  FitRun r(quiet().max_epochs(1).val_check_interval(0.5).num_sanity_val_steps(0));
  EXPECT_EQ(r.counter->val_runs_at_step, (std::vector<int64_t>{5, 10}));
  // As in Lightning: 0.3 of 10 batches is every 3 batches; the epoch end is not a multiple.
  FitRun s(quiet().max_epochs(1).val_check_interval(0.3).num_sanity_val_steps(0));
  EXPECT_EQ(s.counter->val_runs_at_step, (std::vector<int64_t>{3, 6, 9}));
}

TEST(TrainerLimits, CheckValEveryNEpoch) {
  FitRun r(quiet().max_epochs(5).check_val_every_n_epoch(2).num_sanity_val_steps(0));
  EXPECT_EQ(r.counter->val_runs_at_step, (std::vector<int64_t>{20, 40}));
}

TEST(TrainerLimits, NumSanityValSteps) {
  struct SanityCount : CountingCallback {
    void on_validation_batch_end(L::Trainer& t, L::LightningModule& m, const L::StepOutput& o,
                                 L::Batch& b, int64_t i, int64_t d) override {
      if (t.sanity_checking()) ++sanity_batches;
    }
    int64_t sanity_batches = 0;
  };
  for (auto [steps, expected] :
       std::vector<std::pair<int64_t, int64_t>>{{0, 0}, {2, 2}, {3, 3}, {-1, 4}, {10, 4}}) {
    auto counter = std::make_shared<SanityCount>();
    L::Trainer trainer(
        quiet().max_epochs(1).limit_train_batches(1).num_sanity_val_steps(steps).callbacks(
            {counter}));
    trainer.fit(std::make_shared<Data>());
    EXPECT_EQ(counter->sanity_batches, expected) << "num_sanity_val_steps=" << steps;
    EXPECT_EQ(counter->sanity_runs, expected > 0 ? 1 : 0);
  }
}

TEST(TrainerLimits, OverfitBatches) {
  struct Order : CountingCallback {
    void on_train_batch_end(L::Trainer& t, L::LightningModule& m, const L::StepOutput& o,
                            L::Batch& b, int64_t i) override {
      firsts.push_back(b[0][0][0].item<double>());
    }
    std::vector<double> firsts;
  };
  struct Shuffled : BoringModule {
    L::DataLoaders train_dataloader() override { return L::testing::loader(20, 2, true); }
    L::DataLoaders val_dataloader() override { return L::testing::loader(8, 2); }
  };
  auto order = std::make_shared<Order>();
  L::Trainer trainer(
      quiet().max_epochs(2).overfit_batches(3).num_sanity_val_steps(0).callbacks({order}));
  trainer.fit(std::make_shared<Shuffled>());
  ASSERT_EQ(order->firsts.size(), 6u);
  // Shuffling is off: both epochs see the same three batches in the same order.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(order->firsts[i], order->firsts[i + 3]);
  EXPECT_EQ(order->val_batches, 6);  // val limited to 3 batches as well
}

TEST(TrainerStopping, ShouldStopHonoursMinEpochs) {
  struct Stop : CountingCallback {
    void on_train_batch_end(L::Trainer& t, L::LightningModule& m, const L::StepOutput& o,
                            L::Batch& b, int64_t i) override {
      CountingCallback::on_train_batch_end(t, m, o, b, i);
      t.set_should_stop(true);
    }
  };
  auto stop = std::make_shared<Stop>();
  L::Trainer trainer(
      quiet().max_epochs(10).min_epochs(2).num_sanity_val_steps(0).callbacks({stop}));
  trainer.fit(std::make_shared<Data>());
  // Lightning: the stop request waits for min_epochs; epochs 0 and 1 run fully, then it stops.
  EXPECT_EQ(trainer.current_epoch(), 2);
  EXPECT_EQ(trainer.global_step(), 20);

  auto stop2 = std::make_shared<Stop>();
  L::Trainer immediate(quiet().max_epochs(10).num_sanity_val_steps(0).callbacks({stop2}));
  immediate.fit(std::make_shared<Data>());
  EXPECT_EQ(immediate.global_step(), 1);
}

TEST(TrainerResults, TestAndValidateReturnMetricsPerDataloader) {
  auto module = std::make_shared<BoringModule>();
  auto data = L::testing::random_dataset(10, 3);
  L::DataLoader loader(data, L::DataLoaderOptions().batch_size(4));
  L::Trainer trainer(quiet());
  auto results = trainer.test(module, loader);
  ASSERT_EQ(results.size(), 1u);
  // Expected: the batch-size weighted mean of the per-batch MSE, i.e. the MSE
  // over all 10 samples (every batch's MSE is a mean over its own samples).
  at::Tensor x = data->tensors()[0], y = data->tensors()[1];
  double expected = 0;
  {
    c10::InferenceMode guard;
    for (int64_t start = 0; start < 10; start += 4) {
      const int64_t n = std::min<int64_t>(4, 10 - start);
      auto xb = x.narrow(0, start, n), yb = y.narrow(0, start, n);
      expected += (module->forward(xb) - yb).pow(2).mean().item<double>() * n;
    }
  }
  // Metrics are reported as float32: allow its rounding (relative 1e-6).
  const double tolerance = 1e-6 * std::max(1.0, std::abs(expected / 10));
  EXPECT_NEAR(results[0].at("test_loss"), expected / 10, tolerance);
  auto validated = trainer.validate(module, loader);
  EXPECT_NEAR(validated[0].at("val_loss"), expected / 10, tolerance);
}

TEST(TrainerResults, EvaluationRunsInEvalAndInferenceModeThenRestoresTrainMode) {
  struct Probe : Data {
    L::StepOutput validation_step(L::Batch&, int64_t) override {
      saw_eval = saw_eval && !is_training();
      saw_inference = saw_inference && c10::InferenceMode::is_enabled();
      return {};
    }
    L::StepOutput training_step(L::Batch& b, int64_t i) override {
      saw_train = saw_train && is_training() && !c10::InferenceMode::is_enabled();
      return Data::training_step(b, i);
    }
    bool saw_eval = true, saw_inference = true, saw_train = true;
  };
  auto module = std::make_shared<Probe>();
  L::Trainer trainer(quiet().max_epochs(2).val_check_interval(3));
  trainer.fit(module);
  EXPECT_TRUE(module->saw_eval);
  EXPECT_TRUE(module->saw_inference);
  EXPECT_TRUE(module->saw_train);
}

TEST(TrainerResults, PredictReturnsOneOutputPerBatch) {
  auto module = std::make_shared<BoringModule>();
  L::Trainer trainer(quiet());
  auto outputs = trainer.predict(module, L::testing::loader(10, 4));
  ASSERT_EQ(outputs.size(), 3u);
  EXPECT_EQ(outputs[2].toTensor().size(0), 2);
  auto nested =
      trainer.predict(module, L::DataLoaders{L::testing::loader(4, 4), L::testing::loader(8, 4)});
  ASSERT_EQ(nested.size(), 2u);
  EXPECT_EQ(nested[1].toList().size(), 2u);
}

TEST(TrainerResults, TrainingLowersTheLoss) {
  auto module = std::make_shared<Data>(200, 8);
  L::Trainer trainer(quiet().max_epochs(5));
  auto before = trainer.validate(module)[0].at("val_loss");
  trainer.fit(module);
  auto after = trainer.validate(module)[0].at("val_loss");
  EXPECT_LT(after, before * 0.1);
}

TEST(TrainerResults, SkippedBatchesTakeNoStep) {
  struct Skip : Data {
    L::StepOutput training_step(L::Batch& b, int64_t i) override {
      if (i % 2 == 1) return {};
      return Data::training_step(b, i);
    }
  };
  L::Trainer trainer(quiet().max_epochs(1).num_sanity_val_steps(0));
  trainer.fit(std::make_shared<Skip>());
  EXPECT_EQ(trainer.global_step(), 5);
  EXPECT_EQ(trainer.loop_state().batches_that_stepped, 10);
}

TEST(TrainerResults, NamedOutputsWithLoss) {
  struct Named : Data {
    L::StepOutput training_step(L::Batch& b, int64_t) override {
      auto l = loss(b);
      return {{"loss", l}, {"extra", l.detach() * 2}};
    }
  };
  L::Trainer trainer(quiet().max_epochs(1).num_sanity_val_steps(0));
  trainer.fit(std::make_shared<Named>());
  EXPECT_EQ(trainer.global_step(), 10);
}

namespace {

// Same seed, same data, same weights: the whole run must repeat exactly.
at::Tensor train_with_seed(uint64_t seed, int64_t num_workers) {
  L::seed_everything(seed);
  struct Det : BoringModule {
    explicit Det(int64_t workers) : workers(workers) {}
    L::DataLoaders train_dataloader() override {
      return L::DataLoader(L::testing::random_dataset(64, 5),
                           L::DataLoaderOptions().batch_size(8).shuffle(true).num_workers(workers));
    }
    int64_t workers;
  };
  auto module = std::make_shared<Det>(num_workers);
  L::Trainer trainer(quiet().max_epochs(3).deterministic(true));
  trainer.fit(module);
  return at::cat({module->layer->weight.flatten(), module->layer->bias.flatten()}).detach();
}

}  // namespace

TEST(TrainerDeterminism, SameSeedGivesBitIdenticalWeights) {
  for (int64_t workers : {0, 2}) {
    auto a = train_with_seed(7, workers);
    auto b = train_with_seed(7, workers);
    EXPECT_TRUE(at::equal(a, b)) << "num_workers=" << workers;
    auto c = train_with_seed(8, workers);
    EXPECT_FALSE(at::equal(a, c)) << "another seed must change the run";
  }
  // Workers build the same batches in the same order.
  EXPECT_TRUE(at::equal(train_with_seed(7, 0), train_with_seed(7, 2)));
}

TEST(TrainerErrors, InvalidOptions) {
  EXPECT_LIGHTNING_ERROR(L::Trainer(quiet().max_epochs(-5)),
                         "max_epochs must be >= -1 (-1 means no limit), got -5.");
  EXPECT_LIGHTNING_ERROR(L::Trainer(quiet().max_steps(-2)), "max_steps must be >= -1");
  EXPECT_LIGHTNING_ERROR(L::Trainer(quiet().min_epochs(-1)), "min_epochs must be >= 0, got -1");
  EXPECT_LIGHTNING_ERROR(L::Trainer(quiet().limit_train_batches(-3)),
                         "limit_train_batches must be an int >= 0 (batches) or a float in "
                         "[0.0, 1.0] (fraction of the dataloader), got -3.");
  EXPECT_LIGHTNING_ERROR(L::Trainer(quiet().limit_val_batches(1.5)),
                         "limit_val_batches must be an int >= 0 (batches) or a float in [0.0, "
                         "1.0] (fraction of the dataloader), got 1.5");
  EXPECT_LIGHTNING_ERROR(L::Trainer(quiet().limit_test_batches(-0.5)), "limit_test_batches");
  EXPECT_LIGHTNING_ERROR(L::Trainer(quiet().overfit_batches(2.0)), "overfit_batches");
  EXPECT_LIGHTNING_ERROR(L::Trainer(quiet().val_check_interval(1.5)),
                         "val_check_interval as a float is a fraction of the training epoch in "
                         "(0.0, 1.0], got 1.5");
  EXPECT_LIGHTNING_ERROR(L::Trainer(quiet().val_check_interval(0)),
                         "val_check_interval as an int is a number of training batches >= 1");
  EXPECT_LIGHTNING_ERROR(L::Trainer(quiet().check_val_every_n_epoch(0)),
                         "check_val_every_n_epoch must be >= 1, got 0");
  EXPECT_LIGHTNING_ERROR(L::Trainer(quiet().num_sanity_val_steps(-2)), "num_sanity_val_steps");
  EXPECT_LIGHTNING_ERROR(L::Trainer(quiet().log_every_n_steps(0)),
                         "log_every_n_steps must be >= 1, got 0");
  EXPECT_LIGHTNING_ERROR(L::Trainer(quiet().fast_dev_run(-1)), "fast_dev_run");
  EXPECT_LIGHTNING_ERROR(L::Trainer(quiet().accelerator("tpu")),
                         "accelerator must be \"auto\", \"cpu\", \"cuda\" or \"gpu\", got \"tpu\"");
  EXPECT_LIGHTNING_ERROR(L::Trainer(quiet().precision("8-bit")),
                         "precision must be one of \"32-true\"");
  EXPECT_LIGHTNING_ERROR(L::Trainer(quiet().precision("8-bit")), "got \"8-bit\"");
  EXPECT_LIGHTNING_ERROR(L::Trainer(quiet().devices(0)), "devices must be >= 1");
  EXPECT_LIGHTNING_ERROR(L::Trainer(quiet().num_threads(0)), "num_threads must be >= 1, got 0");
  EXPECT_LIGHTNING_ERROR(L::Trainer(quiet().callbacks({nullptr})),
                         "callbacks[0] is a null pointer");
  if (!torch::cuda::is_available()) {
    EXPECT_LIGHTNING_ERROR(L::Trainer(quiet().accelerator("cuda")),
                           "needs a CUDA device, but this libtorch sees none");
  }
}

TEST(TrainerStrategy, ChoiceFollowsLightning) {
  L::Trainer one(quiet());
  EXPECT_EQ(one.strategy().name(), "single_device");
  EXPECT_EQ(one.world_size(), 1);
  // "auto" with several devices is DDP (nothing starts before fit).
  L::Trainer two(quiet().devices(2));
  EXPECT_EQ(two.strategy().name(), "ddp");
  EXPECT_EQ(two.num_devices(), 2);
  EXPECT_EQ(two.global_rank(), 0);
  EXPECT_TRUE(two.is_global_zero());
  L::Trainer unused(quiet().strategy("ddp_find_unused_parameters_true").devices(2));
  auto* ddp = dynamic_cast<L::DDPStrategy*>(&unused.strategy());
  ASSERT_NE(ddp, nullptr);
  EXPECT_TRUE(ddp->options().find_unused_parameters());
  // The user's strategy object is the one used, with its options; the
  // Trainer's devices and num_nodes say how many processes it runs.
  auto mine = std::make_shared<L::DDPStrategy>(L::DDPOptions().timeout(std::chrono::seconds(7)));
  L::Trainer custom(quiet().devices(3).num_nodes(2).strategy(mine));
  EXPECT_EQ(&custom.strategy(), mine.get());
  EXPECT_EQ(mine->options().timeout(), std::chrono::milliseconds(7000));
  EXPECT_EQ(mine->options().devices(), 3);
  EXPECT_EQ(mine->options().num_nodes(), 2);
  EXPECT_EQ(custom.num_devices(), 6);
  // Unset devices and num_nodes leave the object's own counts.
  auto own = std::make_shared<L::DDPStrategy>(L::DDPOptions().devices(2));
  L::Trainer keeps(quiet().strategy(own));
  EXPECT_EQ(&keeps.strategy(), own.get());
  EXPECT_EQ(own->options().devices(), 2);
  EXPECT_EQ(keeps.num_devices(), 2);
  EXPECT_LIGHTNING_ERROR(own->set_processes(0, 1), "DDPStrategy: devices must be >= 1, got 0.");
}

TEST(TrainerStrategy, Errors) {
  EXPECT_LIGHTNING_ERROR(L::Trainer(quiet().strategy("ddp_spawn").devices(2)),
                         "strategy(\"ddp_spawn\") is not supported");
  EXPECT_LIGHTNING_ERROR(L::Trainer(quiet().strategy("ddp_spawn").devices(2)),
                         "Use strategy(\"ddp\")");
  EXPECT_LIGHTNING_ERROR(L::Trainer(quiet().strategy("fsdp")),
                         "strategy must be \"auto\", \"ddp\", "
                         "\"ddp_find_unused_parameters_true\", \"single_device\" or a Strategy "
                         "object, got \"fsdp\"");
  EXPECT_LIGHTNING_ERROR(L::Trainer(quiet().strategy("single_device").devices(2)),
                         "strategy(\"single_device\") trains in one process, but devices(2) x "
                         "num_nodes(1) asks for 2");
  EXPECT_LIGHTNING_ERROR(L::Trainer(quiet().num_nodes(0)), "num_nodes must be >= 1, got 0");
}

TEST(TrainerErrors, ValCheckIntervalLargerThanTheEpoch) {
  L::Trainer trainer(quiet().val_check_interval(11));
  EXPECT_LIGHTNING_ERROR(trainer.fit(std::make_shared<Data>()),
                         "val_check_interval (11) must be <= the number of training batches per "
                         "epoch (10)");
}

TEST(TrainerErrors, BadLosses) {
  struct NonScalar : Data {
    L::StepOutput training_step(L::Batch& b, int64_t) override {
      auto [x, y] = b.unpack<2>();
      return (forward(x) - y).pow(2);
    }
  };
  L::Trainer trainer(quiet().max_epochs(1).num_sanity_val_steps(0));
  EXPECT_LIGHTNING_ERROR(trainer.fit(std::make_shared<NonScalar>()),
                         "training_step must return a scalar loss, got a tensor of shape [2, 2]");

  struct NoGrad : Data {
    L::StepOutput training_step(L::Batch& b, int64_t) override { return loss(b).detach(); }
  };
  EXPECT_LIGHTNING_ERROR(trainer.fit(std::make_shared<NoGrad>()),
                         "training_step returned a loss that does not require grad");

  struct NoLossKey : Data {
    L::StepOutput training_step(L::Batch& b, int64_t) override { return {{"logits", loss(b)}}; }
  };
  EXPECT_LIGHTNING_ERROR(trainer.fit(std::make_shared<NoLossKey>()),
                         "training_step returned named outputs without a \"loss\" entry");

  struct Undefined : Data {
    L::StepOutput training_step(L::Batch& b, int64_t) override { return {{"loss", at::Tensor()}}; }
  };
  EXPECT_LIGHTNING_ERROR(trainer.fit(std::make_shared<Undefined>()),
                         "training_step returned an undefined tensor as its loss");

  struct IntLoss : Data {
    L::StepOutput training_step(L::Batch& b, int64_t) override { return at::ones({}, at::kLong); }
  };
  EXPECT_LIGHTNING_ERROR(trainer.fit(std::make_shared<IntLoss>()),
                         "training_step must return a floating-point loss, got dtype Long");
}

TEST(TrainerErrors, MissingStepsAndLoaders) {
  struct NoTrainingStep : L::LightningModule {};
  L::Trainer trainer(quiet().max_epochs(1));
  EXPECT_LIGHTNING_ERROR(trainer.fit(std::make_shared<NoTrainingStep>(), L::testing::loader(4, 2)),
                         "does not override training_step(batch, batch_idx), which `fit` needs");
  EXPECT_LIGHTNING_ERROR(trainer.fit(std::make_shared<BoringModule>()),
                         "fit needs a training dataloader");

  struct TrainOnly : L::LightningModule {
    L::StepOutput training_step(L::Batch&, int64_t) override { return {}; }
  };
  EXPECT_LIGHTNING_ERROR(trainer.test(std::make_shared<TrainOnly>(), L::testing::loader(4, 2)),
                         "No test_step() method is defined");
  EXPECT_LIGHTNING_ERROR(trainer.validate(std::make_shared<TrainOnly>(), L::testing::loader(4, 2)),
                         "No validation_step() method is defined");
  EXPECT_LIGHTNING_ERROR(trainer.predict(std::make_shared<TrainOnly>(), L::testing::loader(4, 2)),
                         "No predict_step() method is defined");
  EXPECT_LIGHTNING_ERROR(trainer.test(std::make_shared<BoringModule>()),
                         "Trainer::test needs a test dataloader");
  EXPECT_LIGHTNING_ERROR(trainer.fit(nullptr, L::testing::loader(4, 2)), "got a null module");
}

TEST(TrainerErrors, ValidationStepWithoutValLoaderWarnsAndSkips) {
  auto counter = std::make_shared<CountingCallback>();
  L::Trainer trainer(quiet().max_epochs(1).callbacks({counter}));
  ::testing::internal::CaptureStderr();
  trainer.fit(std::make_shared<BoringModule>(), L::testing::loader(8, 2));
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(err, ::testing::HasSubstr("validation_step is overridden but there is no val "
                                        "dataloader: validation is skipped"));
  EXPECT_EQ(counter->val_batches, 0);
  EXPECT_EQ(counter->sanity_runs, 0);
  EXPECT_EQ(trainer.global_step(), 4);
}

TEST(TrainerErrors, ValLoaderWithoutValidationStepSkipsValidation) {
  struct TrainOnly : L::LightningModule {
    TrainOnly() { layer = register_module("layer", torch::nn::Linear(32, 2)); }
    L::StepOutput training_step(L::Batch& b, int64_t) override {
      return layer->forward(b[0]).pow(2).mean();
    }
    L::OptimizerConfig configure_optimizers() override {
      return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.01));
    }
    torch::nn::Linear layer{nullptr};
  };
  auto counter = std::make_shared<CountingCallback>();
  L::Trainer trainer(quiet().max_epochs(1).callbacks({counter}));
  trainer.fit(std::make_shared<TrainOnly>(), L::testing::loader(8, 2), L::testing::loader(8, 2));
  EXPECT_EQ(counter->val_batches, 0);
  EXPECT_EQ(trainer.global_step(), 4);
}

TEST(TrainerErrors, ExceptionsReachCallbacksAndLoggers) {
  struct Boom : Data {
    L::StepOutput training_step(L::Batch&, int64_t i) override {
      if (i == 2) throw std::runtime_error("boom at 2");
      return {};
    }
  };
  struct Seen : L::Callback {
    void on_exception(L::Trainer&, L::LightningModule&, const std::exception& e) override {
      message = e.what();
    }
    std::string message;
  };
  auto seen = std::make_shared<Seen>();
  auto logger = std::make_shared<L::testing::RecordingLogger>();
  L::Trainer trainer(quiet().max_epochs(1).callbacks({seen}).logger(logger));
  EXPECT_THROW(trainer.fit(std::make_shared<Boom>()), std::runtime_error);
  EXPECT_EQ(seen->message, "boom at 2");
  EXPECT_EQ(logger->status, "failed");
}

TEST(TrainerModule, PropertiesWhileAttached) {
  struct Props : Data {
    void on_train_epoch_start() override {
      epochs.push_back(current_epoch());
      steps.push_back(global_step());
      EXPECT_EQ(&trainer(), &trainer());
      EXPECT_EQ(device(), at::Device(at::kCPU));
      EXPECT_EQ(global_rank(), 0);
      EXPECT_EQ(local_rank(), 0);
    }
    std::vector<int64_t> epochs, steps;
  };
  auto module = std::make_shared<Props>();
  EXPECT_FALSE(module->has_trainer());
  EXPECT_LIGHTNING_ERROR(module->trainer(), "is not attached to a Trainer");
  {
    L::Trainer trainer(quiet().max_epochs(3).num_sanity_val_steps(0));
    trainer.fit(module);
    EXPECT_TRUE(module->has_trainer());
    EXPECT_EQ(module->current_epoch(), 3);
  }
  EXPECT_FALSE(module->has_trainer());  // the Trainer detaches on destruction
  EXPECT_EQ(module->epochs, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(module->steps, (std::vector<int64_t>{0, 10, 20}));
  EXPECT_TRUE(module->automatic_optimization());
}

TEST(TrainerModule, SeveralOptimizersNeedManualOptimization) {
  struct Two : Data {
    L::OptimizerConfig configure_optimizers() override {
      return std::vector<std::shared_ptr<torch::optim::Optimizer>>{
          std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.1)),
          std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.1))};
    }
  };
  L::Trainer trainer(quiet().max_epochs(1));
  EXPECT_LIGHTNING_ERROR(trainer.fit(std::make_shared<Two>()),
                         "configure_optimizers returned 2 optimizers, but automatic optimization "
                         "drives exactly one");
}

// ---- Gradient accumulation, clipping, estimated_stepping_batches ------------

namespace {

struct StepRecorder : L::Callback {
  void on_before_zero_grad(L::Trainer& t, L::LightningModule&, torch::optim::Optimizer&) override {
    zero_grad_at.push_back(t.loop_state().batch_idx);
  }
  void on_before_optimizer_step(L::Trainer& t, L::LightningModule&,
                                torch::optim::Optimizer&) override {
    step_at.push_back(t.loop_state().batch_idx);
  }
  void on_before_backward(L::Trainer&, L::LightningModule&, const at::Tensor& loss) override {
    backward_losses.push_back(loss.item<double>());
  }
  std::vector<int64_t> zero_grad_at, step_at;
  std::vector<double> backward_losses;
};

}  // namespace

TEST(TrainerAccumulation, StepsAtWindowEndsAndTheLastBatch) {
  auto recorder = std::make_shared<StepRecorder>();
  L::Trainer trainer(quiet()
                         .max_epochs(1)
                         .accumulate_grad_batches(2)
                         .num_sanity_val_steps(0)
                         .limit_train_batches(5)
                         .callbacks({recorder}));
  trainer.fit(std::make_shared<Data>());
  EXPECT_EQ(recorder->zero_grad_at, (std::vector<int64_t>{0, 2, 4}));
  EXPECT_EQ(recorder->step_at, (std::vector<int64_t>{1, 3, 4}));
  EXPECT_EQ(trainer.global_step(), 3);
  EXPECT_EQ(trainer.loop_state().batches_that_stepped, 3);
  EXPECT_EQ(recorder->backward_losses.size(), 5u);
}

TEST(TrainerAccumulation, EqualsOneStepOnTheUnionOfTheBatches) {
  auto run = [](int64_t batch_size, int64_t accumulate) {
    struct M : BoringModule {
      explicit M(int64_t bs) : bs(bs) {}
      L::DataLoaders train_dataloader() override { return L::testing::loader(16, bs); }
      int64_t bs;
    };
    L::seed_everything(3);
    auto module = std::make_shared<M>(batch_size);
    L::Trainer trainer(quiet().max_epochs(2).accumulate_grad_batches(accumulate));
    trainer.fit(module);
    return std::make_pair(module->layer->weight.detach().clone(), trainer.global_step());
  };
  auto [accumulated, steps_a] = run(2, 2);
  auto [union_batches, steps_u] = run(4, 1);
  EXPECT_EQ(steps_a, 8);
  EXPECT_EQ(steps_u, 8);
  EXPECT_TRUE(at::allclose(accumulated, union_batches, 1e-5, 1e-6))
      << (accumulated - union_batches).abs().max().item<double>();
}

TEST(TrainerAccumulation, LossIsScaledForBackwardButLoggedUnscaled) {
  struct M : Data {
    L::StepOutput training_step(L::Batch& b, int64_t i) override {
      auto l = loss(b);
      losses.push_back(l.item<double>());
      return l;
    }
    std::vector<double> losses;
  };
  auto recorder = std::make_shared<StepRecorder>();
  auto module = std::make_shared<M>();
  L::Trainer trainer(quiet()
                         .max_epochs(1)
                         .limit_train_batches(4)
                         .accumulate_grad_batches(4)
                         .num_sanity_val_steps(0)
                         .callbacks({recorder}));
  trainer.fit(module);
  ASSERT_EQ(recorder->backward_losses.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_NEAR(recorder->backward_losses[i], module->losses[i] / 4, 1e-6);
  }
}

TEST(TrainerClipping, NormAndValue) {
  struct Clipped : Data {
    void configure_gradient_clipping(torch::optim::Optimizer& optimizer, std::optional<double> val,
                                     std::optional<std::string> algorithm) override {
      seen_val = val;
      seen_algorithm = algorithm;
      LightningModule::configure_gradient_clipping(optimizer, val, algorithm);
      at::Tensor norm2 = at::zeros({}), max_abs = at::zeros({});
      for (const auto& p : parameters()) {
        norm2 += p.grad().pow(2).sum();
        max_abs = at::maximum(max_abs, p.grad().abs().max());
      }
      norms.push_back(norm2.sqrt().item<double>());
      maxima.push_back(max_abs.item<double>());
    }
    std::optional<double> seen_val;
    std::optional<std::string> seen_algorithm;
    std::vector<double> norms, maxima;
  };
  auto by_norm = std::make_shared<Clipped>();
  L::Trainer a(quiet().max_epochs(1).gradient_clip_val(0.01).num_sanity_val_steps(0));
  a.fit(by_norm);
  EXPECT_EQ(by_norm->seen_val, 0.01);
  EXPECT_FALSE(by_norm->seen_algorithm.has_value());  // the default, "norm"
  ASSERT_EQ(by_norm->norms.size(), 10u);
  for (double n : by_norm->norms) EXPECT_LE(n, 0.01 * (1 + 1e-5));

  auto by_value = std::make_shared<Clipped>();
  L::Trainer b(quiet()
                   .max_epochs(1)
                   .gradient_clip_val(0.001)
                   .gradient_clip_algorithm("value")
                   .num_sanity_val_steps(0));
  b.fit(by_value);
  EXPECT_EQ(by_value->seen_algorithm, std::optional<std::string>("value"));
  for (double m : by_value->maxima) EXPECT_LE(m, 0.001 * (1 + 1e-6));

  auto unclipped = std::make_shared<Clipped>();
  L::Trainer c(quiet().max_epochs(1).num_sanity_val_steps(0));
  c.fit(unclipped);
  EXPECT_GT(*std::max_element(unclipped->norms.begin(), unclipped->norms.end()), 0.01);
}

TEST(TrainerClipping, Errors) {
  EXPECT_LIGHTNING_ERROR(L::Trainer(quiet().gradient_clip_val(-1.0)),
                         "gradient_clip_val must be a finite number >= 0 (0 disables clipping), "
                         "got -1");
  EXPECT_LIGHTNING_ERROR(L::Trainer(quiet().gradient_clip_algorithm("l1")),
                         "gradient_clip_algorithm must be \"norm\" or \"value\", got \"l1\"");
  EXPECT_LIGHTNING_ERROR(L::Trainer(quiet().accumulate_grad_batches(0)),
                         "accumulate_grad_batches must be >= 1, got 0");
  BoringModule module;
  torch::optim::SGD sgd(module.parameters(), torch::optim::SGDOptions(0.1));
  EXPECT_LIGHTNING_ERROR(module.clip_gradients(sgd, 1.0, std::string("max")),
                         "gradient_clip_algorithm must be \"norm\" or \"value\", got \"max\"");
  EXPECT_LIGHTNING_ERROR(module.clip_gradients(sgd, -0.5),
                         "gradient_clip_val must be a finite number >= 0, got -0.5");
}

TEST(TrainerEstimatedSteppingBatches, FromConfigureOptimizers) {
  struct M : Data {
    L::OptimizerConfig configure_optimizers() override {
      estimated = trainer().estimated_stepping_batches();
      return Data::configure_optimizers();
    }
    int64_t estimated = -1;
  };
  auto module = std::make_shared<M>();  // 10 training batches per epoch
  L::Trainer trainer(quiet().max_epochs(2).accumulate_grad_batches(3).num_sanity_val_steps(0));
  trainer.fit(module);
  EXPECT_EQ(module->estimated, 8);  // ceil(10 / 3) * 2
  EXPECT_EQ(trainer.global_step(), 8);

  auto capped = std::make_shared<M>();
  L::Trainer with_max_steps(quiet().max_epochs(2).max_steps(5).num_sanity_val_steps(0));
  with_max_steps.fit(capped);
  EXPECT_EQ(capped->estimated, 5);

  auto limited = std::make_shared<M>();
  L::Trainer with_limit(quiet().max_epochs(3).limit_train_batches(0.5).num_sanity_val_steps(0));
  with_limit.fit(limited);
  EXPECT_EQ(limited->estimated, 15);
  EXPECT_EQ(with_limit.global_step(), 15);

  L::Trainer idle(quiet());
  EXPECT_LIGHTNING_ERROR(idle.estimated_stepping_batches(), "known during fit only");
  auto unbounded = std::make_shared<M>();
  L::Trainer forever(quiet().max_epochs(-1));
  EXPECT_LIGHTNING_ERROR(forever.fit(unbounded), "estimated_stepping_batches is infinite");
}

TEST(GradientAccumulationScheduler, ChangesTheFactorPerEpoch) {
  struct M : Data {
    L::OptimizerConfig configure_optimizers() override {
      estimated = trainer().estimated_stepping_batches();
      return Data::configure_optimizers();
    }
    int64_t estimated = -1;
  };
  auto recorder = std::make_shared<StepRecorder>();
  auto schedule = std::make_shared<L::GradientAccumulationScheduler>(
      std::map<int64_t, int64_t>{{1, 2}, {2, 4}});
  auto module = std::make_shared<M>();  // 10 batches per epoch
  L::Trainer trainer(quiet().max_epochs(3).num_sanity_val_steps(0).callbacks({schedule, recorder}));
  trainer.fit(module);
  // epoch 0: 10 steps; epoch 1: k=2 -> 5 steps; epoch 2: k=4 -> 3 steps (4, 8, 10).
  EXPECT_EQ(trainer.global_step(), 18);
  EXPECT_EQ(module->estimated, 18);
  EXPECT_EQ(trainer.accumulate_grad_batches(), 4);
  const std::vector<int64_t> last_epoch(recorder->step_at.end() - 3, recorder->step_at.end());
  EXPECT_EQ(last_epoch, (std::vector<int64_t>{3, 7, 9}));
  EXPECT_EQ(schedule->factor(0), 1);
  EXPECT_EQ(schedule->factor(1), 2);
  EXPECT_EQ(schedule->factor(7), 4);
}

TEST(GradientAccumulationScheduler, Errors) {
  EXPECT_LIGHTNING_ERROR(L::GradientAccumulationScheduler(std::map<int64_t, int64_t>{}),
                         "GradientAccumulationScheduler needs a non-empty scheduling");
  EXPECT_LIGHTNING_ERROR(L::GradientAccumulationScheduler(std::map<int64_t, int64_t>{{-1, 2}}),
                         "GradientAccumulationScheduler epochs must be >= 0, got -1");
  EXPECT_LIGHTNING_ERROR(L::GradientAccumulationScheduler(std::map<int64_t, int64_t>{{2, 0}}),
                         "GradientAccumulationScheduler factors must be >= 1, got 0 for epoch 2");
  auto schedule =
      std::make_shared<L::GradientAccumulationScheduler>(std::map<int64_t, int64_t>{{1, 2}});
  L::Trainer both(quiet().max_epochs(1).accumulate_grad_batches(2).callbacks({schedule}));
  EXPECT_LIGHTNING_ERROR(both.fit(std::make_shared<Data>()),
                         "accumulate_grad_batches(2) cannot be combined with a "
                         "GradientAccumulationScheduler");
  L::Trainer trainer(quiet());
  EXPECT_LIGHTNING_ERROR(trainer.set_accumulate_grad_batches(0),
                         "accumulate_grad_batches must be >= 1, got 0");
}
