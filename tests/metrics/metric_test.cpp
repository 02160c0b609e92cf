// The Metric base (states, forward/compute/reset semantics, persistence,
// devices), MetricCollection, and log(name, metric) inside the Trainer.
#include "lightning/metrics/metric.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>

#include "lightning/lightning.h"
#include "lightning/metrics/metric_collection.h"
#include "support/boring.h"
#include "support/errors.h"

namespace L = lightning;
namespace LM = lightning::metrics;
using ::testing::HasSubstr;

namespace {

// The mean of every value seen, with its extremes: one state per reduction.
class MeanOfValues : public LM::Metric {
 public:
  MeanOfValues() : Metric("MeanOfValues") {
    add_state("total", at::zeros({}, at::kDouble), LM::Reduction::Sum);
    add_state("n", at::zeros({}, at::kLong), LM::Reduction::Sum);
    add_state("hi", at::full({}, -std::numeric_limits<double>::infinity(), at::kDouble),
              LM::Reduction::Max);
    add_state("lo", at::full({}, std::numeric_limits<double>::infinity(), at::kDouble),
              LM::Reduction::Min);
  }
  double hi() const { return state("hi").item<double>(); }
  double lo() const { return state("lo").item<double>(); }

 protected:
  void update_states(const std::vector<at::Tensor>& inputs) override {
    expect_inputs(inputs, 1, "(values)");
    const at::Tensor v = inputs[0].to(at::kDouble).reshape(-1);
    set_state("total", state("total") + v.sum());
    set_state("n", state("n") + v.numel());
    set_state("hi", at::maximum(state("hi"), v.max()));
    set_state("lo", at::minimum(state("lo"), v.min()));
  }
  std::vector<at::Tensor> compute_states() override {
    return {state("total") / state("n").to(at::kDouble)};
  }
};

// Every value seen, in order (a list state).
class Collect : public LM::Metric {
 public:
  Collect() : Metric("Collect") { add_list_state("values"); }

 protected:
  void update_states(const std::vector<at::Tensor>& inputs) override {
    expect_inputs(inputs, 1, "(values)");
    append("values", inputs[0].reshape(-1));
  }
  std::vector<at::Tensor> compute_states() override {
    return {cat_state("values", at::empty({0}))};
  }
};

// A per-element value: compute returns a vector.
class PerElement : public LM::Metric {
 public:
  PerElement() : Metric("PerElement") { add_state("sum", at::zeros({3}), LM::Reduction::Sum); }

 protected:
  void update_states(const std::vector<at::Tensor>& inputs) override {
    expect_inputs(inputs, 1, "(values)");
    set_state("sum", state("sum") + inputs[0]);
  }
  std::vector<at::Tensor> compute_states() override { return {state("sum")}; }
};

double item(const at::Tensor& t) { return t.item<double>(); }

}  // namespace

TEST(Metric, ForwardReturnsTheBatchValueAndAccumulates) {
  MeanOfValues m;
  EXPECT_DOUBLE_EQ(item(m.forward(at::tensor({1.0, 2.0}))), 1.5);
  EXPECT_DOUBLE_EQ(item(m.forward_cache()), 1.5);
  EXPECT_DOUBLE_EQ(item(m.forward(at::tensor({6.0}))), 6.0);
  m.update(at::tensor({-3.0}));
  EXPECT_EQ(m.update_count(), 3);
  EXPECT_DOUBLE_EQ(item(m.compute()), 1.5);  // (1 + 2 + 6 - 3) / 4
  EXPECT_DOUBLE_EQ(m.hi(), 6.0);
  EXPECT_DOUBLE_EQ(m.lo(), -3.0);
  // The forward cache is the last forward's, not changed by update.
  EXPECT_DOUBLE_EQ(item(m.forward_cache()), 6.0);
}

TEST(Metric, ComputeIsCachedUntilTheNextUpdateAndResetRestoresDefaults) {
  MeanOfValues m;
  m.update(at::tensor({2.0, 4.0}));
  const at::Tensor first = m.compute();
  EXPECT_TRUE(m.compute().is_same(first));
  m.update(at::tensor({9.0}));
  EXPECT_FALSE(m.compute().is_same(first));
  EXPECT_DOUBLE_EQ(item(m.compute()), 5.0);
  m.reset();
  EXPECT_EQ(m.update_count(), 0);
  EXPECT_FALSE(m.update_called());
  EXPECT_FALSE(m.forward_cache().defined());
  EXPECT_DOUBLE_EQ(m.hi(), -std::numeric_limits<double>::infinity());
  m.update(at::tensor({7.0}));
  EXPECT_DOUBLE_EQ(item(m.compute()), 7.0);
}

TEST(Metric, ListStatesKeepEveryItemThroughForward) {
  Collect c;
  EXPECT_TRUE(at::equal(c.forward(at::tensor({1.0f, 2.0f})), at::tensor({1.0f, 2.0f})));
  // One-element results are 0-dim, as torchmetrics returns them.
  EXPECT_TRUE(at::equal(c.forward(at::tensor({3.0f})), at::scalar_tensor(3.0f)));
  c.update(at::tensor({4.0f}));
  EXPECT_TRUE(at::equal(c.compute(), at::tensor({1.0f, 2.0f, 3.0f, 4.0f})));
  c.reset();
  EXPECT_EQ(c.compute().numel(), 0);
}

TEST(Metric, InputsAreCheckedAndDetached) {
  MeanOfValues m;
  EXPECT_LIGHTNING_ERROR(m.update(at::ones({2}), at::ones({2})),
                         "MeanOfValues.update takes (values), got 2 tensors.");
  EXPECT_LIGHTNING_ERROR(m.update(at::Tensor()), "input 1 is an undefined tensor");
  auto w = at::ones({3}, at::TensorOptions().dtype(at::kDouble).requires_grad(true));
  const at::Tensor value = m.forward(w * 2);
  EXPECT_FALSE(value.requires_grad());
  EXPECT_FALSE(m.compute().requires_grad());
}

TEST(Metric, StatesAreNotInTheStateDictUnlessPersistent) {
  auto parent = std::make_shared<torch::nn::Module>();
  auto m = parent->register_module("m", std::make_shared<MeanOfValues>());
  EXPECT_TRUE(parent->named_buffers().is_empty());
  m->update(at::tensor({1.0, 3.0}));
  m->persistent(true);
  auto buffers = parent->named_buffers();
  ASSERT_EQ(buffers.size(), 4u);
  EXPECT_DOUBLE_EQ(item(buffers["m.total"]), 4.0);
  m->update(at::tensor({5.0}));
  EXPECT_DOUBLE_EQ(item(parent->named_buffers()["m.total"]), 9.0);
  EXPECT_EQ(parent->named_buffers()["m.n"].item<int64_t>(), 3);
  // Loading a checkpoint copies into the buffers: the metric sees the values.
  torch::NoGradGuard no_grad;
  parent->named_buffers()["m.total"].copy_(at::scalar_tensor(20.0, at::kDouble));
  parent->named_buffers()["m.n"].copy_(at::scalar_tensor(4, at::kLong));
  EXPECT_DOUBLE_EQ(item(m->compute()), 5.0);
  m->reset();
  EXPECT_DOUBLE_EQ(item(parent->named_buffers()["m.total"]), 0.0);
  EXPECT_LIGHTNING_ERROR(m->persistent(false), "libtorch cannot remove a buffer");
  Collect c;
  EXPECT_LIGHTNING_ERROR(c.persistent(true), "the list state 'values' cannot be saved");
}

TEST(Metric, StatesKeepTheirDtypeAndFollowTheDevice) {
  MeanOfValues m;
  m.to(at::kFloat);
  m.update(at::tensor({1.0f, 2.0f}));
  EXPECT_EQ(m.compute().scalar_type(), at::kDouble);
  m.to(at::Device(at::kCPU), at::kHalf);
  EXPECT_EQ(m.device(), at::Device(at::kCPU));
  EXPECT_DOUBLE_EQ(item(m.compute()), 1.5);
}

TEST(Metric, MultiOutputMetricsNeedComputeOutputs) {
  class Two : public LM::Metric {
   public:
    Two() : Metric("Two") { add_state("s", at::zeros({}), LM::Reduction::Sum); }

   protected:
    void update_states(const std::vector<at::Tensor>& in) override {
      set_state("s", state("s") + in.at(0).sum());
    }
    std::vector<at::Tensor> compute_states() override { return {state("s"), state("s") * 2}; }
  } two;
  two.update(at::ones({2}));
  EXPECT_EQ(two.compute_outputs().size(), 2u);
  EXPECT_LIGHTNING_ERROR(two.compute(), "Two.compute() returns one tensor, but Two computes 2");
  EXPECT_LIGHTNING_ERROR(two.forward(at::ones({1})), "Use update() and compute_outputs()");
}

// ---- MetricCollection -------------------------------------------------------

TEST(MetricCollection, PrefixedKeysAndSharedStates) {
  auto a = std::make_shared<MeanOfValues>();
  auto b = std::make_shared<MeanOfValues>();
  auto c = std::make_shared<Collect>();
  LM::MetricCollection col(LM::MetricCollection::Named{{"a", a}, {"b", b}, {"c", c}},
                           LM::MetricCollectionOptions().prefix("val_").postfix("_x"));
  col.update(at::tensor({1.0f, 2.0f}));
  // a and b hold equal states after the first update: one group.
  EXPECT_EQ(col.compute_group_keys(), (std::vector<std::vector<std::string>>{{"a", "b"}, {"c"}}));
  col.update(at::tensor({6.0f}));
  EXPECT_EQ(b->update_count(), 2);
  const auto values = col.compute();
  ASSERT_EQ(values.size(), 3u);
  EXPECT_DOUBLE_EQ(item(values.at("val_a_x")), 3.0);
  EXPECT_DOUBLE_EQ(item(values.at("val_b_x")), 3.0);
  EXPECT_EQ(values.at("val_c_x").numel(), 3);
  EXPECT_EQ(col.items()[0].first, "val_a_x");
  EXPECT_TRUE(col["b"] == b);
  const auto batch = col.forward(at::tensor({10.0f}));
  EXPECT_DOUBLE_EQ(item(batch.at("val_a_x")), 10.0);
  EXPECT_DOUBLE_EQ(item(b->compute()), 19.0 / 4.0);
  col.reset();
  EXPECT_EQ(a->update_count(), 0);
  EXPECT_LIGHTNING_ERROR(col["z"], "MetricCollection has no metric 'z'; its keys are: a, b, c.");
}

TEST(MetricCollection, ListFormUsesClassNamesAndRejectsDuplicates) {
  LM::MetricCollection col(std::vector<std::shared_ptr<LM::Metric>>{
      std::make_shared<MeanOfValues>(), std::make_shared<Collect>()});
  EXPECT_EQ(col.items()[1].first, "Collect");
  EXPECT_LIGHTNING_ERROR(LM::MetricCollection(std::vector<std::shared_ptr<LM::Metric>>{
                             std::make_shared<Collect>(), std::make_shared<Collect>()}),
                         "two metrics are both named 'Collect'");
  LM::MetricCollection no_groups(
      LM::MetricCollection::Named{{"a", std::make_shared<MeanOfValues>()},
                                  {"b", std::make_shared<MeanOfValues>()}},
      LM::MetricCollectionOptions().compute_groups(false));
  no_groups.update(at::ones({2}));
  EXPECT_EQ(no_groups.compute_group_keys().size(), 2u);
}

// ---- log(name, metric) in the Trainer ------------------------------------------

namespace {

// Logs the mean of the first input column with a Metric: on step (forward's
// batch value) and on epoch (compute over the epoch), and in validation.
class MetricModule : public L::testing::BoringModule {
 public:
  MetricModule() {
    train_mean = register_module("train_mean", std::make_shared<MeanOfValues>());
    val_mean = register_module("val_mean", std::make_shared<MeanOfValues>());
    val_collection = register_module(
        "val_collection",
        std::make_shared<LM::MetricCollection>(
            LM::MetricCollection::Named{{"hi_mean", std::make_shared<MeanOfValues>()}},
            LM::MetricCollectionOptions().prefix("col_")));
  }
  L::StepOutput training_step(L::Batch& batch, int64_t batch_idx) override {
    train_mean->forward(batch[0].select(1, 0));
    log("train_mean", train_mean, L::LogOptions().on_step(true).on_epoch(true));
    return BoringModule::training_step(batch, batch_idx);
  }
  L::StepOutput validation_step(L::Batch& batch, int64_t) override {
    val_mean->update(batch[0].select(1, 0));
    log("val_mean", val_mean);
    val_collection->update(batch[0].select(1, 0));
    log_dict(val_collection);
    return {};
  }
  void on_train_epoch_end() override { epoch_values.push_back(item(train_mean->compute())); }
  L::DataLoaders train_dataloader() override { return L::testing::loader(10, 4); }
  L::DataLoaders val_dataloader() override { return L::testing::loader(6, 4, false, 1); }

  std::shared_ptr<MeanOfValues> train_mean, val_mean;
  std::shared_ptr<LM::MetricCollection> val_collection;
  std::vector<double> epoch_values;
};

}  // namespace

TEST(LogMetric, StepValuesAreBatchValuesAndEpochValuesComputeOverTheEpoch) {
  auto logger = std::make_shared<L::testing::RecordingLogger>();
  auto module = std::make_shared<MetricModule>();
  L::Trainer trainer(
      L::testing::quiet().max_epochs(2).log_every_n_steps(1).num_sanity_val_steps(0).logger(
          logger));
  trainer.fit(module);

  const at::Tensor train_x =
      L::testing::random_dataset(10)->tensors()[0].select(1, 0).to(at::kDouble);
  const at::Tensor val_x =
      L::testing::random_dataset(6, 1)->tensors()[0].select(1, 0).to(at::kDouble);
  std::vector<double> step_values;
  double epoch_value = NAN, val_value = NAN, col_value = NAN;
  for (const auto& [step, row] : logger->rows) {
    if (row.count("train_mean_step")) step_values.push_back(row.at("train_mean_step"));
    if (row.count("train_mean_epoch")) epoch_value = row.at("train_mean_epoch");
    if (row.count("val_mean")) val_value = row.at("val_mean");
    if (row.count("col_hi_mean")) col_value = row.at("col_hi_mean");
  }
  ASSERT_EQ(step_values.size(), 6u);  // 3 batches x 2 epochs
  EXPECT_NEAR(step_values[0], item(train_x.slice(0, 0, 4).mean()), 1e-6);
  EXPECT_NEAR(step_values[2], item(train_x.slice(0, 8, 10).mean()), 1e-6);
  // The epoch value is the mean over samples (batches of 4, 4, 2), not of batch means.
  EXPECT_NEAR(epoch_value, item(train_x.mean()), 1e-6);
  EXPECT_NEAR(val_value, item(val_x.mean()), 1e-6);
  EXPECT_NEAR(col_value, item(val_x.mean()), 1e-6);
  // on_train_epoch_end saw the whole epoch's value; the metric was reset after each epoch.
  ASSERT_EQ(module->epoch_values.size(), 2u);
  EXPECT_NEAR(module->epoch_values[1], item(train_x.mean()), 1e-6);
  EXPECT_EQ(module->train_mean->update_count(), 0);
  EXPECT_EQ(module->val_mean->update_count(), 0);
  EXPECT_NEAR(trainer.callback_metrics().at("train_mean").item<double>(), item(train_x.mean()),
              1e-6);
  EXPECT_EQ(module->train_mean->strategy(), nullptr);  // taken back when fit ended
}

namespace {

class MixedModule : public L::testing::BoringModule {
 public:
  MixedModule() { m = register_module("m", std::make_shared<MeanOfValues>()); }
  L::StepOutput validation_step(L::Batch& batch, int64_t) override {
    m->update(batch[0]);
    log("val_m", m);
    return {};
  }
  void on_validation_epoch_end() override { log("val_m", 1.0); }
  L::DataLoaders val_dataloader() override { return L::testing::loader(4, 2); }
  std::shared_ptr<MeanOfValues> m;
};

class VectorModule : public L::testing::BoringModule {
 public:
  VectorModule() { m = register_module("m", std::make_shared<PerElement>()); }
  L::StepOutput validation_step(L::Batch& batch, int64_t) override {
    m->update(batch[0].slice(1, 0, 3).sum(0));
    log("val_vec", m);
    return {};
  }
  L::DataLoaders val_dataloader() override { return L::testing::loader(4, 2); }
  std::shared_ptr<PerElement> m;
};

}  // namespace

TEST(LogMetric, AMetricAndAValueUnderOneNameIsAnErrorNamingBothHooks) {
  L::Trainer trainer(L::testing::quiet());
  EXPECT_LIGHTNING_ERROR(trainer.validate(std::make_shared<MixedModule>()),
                         "self.log('val_m') got a MeanOfValues object in `validation_step` and a "
                         "value in `on_validation_epoch_end`");
}

TEST(LogMetric, ANonScalarMetricIsAnErrorAtTheEpochEnd) {
  L::Trainer trainer(L::testing::quiet());
  EXPECT_LIGHTNING_ERROR(trainer.validate(std::make_shared<VectorModule>()),
                         "self.log('val_vec', PerElement): compute() returned shape [3]");
}

namespace {

// A metric per hook that Lightning lets log, each updated with its own
// constant and logged with the hook's defaults (forward in the hooks whose
// default is on_step).
class EveryHook : public L::testing::BoringModule {
 public:
  static const std::vector<std::string>& hooks() {
    static const std::vector<std::string> names = {"training_step",
                                                   "on_train_batch_start",
                                                   "on_train_batch_end",
                                                   "on_before_backward",
                                                   "on_after_backward",
                                                   "on_before_optimizer_step",
                                                   "on_before_zero_grad",
                                                   "configure_gradient_clipping",
                                                   "validation_step",
                                                   "test_step",
                                                   "on_validation_batch_start",
                                                   "on_validation_batch_end",
                                                   "on_test_batch_start",
                                                   "on_test_batch_end",
                                                   "on_train_start",
                                                   "on_train_epoch_start",
                                                   "on_train_epoch_end",
                                                   "on_validation_start",
                                                   "on_validation_epoch_start",
                                                   "on_validation_epoch_end",
                                                   "on_test_start",
                                                   "on_test_epoch_start",
                                                   "on_test_epoch_end"};
    return names;
  }
  static double value_of(const std::string& hook) {
    const auto& h = hooks();
    return static_cast<double>(std::find(h.begin(), h.end(), hook) - h.begin() + 1);
  }
  EveryHook() {
    for (const auto& h : hooks()) metrics[h] = register_module(h, std::make_shared<MeanOfValues>());
  }
  void hit(const std::string& hook, bool step) {
    auto& m = metrics.at(hook);
    const at::Tensor v = at::full({2}, value_of(hook), at::kDouble);
    if (step) {
      m->forward(v);
    } else {
      m->update(v);
    }
    log("m_" + hook, m);
  }
  L::StepOutput training_step(L::Batch& b, int64_t i) override {
    hit("training_step", true);
    return BoringModule::training_step(b, i);
  }
  int64_t on_train_batch_start(L::Batch&, int64_t) override {
    hit("on_train_batch_start", true);
    return 0;
  }
  void on_train_batch_end(const L::StepOutput&, L::Batch&, int64_t) override {
    hit("on_train_batch_end", true);
  }
  void on_before_backward(const at::Tensor&) override { hit("on_before_backward", true); }
  void on_after_backward() override { hit("on_after_backward", true); }
  void on_before_optimizer_step(torch::optim::Optimizer&) override {
    hit("on_before_optimizer_step", true);
  }
  void on_before_zero_grad(torch::optim::Optimizer&) override { hit("on_before_zero_grad", true); }
  void configure_gradient_clipping(torch::optim::Optimizer& o, std::optional<double> v,
                                   std::optional<std::string> a) override {
    hit("configure_gradient_clipping", true);
    BoringModule::configure_gradient_clipping(o, v, a);
  }
  L::StepOutput validation_step(L::Batch&, int64_t) override {
    hit("validation_step", false);
    return {};
  }
  L::StepOutput test_step(L::Batch&, int64_t) override {
    hit("test_step", false);
    return {};
  }
  void on_validation_batch_start(L::Batch&, int64_t, int64_t) override {
    hit("on_validation_batch_start", false);
  }
  void on_validation_batch_end(const L::StepOutput&, L::Batch&, int64_t, int64_t) override {
    hit("on_validation_batch_end", false);
  }
  void on_test_batch_start(L::Batch&, int64_t, int64_t) override {
    hit("on_test_batch_start", false);
  }
  void on_test_batch_end(const L::StepOutput&, L::Batch&, int64_t, int64_t) override {
    hit("on_test_batch_end", false);
  }
  void on_train_start() override { hit("on_train_start", false); }
  void on_train_epoch_start() override { hit("on_train_epoch_start", false); }
  void on_train_epoch_end() override { hit("on_train_epoch_end", false); }
  void on_validation_start() override { hit("on_validation_start", false); }
  void on_validation_epoch_start() override { hit("on_validation_epoch_start", false); }
  void on_validation_epoch_end() override { hit("on_validation_epoch_end", false); }
  void on_test_start() override { hit("on_test_start", false); }
  void on_test_epoch_start() override { hit("on_test_epoch_start", false); }
  void on_test_epoch_end() override { hit("on_test_epoch_end", false); }
  L::DataLoaders train_dataloader() override { return L::testing::loader(8, 4); }
  L::DataLoaders val_dataloader() override { return L::testing::loader(8, 4); }
  L::DataLoaders test_dataloader() override { return L::testing::loader(8, 4); }

  std::map<std::string, std::shared_ptr<MeanOfValues>> metrics;
};

}  // namespace

TEST(LogMetric, EveryHookLightningAllowsLogsTheMetric) {
  auto module = std::make_shared<EveryHook>();
  L::Trainer trainer(L::testing::quiet().max_epochs(1).num_sanity_val_steps(0));
  trainer.fit(module);
  std::map<std::string, double> seen;
  for (const auto& [name, v] : trainer.callback_metrics()) seen[name] = v.item<double>();
  trainer.test(module);
  for (const auto& [name, v] : trainer.callback_metrics()) seen[name] = v.item<double>();
  for (const auto& hook : EveryHook::hooks()) {
    SCOPED_TRACE(hook);
    EXPECT_EQ(seen.count("m_" + hook), 1u);
    if (seen.count("m_" + hook)) {
      EXPECT_DOUBLE_EQ(seen.at("m_" + hook), EveryHook::value_of(hook));
    }
  }
}

TEST(Metric, ARejectedBatchLeavesTheMetricAsItWas) {
  MeanOfValues m;
  m.update(at::tensor({1.0, 3.0}));
  m.forward(at::tensor({5.0}));
  EXPECT_LIGHTNING_ERROR(m.forward(at::ones({1}), at::ones({1})), "got 2 tensors");
  EXPECT_LIGHTNING_ERROR(m.update(at::ones({1}), at::ones({1})), "got 2 tensors");
  EXPECT_EQ(m.update_count(), 2);
  EXPECT_DOUBLE_EQ(item(m.compute()), 3.0);
  EXPECT_DOUBLE_EQ(item(m.forward_cache()), 5.0);
}

// ---- docs/metrics.md's examples, as written there ---------------------------------

#include "lightning/metrics/aggregation.h"
#include "lightning/metrics/curves.h"
#include "lightning/metrics/regression.h"
#include "lightning/metrics/stat_scores.h"

namespace {

class MeanAbsolute : public LM::Metric {
 public:
  MeanAbsolute() : Metric("MeanAbsolute") {
    add_state("total", at::zeros({}), LM::Reduction::Sum);
    add_state("n", at::zeros({}, at::kLong), LM::Reduction::Sum);
  }

 protected:
  void update_states(const std::vector<at::Tensor>& in) override {
    expect_inputs(in, 2, "(preds, target)");
    set_state("total", state("total") + (in[0] - in[1]).abs().sum());
    set_state("n", state("n") + in[1].numel());
  }
  std::vector<at::Tensor> compute_states() override { return {state("total") / state("n")}; }
};

}  // namespace

TEST(MetricsDocs, ExamplesRunAndGiveTheirValues) {
  auto f1 = std::make_shared<LM::MulticlassF1Score>(
      LM::MulticlassStatScoresOptions(10).average("weighted").ignore_index(255));
  auto auroc = std::make_shared<LM::BinaryAUROC>(LM::BinaryAUROCOptions().thresholds(200));
  auto rmse = std::make_shared<LM::MeanSquaredError>(LM::MeanSquaredErrorOptions().squared(false));
  auto acc =
      std::make_shared<LM::Accuracy>(LM::AccuracyOptions().task("multiclass").num_classes(10));
  const at::Tensor logits = at::eye(10).repeat({2, 1});
  const at::Tensor y = at::arange(10).repeat({2});
  f1->update(logits, y);
  acc->update(logits, y);
  EXPECT_NEAR(item(f1->compute()), 1.0, 1e-6);  // float32, weighted by support
  EXPECT_DOUBLE_EQ(item(acc->compute()), 1.0);
  auroc->update(at::tensor({0.1f, 0.9f}), at::tensor({0, 1}));
  EXPECT_DOUBLE_EQ(item(auroc->compute()), 1.0);
  rmse->update(at::tensor({1.0f, 3.0f}), at::tensor({1.0f, 1.0f}));
  EXPECT_NEAR(item(rmse->compute()), std::sqrt(2.0), 1e-6);

  LM::MetricCollection val_metrics(
      LM::MetricCollection::Named{{"acc", std::make_shared<LM::MulticlassAccuracy>(10)},
                                  {"f1", std::make_shared<LM::MulticlassF1Score>(10)}},
      LM::MetricCollectionOptions().prefix("val_"));
  val_metrics.update(logits, y);
  EXPECT_EQ(val_metrics.compute().count("val_f1"), 1u);

  MeanAbsolute mae;
  mae.update(at::tensor({1.0f, 2.0f}), at::tensor({0.0f, 0.0f}));
  EXPECT_DOUBLE_EQ(item(mae.compute()), 1.5);
}
