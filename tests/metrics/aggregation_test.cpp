// The aggregation metrics against torchmetrics (aggregation_reference.txt,
// made by aggregation_reference.py), and what a reference file cannot show.
#include "lightning/metrics/aggregation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <iostream>
#include <stdexcept>
#include <string>

#include "lightning/error.h"
#include "metrics/reference.h"
#include "metrics/two_ranks.h"
#include "support/errors.h"

namespace LM = lightning::metrics;
using LM::testing::Kwargs;
using LM::testing::parse_tensor;

using lightning::testing::error_of;

namespace {

// "nan_strategy=2.5" is a replacement number, any other word a mode.
LM::NanStrategy nan_strategy(Kwargs& kw) {
  const std::string raw = kw.text("nan_strategy", "warn");
  try {
    size_t used = 0;
    const double number = std::stod(raw, &used);
    if (used == raw.size()) return number;
  } catch (const std::invalid_argument&) {
  }
  return raw;
}

std::shared_ptr<LM::Metric> make_aggregation(const std::string& cls, Kwargs& kw) {
  if (cls == "RunningMean" || cls == "RunningSum") {
    const auto options =
        LM::RunningOptions().window(kw.integer("window", 5)).nan_strategy(nan_strategy(kw));
    if (cls == "RunningMean") return std::make_shared<LM::RunningMean>(options);
    return std::make_shared<LM::RunningSum>(options);
  }
  const auto options = LM::AggregationOptions().nan_strategy(nan_strategy(kw));
  if (cls == "MeanMetric") return std::make_shared<LM::MeanMetric>(options);
  if (cls == "SumMetric") return std::make_shared<LM::SumMetric>(options);
  if (cls == "MaxMetric") return std::make_shared<LM::MaxMetric>(options);
  if (cls == "MinMetric") return std::make_shared<LM::MinMetric>(options);
  if (cls == "CatMetric") return std::make_shared<LM::CatMetric>(options);
  return nullptr;
}

}  // namespace

TEST(AggregationMetrics, MatchTorchmetricsReference) {
  const double worst = LM::testing::run_reference_file(
      std::string(LIGHTNING_METRICS_REFERENCE_DIR) + "/aggregation_reference.txt",
      make_aggregation);
  std::cout << "aggregation_reference.txt: worst relative difference " << worst << "\n";
}

TEST(AggregationMetrics, NumbersAndShortCallSites) {
  auto mean = std::make_shared<LM::MeanMetric>();
  mean->update(1.0);
  mean->update(2.0);
  EXPECT_FLOAT_EQ(mean->forward(6.0).item<float>(), 6.0f);
  EXPECT_FLOAT_EQ(mean->compute().item<float>(), 3.0f);
  EXPECT_EQ(mean->compute().dim(), 0);
  EXPECT_EQ(mean->compute().scalar_type(), at::kFloat);

  LM::MaxMetric best(LM::MaxMetricOptions().nan_strategy("ignore"));
  EXPECT_TRUE(std::isinf(best.compute().item<float>()));  // -inf before any update
  best.update(0.5);
  best.update(std::nan(""));
  EXPECT_FLOAT_EQ(best.compute().item<float>(), 0.5f);

  LM::SumMetric replaced(LM::SumMetricOptions().nan_strategy(-1.0));
  replaced.update(parse_tensor("f32[3]:1,nan,2"));
  EXPECT_FLOAT_EQ(replaced.compute().item<float>(), 2.0f);
}

TEST(AggregationMetrics, CatMetricBeforeAnyUpdateIsEmpty) {
  // torchmetrics returns an empty list there; here an empty float tensor.
  LM::CatMetric cat;
  const at::Tensor none = cat.compute();
  EXPECT_EQ(none.numel(), 0);
  EXPECT_EQ(none.dim(), 1);
  cat.update(parse_tensor("f32[2]:nan,nan"));  // dropped (nan_strategy "warn")
  EXPECT_EQ(cat.forward(parse_tensor("f32[1]:nan")).numel(), 0);
  EXPECT_EQ(cat.compute().numel(), 0);
  cat.update(2.0);
  EXPECT_EQ(cat.compute().dim(), 0);  // one element: 0-dim, as torchmetrics
  cat.update(parse_tensor("f32[2]:3,4"));
  EXPECT_TRUE(cat.compute().equal(parse_tensor("f32[3]:2,3,4")));
}

TEST(AggregationMetrics, ErrorMessages) {
  EXPECT_EQ(error_of([] { LM::MeanMetric(LM::MeanMetricOptions().nan_strategy("drop")); }),
            "MeanMetric: nan_strategy must be \"error\", \"warn\", \"ignore\", \"disable\" or a "
            "number that replaces NaN, got \"drop\".");
  EXPECT_EQ(error_of([] { LM::RunningSum(LM::RunningSumOptions().window(0)); }),
            "RunningSum: window must be a positive integer, got 0.");
  LM::MinMetric strict(LM::MinMetricOptions().nan_strategy("error"));
  strict.update(1.0);
  EXPECT_NE(error_of([&] { strict.update(std::nan("")); }).find("MinMetric: encountered NaN"),
            std::string::npos);
  EXPECT_FLOAT_EQ(strict.compute().item<float>(), 1.0f);  // still usable
  LM::SumMetric sum;
  EXPECT_NE(error_of([&] { sum.update(at::ones({2}), at::ones({2})); }).find("takes (value)"),
            std::string::npos);
}

TEST(AggregationMetrics, RunningWindowStatesResetAndPersist) {
  LM::RunningSum running(LM::RunningSumOptions().window(2));
  running.persistent(true);
  for (double v : {1.0, 2.0, 4.0}) running.update(v);
  EXPECT_FLOAT_EQ(running.compute().item<float>(), 6.0f);
  auto buffers = running.named_buffers();
  ASSERT_TRUE(buffers.contains("sum_value"));
  EXPECT_TRUE(buffers["sum_value"].equal(parse_tensor("f32[2]:2,4")));
  EXPECT_FLOAT_EQ(running.forward(8.0).item<float>(), 8.0f);  // the batch alone
  EXPECT_FLOAT_EQ(running.compute().item<float>(), 12.0f);
  running.reset();
  EXPECT_FLOAT_EQ(running.compute().item<float>(), 0.0f);
  EXPECT_TRUE(running.named_buffers()["sum_value"].equal(at::zeros({2})));
}

TEST(AggregationMetrics, StatesMergeOverRanks) {
  // rank 0 saw 1, [2, 3], 4 and rank 1 saw [5, 6], 7: synced, the value over
  // all of them (the running ones: over each rank's window).
  auto check = [](LM::Metric& rank0, LM::Metric& rank1, const at::Tensor& expected) {
    for (const char* v : {"f32[]:1", "f32[2]:2,3", "f32[]:4"}) rank0.update(parse_tensor(v));
    for (const char* v : {"f32[2]:5,6", "f32[]:7"}) rank1.update(parse_tensor(v));
    LM::testing::RecordingRank recording;
    rank1.set_strategy(&recording);
    rank1.compute();
    LM::testing::ReplayingRank replaying(recording.sent);
    rank0.set_strategy(&replaying);
    const at::Tensor synced = rank0.compute();
    EXPECT_TRUE(synced.equal(expected)) << rank0.metric_name() << ": " << synced;
  };
  LM::MeanMetric mean0, mean1;
  check(mean0, mean1, at::full({}, 4.0f));
  LM::SumMetric sum0, sum1;
  check(sum0, sum1, at::full({}, 28.0f));
  LM::MaxMetric max0, max1;
  check(max0, max1, at::full({}, 7.0f));
  LM::MinMetric min0, min1;
  check(min0, min1, at::full({}, 1.0f));
  LM::CatMetric cat0, cat1;
  check(cat0, cat1, parse_tensor("f32[7]:1,2,3,4,5,6,7"));
  LM::RunningSum running0(LM::RunningSumOptions().window(2)),
      running1(LM::RunningSumOptions().window(2));
  check(running0, running1, at::full({}, 27.0f));  // (2 + 3 + 4) + (5 + 6 + 7)
  LM::RunningMean rmean0(LM::RunningMeanOptions().window(2)),
      rmean1(LM::RunningMeanOptions().window(2));
  check(rmean0, rmean1, at::full({}, 4.5f));  // 27 / 6
}
