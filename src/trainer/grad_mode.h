// Internal: the autograd mode of evaluation and predict
// (TrainerOptions::inference_mode) and of fit's training loop
// (TrainerOptions::detect_anomaly).
#pragma once

#include <ATen/core/grad_mode.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/autograd/anomaly_mode.h>

namespace lightning::detail {

/// InferenceMode when `inference`, else NoGradGuard (Lightning's
/// `inference_mode=False`: tensors made here can enter autograd later).
class EvaluationGradMode {
 public:
  explicit EvaluationGradMode(bool inference) : inference_(inference), grad_(false) {}

 private:
  c10::InferenceMode inference_;  // on, or explicitly off
  at::AutoGradMode grad_;         // off either way, restored after
};

/// Anomaly detection on for the scope when `enabled`; restores the previous
/// setting.
class AnomalyDetection {
 public:
  explicit AnomalyDetection(bool enabled)
      : previous_(torch::autograd::AnomalyMode::is_enabled()), enabled_(enabled) {
    if (enabled_) torch::autograd::AnomalyMode::set_enabled(true);
  }
  ~AnomalyDetection() {
    if (enabled_) torch::autograd::AnomalyMode::set_enabled(previous_);
  }
  AnomalyDetection(const AnomalyDetection&) = delete;
  AnomalyDetection& operator=(const AnomalyDetection&) = delete;

 private:
  bool previous_;
  bool enabled_;
};

}  // namespace lightning::detail
