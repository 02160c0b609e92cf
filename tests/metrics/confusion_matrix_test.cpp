// The confusion-matrix family (ConfusionMatrix, JaccardIndex, MatthewsCorrCoef,
// CohenKappa) and the calibration errors against torchmetrics
// (confusion_matrix_reference.txt, written by confusion_matrix_reference.py),
// and the behaviour a reference file cannot show.
#include "lightning/metrics/confusion_matrix.h"

#include <gtest/gtest.h>

#include <iostream>
#include <memory>
#include <string>

#include "lightning/error.h"
#include "lightning/metrics/calibration_error.h"
#include "lightning/metrics/metric_collection.h"
#include "reference.h"
#include "support/errors.h"

namespace LM = lightning::metrics;
using LM::testing::Kwargs;

using lightning::testing::error_of;

namespace {

std::shared_ptr<LM::Metric> make_metric(const std::string& cls, Kwargs& kw) {
  const auto ignore = kw.optional_integer("ignore_index");
  const bool validate = kw.flag("validate_args", true);
  const double threshold = kw.number("threshold", 0.5);
  const std::string normalize = kw.text("normalize", "none");
  const std::string average = kw.text("average", "macro");
  const std::string weights = kw.text("weights", "none");
  const double zero_division = kw.number("zero_division", 0.0);
  const int64_t n_bins = kw.integer("n_bins", 15);
  const std::string norm = kw.text("norm", "l1");
  const int64_t num_classes = kw.integer("num_classes", -1);
  const int64_t num_labels = kw.integer("num_labels", -1);

  if (cls == "BinaryConfusionMatrix") {
    return std::make_shared<LM::BinaryConfusionMatrix>(LM::BinaryConfusionMatrixOptions()
                                                           .threshold(threshold)
                                                           .ignore_index(ignore)
                                                           .normalize(normalize)
                                                           .validate_args(validate));
  }
  if (cls == "MulticlassConfusionMatrix") {
    return std::make_shared<LM::MulticlassConfusionMatrix>(num_classes,
                                                           LM::MulticlassConfusionMatrixOptions()
                                                               .ignore_index(ignore)
                                                               .normalize(normalize)
                                                               .validate_args(validate));
  }
  if (cls == "MultilabelConfusionMatrix") {
    return std::make_shared<LM::MultilabelConfusionMatrix>(num_labels,
                                                           LM::MultilabelConfusionMatrixOptions()
                                                               .threshold(threshold)
                                                               .ignore_index(ignore)
                                                               .normalize(normalize)
                                                               .validate_args(validate));
  }
  if (cls == "BinaryJaccardIndex") {
    return std::make_shared<LM::BinaryJaccardIndex>(LM::BinaryJaccardIndexOptions()
                                                        .threshold(threshold)
                                                        .ignore_index(ignore)
                                                        .validate_args(validate)
                                                        .zero_division(zero_division));
  }
  if (cls == "MulticlassJaccardIndex") {
    return std::make_shared<LM::MulticlassJaccardIndex>(num_classes,
                                                        LM::MulticlassJaccardIndexOptions()
                                                            .average(average)
                                                            .ignore_index(ignore)
                                                            .validate_args(validate)
                                                            .zero_division(zero_division));
  }
  if (cls == "MultilabelJaccardIndex") {
    return std::make_shared<LM::MultilabelJaccardIndex>(num_labels,
                                                        LM::MultilabelJaccardIndexOptions()
                                                            .threshold(threshold)
                                                            .average(average)
                                                            .ignore_index(ignore)
                                                            .validate_args(validate)
                                                            .zero_division(zero_division));
  }
  if (cls == "BinaryMatthewsCorrCoef") {
    return std::make_shared<LM::BinaryMatthewsCorrCoef>(
        LM::BinaryMatthewsCorrCoefOptions().threshold(threshold).ignore_index(ignore).validate_args(
            validate));
  }
  if (cls == "MulticlassMatthewsCorrCoef") {
    return std::make_shared<LM::MulticlassMatthewsCorrCoef>(
        num_classes,
        LM::MulticlassMatthewsCorrCoefOptions().ignore_index(ignore).validate_args(validate));
  }
  if (cls == "MultilabelMatthewsCorrCoef") {
    return std::make_shared<LM::MultilabelMatthewsCorrCoef>(num_labels,
                                                            LM::MultilabelMatthewsCorrCoefOptions()
                                                                .threshold(threshold)
                                                                .ignore_index(ignore)
                                                                .validate_args(validate));
  }
  if (cls == "BinaryCohenKappa") {
    return std::make_shared<LM::BinaryCohenKappa>(LM::BinaryCohenKappaOptions()
                                                      .threshold(threshold)
                                                      .ignore_index(ignore)
                                                      .weights(weights)
                                                      .validate_args(validate));
  }
  if (cls == "MulticlassCohenKappa") {
    return std::make_shared<LM::MulticlassCohenKappa>(
        num_classes,
        LM::MulticlassCohenKappaOptions().ignore_index(ignore).weights(weights).validate_args(
            validate));
  }
  if (cls == "BinaryCalibrationError") {
    return std::make_shared<LM::BinaryCalibrationError>(LM::BinaryCalibrationErrorOptions()
                                                            .n_bins(n_bins)
                                                            .norm(norm)
                                                            .ignore_index(ignore)
                                                            .validate_args(validate));
  }
  if (cls == "MulticlassCalibrationError") {
    return std::make_shared<LM::MulticlassCalibrationError>(num_classes,
                                                            LM::MulticlassCalibrationErrorOptions()
                                                                .n_bins(n_bins)
                                                                .norm(norm)
                                                                .ignore_index(ignore)
                                                                .validate_args(validate));
  }
  return nullptr;
}

at::Tensor T(const std::string& text) { return LM::testing::parse_tensor(text); }

}  // namespace

TEST(ConfusionMatrixReference, MatchesTorchmetrics) {
  const double worst = LM::testing::run_reference_file(
      std::string(LIGHTNING_METRICS_REFERENCE_DIR) + "/confusion_matrix_reference.txt",
      make_metric);
  std::cout << "confusion_matrix_reference.txt: worst relative difference " << worst << "\n";
}

TEST(ConfusionMatrix, ShortCallSitesAndDefaults) {
  auto cm = std::make_shared<LM::MulticlassConfusionMatrix>(3);
  EXPECT_EQ(cm->options().normalize(), "none");
  EXPECT_EQ(cm->num(), 3);
  auto iou = std::make_shared<LM::MulticlassJaccardIndex>(3);
  EXPECT_EQ(iou->options().average(), "macro");
  auto mcc = std::make_shared<LM::BinaryMatthewsCorrCoef>();
  EXPECT_EQ(mcc->options().threshold(), 0.5);
  auto ece = std::make_shared<LM::MulticlassCalibrationError>(3);
  EXPECT_EQ(ece->options().n_bins(), 15);
  EXPECT_EQ(ece->options().norm(), "l1");
}

TEST(ConfusionMatrix, ErrorMessagesNameTheMetricAndTheValue) {
  EXPECT_EQ(error_of([] {
              LM::MulticlassJaccardIndex(3, LM::MulticlassJaccardIndexOptions().average("mean"));
            }),
            "MulticlassJaccardIndex: average must be \"micro\", \"macro\", \"weighted\" or "
            "\"none\", got \"mean\".");
  EXPECT_EQ(error_of([] { LM::MulticlassConfusionMatrix(1); }),
            "MulticlassConfusionMatrix: num_classes must be an integer larger than 1, got 1.");
  EXPECT_EQ(error_of([] { LM::BinaryCohenKappa(LM::BinaryCohenKappaOptions().threshold(1.5)); }),
            "BinaryCohenKappa: threshold must be a float in [0, 1], got 1.5.");
  LM::MulticlassConfusionMatrix cm(3);
  EXPECT_EQ(error_of([&] { cm.update(T("i64[2]:0,1"), T("i64[2]:0,7")); }),
            "MulticlassConfusionMatrix: target must contain class indices in [0, 3), found 7.");
  EXPECT_EQ(error_of([&] { cm.update(T("f32[2]:1,1.5"), T("i64[2]:0,1")); }),
            "MulticlassConfusionMatrix: preds must hold class indices (whole numbers), found 1.5.");
  EXPECT_EQ(error_of([&] { cm.update(T("i64[2]:0,1"), T("f32[2]:0,1.5")); }),
            "MulticlassConfusionMatrix: target must hold class indices (whole numbers), found "
            "1.5.");
  EXPECT_NE(error_of([&] { cm.update(T("i64[2]:0,1")); }).find("(preds, target)"),
            std::string::npos);
  // A rejected update leaves the states alone (update_count counts the
  // calls, as torchmetrics' _update_count does).
  EXPECT_EQ(cm.confmat().sum().item<int64_t>(), 0);
  // Multiclass calibration needs scores with a class dimension.
  LM::MulticlassCalibrationError ece(3);
  EXPECT_NE(error_of([&] {
              ece.update(T("f32[2]:0,1"), T("i64[2]:0,1"));
            }).find("MulticlassCalibrationError: preds must be (N, C, ...)"),
            std::string::npos);
}

TEST(ConfusionMatrix, ValidateArgsFalseSkipsNumericChecks) {
  // As torchmetrics: num_classes=1 and a threshold outside [0, 1] are taken.
  LM::MulticlassConfusionMatrix cm(1, LM::MulticlassConfusionMatrixOptions().validate_args(false));
  cm.update(T("i64[2]:0,0"), T("i64[2]:0,0"));
  EXPECT_EQ(cm.compute().item<int64_t>(), 2);
  LM::BinaryConfusionMatrix b(
      LM::BinaryConfusionMatrixOptions().threshold(2.0).validate_args(false));
  b.update(T("f32[2]:0.9,0.1"), T("i64[2]:1,0"));
  EXPECT_TRUE(at::equal(b.compute(), T("i64[2,2]:1,0,1,0")));
  // Strings are still checked: nothing could be computed from them.
  EXPECT_THROW(LM::BinaryConfusionMatrix(
                   LM::BinaryConfusionMatrixOptions().normalize("x").validate_args(false)),
               lightning::Error);
}

TEST(ConfusionMatrix, OutputDtypesAreTorchmetrics) {
  LM::BinaryConfusionMatrix counts;
  counts.update(T("f32[3]:0.2,0.9,0.6"), T("i64[3]:0,1,0"));
  EXPECT_EQ(counts.compute().scalar_type(), at::kLong);
  LM::BinaryConfusionMatrix normalized(LM::BinaryConfusionMatrixOptions().normalize("true"));
  normalized.update(T("f32[3]:0.2,0.9,0.6"), T("i64[3]:0,1,0"));
  EXPECT_EQ(normalized.compute().scalar_type(), at::kFloat);
  // torchmetrics returns the int64 1 for a perfect binary prediction, a float otherwise.
  LM::BinaryMatthewsCorrCoef perfect;
  perfect.update(T("i64[2]:0,1"), T("i64[2]:0,1"));
  EXPECT_EQ(perfect.compute().scalar_type(), at::kLong);
  LM::BinaryMatthewsCorrCoef mixed;
  mixed.update(T("i64[3]:0,1,1"), T("i64[3]:0,1,0"));
  EXPECT_EQ(mixed.compute().scalar_type(), at::kFloat);
  LM::BinaryCalibrationError f64;
  f64.update(T("f64[2]:0.25,0.75"), T("i64[2]:0,1"));
  EXPECT_EQ(f64.compute().scalar_type(), at::kDouble);
  LM::MulticlassCalibrationError mc(2);
  mc.update(T("f64[2,2]:0.25,0.75,0.5,0.5"), T("i64[2]:0,1"));
  EXPECT_EQ(mc.compute().scalar_type(), at::kFloat);
}

TEST(ConfusionMatrix, StatesResetAndPersist) {
  LM::MulticlassCohenKappa kappa(3);
  kappa.update(T("i64[4]:0,1,2,2"), T("i64[4]:0,1,1,2"));
  EXPECT_EQ(kappa.confmat().sum().item<int64_t>(), 4);
  EXPECT_EQ(kappa.states().size(), 1u);
  EXPECT_EQ(kappa.states()[0].name, "confmat");
  EXPECT_EQ(kappa.states()[0].reduce, LM::Reduction::Sum);
  kappa.reset();
  EXPECT_TRUE(at::equal(kappa.confmat(), at::zeros({3, 3}, at::kLong)));

  EXPECT_TRUE(kappa.named_buffers().is_empty());
  kappa.persistent();
  EXPECT_TRUE(kappa.named_buffers().contains("confmat"));

  LM::BinaryCalibrationError ece;
  ece.update(T("f32[2]:0.2,0.9"), T("i64[2]:0,1"));
  ece.update(T("f32[1]:0.4"), T("i64[1]:1"));
  ASSERT_EQ(ece.states().size(), 2u);
  EXPECT_TRUE(ece.states()[0].is_list);
  EXPECT_EQ(ece.states()[0].items.size(), 2u);
  EXPECT_EQ(ece.states()[0].reduce, LM::Reduction::Cat);
  ece.reset();
  EXPECT_TRUE(ece.states()[0].items.empty());
}

TEST(ConfusionMatrix, ForwardGivesTheBatchAndAccumulates) {
  LM::MultilabelConfusionMatrix cm(2);
  const at::Tensor first = cm.forward(T("i64[1,2]:1,0"), T("i64[1,2]:1,1"));
  EXPECT_TRUE(at::equal(first, T("i64[2,2,2]:0,0,0,1,0,0,1,0")));
  const at::Tensor second = cm.forward(T("i64[1,2]:0,0"), T("i64[1,2]:0,1"));
  EXPECT_TRUE(at::equal(second, T("i64[2,2,2]:1,0,0,0,0,0,1,0")));
  EXPECT_TRUE(at::equal(cm.compute(), T("i64[2,2,2]:1,0,0,1,0,0,2,0")));
}

TEST(ConfusionMatrix, InACollectionTheFamilySharesOneState) {
  // Every class of a task accumulates the same "confmat": one compute group.
  LM::MetricCollection collection(
      LM::MetricCollection::Named{{"cm", std::make_shared<LM::MulticlassConfusionMatrix>(3)},
                                  {"iou", std::make_shared<LM::MulticlassJaccardIndex>(3)},
                                  {"mcc", std::make_shared<LM::MulticlassMatthewsCorrCoef>(3)},
                                  {"kappa", std::make_shared<LM::MulticlassCohenKappa>(3)}},
      LM::MetricCollectionOptions().prefix("val_"));
  LM::MulticlassJaccardIndex iou(3);
  LM::MulticlassMatthewsCorrCoef mcc(3);
  LM::MulticlassCohenKappa kappa(3);
  const at::Tensor p1 = T("f32[4,3]:0.1,0.7,0.2,0.8,0.1,0.1,0.2,0.2,0.6,0.5,0.4,0.1");
  const at::Tensor t1 = T("i64[4]:1,0,1,2");
  const at::Tensor p2 = T("i64[3]:2,2,0");
  const at::Tensor t2 = T("i64[3]:2,1,0");
  for (LM::Metric* m : std::vector<LM::Metric*>{&iou, &mcc, &kappa}) {
    m->update(p1, t1);
    m->update(p2, t2);
  }
  collection.update(p1, t1);
  collection.update(p2, t2);
  const auto values = collection.compute();
  EXPECT_TRUE(at::equal(values.at("val_cm"), T("i64[3,3]:2,0,0,0,1,2,1,0,1")));
  EXPECT_TRUE(at::allclose(values.at("val_iou"), iou.compute()));
  EXPECT_TRUE(at::allclose(values.at("val_mcc"), mcc.compute()));
  EXPECT_TRUE(at::allclose(values.at("val_kappa"), kappa.compute()));
}
