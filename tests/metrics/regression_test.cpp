// The regression metrics against torchmetrics (regression_reference.txt, made
// by regression_reference.py), and what a reference file cannot show.
#include "lightning/metrics/regression.h"

#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
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

std::shared_ptr<LM::Metric> make_regression(const std::string& cls, Kwargs& kw) {
  if (cls == "MeanSquaredError") {
    return std::make_shared<LM::MeanSquaredError>(LM::MeanSquaredErrorOptions()
                                                      .squared(kw.flag("squared", true))
                                                      .num_outputs(kw.integer("num_outputs", 1)));
  }
  if (cls == "MeanAbsoluteError") {
    return std::make_shared<LM::MeanAbsoluteError>(
        LM::MeanAbsoluteErrorOptions().num_outputs(kw.integer("num_outputs", 1)));
  }
  if (cls == "MeanAbsolutePercentageError") {
    return std::make_shared<LM::MeanAbsolutePercentageError>();
  }
  if (cls == "SymmetricMeanAbsolutePercentageError") {
    return std::make_shared<LM::SymmetricMeanAbsolutePercentageError>();
  }
  if (cls == "R2Score") {
    return std::make_shared<LM::R2Score>(
        LM::R2ScoreOptions()
            .adjusted(kw.integer("adjusted", 0))
            .multioutput(kw.text("multioutput", "uniform_average")));
  }
  if (cls == "PearsonCorrCoef") {
    return std::make_shared<LM::PearsonCorrCoef>(
        LM::PearsonCorrCoefOptions().num_outputs(kw.integer("num_outputs", 1)));
  }
  if (cls == "SpearmanCorrCoef") {
    return std::make_shared<LM::SpearmanCorrCoef>(
        LM::SpearmanCorrCoefOptions().num_outputs(kw.integer("num_outputs", 1)));
  }
  if (cls == "ExplainedVariance") {
    return std::make_shared<LM::ExplainedVariance>(
        LM::ExplainedVarianceOptions().multioutput(kw.text("multioutput", "uniform_average")));
  }
  if (cls == "CosineSimilarity") {
    return std::make_shared<LM::CosineSimilarity>(
        LM::CosineSimilarityOptions().reduction(kw.text("reduction", "sum")));
  }
  if (cls == "KLDivergence") {
    return std::make_shared<LM::KLDivergence>(LM::KLDivergenceOptions()
                                                  .log_prob(kw.flag("log_prob", false))
                                                  .reduction(kw.text("reduction", "mean")));
  }
  return nullptr;
}

}  // namespace

TEST(RegressionMetrics, MatchTorchmetricsReference) {
  const double worst = LM::testing::run_reference_file(
      std::string(LIGHTNING_METRICS_REFERENCE_DIR) + "/regression_reference.txt", make_regression);
  std::cout << "regression_reference.txt: worst relative difference " << worst << "\n";
}

TEST(RegressionMetrics, ErrorMessagesNameTheArgumentAndValue) {
  EXPECT_EQ(error_of([] { LM::R2Score(LM::R2ScoreOptions().multioutput("mean")); }),
            "R2Score: multioutput must be \"raw_values\", \"uniform_average\" or "
            "\"variance_weighted\", got \"mean\".");
  EXPECT_EQ(error_of([] { LM::MeanSquaredError(LM::MeanSquaredErrorOptions().num_outputs(0)); }),
            "MeanSquaredError: num_outputs must be a positive integer, got 0.");
  // torchmetrics' own check of num_outputs lets 0 through (and fails later);
  // here it is rejected at once.
  EXPECT_NE(error_of([] { LM::PearsonCorrCoef(LM::PearsonCorrCoefOptions().num_outputs(0)); }), "");
  EXPECT_NE(error_of([] { LM::SpearmanCorrCoef(LM::SpearmanCorrCoefOptions().num_outputs(-1)); }),
            "");
  LM::PearsonCorrCoef two(LM::PearsonCorrCoefOptions().num_outputs(2));
  EXPECT_EQ(error_of([&] { two.update(at::zeros({2}), at::zeros({2})); }),
            "PearsonCorrCoef: num_outputs is 2, so preds and target must be 2-D [N, 2], got shape "
            "[2].");
  LM::MeanAbsoluteError mae;
  const std::string shape = error_of([&] { mae.update(at::zeros({3}), at::zeros({4})); });
  EXPECT_EQ(shape,
            "MeanAbsoluteError: preds and target must have the same shape, got [3] and [4].");
  EXPECT_NE(error_of([&] { mae.update(at::zeros({3})); }).find("(preds, target)"),
            std::string::npos);
}

TEST(RegressionMetrics, R2ScoreNeedsTwoSamples) {
  LM::R2Score r2;
  r2.update(parse_tensor("f32[1]:1.5"), parse_tensor("f32[1]:2.0"));
  EXPECT_NE(error_of([&] { r2.compute(); }).find("at least two samples"), std::string::npos);
  r2.update(parse_tensor("f32[1]:0.5"), parse_tensor("f32[1]:1.0"));
  EXPECT_NEAR(r2.compute().item<double>(), 1.0 - 0.5 / 0.5, 1e-6);
}

TEST(RegressionMetrics, ResetClearsStatesAndPersistentStatesAreBuffers) {
  LM::MeanSquaredError mse(LM::MeanSquaredErrorOptions().num_outputs(2));
  mse.persistent(true);
  mse.update(parse_tensor("f32[2,2]:1,2,3,4"), parse_tensor("f32[2,2]:0,0,0,0"));
  auto buffers = mse.named_buffers();
  ASSERT_TRUE(buffers.contains("sum_squared_error"));
  ASSERT_TRUE(buffers.contains("total"));
  EXPECT_TRUE(buffers["sum_squared_error"].equal(parse_tensor("f32[2]:10,20")));
  EXPECT_EQ(buffers["total"].item<int64_t>(), 2);
  mse.reset();
  EXPECT_EQ(mse.update_count(), 0);
  EXPECT_TRUE(mse.named_buffers()["sum_squared_error"].equal(at::zeros({2})));
  EXPECT_TRUE(std::isnan(mse.compute()[0].item<double>()));

  LM::PearsonCorrCoef pearson;
  pearson.update(parse_tensor("f32[3]:1,2,3"), parse_tensor("f32[3]:1,2,4"));
  EXPECT_EQ(pearson.states()[0].items.size(), 1u);
  pearson.reset();
  EXPECT_TRUE(pearson.states()[0].items.empty());
  EXPECT_TRUE(std::isnan(pearson.compute().item<double>()));
}

// torchmetrics merges the per-rank running statistics of PearsonCorrCoef with
// the parallel-variance formula. Two ranks' rows concatenated (what the list
// state's gather gives) must give the coefficient of all the data.
TEST(RegressionMetrics, PearsonMergesRanksLikeTorchmetrics) {
  const at::Tensor x = parse_tensor("f32[10]:0.3,1.2,-0.7,2.5,0.1,-1.4,0.9,1.8,-0.2,0.6");
  const at::Tensor y = parse_tensor("f32[10]:0.1,1.0,-0.2,2.0,0.5,-1.0,1.1,1.2,0.3,0.2");
  LM::PearsonCorrCoef all, rank0, rank1;
  all.update(x, y);
  rank0.update(x.slice(0, 0, 3), y.slice(0, 0, 3));
  rank0.update(x.slice(0, 3, 5), y.slice(0, 3, 5));
  rank1.update(x.slice(0, 5, 6), y.slice(0, 5, 6));
  rank1.update(x.slice(0, 6, 10), y.slice(0, 6, 10));
  // What sync_states makes of the list state on two ranks: rank 0's rows,
  // then rank 1's, as one item.
  struct Gathered : LM::PearsonCorrCoef {
    void set(const at::Tensor& rows) {
      reset();
      append("stats", rows);
    }
  } gathered;
  gathered.set(at::cat({at::cat(rank0.states()[0].items), at::cat(rank1.states()[0].items)}));
  EXPECT_NEAR(gathered.compute().item<double>(), all.compute().item<double>(), 1e-6);
  EXPECT_NEAR(
      rank0.compute().item<double>(),
      [&] {
        LM::PearsonCorrCoef p;
        p.update(x.slice(0, 0, 5), y.slice(0, 0, 5));
        return p.compute().item<double>();
      }(),
      1e-6);
}

TEST(RegressionMetrics, ForwardReturnsTheBatchValueAndAccumulates) {
  LM::PearsonCorrCoef pearson;
  const at::Tensor a = pearson.forward(parse_tensor("f32[3]:1,2,3"), parse_tensor("f32[3]:1,2,3"));
  EXPECT_NEAR(a.item<double>(), 1.0, 1e-6);
  const at::Tensor b = pearson.forward(parse_tensor("f32[3]:4,5,6"), parse_tensor("f32[3]:6,5,4"));
  EXPECT_NEAR(b.item<double>(), -1.0, 1e-6);
  EXPECT_EQ(pearson.update_count(), 2);
  // All six points: x = 1..6, y = 1,2,3,6,5,4.
  LM::PearsonCorrCoef whole;
  whole.update(parse_tensor("f32[6]:1,2,3,4,5,6"), parse_tensor("f32[6]:1,2,3,6,5,4"));
  EXPECT_NEAR(pearson.compute().item<double>(), whole.compute().item<double>(), 1e-6);
}

namespace {

// rank 0's compute() when rank 1 holds `rank1`'s states (see two_ranks.h).
at::Tensor two_rank_compute(LM::Metric& rank0, LM::Metric& rank1) {
  LM::testing::RecordingRank recording;
  rank1.set_strategy(&recording);
  rank1.compute();
  rank1.set_strategy(nullptr);
  LM::testing::ReplayingRank replaying(recording.sent);
  rank0.set_strategy(&replaying);
  const at::Tensor value = rank0.compute();
  rank0.set_strategy(nullptr);
  return value;
}

// Updates on two ranks (uneven batches, one of a single sample) give, synced,
// the value of one process that saw all the data.
void expect_synced_equals_whole(const std::function<std::shared_ptr<LM::Metric>()>& make,
                                const at::Tensor& preds, const at::Tensor& target) {
  auto whole = make(), rank0 = make(), rank1 = make();
  whole->update(preds, target);
  const std::vector<std::pair<int64_t, int64_t>> rank0_batches = {{0, 3}, {3, 5}};
  const std::vector<std::pair<int64_t, int64_t>> rank1_batches = {{5, 6}, {6, 9}, {9, 12}};
  for (auto [a, b] : rank0_batches) rank0->update(preds.slice(0, a, b), target.slice(0, a, b));
  for (auto [a, b] : rank1_batches) rank1->update(preds.slice(0, a, b), target.slice(0, a, b));
  const auto before = rank0->states();
  const at::Tensor synced = two_rank_compute(*rank0, *rank1);
  const at::Tensor expected = whole->compute();
  EXPECT_TRUE(at::allclose(synced, expected, 1e-5, 1e-6))
      << rank0->metric_name() << ": synced " << synced << " vs " << expected;
  // The local accumulation goes on unchanged.
  const auto& after = rank0->states();
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    if (after[i].is_list) {
      EXPECT_TRUE(at::cat(after[i].items).equal(at::cat(before[i].items))) << after[i].name;
    } else {
      EXPECT_TRUE(after[i].value.equal(before[i].value)) << after[i].name;
    }
  }
}

}  // namespace

TEST(RegressionMetrics, StatesMergeOverRanks) {
  const at::Tensor x = parse_tensor(
      "f32[12,2]:0.3,1,1.2,2,-0.7,0.5,2.5,3,0.1,1.5,-1.4,0.2,0.9,2.2,1.8,2.9,-0.2,1.1,0.6,1.6,"
      "1.1,0.4,-0.5,2.4");
  const at::Tensor y = parse_tensor(
      "f32[12,2]:0.1,1.2,1.0,2.1,-0.2,0.3,2.0,2.5,0.5,1.9,-1.0,0.1,1.1,2.0,1.2,3.1,0.3,1.0,0.2,"
      "1.4,0.8,0.9,-0.9,2.2");
  const at::Tensor x1 = x.select(1, 0).contiguous(), y1 = y.select(1, 0).contiguous();
  expect_synced_equals_whole([] { return std::make_shared<LM::PearsonCorrCoef>(); }, x1, y1);
  expect_synced_equals_whole(
      [] {
        return std::make_shared<LM::PearsonCorrCoef>(LM::PearsonCorrCoefOptions().num_outputs(2));
      },
      x, y);
  expect_synced_equals_whole([] { return std::make_shared<LM::SpearmanCorrCoef>(); }, x1, y1);
  expect_synced_equals_whole([] { return std::make_shared<LM::MeanSquaredError>(); }, x, y);
  expect_synced_equals_whole(
      [] { return std::make_shared<LM::R2Score>(LM::R2ScoreOptions().multioutput("raw_values")); },
      x, y);
  expect_synced_equals_whole([] { return std::make_shared<LM::ExplainedVariance>(); }, x, y);
  expect_synced_equals_whole(
      [] {
        return std::make_shared<LM::CosineSimilarity>(
            LM::CosineSimilarityOptions().reduction("none"));
      },
      x, y);
  expect_synced_equals_whole(
      [] {
        return std::make_shared<LM::KLDivergence>(LM::KLDivergenceOptions().reduction("none"));
      },
      x.abs(), y.abs());
}
