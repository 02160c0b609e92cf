// lightning/metrics/confusion_matrix.h — the confusion matrix and the metrics
// computed from it: JaccardIndex, MatthewsCorrCoef, CohenKappa
// (torchmetrics.classification, one class per task).
//
//   // Python: MulticlassConfusionMatrix(num_classes=10, normalize="true")
//   auto confmat = std::make_shared<LM::MulticlassConfusionMatrix>(
//       10, LM::MulticlassConfusionMatrixOptions().normalize("true"));
//   confmat->update(logits, y);          // logits [N, 10], y [N]
//   at::Tensor m = confmat->compute();   // [10, 10], rows are targets
//
//   auto iou = std::make_shared<LM::MulticlassJaccardIndex>(10);  // average "macro"
//   auto mcc = std::make_shared<LM::BinaryMatthewsCorrCoef>();
//
// Inputs, as torchmetrics:
//   Binary:     preds (N, ...) probabilities, logits or 0/1 labels; target
//               (N, ...) 0/1. Floating preds outside [0, 1] are logits and
//               go through a sigmoid; then preds > threshold is positive.
//   Multiclass: preds (N, C, ...) scores (argmax over dim 1) or (N, ...)
//               labels; target (N, ...) labels in [0, C).
//   Multilabel: preds and target (N, L, ...); as binary, per label.
// Extra dimensions are flattened into the batch. Targets equal to
// ignore_index are left out (for multilabel, those positions only).
//
// All the metrics of this header accumulate one int64 state, "confmat":
// [2, 2] (binary), [C, C] (multiclass) or [L, 2, 2] (multilabel), rows
// indexed by the target and columns by the prediction; it is summed over
// ranks. The update is shared; each class differs only in what it computes
// from the matrix.
//
// Arguments torchmetrics rejects throw `lightning::Error` in the constructor
// (validate_args=false skips the numeric checks, as torchmetrics does), and
// with validate_args=true, inputs of the wrong shape or with values out of
// range throw it in `update`.
//
// Differences from torchmetrics: `normalize`, `average` and `weights` are
// strings where "none" means Python's None. Multiclass inputs are checked
// for values in [0, C) rather than for the number of distinct values, and
// floating targets must hold whole numbers. Output dtypes are torchmetrics'
// (a non-normalized confusion matrix is int64; MatthewsCorrCoef returns an
// int64 1 or -1 for a perfect or perfectly wrong binary prediction, as
// torchmetrics does).
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

/// The confusion-matrix state and update that every class below shares
/// (torchmetrics' Binary/Multiclass/MultilabelConfusionMatrix base). Not
/// constructed directly.
class LIGHTNING_API ConfusionMatrixBase : public Metric {
 public:
  enum class Task { Binary, Multiclass, Multilabel };

  /// The accumulated counts (int64): [2, 2], [C, C] or [L, 2, 2]; rows are
  /// targets, columns predictions.
  const at::Tensor& confmat() const;
  Task task() const { return task_; }
  /// Number of classes (multiclass), labels (multilabel) or 2 (binary).
  int64_t num() const { return num_; }

 protected:
  /// `num` is num_classes / num_labels (ignored for binary). Checks
  /// num, threshold and ignore_index when validate_args is true.
  ConfusionMatrixBase(std::string name, Task task, int64_t num, double threshold,
                      std::optional<int64_t> ignore_index, bool validate_args);

  void update_states(const std::vector<at::Tensor>& inputs) final;

  Task task_;
  int64_t num_;
  double threshold_;
  std::optional<int64_t> ignore_index_;
  bool validate_args_;
};

// ---------------------------------------------------------------- ConfusionMatrix

struct LIGHTNING_API BinaryConfusionMatrixOptions {
  /// Probability above which a prediction is positive, in [0, 1].
  TORCH_ARG(double, threshold) = 0.5;
  /// Target value left out of the counts.
  TORCH_ARG(std::optional<int64_t>, ignore_index) = std::nullopt;
  /// "none" (counts), "true" (rows sum to 1), "pred" (columns sum to 1) or
  /// "all" (the matrix sums to 1). Divisions by zero give 0.
  TORCH_ARG(std::string, normalize) = "none";
  /// Check the arguments and the inputs.
  TORCH_ARG(bool, validate_args) = true;
};

/// The [2, 2] confusion matrix [[TN, FP], [FN, TP]].
class LIGHTNING_API BinaryConfusionMatrix : public ConfusionMatrixBase {
 public:
  explicit BinaryConfusionMatrix(BinaryConfusionMatrixOptions options = {});
  const BinaryConfusionMatrixOptions& options() const { return options_; }

 protected:
  std::vector<at::Tensor> compute_states() override;

 private:
  BinaryConfusionMatrixOptions options_;
};

struct LIGHTNING_API MulticlassConfusionMatrixOptions {
  TORCH_ARG(std::optional<int64_t>, ignore_index) = std::nullopt;
  /// "none", "true", "pred" or "all" (see BinaryConfusionMatrixOptions).
  TORCH_ARG(std::string, normalize) = "none";
  TORCH_ARG(bool, validate_args) = true;
};

/// The [C, C] confusion matrix: entry [i, j] counts target i predicted as j.
class LIGHTNING_API MulticlassConfusionMatrix : public ConfusionMatrixBase {
 public:
  explicit MulticlassConfusionMatrix(int64_t num_classes,
                                     MulticlassConfusionMatrixOptions options = {});
  const MulticlassConfusionMatrixOptions& options() const { return options_; }

 protected:
  std::vector<at::Tensor> compute_states() override;

 private:
  MulticlassConfusionMatrixOptions options_;
};

struct LIGHTNING_API MultilabelConfusionMatrixOptions {
  TORCH_ARG(double, threshold) = 0.5;
  TORCH_ARG(std::optional<int64_t>, ignore_index) = std::nullopt;
  /// "none", "true", "pred" or "all", per label.
  TORCH_ARG(std::string, normalize) = "none";
  TORCH_ARG(bool, validate_args) = true;
};

/// One [2, 2] matrix per label: [L, 2, 2].
class LIGHTNING_API MultilabelConfusionMatrix : public ConfusionMatrixBase {
 public:
  explicit MultilabelConfusionMatrix(int64_t num_labels,
                                     MultilabelConfusionMatrixOptions options = {});
  const MultilabelConfusionMatrixOptions& options() const { return options_; }

 protected:
  std::vector<at::Tensor> compute_states() override;

 private:
  MultilabelConfusionMatrixOptions options_;
};

// ---------------------------------------------------------------- JaccardIndex

struct LIGHTNING_API BinaryJaccardIndexOptions {
  TORCH_ARG(double, threshold) = 0.5;
  TORCH_ARG(std::optional<int64_t>, ignore_index) = std::nullopt;
  TORCH_ARG(bool, validate_args) = true;
  /// The value of 0/0.
  TORCH_ARG(double, zero_division) = 0.0;
};

/// TP / (TP + FP + FN) (float32 scalar).
class LIGHTNING_API BinaryJaccardIndex : public ConfusionMatrixBase {
 public:
  explicit BinaryJaccardIndex(BinaryJaccardIndexOptions options = {});
  const BinaryJaccardIndexOptions& options() const { return options_; }

 protected:
  std::vector<at::Tensor> compute_states() override;

 private:
  BinaryJaccardIndexOptions options_;
};

struct LIGHTNING_API MulticlassJaccardIndexOptions {
  /// "micro" (pooled counts), "macro" (mean over the classes present in
  /// targets or predictions), "weighted" (weighted by target counts) or
  /// "none" (per class, [C]).
  TORCH_ARG(std::string, average) = "macro";
  TORCH_ARG(std::optional<int64_t>, ignore_index) = std::nullopt;
  TORCH_ARG(bool, validate_args) = true;
  TORCH_ARG(double, zero_division) = 0.0;
};

/// Intersection over union per class, averaged.
class LIGHTNING_API MulticlassJaccardIndex : public ConfusionMatrixBase {
 public:
  explicit MulticlassJaccardIndex(int64_t num_classes, MulticlassJaccardIndexOptions options = {});
  const MulticlassJaccardIndexOptions& options() const { return options_; }

 protected:
  std::vector<at::Tensor> compute_states() override;

 private:
  MulticlassJaccardIndexOptions options_;
};

struct LIGHTNING_API MultilabelJaccardIndexOptions {
  TORCH_ARG(double, threshold) = 0.5;
  /// "micro", "macro", "weighted" or "none" (per label, [L]).
  TORCH_ARG(std::string, average) = "macro";
  TORCH_ARG(std::optional<int64_t>, ignore_index) = std::nullopt;
  TORCH_ARG(bool, validate_args) = true;
  TORCH_ARG(double, zero_division) = 0.0;
};

/// Intersection over union per label, averaged.
class LIGHTNING_API MultilabelJaccardIndex : public ConfusionMatrixBase {
 public:
  explicit MultilabelJaccardIndex(int64_t num_labels, MultilabelJaccardIndexOptions options = {});
  const MultilabelJaccardIndexOptions& options() const { return options_; }

 protected:
  std::vector<at::Tensor> compute_states() override;

 private:
  MultilabelJaccardIndexOptions options_;
};

// ---------------------------------------------------------------- MatthewsCorrCoef

struct LIGHTNING_API BinaryMatthewsCorrCoefOptions {
  TORCH_ARG(double, threshold) = 0.5;
  TORCH_ARG(std::optional<int64_t>, ignore_index) = std::nullopt;
  TORCH_ARG(bool, validate_args) = true;
};

/// Matthews correlation coefficient of binary predictions.
class LIGHTNING_API BinaryMatthewsCorrCoef : public ConfusionMatrixBase {
 public:
  explicit BinaryMatthewsCorrCoef(BinaryMatthewsCorrCoefOptions options = {});
  const BinaryMatthewsCorrCoefOptions& options() const { return options_; }

 protected:
  std::vector<at::Tensor> compute_states() override;

 private:
  BinaryMatthewsCorrCoefOptions options_;
};

struct LIGHTNING_API MulticlassMatthewsCorrCoefOptions {
  TORCH_ARG(std::optional<int64_t>, ignore_index) = std::nullopt;
  TORCH_ARG(bool, validate_args) = true;
};

/// Multiclass Matthews correlation coefficient (Gorodkin's R_K).
class LIGHTNING_API MulticlassMatthewsCorrCoef : public ConfusionMatrixBase {
 public:
  explicit MulticlassMatthewsCorrCoef(int64_t num_classes,
                                      MulticlassMatthewsCorrCoefOptions options = {});
  const MulticlassMatthewsCorrCoefOptions& options() const { return options_; }

 protected:
  std::vector<at::Tensor> compute_states() override;

 private:
  MulticlassMatthewsCorrCoefOptions options_;
};

struct LIGHTNING_API MultilabelMatthewsCorrCoefOptions {
  TORCH_ARG(double, threshold) = 0.5;
  TORCH_ARG(std::optional<int64_t>, ignore_index) = std::nullopt;
  TORCH_ARG(bool, validate_args) = true;
};

/// Matthews correlation coefficient of the labels' pooled [2, 2] matrix.
class LIGHTNING_API MultilabelMatthewsCorrCoef : public ConfusionMatrixBase {
 public:
  explicit MultilabelMatthewsCorrCoef(int64_t num_labels,
                                      MultilabelMatthewsCorrCoefOptions options = {});
  const MultilabelMatthewsCorrCoefOptions& options() const { return options_; }

 protected:
  std::vector<at::Tensor> compute_states() override;

 private:
  MultilabelMatthewsCorrCoefOptions options_;
};

// ---------------------------------------------------------------- CohenKappa

struct LIGHTNING_API BinaryCohenKappaOptions {
  TORCH_ARG(double, threshold) = 0.5;
  TORCH_ARG(std::optional<int64_t>, ignore_index) = std::nullopt;
  /// Disagreement weights: "none" (0 on the diagonal, 1 elsewhere),
  /// "linear" (|i - j|) or "quadratic" ((i - j)^2).
  TORCH_ARG(std::string, weights) = "none";
  TORCH_ARG(bool, validate_args) = true;
};

/// Cohen's kappa between binary predictions and targets.
class LIGHTNING_API BinaryCohenKappa : public ConfusionMatrixBase {
 public:
  explicit BinaryCohenKappa(BinaryCohenKappaOptions options = {});
  const BinaryCohenKappaOptions& options() const { return options_; }

 protected:
  std::vector<at::Tensor> compute_states() override;

 private:
  BinaryCohenKappaOptions options_;
};

struct LIGHTNING_API MulticlassCohenKappaOptions {
  TORCH_ARG(std::optional<int64_t>, ignore_index) = std::nullopt;
  /// "none", "linear" or "quadratic".
  TORCH_ARG(std::string, weights) = "none";
  TORCH_ARG(bool, validate_args) = true;
};

/// Cohen's kappa between multiclass predictions and targets.
class LIGHTNING_API MulticlassCohenKappa : public ConfusionMatrixBase {
 public:
  explicit MulticlassCohenKappa(int64_t num_classes, MulticlassCohenKappaOptions options = {});
  const MulticlassCohenKappaOptions& options() const { return options_; }

 protected:
  std::vector<at::Tensor> compute_states() override;

 private:
  MulticlassCohenKappaOptions options_;
};

}  // namespace lightning::metrics
