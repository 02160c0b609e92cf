// Input checks and formatting shared by the confusion-matrix family
// (confusion_matrix.cpp) and the calibration errors (calibration_error.cpp).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <string>

namespace lightning::metrics::detail {

/// `preds` through a sigmoid unless every value lies in [0, 1] (a NaN counts
/// as outside), torchmetrics' rule for telling logits from probabilities.
at::Tensor sigmoid_if_logits(const at::Tensor& preds);
/// The same with a softmax over dim 1.
at::Tensor softmax_if_logits(const at::Tensor& preds);

/// Throws unless `preds` and `target` are binary inputs: same shape, target
/// 0/1 (or ignore_index), integer preds 0/1.
void check_binary_inputs(const std::string& metric, const at::Tensor& preds,
                         const at::Tensor& target, std::optional<int64_t> ignore_index);
/// Throws unless `preds` (N, C, ...) floating or (N, ...) labels and `target`
/// (N, ...) are multiclass inputs with labels in [0, num_classes).
void check_multiclass_inputs(const std::string& metric, const at::Tensor& preds,
                             const at::Tensor& target, int64_t num_classes,
                             std::optional<int64_t> ignore_index);
/// Throws unless `preds` and `target` (N, L, ...) are multilabel inputs.
void check_multilabel_inputs(const std::string& metric, const at::Tensor& preds,
                             const at::Tensor& target, int64_t num_labels,
                             std::optional<int64_t> ignore_index);

/// Checks of constructor arguments; each throws naming `metric`.
void check_num(const std::string& metric, const char* arg, int64_t value, int64_t min_value);
void check_threshold(const std::string& metric, double threshold);
void check_choice(const std::string& metric, const char* arg, const std::string& value,
                  std::initializer_list<const char*> allowed);

/// torch.bincount, or a comparison-based count when deterministic algorithms
/// are requested on an accelerator (where bincount has no deterministic kernel).
at::Tensor bincount(const at::Tensor& values, int64_t minlength);

}  // namespace lightning::metrics::detail
