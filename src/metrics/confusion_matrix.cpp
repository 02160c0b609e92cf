#include "lightning/metrics/confusion_matrix.h"

#include <ATen/Context.h>

#include <sstream>
#include <utility>

#include "lightning/error.h"
#include "metrics/confusion_matrix_internal.h"
#include "metrics/tensor_math.h"

namespace lightning::metrics {

// ======================================================================== helpers

namespace detail {
namespace {

std::string value_text(const at::Tensor& scalar) {
  if (scalar.is_floating_point()) return c10::str(scalar.item<double>());
  return c10::str(scalar.item<int64_t>());
}

// The first value of `values` where `ok` is false, as text; nullopt when all are.
std::optional<std::string> first_bad(const at::Tensor& values, const at::Tensor& ok) {
  if (ok.all().item<bool>()) return std::nullopt;
  const at::Tensor bad = values.reshape({-1}).index({ok.reshape({-1}).logical_not()});
  return value_text(bad[0]);
}

std::string ignore_text(std::optional<int64_t> ignore_index) {
  return ignore_index ? c10::str(" (or ignore_index ", *ignore_index, ")") : std::string();
}

at::Tensor is_ignored(const at::Tensor& target, std::optional<int64_t> ignore_index) {
  if (!ignore_index) return at::zeros_like(target, target.options().dtype(at::kBool));
  return target.eq(*ignore_index);
}

// Target (and integer preds) must hold 0/1 only.
void check_zero_one(const std::string& metric, const at::Tensor& preds, const at::Tensor& target,
                    std::optional<int64_t> ignore_index) {
  const at::Tensor target_ok =
      target.eq(0).logical_or(target.eq(1)).logical_or(is_ignored(target, ignore_index));
  if (auto bad = first_bad(target, target_ok)) {
    LIGHTNING_FAIL(metric, ": target must contain only 0 and 1", ignore_text(ignore_index),
                   ", found ", *bad, ".");
  }
  if (!preds.is_floating_point()) {
    const at::Tensor preds_ok = preds.eq(0).logical_or(preds.eq(1));
    if (auto bad = first_bad(preds, preds_ok)) {
      LIGHTNING_FAIL(metric,
                     ": integer preds are labels and must contain only 0 and 1 (floating preds "
                     "are probabilities or logits), found ",
                     *bad, ".");
    }
  }
}

void check_labels(const std::string& metric, const char* what, const at::Tensor& labels,
                  int64_t num_classes, std::optional<int64_t> ignore_index) {
  if (labels.is_floating_point()) {
    if (auto bad = first_bad(labels, labels.eq(labels.trunc()))) {
      LIGHTNING_FAIL(metric, ": ", what, " must hold class indices (whole numbers), found ", *bad,
                     ".");
    }
  }
  const at::Tensor ok =
      labels.ge(0).logical_and(labels.lt(num_classes)).logical_or(is_ignored(labels, ignore_index));
  if (auto bad = first_bad(labels, ok)) {
    LIGHTNING_FAIL(metric, ": ", what, " must contain class indices in [0, ", num_classes, ")",
                   ignore_text(ignore_index), ", found ", *bad, ".");
  }
}

}  // namespace

at::Tensor sigmoid_if_logits(const at::Tensor& preds) {
  if (preds.ge(0).logical_and(preds.le(1)).all().item<bool>()) return preds;
  return preds.sigmoid();
}

at::Tensor softmax_if_logits(const at::Tensor& preds) {
  if (preds.ge(0).logical_and(preds.le(1)).all().item<bool>()) return preds;
  return preds.softmax(1);
}

void check_binary_inputs(const std::string& metric, const at::Tensor& preds,
                         const at::Tensor& target, std::optional<int64_t> ignore_index) {
  LIGHTNING_CHECK(preds.sizes() == target.sizes(), metric,
                  ": preds and target must have the same shape, got preds ", preds.sizes(),
                  " and target ", target.sizes(), ".");
  check_zero_one(metric, preds, target, ignore_index);
}

void check_multiclass_inputs(const std::string& metric, const at::Tensor& preds,
                             const at::Tensor& target, int64_t num_classes,
                             std::optional<int64_t> ignore_index) {
  const std::string shapes = c10::str("got preds ", preds.sizes(), " and target ", target.sizes());
  if (preds.dim() == target.dim() + 1) {
    LIGHTNING_CHECK(preds.is_floating_point(), metric,
                    ": preds with one dimension more than target must be floating scores, got "
                    "dtype ",
                    preds.scalar_type(), ".");
    LIGHTNING_CHECK(preds.size(1) == num_classes, metric,
                    ": preds with one dimension more than target must be (N, C, ...) with C = "
                    "num_classes = ",
                    num_classes, ", ", shapes, ".");
    LIGHTNING_CHECK(preds.sizes().slice(2) == target.sizes().slice(1), metric,
                    ": preds (N, C, ...) and target (N, ...) must agree in their other "
                    "dimensions, ",
                    shapes, ".");
  } else if (preds.dim() == target.dim()) {
    LIGHTNING_CHECK(preds.sizes() == target.sizes(), metric,
                    ": preds and target must have the same shape, ", shapes, ".");
  } else {
    LIGHTNING_FAIL(metric,
                   ": preds and target must be (N, ...) with the same shape, or preds (N, C, ...) "
                   "and target (N, ...); ",
                   shapes, ".");
  }
  check_labels(metric, "target", target, num_classes, ignore_index);
  if (preds.dim() == target.dim()) check_labels(metric, "preds", preds, num_classes, std::nullopt);
}

void check_multilabel_inputs(const std::string& metric, const at::Tensor& preds,
                             const at::Tensor& target, int64_t num_labels,
                             std::optional<int64_t> ignore_index) {
  LIGHTNING_CHECK(preds.sizes() == target.sizes(), metric,
                  ": preds and target must have the same shape, got preds ", preds.sizes(),
                  " and target ", target.sizes(), ".");
  LIGHTNING_CHECK(preds.dim() >= 2 && preds.size(1) == num_labels, metric,
                  ": preds and target must be (N, L, ...) with L = num_labels = ", num_labels,
                  ", got ", preds.sizes(), ".");
  check_zero_one(metric, preds, target, ignore_index);
}

void check_num(const std::string& metric, const char* arg, int64_t value, int64_t min_value) {
  LIGHTNING_CHECK(value >= min_value, metric, ": ", arg, " must be an integer larger than ",
                  min_value - 1, ", got ", value, ".");
}

void check_threshold(const std::string& metric, double threshold) {
  LIGHTNING_CHECK(threshold >= 0 && threshold <= 1, metric,
                  ": threshold must be a float in [0, 1], got ", threshold, ".");
}

void check_choice(const std::string& metric, const char* arg, const std::string& value,
                  std::initializer_list<const char*> allowed) {
  std::string list;
  size_t i = 0;
  for (const char* choice : allowed) {
    if (value == choice) return;
    list += (i == 0 ? "" : (i + 1 == allowed.size() ? " or " : ", "));
    list += c10::str("\"", choice, "\"");
    ++i;
  }
  LIGHTNING_FAIL(metric, ": ", arg, " must be ", list, ", got \"", value, "\".");
}

at::Tensor bincount(const at::Tensor& values, int64_t minlength) {
  if (at::globalContext().deterministicAlgorithms() && !values.is_cpu()) {
    const at::Tensor bins = at::arange(minlength, values.options());
    return values.reshape({-1, 1}).eq(bins).sum(0);
  }
  return at::bincount(values, {}, minlength);
}

}  // namespace detail

// ======================================================================== the shared state

ConfusionMatrixBase::ConfusionMatrixBase(std::string name, Task task, int64_t num, double threshold,
                                         std::optional<int64_t> ignore_index, bool validate_args)
    : Metric(std::move(name)),
      task_(task),
      num_(task == Task::Binary ? 2 : num),
      threshold_(threshold),
      ignore_index_(ignore_index),
      validate_args_(validate_args) {
  if (validate_args) {
    if (task == Task::Multiclass) detail::check_num(metric_name(), "num_classes", num, 2);
    if (task == Task::Multilabel) detail::check_num(metric_name(), "num_labels", num, 2);
    if (task != Task::Multiclass) detail::check_threshold(metric_name(), threshold);
  }
  LIGHTNING_CHECK(num_ >= 1, metric_name(), ": ",
                  task == Task::Multilabel ? "num_labels" : "num_classes",
                  " must be at least 1, got ", num_, ".");
  const std::vector<int64_t> shape = task == Task::Multilabel ? std::vector<int64_t>{num_, 2, 2}
                                                              : std::vector<int64_t>{num_, num_};
  add_state("confmat", at::zeros(shape, at::kLong), Reduction::Sum);
}

const at::Tensor& ConfusionMatrixBase::confmat() const { return state("confmat"); }

void ConfusionMatrixBase::update_states(const std::vector<at::Tensor>& inputs) {
  expect_inputs(inputs, 2, "(preds, target)");
  const at::Tensor preds = inputs[0].detach();
  const at::Tensor target = inputs[1].detach();
  at::Tensor counts;
  switch (task_) {
    case Task::Binary: {
      if (validate_args_) detail::check_binary_inputs(metric_name(), preds, target, ignore_index_);
      at::Tensor p = preds.reshape({-1});
      at::Tensor t = target.reshape({-1});
      if (ignore_index_) {
        const at::Tensor keep = t.ne(*ignore_index_);
        p = p.index({keep});
        t = t.index({keep});
      }
      if (p.is_floating_point()) p = detail::sigmoid_if_logits(p).gt(threshold_);
      const at::Tensor mapping = t.to(at::kLong) * 2 + p.to(at::kLong);
      counts = detail::bincount(mapping, 4).reshape({2, 2});
      break;
    }
    case Task::Multiclass: {
      if (validate_args_) {
        detail::check_multiclass_inputs(metric_name(), preds, target, num_, ignore_index_);
      }
      at::Tensor p = preds.dim() == target.dim() + 1 ? preds.argmax(1) : preds;
      p = p.reshape({-1});
      at::Tensor t = target.reshape({-1});
      if (ignore_index_) {
        const at::Tensor keep = t.ne(*ignore_index_);
        p = p.index({keep});
        t = t.index({keep});
      }
      const at::Tensor mapping = t.to(at::kLong) * num_ + p.to(at::kLong);
      counts = detail::bincount(mapping, num_ * num_).reshape({num_, num_});
      break;
    }
    case Task::Multilabel: {
      if (validate_args_) {
        detail::check_multilabel_inputs(metric_name(), preds, target, num_, ignore_index_);
      }
      at::Tensor p =
          preds.is_floating_point() ? detail::sigmoid_if_logits(preds).gt(threshold_) : preds;
      p = p.movedim(1, -1).reshape({-1, num_});
      const at::Tensor t = target.movedim(1, -1).reshape({-1, num_});
      at::Tensor mapping = t.to(at::kLong) * 2 + p.to(at::kLong) +
                           at::arange(num_, t.options().dtype(at::kLong)) * 4;
      if (ignore_index_) mapping = mapping.index({t.ne(*ignore_index_)});
      counts = detail::bincount(mapping.reshape({-1}), 4 * num_).reshape({num_, 2, 2});
      break;
    }
  }
  set_state("confmat", state("confmat") + counts);
}

// ======================================================================== reductions

namespace {

const std::initializer_list<const char*> kNormalize = {"true", "pred", "all", "none"};
const std::initializer_list<const char*> kAverage = {"micro", "macro", "weighted", "none"};
const std::initializer_list<const char*> kWeights = {"linear", "quadratic", "none"};

at::Tensor normalize_confmat(const at::Tensor& confmat, const std::string& normalize) {
  if (normalize == "none") return confmat.clone();
  at::Tensor m = confmat.to(at::kFloat);
  if (normalize == "true") {
    m = m / m.sum(-1, true);
  } else if (normalize == "pred") {
    m = m / m.sum(-2, true);
  } else {
    m = m / m.sum({-2, -1}, true);
  }
  const at::Tensor nan = m.isnan();
  const int64_t count = nan.sum().item<int64_t>();
  if (count > 0) {
    m = m.masked_fill(nan, 0);
    // Once per distinct message, as Python's default warning filter.
    lightning::detail::warn_once(
        c10::str(count, " NaN values found in confusion matrix have been replaced with zeros."));
  }
  return m;
}

// torchmetrics' _jaccard_index_reduce; `average` "binary" for the binary task.
at::Tensor jaccard_reduce(const at::Tensor& confmat_long, const std::string& average,
                          std::optional<int64_t> ignore_index, double zero_division) {
  const at::Tensor confmat = confmat_long.to(at::kFloat);
  if (average == "binary") {
    return detail::safe_divide(confmat[1][1], confmat[0][1] + confmat[1][0] + confmat[1][1],
                               zero_division);
  }
  const bool ignore_in_range =
      ignore_index && *ignore_index >= 0 && *ignore_index < confmat.size(0);
  const bool multilabel = confmat.dim() == 3;
  at::Tensor num;
  at::Tensor denom;
  if (multilabel) {
    num = confmat.select(1, 1).select(1, 1);
    denom = num + confmat.select(1, 0).select(1, 1) + confmat.select(1, 1).select(1, 0);
  } else {
    num = confmat.diagonal();
    denom = confmat.sum(0) + confmat.sum(1) - num;
  }
  if (average == "micro") {
    num = num.sum();
    denom = ignore_in_range ? denom.sum() - denom[*ignore_index] : denom.sum();
  }
  const at::Tensor jaccard = detail::safe_divide(num, denom, zero_division);
  if (average == "none" || average == "micro") return jaccard;
  at::Tensor weights;
  if (average == "weighted") {
    weights = multilabel ? confmat.select(1, 1).select(1, 1) + confmat.select(1, 1).select(1, 0)
                         : confmat.sum(1);
  } else {
    weights = at::ones_like(jaccard);
    if (ignore_in_range) weights[*ignore_index] = 0.0;
    if (!multilabel) weights = weights.masked_fill((confmat.sum(1) + confmat.sum(0)).eq(0), 0.0);
  }
  return (weights * jaccard / weights.sum()).sum();
}

// torchmetrics' _matthews_corrcoef_reduce, including its 2x2 special cases.
at::Tensor matthews_reduce(const at::Tensor& confmat_in) {
  const at::Tensor confmat_long = confmat_in.dim() == 3 ? confmat_in.sum(0) : confmat_in;
  const bool two_by_two = confmat_long.numel() == 4;
  int64_t tn = 0, fp = 0, fn = 0, tp = 0;
  if (two_by_two) {
    const at::Tensor flat = confmat_long.reshape({-1}).cpu();
    tn = flat[0].item<int64_t>();
    fp = flat[1].item<int64_t>();
    fn = flat[2].item<int64_t>();
    tp = flat[3].item<int64_t>();
    // Perfect or perfectly wrong: torchmetrics returns these in the state's dtype.
    if (tp + tn != 0 && fp + fn == 0) return at::full({}, 1, confmat_long.options());
    if (tp + tn == 0 && fp + fn != 0) return at::full({}, -1, confmat_long.options());
  }
  const at::Tensor confmat = confmat_long.to(at::kFloat);
  const at::Tensor tk = confmat.sum(-1);
  const at::Tensor pk = confmat.sum(-2);
  const at::Tensor c = confmat.trace();
  const at::Tensor s = confmat.sum();
  at::Tensor numerator = c * s - (tk * pk).sum();
  const at::Tensor cov_ypyp = s * s - (pk * pk).sum();
  const at::Tensor cov_ytyt = s * s - (tk * tk).sum();
  at::Tensor denom = cov_ypyp * cov_ytyt;
  if (denom.item<double>() == 0) {
    if (!two_by_two) return at::zeros({}, confmat.options());
    const auto opts = confmat.options();
    const float eps = std::numeric_limits<float>::epsilon();
    const at::Tensor sqrt_eps = at::full({}, eps, opts).sqrt();
    auto f = [&](double v) { return at::full({}, v, opts); };
    if (fn == 0 && tn == 0) {
      numerator = sqrt_eps * f(static_cast<double>(tp - fp));
    } else if (fp == 0 && tn == 0) {
      numerator = sqrt_eps * f(static_cast<double>(tp - fn));
    } else if (tp == 0 && fn == 0) {
      numerator = sqrt_eps * f(static_cast<double>(tn - fp));
    } else if (tp == 0 && fp == 0) {
      numerator = sqrt_eps * f(static_cast<double>(tn - fn));
    } else if (tp == 0) {
      numerator = f(static_cast<double>(tn - fp * fn));
    } else if (tn == 0) {
      numerator = f(static_cast<double>(tp - fp * fn));
    } else if (fp == 0 || fn == 0) {
      numerator = f(static_cast<double>(tp * tn));
    } else {
      return at::zeros({}, opts);
    }
    denom = (f(tp + fp) + eps) * (f(tp + fn) + eps) * (f(tn + fp) + eps) * (f(tn + fn) + eps);
  }
  return numerator / denom.sqrt();
}

// torchmetrics' _cohen_kappa_reduce.
at::Tensor cohen_kappa_reduce(const at::Tensor& confmat_long, const std::string& weights) {
  const at::Tensor confmat = confmat_long.to(at::kFloat);
  const int64_t n = confmat.size(0);
  const at::Tensor sum0 = confmat.sum(0, true);
  const at::Tensor sum1 = confmat.sum(1, true);
  const at::Tensor expected = sum1.matmul(sum0) / sum0.sum();
  at::Tensor w;
  if (weights == "none") {
    w = at::ones_like(confmat) - at::eye(n, confmat.options());
  } else {
    const at::Tensor idx = at::arange(n, confmat.options()).expand({n, n});
    const at::Tensor diff = idx - idx.t();
    w = weights == "linear" ? diff.abs() : diff.pow(2.0);
  }
  return 1 - (w * confmat).sum() / (w * expected).sum();
}

}  // namespace

// ======================================================================== ConfusionMatrix

BinaryConfusionMatrix::BinaryConfusionMatrix(BinaryConfusionMatrixOptions options)
    : ConfusionMatrixBase("BinaryConfusionMatrix", Task::Binary, 2, options.threshold(),
                          options.ignore_index(), options.validate_args()),
      options_(std::move(options)) {
  detail::check_choice(metric_name(), "normalize", options_.normalize(), kNormalize);
}

std::vector<at::Tensor> BinaryConfusionMatrix::compute_states() {
  return {normalize_confmat(confmat(), options_.normalize())};
}

MulticlassConfusionMatrix::MulticlassConfusionMatrix(int64_t num_classes,
                                                     MulticlassConfusionMatrixOptions options)
    : ConfusionMatrixBase("MulticlassConfusionMatrix", Task::Multiclass, num_classes, 0.5,
                          options.ignore_index(), options.validate_args()),
      options_(std::move(options)) {
  detail::check_choice(metric_name(), "normalize", options_.normalize(), kNormalize);
}

std::vector<at::Tensor> MulticlassConfusionMatrix::compute_states() {
  return {normalize_confmat(confmat(), options_.normalize())};
}

MultilabelConfusionMatrix::MultilabelConfusionMatrix(int64_t num_labels,
                                                     MultilabelConfusionMatrixOptions options)
    : ConfusionMatrixBase("MultilabelConfusionMatrix", Task::Multilabel, num_labels,
                          options.threshold(), options.ignore_index(), options.validate_args()),
      options_(std::move(options)) {
  detail::check_choice(metric_name(), "normalize", options_.normalize(), kNormalize);
}

std::vector<at::Tensor> MultilabelConfusionMatrix::compute_states() {
  return {normalize_confmat(confmat(), options_.normalize())};
}

// ======================================================================== JaccardIndex

BinaryJaccardIndex::BinaryJaccardIndex(BinaryJaccardIndexOptions options)
    : ConfusionMatrixBase("BinaryJaccardIndex", Task::Binary, 2, options.threshold(),
                          options.ignore_index(), options.validate_args()),
      options_(std::move(options)) {}

std::vector<at::Tensor> BinaryJaccardIndex::compute_states() {
  return {jaccard_reduce(confmat(), "binary", std::nullopt, options_.zero_division())};
}

MulticlassJaccardIndex::MulticlassJaccardIndex(int64_t num_classes,
                                               MulticlassJaccardIndexOptions options)
    : ConfusionMatrixBase("MulticlassJaccardIndex", Task::Multiclass, num_classes, 0.5,
                          options.ignore_index(), options.validate_args()),
      options_(std::move(options)) {
  detail::check_choice(metric_name(), "average", options_.average(), kAverage);
}

std::vector<at::Tensor> MulticlassJaccardIndex::compute_states() {
  return {jaccard_reduce(confmat(), options_.average(), options_.ignore_index(),
                         options_.zero_division())};
}

MultilabelJaccardIndex::MultilabelJaccardIndex(int64_t num_labels,
                                               MultilabelJaccardIndexOptions options)
    : ConfusionMatrixBase("MultilabelJaccardIndex", Task::Multilabel, num_labels,
                          options.threshold(), options.ignore_index(), options.validate_args()),
      options_(std::move(options)) {
  detail::check_choice(metric_name(), "average", options_.average(), kAverage);
}

std::vector<at::Tensor> MultilabelJaccardIndex::compute_states() {
  // ignore_index masks positions in multilabel inputs, not a label: the
  // reduction does not see it (as torchmetrics).
  return {jaccard_reduce(confmat(), options_.average(), std::nullopt, options_.zero_division())};
}

// ======================================================================== MatthewsCorrCoef

BinaryMatthewsCorrCoef::BinaryMatthewsCorrCoef(BinaryMatthewsCorrCoefOptions options)
    : ConfusionMatrixBase("BinaryMatthewsCorrCoef", Task::Binary, 2, options.threshold(),
                          options.ignore_index(), options.validate_args()),
      options_(std::move(options)) {}

std::vector<at::Tensor> BinaryMatthewsCorrCoef::compute_states() {
  return {matthews_reduce(confmat())};
}

MulticlassMatthewsCorrCoef::MulticlassMatthewsCorrCoef(int64_t num_classes,
                                                       MulticlassMatthewsCorrCoefOptions options)
    : ConfusionMatrixBase("MulticlassMatthewsCorrCoef", Task::Multiclass, num_classes, 0.5,
                          options.ignore_index(), options.validate_args()),
      options_(std::move(options)) {}

std::vector<at::Tensor> MulticlassMatthewsCorrCoef::compute_states() {
  return {matthews_reduce(confmat())};
}

MultilabelMatthewsCorrCoef::MultilabelMatthewsCorrCoef(int64_t num_labels,
                                                       MultilabelMatthewsCorrCoefOptions options)
    : ConfusionMatrixBase("MultilabelMatthewsCorrCoef", Task::Multilabel, num_labels,
                          options.threshold(), options.ignore_index(), options.validate_args()),
      options_(std::move(options)) {}

std::vector<at::Tensor> MultilabelMatthewsCorrCoef::compute_states() {
  return {matthews_reduce(confmat())};
}

// ======================================================================== CohenKappa

BinaryCohenKappa::BinaryCohenKappa(BinaryCohenKappaOptions options)
    : ConfusionMatrixBase("BinaryCohenKappa", Task::Binary, 2, options.threshold(),
                          options.ignore_index(), options.validate_args()),
      options_(std::move(options)) {
  detail::check_choice(metric_name(), "weights", options_.weights(), kWeights);
}

std::vector<at::Tensor> BinaryCohenKappa::compute_states() {
  return {cohen_kappa_reduce(confmat(), options_.weights())};
}

MulticlassCohenKappa::MulticlassCohenKappa(int64_t num_classes, MulticlassCohenKappaOptions options)
    : ConfusionMatrixBase("MulticlassCohenKappa", Task::Multiclass, num_classes, 0.5,
                          options.ignore_index(), options.validate_args()),
      options_(std::move(options)) {
  detail::check_choice(metric_name(), "weights", options_.weights(), kWeights);
}

std::vector<at::Tensor> MulticlassCohenKappa::compute_states() {
  return {cohen_kappa_reduce(confmat(), options_.weights())};
}

}  // namespace lightning::metrics
