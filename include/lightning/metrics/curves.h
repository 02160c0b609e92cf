// lightning/metrics/curves.h — the threshold curves of a classifier and the
// areas under them: torchmetrics' ROC, PrecisionRecallCurve, AUROC and
// AveragePrecision, for binary, multiclass and multilabel tasks.
//
//   auto auroc = std::make_shared<LM::MulticlassAUROC>(10);         // macro AUROC
//   auto ap = std::make_shared<LM::BinaryAveragePrecision>(
//       LM::BinaryAveragePrecisionOptions().thresholds(100));        // 100 bins
//   auto roc = std::make_shared<LM::BinaryROC>();
//   roc->update(probs, target);
//   LM::ROCCurve c = roc->curve();  // c.fpr[0], c.tpr[0], c.thresholds[0]
//
// `thresholds` (every class): none (the default) keeps every prediction and
// computes the exact curve; an integer N uses N evenly spaced thresholds in
// [0, 1], and a list or a 1-d tensor uses those thresholds. With thresholds
// the state is a confusion matrix per threshold, [T, 2, 2] (binary) or
// [T, C, 2, 2], whose size does not grow with the number of samples.
//
// Predictions are probabilities or logits: a batch with a value outside
// [0, 1] is passed through sigmoid (binary, multilabel) or softmax over the
// classes (multiclass), as torchmetrics does. Targets are integers.
//
// Outputs (compute_outputs(), in torchmetrics' order): ROC gives (fpr, tpr,
// thresholds), PrecisionRecallCurve (precision, recall, thresholds). For
// multiclass/multilabel without thresholds these are per-class lists,
// flattened: every class's fpr, then every tpr, then every thresholds. With
// thresholds they are tensors [C, T] (or [C, T + 1]) and the thresholds [T].
// `curve()` gives the same as per-class vectors. AUROC and AveragePrecision
// give one tensor (a scalar, or one value per class with average "none").
#pragma once

#include <ATen/ATen.h>
#include <torch/arg.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "lightning/export.h"
#include "lightning/metrics/metric.h"

namespace lightning::metrics {

namespace detail {
struct Curves;  // src/metrics/curves.cpp
}

/// torchmetrics' `thresholds` argument: none, a count, or explicit values.
class LIGHTNING_API Thresholds {
 public:
  /// None: the exact curve from every prediction.
  Thresholds() = default;
  Thresholds(std::nullopt_t) {}  // NOLINT(google-explicit-constructor)
  /// `count` thresholds evenly spaced in [0, 1] (torch.linspace(0, 1, count)).
  Thresholds(int count) : Thresholds(static_cast<int64_t>(count)) {}  // NOLINT
  Thresholds(int64_t count);                                          // NOLINT
  /// These thresholds, each in [0, 1].
  Thresholds(std::vector<double> values);            // NOLINT
  Thresholds(std::initializer_list<double> values);  // NOLINT
  /// These thresholds (a 1-d floating tensor).
  Thresholds(at::Tensor values);  // NOLINT

  bool is_none() const { return kind_ == Kind::None; }
  /// The value as torchmetrics prints it ("None", "5", "[0.1, 0.5]", "tensor of shape [2, 2]").
  std::string describe() const;
  /// Throws lightning::Error naming `metric` when torchmetrics rejects the value.
  void validate(const std::string& metric) const;
  /// The thresholds as a tensor (float32 unless given as a tensor); undefined for None.
  at::Tensor tensor() const;

 private:
  enum class Kind { None, Count, List, Tensor };
  Kind kind_ = Kind::None;
  int64_t count_ = 0;
  std::vector<double> values_;
  at::Tensor tensor_;
};

/// A ROC curve per class (one element for binary and for averaged curves).
struct ROCCurve {
  std::vector<at::Tensor> fpr;
  std::vector<at::Tensor> tpr;
  std::vector<at::Tensor> thresholds;
};

/// A precision-recall curve per class (one element for binary and averaged curves).
struct PRCurve {
  std::vector<at::Tensor> precision;
  std::vector<at::Tensor> recall;
  std::vector<at::Tensor> thresholds;
};

// ---------------------------------------------------------------------------
// Options. Arguments and defaults are torchmetrics'; "none" stands for None.

struct LIGHTNING_API BinaryPrecisionRecallCurveOptions {
  TORCH_ARG(Thresholds, thresholds) = {};
  /// Target value whose samples are left out.
  TORCH_ARG(std::optional<int64_t>, ignore_index) = std::nullopt;
  /// Check the arguments and every batch's inputs.
  TORCH_ARG(bool, validate_args) = true;
  /// "sigmoid": logits (a value outside [0, 1]) go through sigmoid; "none": never.
  TORCH_ARG(std::string, normalization) = "sigmoid";
};
using BinaryROCOptions = BinaryPrecisionRecallCurveOptions;
using BinaryAveragePrecisionOptions = BinaryPrecisionRecallCurveOptions;

struct LIGHTNING_API BinaryAUROCOptions {
  /// Partial AUC up to this false positive rate, McClish-standardized; in (0, 1].
  TORCH_ARG(std::optional<double>, max_fpr) = std::nullopt;
  TORCH_ARG(Thresholds, thresholds) = {};
  TORCH_ARG(std::optional<int64_t>, ignore_index) = std::nullopt;
  TORCH_ARG(bool, validate_args) = true;
};

struct LIGHTNING_API MulticlassPrecisionRecallCurveOptions {
  TORCH_ARG(Thresholds, thresholds) = {};
  /// "none" (a curve per class), "micro" (one-vs-rest pooled) or "macro"
  /// (the per-class curves interpolated onto one grid and averaged).
  TORCH_ARG(std::string, average) = "none";
  TORCH_ARG(std::optional<int64_t>, ignore_index) = std::nullopt;
  TORCH_ARG(bool, validate_args) = true;
};
using MulticlassROCOptions = MulticlassPrecisionRecallCurveOptions;

struct LIGHTNING_API MulticlassAUROCOptions {
  /// "macro", "weighted" (by support) or "none" (per class).
  TORCH_ARG(std::string, average) = "macro";
  TORCH_ARG(Thresholds, thresholds) = {};
  TORCH_ARG(std::optional<int64_t>, ignore_index) = std::nullopt;
  TORCH_ARG(bool, validate_args) = true;
};
using MulticlassAveragePrecisionOptions = MulticlassAUROCOptions;

struct LIGHTNING_API MultilabelPrecisionRecallCurveOptions {
  TORCH_ARG(Thresholds, thresholds) = {};
  TORCH_ARG(std::optional<int64_t>, ignore_index) = std::nullopt;
  TORCH_ARG(bool, validate_args) = true;
};
using MultilabelROCOptions = MultilabelPrecisionRecallCurveOptions;

struct LIGHTNING_API MultilabelAUROCOptions {
  /// "micro", "macro", "weighted" (by support) or "none" (per label).
  TORCH_ARG(std::string, average) = "macro";
  TORCH_ARG(Thresholds, thresholds) = {};
  TORCH_ARG(std::optional<int64_t>, ignore_index) = std::nullopt;
  TORCH_ARG(bool, validate_args) = true;
};
using MultilabelAveragePrecisionOptions = MultilabelAUROCOptions;

// ---------------------------------------------------------------------------

/// The states and the update shared by every curve metric: the predictions
/// and targets (exact curves) or a confusion matrix per threshold (binned).
class LIGHTNING_API CurveMetric : public Metric {
 public:
  enum class Task { Binary, Multiclass, Multilabel };

  /// The thresholds of a binned metric; undefined for exact curves.
  at::Tensor thresholds() const;

 protected:
  struct Setup {
    Task task = Task::Binary;
    int64_t num_classes = 1;  // classes or labels; 1 for binary
    Thresholds thresholds;
    std::optional<int64_t> ignore_index;
    bool validate_args = true;
    bool normalize = true;  // sigmoid/softmax logits
    bool pooled = false;    // multiclass "micro": one-vs-rest counts pooled over classes
  };
  CurveMetric(std::string name, Setup setup);

  void update_states(const std::vector<at::Tensor>& inputs) override;

  /// The per-class (or pooled) curves from the states: x = fpr, y = tpr
  /// (ROC) or x = precision, y = recall. `pooled` pools the one-vs-rest
  /// problems of every class into one (torchmetrics' "micro").
  detail::Curves roc_curves(bool pooled) const;
  detail::Curves pr_curves(bool pooled) const;
  /// Per-class support (targets equal to the class), [C].
  at::Tensor support() const;

  const Setup& setup() const { return setup_; }

 private:
  void check_inputs(const at::Tensor& preds, const at::Tensor& target) const;
  detail::Curves curves(bool pooled, bool roc) const;

  Setup setup_;
  at::Tensor thresholds_;  // binned only
};

// --- ROC -------------------------------------------------------------------

class LIGHTNING_API BinaryROC : public CurveMetric {
 public:
  explicit BinaryROC(BinaryROCOptions options = {});
  ROCCurve curve();

 protected:
  std::vector<at::Tensor> compute_states() override;
};

class LIGHTNING_API MulticlassROC : public CurveMetric {
 public:
  explicit MulticlassROC(int64_t num_classes, MulticlassROCOptions options = {});
  ROCCurve curve();

 protected:
  std::vector<at::Tensor> compute_states() override;

 private:
  std::string average_;
};

class LIGHTNING_API MultilabelROC : public CurveMetric {
 public:
  explicit MultilabelROC(int64_t num_labels, MultilabelROCOptions options = {});
  ROCCurve curve();

 protected:
  std::vector<at::Tensor> compute_states() override;
};

// --- Precision-recall curve ------------------------------------------------

class LIGHTNING_API BinaryPrecisionRecallCurve : public CurveMetric {
 public:
  explicit BinaryPrecisionRecallCurve(BinaryPrecisionRecallCurveOptions options = {});
  PRCurve curve();

 protected:
  std::vector<at::Tensor> compute_states() override;
};

class LIGHTNING_API MulticlassPrecisionRecallCurve : public CurveMetric {
 public:
  explicit MulticlassPrecisionRecallCurve(int64_t num_classes,
                                          MulticlassPrecisionRecallCurveOptions options = {});
  PRCurve curve();

 protected:
  std::vector<at::Tensor> compute_states() override;

 private:
  std::string average_;
};

class LIGHTNING_API MultilabelPrecisionRecallCurve : public CurveMetric {
 public:
  explicit MultilabelPrecisionRecallCurve(int64_t num_labels,
                                          MultilabelPrecisionRecallCurveOptions options = {});
  PRCurve curve();

 protected:
  std::vector<at::Tensor> compute_states() override;
};

// --- AUROC -----------------------------------------------------------------

class LIGHTNING_API BinaryAUROC : public CurveMetric {
 public:
  explicit BinaryAUROC(BinaryAUROCOptions options = {});

 protected:
  std::vector<at::Tensor> compute_states() override;

 private:
  std::optional<double> max_fpr_;
};

class LIGHTNING_API MulticlassAUROC : public CurveMetric {
 public:
  explicit MulticlassAUROC(int64_t num_classes, MulticlassAUROCOptions options = {});

 protected:
  std::vector<at::Tensor> compute_states() override;

 private:
  std::string average_;
};

class LIGHTNING_API MultilabelAUROC : public CurveMetric {
 public:
  explicit MultilabelAUROC(int64_t num_labels, MultilabelAUROCOptions options = {});

 protected:
  std::vector<at::Tensor> compute_states() override;

 private:
  std::string average_;
};

// --- Average precision -----------------------------------------------------

class LIGHTNING_API BinaryAveragePrecision : public CurveMetric {
 public:
  explicit BinaryAveragePrecision(BinaryAveragePrecisionOptions options = {});

 protected:
  std::vector<at::Tensor> compute_states() override;
};

class LIGHTNING_API MulticlassAveragePrecision : public CurveMetric {
 public:
  explicit MulticlassAveragePrecision(int64_t num_classes,
                                      MulticlassAveragePrecisionOptions options = {});

 protected:
  std::vector<at::Tensor> compute_states() override;

 private:
  std::string average_;
};

class LIGHTNING_API MultilabelAveragePrecision : public CurveMetric {
 public:
  explicit MultilabelAveragePrecision(int64_t num_labels,
                                      MultilabelAveragePrecisionOptions options = {});

 protected:
  std::vector<at::Tensor> compute_states() override;

 private:
  std::string average_;
};

}  // namespace lightning::metrics
