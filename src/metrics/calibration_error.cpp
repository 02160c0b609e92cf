#include "lightning/metrics/calibration_error.h"

#include <utility>

#include "lightning/error.h"
#include "metrics/confusion_matrix_internal.h"

namespace lightning::metrics {
namespace {

const std::initializer_list<const char*> kNorm = {"l1", "l2", "max"};

void check_floating(const std::string& metric, const at::Tensor& preds) {
  LIGHTNING_CHECK(preds.is_floating_point(), metric,
                  ": preds must be a floating tensor of probabilities or logits, got dtype ",
                  preds.scalar_type(), ".");
}

// torchmetrics' _ce_compute (without debiasing): bins [0, 1] into n_bins
// equal-width bins (plus one for a confidence of exactly 1, as
// bucketize(right=True) places it) and compares accuracy with confidence.
at::Tensor calibration_error(const at::Tensor& confidences, const at::Tensor& accuracies_in,
                             int64_t n_bins, const std::string& norm) {
  const at::Tensor boundaries = at::linspace(0, 1, n_bins + 1, confidences.options());
  const at::Tensor accuracies = accuracies_in.to(confidences.scalar_type());
  const int64_t nb = boundaries.numel();
  const at::Tensor indices =
      at::bucketize(confidences, boundaries, /*out_int32=*/false, /*right=*/true) - 1;
  const at::Tensor count =
      at::zeros({nb}, confidences.options()).scatter_add(0, indices, at::ones_like(confidences));
  const at::Tensor conf_bin = at::nan_to_num(
      at::zeros({nb}, confidences.options()).scatter_add(0, indices, confidences) / count);
  const at::Tensor acc_bin = at::nan_to_num(
      at::zeros({nb}, confidences.options()).scatter_add(0, indices, accuracies) / count);
  const at::Tensor prop_bin = count / count.sum();
  if (norm == "l1") return ((acc_bin - conf_bin).abs() * prop_bin).sum();
  if (norm == "max") return (acc_bin - conf_bin).abs().max();
  const at::Tensor ce = ((acc_bin - conf_bin).pow(2) * prop_bin).sum();
  // torchmetrics returns an int64 zero when the error is not positive.
  if (!(ce.item<double>() > 0)) return at::zeros({}, confidences.options().dtype(at::kLong));
  return ce.sqrt();
}

}  // namespace

// ======================================================================== binary

BinaryCalibrationError::BinaryCalibrationError(BinaryCalibrationErrorOptions options)
    : Metric("BinaryCalibrationError"), options_(std::move(options)) {
  if (options_.validate_args()) detail::check_num(metric_name(), "n_bins", options_.n_bins(), 1);
  LIGHTNING_CHECK(options_.n_bins() >= 1, metric_name(), ": n_bins must be at least 1, got ",
                  options_.n_bins(), ".");
  detail::check_choice(metric_name(), "norm", options_.norm(), kNorm);
  add_list_state("confidences");
  add_list_state("accuracies");
}

void BinaryCalibrationError::update_states(const std::vector<at::Tensor>& inputs) {
  expect_inputs(inputs, 2, "(preds, target)");
  const at::Tensor preds = inputs[0].detach();
  const at::Tensor target = inputs[1].detach();
  if (options_.validate_args()) {
    detail::check_binary_inputs(metric_name(), preds, target, options_.ignore_index());
    check_floating(metric_name(), preds);
  }
  at::Tensor p = preds.reshape({-1});
  at::Tensor t = target.reshape({-1});
  if (options_.ignore_index()) {
    const at::Tensor keep = t.ne(*options_.ignore_index());
    p = p.index({keep});
    t = t.index({keep});
  }
  if (p.is_floating_point()) p = detail::sigmoid_if_logits(p);
  append("confidences", p);
  append("accuracies", t);
}

std::vector<at::Tensor> BinaryCalibrationError::compute_states() {
  const at::Tensor confidences = cat_state("confidences", at::empty({0}, at::kFloat));
  const at::Tensor accuracies = cat_state("accuracies", at::empty({0}, at::kLong));
  return {calibration_error(confidences, accuracies, options_.n_bins(), options_.norm())};
}

// ======================================================================== multiclass

MulticlassCalibrationError::MulticlassCalibrationError(int64_t num_classes,
                                                       MulticlassCalibrationErrorOptions options)
    : Metric("MulticlassCalibrationError"),
      num_classes_(num_classes),
      options_(std::move(options)) {
  if (options_.validate_args()) {
    detail::check_num(metric_name(), "num_classes", num_classes_, 2);
    detail::check_num(metric_name(), "n_bins", options_.n_bins(), 1);
  }
  LIGHTNING_CHECK(options_.n_bins() >= 1, metric_name(), ": n_bins must be at least 1, got ",
                  options_.n_bins(), ".");
  detail::check_choice(metric_name(), "norm", options_.norm(), kNorm);
  add_list_state("confidences");
  add_list_state("accuracies");
}

void MulticlassCalibrationError::update_states(const std::vector<at::Tensor>& inputs) {
  expect_inputs(inputs, 2, "(preds, target)");
  const at::Tensor preds = inputs[0].detach();
  const at::Tensor target = inputs[1].detach();
  if (options_.validate_args()) {
    detail::check_multiclass_inputs(metric_name(), preds, target, num_classes_,
                                    options_.ignore_index());
    check_floating(metric_name(), preds);
  }
  LIGHTNING_CHECK(preds.dim() == target.dim() + 1 && preds.dim() >= 2, metric_name(),
                  ": preds must be (N, C, ...) probabilities or logits with one dimension more "
                  "than target (N, ...), got preds of ",
                  preds.dim(), " and target of ", target.dim(), " dimensions.");
  at::Tensor p = preds.movedim(1, -1).reshape({-1, preds.size(1)});
  at::Tensor t = target.reshape({-1});
  if (options_.ignore_index()) {
    const at::Tensor keep = t.ne(*options_.ignore_index());
    p = p.index({keep});
    t = t.index({keep});
  }
  p = detail::softmax_if_logits(p);
  const auto [confidences, predictions] = p.max(1);
  append("confidences", confidences.to(at::kFloat));
  append("accuracies", predictions.eq(t).to(at::kFloat));
}

std::vector<at::Tensor> MulticlassCalibrationError::compute_states() {
  const at::Tensor confidences = cat_state("confidences", at::empty({0}, at::kFloat));
  const at::Tensor accuracies = cat_state("accuracies", at::empty({0}, at::kFloat));
  return {calibration_error(confidences, accuracies, options_.n_bins(), options_.norm())};
}

}  // namespace lightning::metrics
