// The curve metrics against torchmetrics (tests/metrics/curves_reference.py
// writes curves_reference.txt), and what the reference file cannot show.
#include "lightning/metrics/curves.h"

#include <gtest/gtest.h>

#include <iostream>
#include <string>

#include "lightning/error.h"
#include "reference.h"
#include "support/errors.h"

namespace LM = lightning::metrics;
using LM::testing::Kwargs;

using lightning::testing::error_of;

namespace {

LM::Thresholds thresholds_arg(Kwargs& kw) {
  if (!kw.has("thresholds")) return {};
  const std::string raw = kw.raw("thresholds");
  if (kw.is_none("thresholds")) return {};
  if (!raw.empty() && raw[0] == '[') return LM::Thresholds(kw.numbers("thresholds"));
  return LM::Thresholds(kw.integer("thresholds", 0));
}

template <typename Options>
Options common(Kwargs& kw, Options options) {
  return options.thresholds(thresholds_arg(kw))
      .ignore_index(kw.optional_integer("ignore_index"))
      .validate_args(kw.flag("validate_args", true));
}

std::shared_ptr<LM::Metric> make_curve_metric(const std::string& cls, Kwargs& kw) {
  if (cls == "BinaryROC" || cls == "BinaryPrecisionRecallCurve" ||
      cls == "BinaryAveragePrecision") {
    auto o = common(kw, LM::BinaryPrecisionRecallCurveOptions())
                 .normalization(kw.text("normalization", "sigmoid"));
    if (cls == "BinaryROC") return std::make_shared<LM::BinaryROC>(o);
    if (cls == "BinaryAveragePrecision") return std::make_shared<LM::BinaryAveragePrecision>(o);
    return std::make_shared<LM::BinaryPrecisionRecallCurve>(o);
  }
  if (cls == "BinaryAUROC") {
    return std::make_shared<LM::BinaryAUROC>(
        common(kw, LM::BinaryAUROCOptions()).max_fpr(kw.optional_number("max_fpr")));
  }
  if (cls == "MulticlassROC" || cls == "MulticlassPrecisionRecallCurve") {
    const int64_t n = kw.integer("num_classes", 0);
    auto o = common(kw, LM::MulticlassROCOptions()).average(kw.text("average", "none"));
    if (cls == "MulticlassROC") return std::make_shared<LM::MulticlassROC>(n, o);
    return std::make_shared<LM::MulticlassPrecisionRecallCurve>(n, o);
  }
  if (cls == "MulticlassAUROC" || cls == "MulticlassAveragePrecision") {
    const int64_t n = kw.integer("num_classes", 0);
    auto o = common(kw, LM::MulticlassAUROCOptions()).average(kw.text("average", "macro"));
    if (cls == "MulticlassAUROC") return std::make_shared<LM::MulticlassAUROC>(n, o);
    return std::make_shared<LM::MulticlassAveragePrecision>(n, o);
  }
  if (cls == "MultilabelROC" || cls == "MultilabelPrecisionRecallCurve") {
    const int64_t n = kw.integer("num_labels", 0);
    auto o = common(kw, LM::MultilabelROCOptions());
    if (cls == "MultilabelROC") return std::make_shared<LM::MultilabelROC>(n, o);
    return std::make_shared<LM::MultilabelPrecisionRecallCurve>(n, o);
  }
  if (cls == "MultilabelAUROC" || cls == "MultilabelAveragePrecision") {
    const int64_t n = kw.integer("num_labels", 0);
    auto o = common(kw, LM::MultilabelAUROCOptions()).average(kw.text("average", "macro"));
    if (cls == "MultilabelAUROC") return std::make_shared<LM::MultilabelAUROC>(n, o);
    return std::make_shared<LM::MultilabelAveragePrecision>(n, o);
  }
  return nullptr;
}

}  // namespace

TEST(CurvesReference, MatchesTorchmetrics) {
  const double worst = LM::testing::run_reference_file(
      std::string(LIGHTNING_METRICS_REFERENCE_DIR) + "/curves_reference.txt", make_curve_metric);
  std::cout << "curves: worst relative difference " << worst << std::endl;
}

TEST(Curves, ArgumentErrorsNameTheArgumentAndTheValue) {
  EXPECT_EQ(error_of([] { LM::MulticlassAUROC(3, LM::MulticlassAUROCOptions().average("micro")); }),
            "MulticlassAUROC: average must be \"macro\", \"weighted\" or \"none\", got \"micro\".");
  EXPECT_EQ(error_of([] { LM::BinaryROC(LM::BinaryROCOptions().thresholds(1)); }),
            "BinaryROC: thresholds must be none, an integer larger than 1, a list of floats in "
            "[0, 1] or a 1-d floating tensor, got 1.");
  EXPECT_EQ(error_of([] { LM::MultilabelROC(1); }),
            "MultilabelROC: num_labels must be an integer larger than 1, got 1.");
  // torchmetrics 1.9 only rejects a non-float max_fpr; values outside (0, 1] fail later there.
  EXPECT_EQ(error_of([] { LM::BinaryAUROC(LM::BinaryAUROCOptions().max_fpr(2.0)); }),
            "BinaryAUROC: max_fpr must be a float in (0, 1] or none, got 2.");
  EXPECT_NE(error_of([] {
              LM::BinaryAUROC(LM::BinaryAUROCOptions().max_fpr(0.0));
            }).find("max_fpr must be"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              LM::BinaryROC(LM::BinaryROCOptions().thresholds(at::rand({2, 2})));
            }).find("a tensor of shape [2, 2]"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              LM::BinaryPrecisionRecallCurve(
                  LM::BinaryPrecisionRecallCurveOptions().normalization("softmax"));
            }).find("normalization must be"),
            std::string::npos);
}

TEST(Curves, InputErrors) {
  // torchmetrics' BinaryAUROC never checks its inputs (it builds its parent
  // with validate_args=False); here it does, as every other class.
  LM::BinaryAUROC auroc;
  EXPECT_NE(error_of([&] {
              auroc.update(at::rand({4}), at::tensor({0, 1, 2, 1}));
            }).find("BinaryAUROC: target must hold only 0 and 1, found 2"),
            std::string::npos);
  EXPECT_NE(error_of([&] { auroc.update(at::rand({4})); }).find("(preds, target)"),
            std::string::npos);
  // A class index out of range is rejected even when the number of distinct
  // values would pass torchmetrics' check.
  LM::MulticlassAUROC mc(3);
  EXPECT_EQ(error_of([&] {
              mc.update(at::rand({2, 3}), at::tensor({0, 5}));
            }),
            "MulticlassAUROC: target must hold class indices in [0, 3), found 5.");
  // validate_args=false skips the input checks.
  LM::BinaryROC unchecked(LM::BinaryROCOptions().validate_args(false));
  EXPECT_NO_THROW(unchecked.update(at::rand({3}), at::tensor({0, 1, 1})));
  // No samples: nothing to draw a curve from.
  LM::BinaryROC empty(LM::BinaryROCOptions().ignore_index(-1));
  empty.update(at::rand({2}), at::tensor({-1, -1}));
  EXPECT_NE(error_of([&] { empty.compute_outputs(); }).find("BinaryROC: no samples"),
            std::string::npos);
}

TEST(Curves, BinnedStateIsAFixedSizeConfusionMatrix) {
  LM::MulticlassROC roc(4, LM::MulticlassROCOptions().thresholds(7));
  for (int i = 0; i < 3; ++i) roc.update(at::rand({50, 4}), at::randint(0, 4, {50}));
  ASSERT_EQ(roc.states().size(), 1u);
  EXPECT_EQ(roc.states()[0].name, "confmat");
  EXPECT_EQ(roc.states()[0].value.sizes(), (std::vector<int64_t>{7, 4, 2, 2}));
  EXPECT_EQ(roc.states()[0].value.sum().item<int64_t>(), 3 * 50 * 4 * 7);
  roc.reset();
  EXPECT_EQ(roc.states()[0].value.sum().item<int64_t>(), 0);

  LM::MulticlassROC micro(4, LM::MulticlassROCOptions().thresholds(7).average("micro"));
  EXPECT_EQ(micro.states()[0].value.sizes(), (std::vector<int64_t>{7, 2, 2}));

  LM::BinaryROC exact;
  exact.update(at::rand({5}), at::randint(0, 2, {5}));
  ASSERT_EQ(exact.states().size(), 2u);
  EXPECT_TRUE(exact.states()[0].is_list);
  EXPECT_EQ(exact.states()[0].items.size(), 1u);
  exact.reset();
  EXPECT_TRUE(exact.states()[0].items.empty());
}

TEST(Curves, BinnedCountsMatchABruteForceCount) {
  // Predictions on the thresholds themselves count as positive (pred >= t).
  at::Tensor thresholds = at::linspace(0, 1, 11);
  at::Tensor preds = at::cat({at::rand({500}), thresholds, at::full({3}, 0.3f)});
  at::Tensor target = at::randint(0, 2, {preds.size(0)});
  LM::BinaryPrecisionRecallCurve binned(LM::BinaryPrecisionRecallCurveOptions().thresholds(11));
  binned.update(preds.slice(0, 0, 200), target.slice(0, 0, 200));
  binned.update(preds.slice(0, 200), target.slice(0, 200));
  at::Tensor confmat = binned.states()[0].value;
  for (int64_t t = 0; t < 11; ++t) {
    at::Tensor positive = preds >= thresholds[t];
    at::Tensor truth = target == 1;
    EXPECT_EQ(confmat[t][1][1].item<int64_t>(), (positive & truth).sum().item<int64_t>());
    EXPECT_EQ(confmat[t][0][1].item<int64_t>(), (positive & ~truth).sum().item<int64_t>());
    EXPECT_EQ(confmat[t][1][0].item<int64_t>(), (~positive & truth).sum().item<int64_t>());
    EXPECT_EQ(confmat[t][0][0].item<int64_t>(), (~positive & ~truth).sum().item<int64_t>());
  }
}

TEST(Curves, CurveAccessorGivesPerClassVectors) {
  at::Tensor preds = at::softmax(at::randn({20, 3}), 1);
  at::Tensor target = at::randint(0, 3, {20});

  LM::BinaryROC binary;
  binary.update(preds.select(1, 0), (target == 0).to(at::kLong));
  LM::ROCCurve b = binary.curve();
  ASSERT_EQ(b.fpr.size(), 1u);
  EXPECT_EQ(b.fpr[0].size(0), b.thresholds[0].size(0));

  auto exact = std::make_shared<LM::MulticlassROC>(3);
  exact->update(preds, target);
  LM::ROCCurve e = exact->curve();
  ASSERT_EQ(e.fpr.size(), 3u);
  ASSERT_EQ(e.thresholds.size(), 3u);
  EXPECT_EQ(exact->compute_outputs().size(), 9u);  // fpr x3, tpr x3, thresholds x3
  EXPECT_TRUE(e.fpr[1].equal(exact->compute_outputs()[1]));
  EXPECT_TRUE(e.tpr[0].equal(exact->compute_outputs()[3]));

  LM::MultilabelPrecisionRecallCurve binned(
      3, LM::MultilabelPrecisionRecallCurveOptions().thresholds({0.25, 0.5, 0.75}));
  binned.update(preds, at::randint(0, 2, {20, 3}));
  LM::PRCurve p = binned.curve();
  ASSERT_EQ(p.precision.size(), 3u);
  EXPECT_EQ(p.precision[2].size(0), 4);  // T + 1
  EXPECT_EQ(p.thresholds[2].size(0), 3);
  EXPECT_EQ(binned.compute_outputs().size(), 3u);  // [C, T+1], [C, T+1], [T]

  LM::MulticlassPrecisionRecallCurve macro(
      3, LM::MulticlassPrecisionRecallCurveOptions().average("macro"));
  macro.update(preds, target);
  EXPECT_EQ(macro.curve().precision.size(), 1u);
}

TEST(Curves, ExactAndFineBinnedAUROCAgree) {
  // With every prediction on the grid, the binned curve is the exact one.
  // Scores on the grid but below 1, so that both curves start at (0, 0).
  at::Tensor preds =
      at::linspace(0, 1, 11).index_select(0, at::randint(0, 10, {300}).to(at::kLong));
  at::Tensor target = at::randint(0, 2, {300});
  LM::BinaryAUROC exact;
  LM::BinaryAUROC binned(LM::BinaryAUROCOptions().thresholds(11));
  exact.update(preds, target);
  binned.update(preds, target);
  EXPECT_NEAR(exact.compute().item<double>(), binned.compute().item<double>(), 1e-6);
}

TEST(Curves, PersistentBinnedStateAndForward) {
  LM::BinaryAUROC auroc(LM::BinaryAUROCOptions().thresholds(5));
  auroc.persistent();
  bool found = false;
  for (const auto& item : auroc.named_buffers()) {
    if (item.key().find("confmat") != std::string::npos) {
      found = true;
      EXPECT_EQ(item.value().sizes(), (std::vector<int64_t>{5, 2, 2}));
    }
  }
  EXPECT_TRUE(found);
  // forward gives the batch's AUROC and accumulates it.
  at::Tensor preds = at::tensor({0.1f, 0.9f, 0.4f, 0.6f});
  at::Tensor target = at::tensor({0, 1, 0, 1});
  EXPECT_FLOAT_EQ(auroc.forward(preds, target).item<float>(), 1.0f);
  EXPECT_EQ(auroc.update_count(), 1);
  // A curve has three outputs: forward says to use update() and compute_outputs().
  LM::BinaryROC roc;
  EXPECT_NE(error_of([&] { roc.forward(preds, target); }).find("compute_outputs()"),
            std::string::npos);
  EXPECT_EQ(roc.update_count(), 0);  // a refused forward leaves the metric as it was
  roc.update(preds, target);
  EXPECT_NE(error_of([&] { roc.compute(); }).find("compute_outputs()"), std::string::npos);
  EXPECT_EQ(roc.compute_outputs().size(), 3u);
}
