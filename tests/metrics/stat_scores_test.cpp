// The stat-scores family against torchmetrics: stat_scores_reference.txt
// (written by stat_scores_reference.py) replayed record by record, then what a
// reference file cannot say: the C++ spelling, the checks torchmetrics lacks,
// where this library departs from torchmetrics on purpose, and CUDA.
#include "lightning/metrics/stat_scores.h"

#include <ATen/Context.h>
#include <gtest/gtest.h>

#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <string>

#include "metrics/reference.h"
#include "support/cuda.h"
#include "support/errors.h"

namespace LM = lightning::metrics;
using LM::testing::Kwargs;
using LM::testing::parse_tensor;

namespace {

LM::BinaryStatScoresOptions binary_options(Kwargs& kw) {
  return LM::BinaryStatScoresOptions()
      .threshold(kw.number("threshold", 0.5))
      .multidim_average(kw.text("multidim_average", "global"))
      .ignore_index(kw.optional_integer("ignore_index"))
      .validate_args(kw.flag("validate_args", true))
      .zero_division(kw.number("zero_division", 0));
}

LM::MulticlassStatScoresOptions multiclass_options(Kwargs& kw) {
  return LM::MulticlassStatScoresOptions()
      .num_classes(kw.optional_integer("num_classes"))
      .top_k(kw.integer("top_k", 1))
      .average(kw.text("average", "macro"))
      .multidim_average(kw.text("multidim_average", "global"))
      .ignore_index(kw.optional_integer("ignore_index"))
      .validate_args(kw.flag("validate_args", true))
      .zero_division(kw.number("zero_division", 0));
}

LM::MultilabelStatScoresOptions multilabel_options(Kwargs& kw) {
  return LM::MultilabelStatScoresOptions(kw.integer("num_labels", 0))
      .threshold(kw.number("threshold", 0.5))
      .average(kw.text("average", "macro"))
      .multidim_average(kw.text("multidim_average", "global"))
      .ignore_index(kw.optional_integer("ignore_index"))
      .validate_args(kw.flag("validate_args", true))
      .zero_division(kw.number("zero_division", 0));
}

LM::ClassificationTaskOptions task_options(Kwargs& kw) {
  return LM::ClassificationTaskOptions()
      .task(kw.text("task", ""))
      .threshold(kw.number("threshold", 0.5))
      .num_classes(kw.optional_integer("num_classes"))
      .num_labels(kw.optional_integer("num_labels"))
      .average(kw.text("average", "micro"))
      .multidim_average(kw.text("multidim_average", "global"))
      .top_k(kw.integer("top_k", 1))
      .ignore_index(kw.optional_integer("ignore_index"))
      .validate_args(kw.flag("validate_args", true))
      .zero_division(kw.number("zero_division", 0))
      .beta(kw.number("beta", 1.0));
}

using Maker = std::function<std::shared_ptr<LM::Metric>(Kwargs&)>;

template <typename M, typename Options>
Maker maker(Options (*options)(Kwargs&)) {
  return [options](Kwargs& kw) { return std::make_shared<M>(options(kw)); };
}

template <typename M, typename Options>
Maker beta_maker(Options (*options)(Kwargs&)) {
  return [options](Kwargs& kw) {
    const double beta = kw.number("beta", 1.0);
    return std::make_shared<M>(beta, options(kw));
  };
}

std::shared_ptr<LM::Metric> make_metric(const std::string& cls, Kwargs& kw) {
  static const std::map<std::string, Maker> makers = {
      {"BinaryStatScores", maker<LM::BinaryStatScores>(binary_options)},
      {"MulticlassStatScores", maker<LM::MulticlassStatScores>(multiclass_options)},
      {"MultilabelStatScores", maker<LM::MultilabelStatScores>(multilabel_options)},
      {"StatScores", maker<LM::StatScores>(task_options)},
      {"BinaryAccuracy", maker<LM::BinaryAccuracy>(binary_options)},
      {"MulticlassAccuracy", maker<LM::MulticlassAccuracy>(multiclass_options)},
      {"MultilabelAccuracy", maker<LM::MultilabelAccuracy>(multilabel_options)},
      {"Accuracy", maker<LM::Accuracy>(task_options)},
      {"BinaryPrecision", maker<LM::BinaryPrecision>(binary_options)},
      {"MulticlassPrecision", maker<LM::MulticlassPrecision>(multiclass_options)},
      {"MultilabelPrecision", maker<LM::MultilabelPrecision>(multilabel_options)},
      {"Precision", maker<LM::Precision>(task_options)},
      {"BinaryRecall", maker<LM::BinaryRecall>(binary_options)},
      {"MulticlassRecall", maker<LM::MulticlassRecall>(multiclass_options)},
      {"MultilabelRecall", maker<LM::MultilabelRecall>(multilabel_options)},
      {"Recall", maker<LM::Recall>(task_options)},
      {"BinaryF1Score", maker<LM::BinaryF1Score>(binary_options)},
      {"MulticlassF1Score", maker<LM::MulticlassF1Score>(multiclass_options)},
      {"MultilabelF1Score", maker<LM::MultilabelF1Score>(multilabel_options)},
      {"F1Score", maker<LM::F1Score>(task_options)},
      {"BinaryFBetaScore", beta_maker<LM::BinaryFBetaScore>(binary_options)},
      {"MulticlassFBetaScore", beta_maker<LM::MulticlassFBetaScore>(multiclass_options)},
      {"MultilabelFBetaScore", beta_maker<LM::MultilabelFBetaScore>(multilabel_options)},
      {"FBetaScore", maker<LM::FBetaScore>(task_options)},
      {"BinarySpecificity", maker<LM::BinarySpecificity>(binary_options)},
      {"MulticlassSpecificity", maker<LM::MulticlassSpecificity>(multiclass_options)},
      {"MultilabelSpecificity", maker<LM::MultilabelSpecificity>(multilabel_options)},
      {"Specificity", maker<LM::Specificity>(task_options)},
      {"BinaryHammingDistance", maker<LM::BinaryHammingDistance>(binary_options)},
      {"MulticlassHammingDistance", maker<LM::MulticlassHammingDistance>(multiclass_options)},
      {"MultilabelHammingDistance", maker<LM::MultilabelHammingDistance>(multilabel_options)},
      {"HammingDistance", maker<LM::HammingDistance>(task_options)},
      {"MulticlassExactMatch", maker<LM::MulticlassExactMatch>(multiclass_options)},
      {"MultilabelExactMatch", maker<LM::MultilabelExactMatch>(multilabel_options)},
      {"ExactMatch", maker<LM::ExactMatch>(task_options)},
  };
  auto it = makers.find(cls);
  return it == makers.end() ? nullptr : it->second(kw);
}

at::Tensor t(const std::string& text) { return parse_tensor(text); }

/// Expects a float32 value equal to `want` within float rounding.
void expect_values(const at::Tensor& got, std::vector<double> want) {
  ASSERT_EQ(got.numel(), static_cast<int64_t>(want.size())) << got;
  auto flat = got.to(at::kDouble).cpu().flatten();
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(flat[i].item<double>(), want[i], 1e-6) << "[" << i << "] of " << got;
  }
}

}  // namespace

TEST(StatScores, MatchesTorchmetrics) {
  const double worst = LM::testing::run_reference_file(
      LIGHTNING_METRICS_REFERENCE_DIR "/stat_scores_reference.txt", make_metric);
  std::cout << "stat_scores_reference.txt: worst relative difference " << worst << "\n";
  EXPECT_LT(worst, 1e-6);
}

// ---- the C++ spelling -------------------------------------------------------------

TEST(StatScores, ReadsAsTorchmetrics) {
  // torchmetrics' docstring examples, and values torchmetrics 1.9 gives.
  auto acc = std::make_shared<LM::MulticlassAccuracy>(4);
  EXPECT_EQ(acc->metric_name(), "MulticlassAccuracy");
  EXPECT_EQ(acc->task(), LM::ClassificationTask::Multiclass);
  acc->update(t("i64[4]:2,1,0,1"), t("i64[4]:2,1,0,0"));
  expect_values(acc->compute(), {0.8333333});
  EXPECT_EQ(acc->compute().dim(), 0);

  LM::BinaryAccuracy binary;
  expect_values(binary.forward(t("f32[6]:0.11,0.22,0.84,0.73,0.33,0.92"), t("i64[6]:0,1,0,1,0,1")),
                {0.6666667});

  LM::MulticlassFBetaScore fbeta(2.0, LM::MulticlassStatScoresOptions(3).average("none"));
  fbeta.update(t("i64[4]:2,0,2,1"), t("i64[4]:2,1,0,0"));
  expect_values(fbeta.compute(), {0.0, 0.0, 5.0 / 6.0});

  LM::MultilabelStatScores stats(LM::MultilabelStatScoresOptions(3).average("micro"));
  stats.update(t("i64[2,3]:0,0,1,1,0,1"), t("i64[2,3]:0,1,0,1,0,1"));
  EXPECT_TRUE(at::equal(stats.compute(), t("i64[5]:2,1,2,1,3")));
}

TEST(StatScores, TaskClassesBuildTheTasksMetric) {
  LM::Accuracy acc(LM::AccuracyOptions().task("multiclass").num_classes(3));
  EXPECT_EQ(acc.metric_name(), "MulticlassAccuracy");
  // The task classes average "micro" by default, as torchmetrics' do.
  acc.update(t("i64[4]:0,0,0,0"), t("i64[4]:0,0,0,1"));
  expect_values(acc.compute(), {0.75});
  LM::MulticlassAccuracy macro(3);
  macro.update(t("i64[4]:0,0,0,0"), t("i64[4]:0,0,0,1"));
  expect_values(macro.compute(), {0.5});  // (1 + 0) / 2: class 2 never occurs
  LM::MulticlassAccuracy macro_weighted(LM::MulticlassStatScoresOptions(3).average("weighted"));
  macro_weighted.update(t("i64[4]:0,0,0,2"), t("i64[4]:0,1,1,2"));
  expect_values(macro_weighted.compute(), {0.5});

  EXPECT_EQ(LM::F1Score(LM::F1ScoreOptions().task("binary")).metric_name(), "BinaryF1Score");
  EXPECT_EQ(LM::Precision(LM::PrecisionOptions().task("multilabel").num_labels(4)).metric_name(),
            "MultilabelPrecision");
  EXPECT_EQ(LM::Recall(LM::RecallOptions().task("multiclass").num_classes(5)).task(),
            LM::ClassificationTask::Multiclass);
  EXPECT_EQ(LM::ExactMatch(LM::ExactMatchOptions().task("multilabel").num_labels(2)).metric_name(),
            "MultilabelExactMatch");
  EXPECT_LIGHTNING_ERROR(LM::Accuracy(LM::AccuracyOptions()),
                         "Accuracy: task must be \"binary\", \"multiclass\" or \"multilabel\", "
                         "got \"\".");
}

TEST(StatScores, ResetAndForwardKeepTheirOwnBatches) {
  LM::BinaryRecall recall;
  expect_values(recall.forward(t("i64[4]:1,1,0,0"), t("i64[4]:1,1,1,1")), {0.5});
  expect_values(recall.forward(t("i64[2]:1,1"), t("i64[2]:1,1")), {1.0});
  expect_values(recall.compute(), {4.0 / 6.0});
  recall.reset();
  recall.update(t("i64[2]:0,1"), t("i64[2]:1,1"));
  expect_values(recall.compute(), {0.5});
}

// ---- checks torchmetrics does not make -------------------------------------------

TEST(StatScores, RejectsWhatTorchmetricsMiscounts) {
  EXPECT_LIGHTNING_ERROR(LM::MulticlassAccuracy(LM::MulticlassStatScoresOptions(3).top_k(0)),
                         "MulticlassAccuracy: top_k must be at least 1, got 0.");
  EXPECT_LIGHTNING_ERROR(
      LM::MulticlassRecall(
          LM::MulticlassStatScoresOptions().average("micro").multidim_average("samplewise")),
      "MulticlassRecall: num_classes is required unless average is \"micro\" with "
      "multidim_average \"global\"; set it to the number of classes.");
  EXPECT_LIGHTNING_ERROR(LM::MulticlassExactMatch(LM::MulticlassStatScoresOptions(3).top_k(2)),
                         "MulticlassExactMatch: top_k must be 1");

  LM::MulticlassPrecision precision(LM::MulticlassStatScoresOptions(3).top_k(2));
  EXPECT_LIGHTNING_ERROR(precision.update(t("i64[3]:0,1,2"), t("i64[3]:0,1,2")),
                         "MulticlassPrecision: top_k 2 needs scores (N, C, ...) in preds, got "
                         "class labels of shape [3].");
  LM::MulticlassAccuracy acc(3);
  EXPECT_LIGHTNING_ERROR(acc.update(t("f32[3]:0,1,2"), t("i64[3]:0,1,2")),
                         "preds of target's shape are class labels and must be integers, got "
                         "Float; pass scores (N, C, ...) for probabilities or logits.");
  EXPECT_LIGHTNING_ERROR(acc.update(t("f32[3,3]:1,0,0,0,1,0,0,0,1"), t("f32[3]:0,1,2")),
                         "MulticlassAccuracy: target must be an integer tensor of class indices, "
                         "got Float.");
  // torchmetrics counts distinct values only: two of them, both out of range, pass there.
  EXPECT_LIGHTNING_ERROR(acc.update(t("i64[3]:0,1,2"), t("i64[3]:5,5,-3")),
                         "MulticlassAccuracy: target must hold class indices in [0, 3), found "
                         "[-3, 5].");
  EXPECT_LIGHTNING_ERROR(acc.update(t("i64[3]:0,7,2"), t("i64[3]:0,1,2")),
                         "MulticlassAccuracy: preds must hold class labels in [0, 3), found [7].");
  EXPECT_LIGHTNING_ERROR(acc.update(t("f32[2,3]:1,0,0,0,1,0"), t("i64[3]:0,1,2")),
                         "preds (N, C, ...) and target (N, ...) must agree on N and the extra "
                         "dimensions, got preds [2, 3] and target [3].");
  EXPECT_LIGHTNING_ERROR(
      LM::MulticlassAccuracy(LM::MulticlassStatScoresOptions(3).multidim_average("samplewise"))
          .update(t("f32[2,3]:1,0,0,0,1,0"), t("i64[2]:0,1")),
      "multidim_average \"samplewise\" needs preds of at least 3 dimensions (N, C, ...), got "
      "preds [2, 3].");
  EXPECT_FALSE(acc.update_called());
}

TEST(StatScores, ValidateArgsFalseSkipsOnlyTheValueChecks) {
  LM::MulticlassAccuracy acc(LM::MulticlassStatScoresOptions(3).validate_args(false));
  EXPECT_LIGHTNING_ERROR(acc.update(t("i64[2]:0,1"), t("i64[3]:0,1,2")),
                         "preds must be (N, ...) class labels of target's shape");
  // Out-of-range values are not checked: a label outside [0, C) is wrong for
  // its target, a target outside [0, C) does not count.
  acc.update(t("i64[4]:0,9,2,1"), t("i64[4]:0,1,7,1"));
  expect_values(acc.compute(), {0.75});  // class 0: 1/1, class 1: 1/2, class 2 never occurs
}

// ---- where this library departs from torchmetrics -------------------------------

TEST(StatScores, SamplewiseWeightedMultilabelWeighsEachSampleBySupport) {
  LM::MultilabelStatScores stats(
      LM::MultilabelStatScoresOptions(2).average("weighted").multidim_average("samplewise"));
  // Sample 0: label 0 has support 2 (tp 2), label 1 support 0 (fp 1).
  // Sample 1: label 0 support 0 (tn 2), label 1 support 2 (tp 1, fn 1).
  stats.update(t("i64[2,2,2]:1,1,1,0,0,0,1,0"), t("i64[2,2,2]:1,1,0,0,0,0,1,1"));
  EXPECT_TRUE(at::allclose(stats.compute(), t("f32[2,5]:2,0,0,0,2,1,0,0,1,2")));
}

TEST(StatScores, SamplewiseExactMatchKeepsEachSamplesShare) {
  LM::MultilabelExactMatch em(LM::MultilabelStatScoresOptions(2).multidim_average("samplewise"));
  em.update(t("i64[1,2,2]:1,0,1,0"), t("i64[1,2,2]:1,0,1,1"));  // 1 of 2 positions right
  em.update(t("i64[1,2,4]:1,1,1,1,0,0,0,0"), t("i64[1,2,4]:1,1,1,1,0,0,0,0"));  // 4 of 4
  expect_values(em.compute(), {0.5, 1.0});
}

TEST(StatScores, SamplewiseKeepsTheBatchDimensionOfOneSample) {
  LM::MultilabelRecall recall(
      LM::MultilabelStatScoresOptions(2).average("none").multidim_average("samplewise"));
  recall.update(t("i64[1,2,2]:1,0,1,1"), t("i64[1,2,2]:1,1,1,1"));
  recall.update(t("i64[1,2,2]:0,0,1,1"), t("i64[1,2,2]:1,1,1,1"));
  EXPECT_TRUE(at::allclose(recall.compute(), t("f32[2,2]:0.5,1,0,1")));
}

// ---- CUDA -----------------------------------------------------------------------

TEST(StatScores, SameOnCudaAsOnCpu_CUDA) {
  LIGHTNING_REQUIRE_CUDA(1);
  at::manual_seed(0);
  auto scores = at::randn({64, 5, 3});
  auto target = at::randint(0, 5, {64, 3});
  target.index_put_({at::rand({64, 3}) < 0.1}, -1);
  for (bool deterministic : {false, true}) {
    at::globalContext().setDeterministicAlgorithms(deterministic, false);
    for (const char* average : {"micro", "macro", "weighted", "none"}) {
      for (const char* multidim : {"global", "samplewise"}) {
        auto options = LM::MulticlassStatScoresOptions(5)
                           .average(average)
                           .multidim_average(multidim)
                           .ignore_index(-1);
        LM::MulticlassStatScores cpu(options);
        LM::MulticlassStatScores gpu(options);
        gpu.to(at::kCUDA);
        cpu.update(scores, target);
        gpu.update(scores.cuda(), target.cuda());
        auto got = gpu.compute();
        EXPECT_TRUE(got.is_cuda());
        EXPECT_TRUE(at::allclose(got.cpu(), cpu.compute())) << average << " " << multidim;
      }
    }
  }
  at::globalContext().setDeterministicAlgorithms(false, false);
  LM::BinaryF1Score f1;
  f1.to(at::kCUDA);
  f1.update(at::randn({32}).cuda(), at::randint(0, 2, {32}).cuda());
  EXPECT_TRUE(f1.compute().is_cuda());
}
