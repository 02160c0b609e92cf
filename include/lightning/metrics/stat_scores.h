// lightning/metrics/stat_scores.h — the classification metrics built on true
// and false positives and negatives: torchmetrics' StatScores, Accuracy,
// Precision, Recall, F1Score, FBetaScore, Specificity, HammingDistance and
// ExactMatch, for binary, multiclass and multilabel tasks.
//
//   namespace LM = lightning::metrics;
//   // Python: MulticlassAccuracy(num_classes=10, average="micro")
//   auto acc = std::make_shared<LM::MulticlassAccuracy>(
//       LM::MulticlassStatScoresOptions(10).average("micro"));
//   // Python: BinaryF1Score(threshold=0.7)
//   auto f1 = std::make_shared<LM::BinaryF1Score>(LM::BinaryStatScoresOptions().threshold(0.7));
//   // Python: Precision(task="multilabel", num_labels=5)
//   auto prec = std::make_shared<LM::Precision>(
//       LM::PrecisionOptions().task("multilabel").num_labels(5));
//   acc->update(logits, y);             // logits (N, C) or labels (N), y (N)
//   at::Tensor value = acc->compute();  // 0-dim float
//
// Inputs, as torchmetrics takes them (N the batch, "..." extra dimensions):
// - binary: preds (N, ...) floating probabilities or logits, or integer labels
//   0/1; target (N, ...) of 0/1. Floating preds with any value outside [0, 1]
//   go through a sigmoid first (the whole batch); then preds > threshold is
//   the positive class.
// - multiclass: preds (N, C, ...) floating scores (argmax, or the top_k
//   highest), or (N, ...) integer class labels; target (N, ...) integer class
//   indices in [0, C).
// - multilabel: preds and target (N, L, ...), as binary for each label.
// Targets equal to `ignore_index` do not count. With
// multidim_average("samplewise") the result has one value per sample (the
// extra dimensions are that sample's positions); with "global" every position
// of every sample counts alike.
//
// Every class here is one of the StatScoresBase family: the same states
// (tp, fp, tn, fn as torchmetrics keeps them), the same input handling, and a
// different formula in compute(). The task classes (Accuracy, Precision, ...)
// take the task in their options and build the Binary/Multiclass/Multilabel
// metric that torchmetrics' `Accuracy(task=...)` returns.
//
// Where this differs from torchmetrics 1.9 (each is a torchmetrics quirk):
// - input shapes are checked with validate_args(false) too (they cost no
//   device sync); validate_args(false) skips only the checks of values.
// - multiclass values are checked to lie in [0, num_classes) (or equal
//   ignore_index); torchmetrics only counts distinct values, then fails deep
//   inside or miscounts. top_k must be >= 1, and top_k > 1 needs scores.
// - MultilabelStatScores with average "weighted" and multidim_average
//   "samplewise" weighs each sample's labels by that sample's support
//   (torchmetrics divides by the support of all samples together).
// - samplewise binary and multilabel states keep the batch dimension for a
//   batch of one sample (torchmetrics squeezes it, which breaks multilabel).
// - samplewise ExactMatch keeps each sample's fraction; torchmetrics keeps
//   the count and divides by the number of positions of the last batch.
#pragma once

#include <ATen/ATen.h>
#include <torch/arg.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lightning/export.h"
#include "lightning/metrics/metric.h"

namespace lightning::metrics {

/// Options of the Binary* metrics (torchmetrics' arguments and defaults).
struct LIGHTNING_API BinaryStatScoresOptions {
  /// Probabilities above it are the positive class. Default 0.5; in [0, 1].
  TORCH_ARG(double, threshold) = 0.5;
  /// "global" (default): one value over every position of every sample;
  /// "samplewise": one value per sample (N), preds at least (N, ...).
  TORCH_ARG(std::string, multidim_average) = "global";
  /// Target value whose positions do not count. Default none.
  TORCH_ARG(std::optional<int64_t>, ignore_index) = std::nullopt;
  /// Check the values of every batch (0/1 targets, ...). Default true.
  TORCH_ARG(bool, validate_args) = true;
  /// The value of 0/0 for Precision, Recall, F1Score and FBetaScore: 0
  /// (default) or 1. Other metrics give 0 there.
  TORCH_ARG(double, zero_division) = 0;
};

/// Options of the Multiclass* metrics (torchmetrics' arguments and defaults).
struct LIGHTNING_API MulticlassStatScoresOptions {
  /// `num_classes`, at least 2. Converts implicitly, so that
  /// `MulticlassAccuracy(10)` reads as torchmetrics' `MulticlassAccuracy(10)`.
  /* implicit */ MulticlassStatScoresOptions(int64_t num_classes) : num_classes_(num_classes) {}
  /// No num_classes: only with average "micro", "global" and top_k 1.
  MulticlassStatScoresOptions() = default;
  /// Number of classes C (>= 2).
  TORCH_ARG(std::optional<int64_t>, num_classes) = std::nullopt;
  /// A sample counts as right when its target is among the top_k highest
  /// scores (then that class is its prediction; else the highest). Default 1;
  /// more needs floating preds (N, C, ...).
  TORCH_ARG(int64_t, top_k) = 1;
  /// "micro": over all classes' counts; "macro" (default): mean of the classes'
  /// scores; "weighted": weighted by each class's support; "none": one score
  /// per class.
  TORCH_ARG(std::string, average) = "macro";
  /// "global" (default) or "samplewise" (one value per sample; preds at
  /// least (N, ...) labels with extra dimensions or (N, C, ...) scores).
  TORCH_ARG(std::string, multidim_average) = "global";
  /// Target value whose positions do not count (may lie outside [0, C)).
  TORCH_ARG(std::optional<int64_t>, ignore_index) = std::nullopt;
  /// Check the values of every batch (class range, ...). Default true.
  TORCH_ARG(bool, validate_args) = true;
  /// The value of 0/0 for Precision, Recall, F1Score and FBetaScore: 0
  /// (default) or 1.
  TORCH_ARG(double, zero_division) = 0;
};

/// Options of the Multilabel* metrics (torchmetrics' arguments and defaults).
struct LIGHTNING_API MultilabelStatScoresOptions {
  /// `num_labels`, at least 2; converts implicitly as MulticlassStatScoresOptions.
  /* implicit */ MultilabelStatScoresOptions(int64_t num_labels) : num_labels_(num_labels) {}
  /// Number of labels L (>= 2): preds and target are (N, L, ...).
  TORCH_ARG(int64_t, num_labels);
  /// Probabilities above it are positive. Default 0.5; in [0, 1].
  TORCH_ARG(double, threshold) = 0.5;
  /// "micro", "macro" (default), "weighted" or "none", over the labels.
  TORCH_ARG(std::string, average) = "macro";
  /// "global" (default) or "samplewise" (preds at least (N, L, ...)).
  TORCH_ARG(std::string, multidim_average) = "global";
  /// Target value whose positions do not count. Default none.
  TORCH_ARG(std::optional<int64_t>, ignore_index) = std::nullopt;
  /// Check the values of every batch. Default true.
  TORCH_ARG(bool, validate_args) = true;
  /// The value of 0/0 for Precision, Recall, F1Score and FBetaScore: 0
  /// (default) or 1.
  TORCH_ARG(double, zero_division) = 0;
};

/// Options of the task classes (`Accuracy`, `Precision`, ...): torchmetrics'
/// `Accuracy(task=..., ...)` arguments and defaults. The task picks which of
/// the other options count: threshold (binary, multilabel), num_classes and
/// top_k (multiclass), num_labels (multilabel), average (not binary).
struct LIGHTNING_API ClassificationTaskOptions {
  /// "binary", "multiclass" or "multilabel". Required.
  TORCH_ARG(std::string, task);
  /// Binary and multilabel: probabilities above it are positive. Default 0.5.
  TORCH_ARG(double, threshold) = 0.5;
  /// Required for "multiclass".
  TORCH_ARG(std::optional<int64_t>, num_classes) = std::nullopt;
  /// Required for "multilabel".
  TORCH_ARG(std::optional<int64_t>, num_labels) = std::nullopt;
  /// Default "micro" here, as torchmetrics' task classes (the Multiclass* and
  /// Multilabel* classes default to "macro").
  TORCH_ARG(std::string, average) = "micro";
  /// "global" (default) or "samplewise".
  TORCH_ARG(std::string, multidim_average) = "global";
  /// Multiclass only. Default 1.
  TORCH_ARG(int64_t, top_k) = 1;
  /// Target value whose positions do not count. Default none.
  TORCH_ARG(std::optional<int64_t>, ignore_index) = std::nullopt;
  /// Check the values of every batch. Default true.
  TORCH_ARG(bool, validate_args) = true;
  /// The value of 0/0 for Precision, Recall, F1Score and FBetaScore: 0 or 1.
  TORCH_ARG(double, zero_division) = 0;
  /// FBetaScore only. Default 1.
  TORCH_ARG(double, beta) = 1.0;
};
using StatScoresOptions = ClassificationTaskOptions;
using AccuracyOptions = ClassificationTaskOptions;
using PrecisionOptions = ClassificationTaskOptions;
using RecallOptions = ClassificationTaskOptions;
using F1ScoreOptions = ClassificationTaskOptions;
using FBetaScoreOptions = ClassificationTaskOptions;
using SpecificityOptions = ClassificationTaskOptions;
using HammingDistanceOptions = ClassificationTaskOptions;
using ExactMatchOptions = ClassificationTaskOptions;

/// The classification task of a metric.
enum class ClassificationTask { Binary, Multiclass, Multilabel };

/// The base of every stat-scores metric (torchmetrics' `_AbstractStatScores`):
/// states tp, fp, tn, fn (int64; one per class, or one in total for binary
/// and for multiclass "micro" with top_k 1; list states, one row per sample,
/// with "samplewise"), summed over ranks. Subclasses only pick the task and
/// the formula; every option is checked in the constructor (`lightning::Error`
/// naming the option, the value and what is allowed), every batch in update.
class LIGHTNING_API StatScoresBase : public Metric {
 public:
  /// The task the metric was built for.
  ClassificationTask task() const { return task_; }

 protected:
  /// What compute() returns from the states.
  enum class Score {
    StatScores,  // [tp, fp, tn, fn, support] (last dimension)
    Accuracy,
    Precision,
    Recall,
    F1Score,
    FBetaScore,
    Specificity,
    HammingDistance,
  };
  StatScoresBase(Score score, const BinaryStatScoresOptions& options, double beta = 1.0);
  StatScoresBase(Score score, const MulticlassStatScoresOptions& options, double beta = 1.0);
  StatScoresBase(Score score, const MultilabelStatScoresOptions& options, double beta = 1.0);
  /// The task's class, as torchmetrics' `Accuracy(task=...)` returns it.
  StatScoresBase(Score score, const ClassificationTaskOptions& options);

  void update_states(const std::vector<at::Tensor>& inputs) override;
  std::vector<at::Tensor> compute_states() override;

 private:
  enum class Average { Micro, Macro, Weighted, None };
  StatScoresBase(Score score, ClassificationTask task, const std::string& average,
                 const std::string& multidim_average, double threshold,
                 std::optional<int64_t> classes, int64_t top_k, std::optional<int64_t> ignore_index,
                 bool validate_args, double zero_division, double beta);
  static const char* score_name(Score score);
  /// compute() of Score::StatScores, and of the other scores.
  at::Tensor stack_stats(const at::Tensor& tp, const at::Tensor& fp, const at::Tensor& tn,
                         const at::Tensor& fn) const;
  at::Tensor score_stats(const at::Tensor& tp, const at::Tensor& fp, const at::Tensor& tn,
                         const at::Tensor& fn) const;
  /// The score from counts (per class, summed, or binary).
  at::Tensor formula(const at::Tensor& tp, const at::Tensor& fp, const at::Tensor& tn,
                     const at::Tensor& fn) const;

  Score score_;
  ClassificationTask task_;
  Average average_ = Average::Macro;
  bool samplewise_ = false;
  double threshold_ = 0.5;
  int64_t classes_ = 1;  // num_classes or num_labels; 1 for binary, 0 for no num_classes
  int64_t top_k_ = 1;
  std::optional<int64_t> ignore_index_;
  bool validate_args_ = true;
  double zero_division_ = 0;
  double beta_ = 1;
};

// ---- StatScores: [tp, fp, tn, fn, support] --------------------------------

/// torchmetrics' BinaryStatScores: int64 [5] ([N, 5] samplewise).
class LIGHTNING_API BinaryStatScores : public StatScoresBase {
 public:
  explicit BinaryStatScores(const BinaryStatScoresOptions& options = {})
      : StatScoresBase(Score::StatScores, options) {}
};
/// torchmetrics' MulticlassStatScores: [C, 5] ("none"), [5] (averaged; float
/// for "macro" and "weighted"), with a leading N for "samplewise".
class LIGHTNING_API MulticlassStatScores : public StatScoresBase {
 public:
  explicit MulticlassStatScores(const MulticlassStatScoresOptions& options)
      : StatScoresBase(Score::StatScores, options) {}
};
/// torchmetrics' MultilabelStatScores: as MulticlassStatScores, over labels.
class LIGHTNING_API MultilabelStatScores : public StatScoresBase {
 public:
  explicit MultilabelStatScores(const MultilabelStatScoresOptions& options)
      : StatScoresBase(Score::StatScores, options) {}
};
/// torchmetrics' StatScores(task=...).
class LIGHTNING_API StatScores : public StatScoresBase {
 public:
  explicit StatScores(const StatScoresOptions& options)
      : StatScoresBase(Score::StatScores, options) {}
};

// ---- Accuracy ---------------------------------------------------------------
// Binary and multilabel: (tp + tn) / all; multiclass: tp / (tp + fn). Float32,
// 0-dim, or [C] for "none", [N] for "samplewise".

/// torchmetrics' BinaryAccuracy.
class LIGHTNING_API BinaryAccuracy : public StatScoresBase {
 public:
  explicit BinaryAccuracy(const BinaryStatScoresOptions& options = {})
      : StatScoresBase(Score::Accuracy, options) {}
};
/// torchmetrics' MulticlassAccuracy.
class LIGHTNING_API MulticlassAccuracy : public StatScoresBase {
 public:
  explicit MulticlassAccuracy(const MulticlassStatScoresOptions& options)
      : StatScoresBase(Score::Accuracy, options) {}
};
/// torchmetrics' MultilabelAccuracy.
class LIGHTNING_API MultilabelAccuracy : public StatScoresBase {
 public:
  explicit MultilabelAccuracy(const MultilabelStatScoresOptions& options)
      : StatScoresBase(Score::Accuracy, options) {}
};
/// torchmetrics' Accuracy(task=...).
class LIGHTNING_API Accuracy : public StatScoresBase {
 public:
  explicit Accuracy(const AccuracyOptions& options) : StatScoresBase(Score::Accuracy, options) {}
};

// ---- Precision: tp / (tp + fp) ----------------------------------------------

/// torchmetrics' BinaryPrecision.
class LIGHTNING_API BinaryPrecision : public StatScoresBase {
 public:
  explicit BinaryPrecision(const BinaryStatScoresOptions& options = {})
      : StatScoresBase(Score::Precision, options) {}
};
/// torchmetrics' MulticlassPrecision.
class LIGHTNING_API MulticlassPrecision : public StatScoresBase {
 public:
  explicit MulticlassPrecision(const MulticlassStatScoresOptions& options)
      : StatScoresBase(Score::Precision, options) {}
};
/// torchmetrics' MultilabelPrecision.
class LIGHTNING_API MultilabelPrecision : public StatScoresBase {
 public:
  explicit MultilabelPrecision(const MultilabelStatScoresOptions& options)
      : StatScoresBase(Score::Precision, options) {}
};
/// torchmetrics' Precision(task=...).
class LIGHTNING_API Precision : public StatScoresBase {
 public:
  explicit Precision(const PrecisionOptions& options) : StatScoresBase(Score::Precision, options) {}
};

// ---- Recall: tp / (tp + fn) -------------------------------------------------

/// torchmetrics' BinaryRecall.
class LIGHTNING_API BinaryRecall : public StatScoresBase {
 public:
  explicit BinaryRecall(const BinaryStatScoresOptions& options = {})
      : StatScoresBase(Score::Recall, options) {}
};
/// torchmetrics' MulticlassRecall.
class LIGHTNING_API MulticlassRecall : public StatScoresBase {
 public:
  explicit MulticlassRecall(const MulticlassStatScoresOptions& options)
      : StatScoresBase(Score::Recall, options) {}
};
/// torchmetrics' MultilabelRecall.
class LIGHTNING_API MultilabelRecall : public StatScoresBase {
 public:
  explicit MultilabelRecall(const MultilabelStatScoresOptions& options)
      : StatScoresBase(Score::Recall, options) {}
};
/// torchmetrics' Recall(task=...).
class LIGHTNING_API Recall : public StatScoresBase {
 public:
  explicit Recall(const RecallOptions& options) : StatScoresBase(Score::Recall, options) {}
};

// ---- F-scores: (1 + beta^2) tp / ((1 + beta^2) tp + beta^2 fn + fp) ---------

/// torchmetrics' BinaryF1Score.
class LIGHTNING_API BinaryF1Score : public StatScoresBase {
 public:
  explicit BinaryF1Score(const BinaryStatScoresOptions& options = {})
      : StatScoresBase(Score::F1Score, options) {}
};
/// torchmetrics' MulticlassF1Score.
class LIGHTNING_API MulticlassF1Score : public StatScoresBase {
 public:
  explicit MulticlassF1Score(const MulticlassStatScoresOptions& options)
      : StatScoresBase(Score::F1Score, options) {}
};
/// torchmetrics' MultilabelF1Score.
class LIGHTNING_API MultilabelF1Score : public StatScoresBase {
 public:
  explicit MultilabelF1Score(const MultilabelStatScoresOptions& options)
      : StatScoresBase(Score::F1Score, options) {}
};
/// torchmetrics' F1Score(task=...).
class LIGHTNING_API F1Score : public StatScoresBase {
 public:
  explicit F1Score(const F1ScoreOptions& options) : StatScoresBase(Score::F1Score, options) {}
};
/// torchmetrics' BinaryFBetaScore(beta, ...); beta > 0.
class LIGHTNING_API BinaryFBetaScore : public StatScoresBase {
 public:
  explicit BinaryFBetaScore(double beta, const BinaryStatScoresOptions& options = {})
      : StatScoresBase(Score::FBetaScore, options, beta) {}
};
/// torchmetrics' MulticlassFBetaScore(beta, num_classes, ...).
class LIGHTNING_API MulticlassFBetaScore : public StatScoresBase {
 public:
  MulticlassFBetaScore(double beta, const MulticlassStatScoresOptions& options)
      : StatScoresBase(Score::FBetaScore, options, beta) {}
};
/// torchmetrics' MultilabelFBetaScore(beta, num_labels, ...).
class LIGHTNING_API MultilabelFBetaScore : public StatScoresBase {
 public:
  MultilabelFBetaScore(double beta, const MultilabelStatScoresOptions& options)
      : StatScoresBase(Score::FBetaScore, options, beta) {}
};
/// torchmetrics' FBetaScore(task=..., beta=...).
class LIGHTNING_API FBetaScore : public StatScoresBase {
 public:
  explicit FBetaScore(const FBetaScoreOptions& options)
      : StatScoresBase(Score::FBetaScore, options) {}
};

// ---- Specificity: tn / (tn + fp) --------------------------------------------

/// torchmetrics' BinarySpecificity.
class LIGHTNING_API BinarySpecificity : public StatScoresBase {
 public:
  explicit BinarySpecificity(const BinaryStatScoresOptions& options = {})
      : StatScoresBase(Score::Specificity, options) {}
};
/// torchmetrics' MulticlassSpecificity.
class LIGHTNING_API MulticlassSpecificity : public StatScoresBase {
 public:
  explicit MulticlassSpecificity(const MulticlassStatScoresOptions& options)
      : StatScoresBase(Score::Specificity, options) {}
};
/// torchmetrics' MultilabelSpecificity.
class LIGHTNING_API MultilabelSpecificity : public StatScoresBase {
 public:
  explicit MultilabelSpecificity(const MultilabelStatScoresOptions& options)
      : StatScoresBase(Score::Specificity, options) {}
};
/// torchmetrics' Specificity(task=...).
class LIGHTNING_API Specificity : public StatScoresBase {
 public:
  explicit Specificity(const SpecificityOptions& options)
      : StatScoresBase(Score::Specificity, options) {}
};

// ---- HammingDistance: 1 - accuracy ------------------------------------------

/// torchmetrics' BinaryHammingDistance.
class LIGHTNING_API BinaryHammingDistance : public StatScoresBase {
 public:
  explicit BinaryHammingDistance(const BinaryStatScoresOptions& options = {})
      : StatScoresBase(Score::HammingDistance, options) {}
};
/// torchmetrics' MulticlassHammingDistance.
class LIGHTNING_API MulticlassHammingDistance : public StatScoresBase {
 public:
  explicit MulticlassHammingDistance(const MulticlassStatScoresOptions& options)
      : StatScoresBase(Score::HammingDistance, options) {}
};
/// torchmetrics' MultilabelHammingDistance.
class LIGHTNING_API MultilabelHammingDistance : public StatScoresBase {
 public:
  explicit MultilabelHammingDistance(const MultilabelStatScoresOptions& options)
      : StatScoresBase(Score::HammingDistance, options) {}
};
/// torchmetrics' HammingDistance(task=...).
class LIGHTNING_API HammingDistance : public StatScoresBase {
 public:
  explicit HammingDistance(const HammingDistanceOptions& options)
      : StatScoresBase(Score::HammingDistance, options) {}
};

// ---- ExactMatch: the share of samples whose every position is right ----------

/// The base of MulticlassExactMatch and MultilabelExactMatch. States: with
/// "global", `correct` and `total` (int64 [1], summed over ranks); with
/// "samplewise", the list state `correct` of each sample's share of right
/// positions (float32). A sample (multiclass) or a position (multilabel) is
/// right when every one of its positions (labels) is; ignored targets count
/// as right. compute(): float32, 0-dim or [N].
class LIGHTNING_API ExactMatchBase : public Metric {
 public:
  /// Multiclass or Multilabel.
  ClassificationTask task() const { return task_; }

 protected:
  /// average, top_k and zero_division are not read (torchmetrics has no such
  /// arguments here); top_k must stay 1.
  explicit ExactMatchBase(const MulticlassStatScoresOptions& options);
  /// average and zero_division are not read.
  explicit ExactMatchBase(const MultilabelStatScoresOptions& options);
  /// "multiclass" or "multilabel".
  explicit ExactMatchBase(const ExactMatchOptions& options);

  void update_states(const std::vector<at::Tensor>& inputs) override;
  std::vector<at::Tensor> compute_states() override;

 private:
  ExactMatchBase(ClassificationTask task, const std::string& multidim_average, double threshold,
                 std::optional<int64_t> classes, int64_t top_k, std::optional<int64_t> ignore_index,
                 bool validate_args);

  ClassificationTask task_;
  bool samplewise_ = false;
  double threshold_ = 0.5;
  int64_t classes_ = 2;
  std::optional<int64_t> ignore_index_;
  bool validate_args_ = true;
};

/// torchmetrics' MulticlassExactMatch: every position of a sample right.
class LIGHTNING_API MulticlassExactMatch : public ExactMatchBase {
 public:
  explicit MulticlassExactMatch(const MulticlassStatScoresOptions& options)
      : ExactMatchBase(options) {}
};
/// torchmetrics' MultilabelExactMatch: every label of a position right.
class LIGHTNING_API MultilabelExactMatch : public ExactMatchBase {
 public:
  explicit MultilabelExactMatch(const MultilabelStatScoresOptions& options)
      : ExactMatchBase(options) {}
};
/// torchmetrics' ExactMatch(task=...): "multiclass" or "multilabel".
class LIGHTNING_API ExactMatch : public ExactMatchBase {
 public:
  explicit ExactMatch(const ExactMatchOptions& options) : ExactMatchBase(options) {}
};

}  // namespace lightning::metrics
