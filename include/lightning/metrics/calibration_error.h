// lightning/metrics/calibration_error.h — expected / maximum calibration error
// (torchmetrics' BinaryCalibrationError and MulticlassCalibrationError).
//
//   // Python: MulticlassCalibrationError(num_classes=10, n_bins=15, norm="l1")
//   auto ece = std::make_shared<LM::MulticlassCalibrationError>(10);
//   ece->update(logits, y);              // logits [N, 10], y [N]
//   at::Tensor value = ece->compute();
//
// The confidences (binary: the probability of the positive class; multiclass:
// the top probability) are binned into n_bins equal-width bins of [0, 1];
// the error compares each bin's accuracy with its mean confidence:
//   "l1"  sum_b p_b |acc_b - conf_b|          (expected calibration error)
//   "l2"  sqrt(sum_b p_b (acc_b - conf_b)^2)  (root mean square error)
//   "max" max_b |acc_b - conf_b|              (maximum calibration error)
// with p_b the share of samples in bin b.
//
// Inputs, as torchmetrics: floating preds only. Binary: preds (N, ...),
// probabilities or logits (sigmoid when outside [0, 1]); target (N, ...) 0/1.
// Multiclass: preds (N, C, ...), probabilities or logits (softmax over dim 1
// when outside [0, 1]); target (N, ...) in [0, C). Targets equal to
// ignore_index are left out.
//
// States: two list states (concatenated over ranks), "confidences" and
// "accuracies", one item per update. Output: a scalar of the confidences'
// dtype (binary: the preds' floating dtype; multiclass: float32), except that
// "l2" with a zero error returns an int64 0, as torchmetrics does.
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

struct LIGHTNING_API BinaryCalibrationErrorOptions {
  /// Number of equal-width bins of [0, 1], >= 1.
  TORCH_ARG(int64_t, n_bins) = 15;
  /// "l1", "l2" or "max".
  TORCH_ARG(std::string, norm) = "l1";
  /// Target value left out.
  TORCH_ARG(std::optional<int64_t>, ignore_index) = std::nullopt;
  /// Check the arguments and the inputs.
  TORCH_ARG(bool, validate_args) = true;
};

class LIGHTNING_API BinaryCalibrationError : public Metric {
 public:
  explicit BinaryCalibrationError(BinaryCalibrationErrorOptions options = {});
  const BinaryCalibrationErrorOptions& options() const { return options_; }

 protected:
  void update_states(const std::vector<at::Tensor>& inputs) override;
  std::vector<at::Tensor> compute_states() override;

 private:
  BinaryCalibrationErrorOptions options_;
};

struct LIGHTNING_API MulticlassCalibrationErrorOptions {
  TORCH_ARG(int64_t, n_bins) = 15;
  TORCH_ARG(std::string, norm) = "l1";
  TORCH_ARG(std::optional<int64_t>, ignore_index) = std::nullopt;
  TORCH_ARG(bool, validate_args) = true;
};

class LIGHTNING_API MulticlassCalibrationError : public Metric {
 public:
  explicit MulticlassCalibrationError(int64_t num_classes,
                                      MulticlassCalibrationErrorOptions options = {});
  const MulticlassCalibrationErrorOptions& options() const { return options_; }
  int64_t num_classes() const { return num_classes_; }

 protected:
  void update_states(const std::vector<at::Tensor>& inputs) override;
  std::vector<at::Tensor> compute_states() override;

 private:
  int64_t num_classes_;
  MulticlassCalibrationErrorOptions options_;
};

}  // namespace lightning::metrics
