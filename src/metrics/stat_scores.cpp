// The stat-scores family: torchmetrics 1.9's functional/classification/
// stat_scores.py and the _reduce functions of accuracy.py, precision_recall.py,
// f_beta.py, specificity.py, hamming.py and exact_match.py, in one place.
//
// Every input becomes counts the same way: binary and multilabel preds are
// thresholded and compared position by position; multiclass preds become one
// class label per position (argmax, or torchmetrics' top_k rule), and the
// labels a confusion matrix (per sample with "samplewise"), which gives each
// class's tp, fp, tn and fn. torchmetrics takes three roads there (one-hot
// sums, a bincount, a micro shortcut); they agree on every valid input, and
// the states keep torchmetrics' shapes.
#include "lightning/metrics/stat_scores.h"

#include <ATen/Context.h>

#include <algorithm>
#include <array>
#include <tuple>

#include "lightning/error.h"

namespace lightning::metrics {

namespace {

constexpr std::array<const char*, 4> kStates = {"tp", "fp", "tn", "fn"};

const char* task_prefix(ClassificationTask task) {
  switch (task) {
    case ClassificationTask::Binary:
      return "Binary";
    case ClassificationTask::Multiclass:
      return "Multiclass";
    case ClassificationTask::Multilabel:
      return "Multilabel";
  }
  return "";
}

ClassificationTask parse_task(const std::string& task, const char* who, bool binary_allowed) {
  if (task == "binary" && binary_allowed) return ClassificationTask::Binary;
  if (task == "multiclass") return ClassificationTask::Multiclass;
  if (task == "multilabel") return ClassificationTask::Multilabel;
  LIGHTNING_FAIL(who, ": task must be ", binary_allowed ? "\"binary\", " : "",
                 "\"multiclass\" or \"multilabel\", got \"", task, "\".");
}

/// The task options' num_classes or num_labels, which the task requires.
std::optional<int64_t> task_classes(const ClassificationTaskOptions& o, ClassificationTask task,
                                    const char* who) {
  if (task == ClassificationTask::Binary) return std::nullopt;
  const bool multiclass = task == ClassificationTask::Multiclass;
  const auto& classes = multiclass ? o.num_classes() : o.num_labels();
  LIGHTNING_CHECK(classes.has_value(), who, "(task=\"", o.task(), "\") needs ",
                  multiclass ? "num_classes (the number of classes)" : "num_labels", ", got none.");
  return classes;
}

bool parse_samplewise(const std::string& who, const std::string& multidim_average) {
  LIGHTNING_CHECK(multidim_average == "global" || multidim_average == "samplewise", who,
                  ": multidim_average must be \"global\" or \"samplewise\", got \"",
                  multidim_average, "\".");
  return multidim_average == "samplewise";
}

void check_threshold(const std::string& who, double threshold) {
  LIGHTNING_CHECK(threshold >= 0 && threshold <= 1, who, ": threshold must be in [0, 1], got ",
                  threshold, ".");
}

void check_count(const std::string& who, const char* what, std::optional<int64_t> count) {
  LIGHTNING_CHECK(count.has_value() && *count >= 2, who, ": ", what,
                  " must be an integer larger than 1, got ",
                  count ? std::to_string(*count) : std::string("none"), ".");
}

std::string ignore_text(std::optional<int64_t> ignore_index) {
  return ignore_index ? c10::str(" (or ignore_index ", *ignore_index, ")") : std::string();
}

/// Up to ten distinct values of `t`, for messages.
std::string some_values(const at::Tensor& t) {
  auto values = std::get<0>(at::_unique(t.flatten().cpu())).to(at::kDouble);
  std::string text = "[";
  const int64_t shown = std::min<int64_t>(values.numel(), 10);
  for (int64_t i = 0; i < shown; ++i) {
    text += (i ? ", " : "") + c10::str(values[i].item<double>());
  }
  return text + (values.numel() > shown ? ", ...]" : "]");
}

/// `t` with its first `keep` dimensions and the others merged into one (a
/// 0-dim tensor is one sample).
at::Tensor merge_trailing(const at::Tensor& t, int64_t keep) {
  std::vector<int64_t> sizes;
  int64_t rest = 1;
  for (int64_t d = 0; d < t.dim(); ++d) {
    if (d < keep) {
      sizes.push_back(t.size(d));
    } else {
      rest *= t.size(d);
    }
  }
  sizes.resize(keep, 1);
  sizes.push_back(rest);
  return t.reshape(sizes);
}

// ---- binary and multilabel inputs ------------------------------------------

/// Binary (num_labels 0) or multilabel inputs: shapes always, values when
/// `validate`.
void check_binary_inputs(const std::string& who, const at::Tensor& preds, const at::Tensor& target,
                         int64_t num_labels, bool samplewise, std::optional<int64_t> ignore_index,
                         bool validate) {
  LIGHTNING_CHECK(preds.sizes() == target.sizes(), who,
                  ": preds and target must have the same shape, got preds ", preds.sizes(),
                  " and target ", target.sizes(), ".");
  const bool multilabel = num_labels > 0;
  LIGHTNING_CHECK(!multilabel || (preds.dim() >= 2 && preds.size(1) == num_labels), who,
                  ": preds and target must be (N, num_labels, ...) with num_labels = ", num_labels,
                  ", got shape ", preds.sizes(), ".");
  const int64_t min_dim = multilabel ? 3 : 2;
  LIGHTNING_CHECK(!samplewise || preds.dim() >= min_dim, who,
                  ": multidim_average \"samplewise\" needs preds and target of at least ", min_dim,
                  " dimensions (", multilabel ? "N, num_labels, ..." : "N, ...", "), got shape ",
                  preds.sizes(), ".");
  if (!validate) return;
  auto bad = (target != 0) & (target != 1);
  if (ignore_index) bad = bad & (target != *ignore_index);
  LIGHTNING_CHECK(!bad.any().item<bool>(), who, ": target must hold only 0 and 1",
                  ignore_text(ignore_index), ", found ", some_values(target.masked_select(bad)),
                  ".");
  if (!preds.is_floating_point()) {
    bad = (preds != 0) & (preds != 1);
    LIGHTNING_CHECK(!bad.any().item<bool>(), who,
                    ": integer preds are labels and must hold only 0 and 1, found ",
                    some_values(preds.masked_select(bad)),
                    "; pass floating preds for probabilities or logits.");
  }
}

/// Where preds say "positive": floating preds are probabilities, or logits
/// when any value of the batch lies outside [0, 1] (torchmetrics' rule, NaN
/// included); integer preds are labels.
at::Tensor positive(const at::Tensor& preds, double threshold) {
  if (!preds.is_floating_point()) return preds != 0;
  // where() rather than a branch: no device sync.
  auto probabilities = at::where(((preds >= 0) & (preds <= 1)).all(), preds, preds.sigmoid());
  return probabilities > threshold;
}

struct Counts {
  at::Tensor tp, fp, tn, fn;
};

/// Binary counts of `predicted` (bool) against `target` (0/1), summed over
/// `dims` (all when empty).
Counts binary_counts(const at::Tensor& predicted, const at::Tensor& target,
                     std::optional<int64_t> ignore_index, std::vector<int64_t> dims) {
  auto is_pos = target == 1;
  auto is_neg = target == 0;
  if (ignore_index) {
    auto kept = target != *ignore_index;
    is_pos = is_pos & kept;
    is_neg = is_neg & kept;
  }
  auto missed = predicted.logical_not();
  auto sum = [&](const at::Tensor& t) { return dims.empty() ? t.sum() : t.sum(dims); };
  return {sum(predicted & is_pos), sum(predicted & is_neg), sum(missed & is_neg),
          sum(missed & is_pos)};
}

// ---- multiclass inputs -------------------------------------------------------

/// Multiclass inputs: preds (N, C, ...) scores or (N, ...) labels; shapes
/// always, values when `validate` (and num_classes is known).
void check_multiclass_inputs(const std::string& who, const at::Tensor& preds,
                             const at::Tensor& target, int64_t num_classes, int64_t top_k,
                             bool samplewise, std::optional<int64_t> ignore_index, bool validate) {
  LIGHTNING_CHECK(at::isIntegralType(target.scalar_type(), /*includeBool=*/true), who,
                  ": target must be an integer tensor of class indices, got ", target.scalar_type(),
                  ".");
  const bool scores = preds.dim() == target.dim() + 1;
  if (scores) {
    LIGHTNING_CHECK(preds.is_floating_point(), who,
                    ": preds (N, C, ...) with a class dimension must be floating scores "
                    "(probabilities or logits), got ",
                    preds.scalar_type(), ".");
    LIGHTNING_CHECK(preds.dim() >= 2 && preds.size(0) == target.size(0) &&
                        preds.sizes().slice(2) == target.sizes().slice(1),
                    who,
                    ": preds (N, C, ...) and target (N, ...) must agree on N and the extra "
                    "dimensions, got preds ",
                    preds.sizes(), " and target ", target.sizes(), ".");
    LIGHTNING_CHECK(num_classes == 0 || preds.size(1) == num_classes, who,
                    ": preds (N, C, ...) must have C = num_classes = ", num_classes,
                    " scores, got preds ", preds.sizes(), ".");
  } else {
    LIGHTNING_CHECK(preds.sizes() == target.sizes(), who,
                    ": preds must be (N, ...) class labels of target's shape or (N, C, ...) "
                    "scores, got preds ",
                    preds.sizes(), " and target ", target.sizes(), ".");
    LIGHTNING_CHECK(!preds.is_floating_point(), who,
                    ": preds of target's shape are class labels and must be integers, got ",
                    preds.scalar_type(), "; pass scores (N, C, ...) for probabilities or logits.");
    LIGHTNING_CHECK(top_k == 1, who, ": top_k ", top_k,
                    " needs scores (N, C, ...) in preds, got class labels of shape ", preds.sizes(),
                    ".");
  }
  const int64_t min_dim = scores ? 3 : 2;
  LIGHTNING_CHECK(!samplewise || preds.dim() >= min_dim, who,
                  ": multidim_average \"samplewise\" needs preds of at least ", min_dim,
                  " dimensions (", scores ? "N, C, ..." : "N, ...", "), got preds ", preds.sizes(),
                  ".");
  if (!validate || num_classes == 0) return;
  auto out_of_range = [&](const at::Tensor& t) {
    auto bad = (t < 0) | (t >= num_classes);
    return ignore_index ? bad & (t != *ignore_index) : bad;
  };
  auto bad = out_of_range(target);
  LIGHTNING_CHECK(!bad.any().item<bool>(), who, ": target must hold class indices in [0, ",
                  num_classes, ")", ignore_text(ignore_index), ", found ",
                  some_values(target.masked_select(bad)), ".");
  if (!scores) {
    bad = out_of_range(preds);
    LIGHTNING_CHECK(!bad.any().item<bool>(), who, ": preds must hold class labels in [0, ",
                    num_classes, ")", ignore_text(ignore_index), ", found ",
                    some_values(preds.masked_select(bad)), ".");
  }
}

/// The predicted class of each position, int64 of target's shape: the labels,
/// the highest score, or with top_k > 1 the target when it is among the top_k
/// scores and else the highest (torchmetrics' _refine_preds_oh).
at::Tensor predicted_labels(const at::Tensor& preds, const at::Tensor& target, int64_t top_k) {
  if (preds.dim() != target.dim() + 1) return preds.to(at::kLong);
  if (top_k == 1) return preds.argmax(1);
  auto top = std::get<1>(preds.topk(top_k, 1));
  auto target_long = target.to(at::kLong);
  auto hit = (top == target_long.unsqueeze(1)).any(1);
  return at::where(hit, target_long, top.select(1, 0));
}

/// torch.bincount(x, minlength=bins). CUDA has no deterministic bincount;
/// under at::globalContext().deterministicAlgorithms() the counts come from a
/// sort there (torchmetrics falls back to a comparison mesh instead).
at::Tensor count_values(const at::Tensor& x, int64_t bins) {
  if (x.is_cpu() || !at::globalContext().deterministicAlgorithms()) {
    return at::bincount(x, {}, bins);
  }
  auto edges = at::searchsorted(std::get<0>(x.sort()), at::arange(bins + 1, x.options()));
  return edges.narrow(0, 1, bins) - edges.narrow(0, 0, bins);
}

/// Per-class counts from class labels (N, X) and targets (N, X): [C], or
/// [N, C] per sample. A position counts when its target is a class and not
/// ignore_index; a label outside [0, C) there is wrong for every class.
Counts multiclass_counts(const at::Tensor& labels, const at::Tensor& target, int64_t num_classes,
                         std::optional<int64_t> ignore_index, bool samplewise) {
  const int64_t n = labels.size(0);
  const int64_t cols = num_classes + 1;  // the last: labels outside [0, C)
  auto counted = (target >= 0) & (target < num_classes);
  if (ignore_index) counted = counted & (target != *ignore_index);
  auto column = labels.masked_fill((labels < 0) | (labels >= num_classes), num_classes);
  auto cell = target.to(at::kLong) * cols + column;
  const int64_t groups = samplewise ? n : 1;
  if (samplewise) cell = cell + at::arange(n, cell.options()).unsqueeze(1) * (num_classes * cols);
  auto confmat = count_values(cell.masked_select(counted), groups * num_classes * cols)
                     .reshape({groups, num_classes, cols});
  auto tp = confmat.diagonal(0, 1, 2);
  auto fp = confmat.sum(1).narrow(1, 0, num_classes) - tp;
  auto fn = confmat.sum(2) - tp;
  auto tn = confmat.sum({1, 2}, /*keepdim=*/false).unsqueeze(1) - tp - fp - fn;
  if (!samplewise) return {tp[0], fp[0], tn[0], fn[0]};
  return {tp, fp, tn, fn};
}

/// torchmetrics' _safe_divide: float32 num / den, `zero_division` where den is 0.
at::Tensor safe_divide(at::Tensor num, at::Tensor den, double zero_division = 0) {
  if (!num.is_floating_point()) num = num.to(at::kFloat);
  if (!den.is_floating_point()) den = den.to(at::kFloat);
  return at::where(den != 0, num / den, at::scalar_tensor(zero_division, num.options()));
}

/// torchmetrics' compute() squeezes a one-element result to 0-dim.
at::Tensor squeeze_scalar(const at::Tensor& t) { return t.numel() == 1 ? t.reshape({}) : t; }

}  // namespace

// ---- StatScoresBase ------------------------------------------------------------

const char* StatScoresBase::score_name(Score score) {
  switch (score) {
    case Score::StatScores:
      return "StatScores";
    case Score::Accuracy:
      return "Accuracy";
    case Score::Precision:
      return "Precision";
    case Score::Recall:
      return "Recall";
    case Score::F1Score:
      return "F1Score";
    case Score::FBetaScore:
      return "FBetaScore";
    case Score::Specificity:
      return "Specificity";
    case Score::HammingDistance:
      return "HammingDistance";
  }
  return "";
}

StatScoresBase::StatScoresBase(Score score, const BinaryStatScoresOptions& o, double beta)
    : StatScoresBase(score, ClassificationTask::Binary, "micro", o.multidim_average(),
                     o.threshold(), std::nullopt, 1, o.ignore_index(), o.validate_args(),
                     o.zero_division(), beta) {}

StatScoresBase::StatScoresBase(Score score, const MulticlassStatScoresOptions& o, double beta)
    : StatScoresBase(score, ClassificationTask::Multiclass, o.average(), o.multidim_average(), 0.5,
                     o.num_classes(), o.top_k(), o.ignore_index(), o.validate_args(),
                     o.zero_division(), beta) {}

StatScoresBase::StatScoresBase(Score score, const MultilabelStatScoresOptions& o, double beta)
    : StatScoresBase(score, ClassificationTask::Multilabel, o.average(), o.multidim_average(),
                     o.threshold(), o.num_labels(), 1, o.ignore_index(), o.validate_args(),
                     o.zero_division(), beta) {}

StatScoresBase::StatScoresBase(Score score, const ClassificationTaskOptions& o)
    : StatScoresBase(
          score, parse_task(o.task(), score_name(score), true), o.average(), o.multidim_average(),
          o.threshold(),
          task_classes(o, parse_task(o.task(), score_name(score), true), score_name(score)),
          o.top_k(), o.ignore_index(), o.validate_args(), o.zero_division(), o.beta()) {}

StatScoresBase::StatScoresBase(Score score, ClassificationTask task, const std::string& average,
                               const std::string& multidim_average, double threshold,
                               std::optional<int64_t> classes, int64_t top_k,
                               std::optional<int64_t> ignore_index, bool validate_args,
                               double zero_division, double beta)
    : Metric(std::string(task_prefix(task)) + score_name(score)),
      score_(score),
      task_(task),
      samplewise_(parse_samplewise(metric_name(), multidim_average)),
      threshold_(threshold),
      top_k_(top_k),
      ignore_index_(ignore_index),
      validate_args_(validate_args),
      zero_division_(zero_division),
      beta_(beta) {
  const std::string& who = metric_name();
  // torchmetrics checks the arguments only with validate_args; they cost
  // nothing here, so always.
  if (task != ClassificationTask::Binary) {
    if (average == "micro") {
      average_ = Average::Micro;
    } else if (average == "macro") {
      average_ = Average::Macro;
    } else if (average == "weighted") {
      average_ = Average::Weighted;
    } else if (average == "none") {
      average_ = Average::None;
    } else {
      LIGHTNING_FAIL(who,
                     ": average must be \"micro\", \"macro\", \"weighted\" or \"none\", got \"",
                     average, "\".");
    }
  }
  if (task == ClassificationTask::Multiclass) {
    if (classes) {
      check_count(who, "num_classes", classes);
    } else {
      LIGHTNING_CHECK(average_ == Average::Micro && !samplewise_, who,
                      ": num_classes is required unless average is \"micro\" with "
                      "multidim_average \"global\"; set it to the number of classes.");
    }
    classes_ = classes.value_or(0);
    LIGHTNING_CHECK(top_k >= 1, who, ": top_k must be at least 1, got ", top_k, ".");
    LIGHTNING_CHECK(top_k <= std::max<int64_t>(classes_, 1), who, ": top_k must be at most ",
                    "num_classes (", classes ? std::to_string(*classes) : std::string("none"),
                    "), got ", top_k, ".");
  } else {
    check_threshold(who, threshold);
    if (task == ClassificationTask::Multilabel) {
      check_count(who, "num_labels", classes);
      classes_ = *classes;
    }
  }
  LIGHTNING_CHECK(zero_division == 0 || zero_division == 1, who,
                  ": zero_division must be 0 or 1, got ", zero_division, ".");
  if (score == Score::FBetaScore) {
    LIGHTNING_CHECK(beta > 0, who, ": beta must be larger than 0, got ", beta, ".");
  }

  // One count in total for binary and for multiclass "micro" with top_k 1,
  // one per class otherwise (torchmetrics' state sizes).
  const bool one_count = task == ClassificationTask::Binary ||
                         (task == ClassificationTask::Multiclass && average_ == Average::Micro &&
                          top_k == 1 && !samplewise_);
  for (const char* name : kStates) {
    if (samplewise_) {
      add_list_state(name);
    } else {
      add_state(name, at::zeros({one_count ? 1 : classes_}, at::kLong), Reduction::Sum);
    }
  }
}

void StatScoresBase::update_states(const std::vector<at::Tensor>& inputs) {
  expect_inputs(inputs, 2, "(preds, target)");
  const at::Tensor& preds = inputs[0];
  const at::Tensor& target = inputs[1];
  const std::string& who = metric_name();
  Counts counts;
  if (task_ == ClassificationTask::Multiclass) {
    check_multiclass_inputs(who, preds, target, classes_, top_k_, samplewise_, ignore_index_,
                            validate_args_);
    auto labels = merge_trailing(predicted_labels(preds, target, top_k_), 1);
    auto targets = merge_trailing(target, 1);
    if (average_ == Average::Micro && top_k_ == 1 && !samplewise_) {
      // torchmetrics' shortcut: no class counts, and tn from the total.
      auto counted = ignore_index_ ? targets != *ignore_index_ : at::ones_like(targets, at::kBool);
      auto right = ((labels == targets) & counted).sum();
      auto wrong = counted.sum() - right;
      counts = {right, wrong, std::max<int64_t>(classes_, 1) * (right + wrong) - right - 2 * wrong,
                wrong};
    } else {
      counts = multiclass_counts(labels, targets, classes_, ignore_index_, samplewise_);
    }
  } else {
    const bool binary = task_ == ClassificationTask::Binary;
    check_binary_inputs(who, preds, target, binary ? 0 : classes_, samplewise_, ignore_index_,
                        validate_args_);
    const int64_t keep = binary ? 1 : 2;  // (N, X) or (N, L, X)
    auto predicted = merge_trailing(positive(preds, threshold_), keep);
    auto targets = merge_trailing(target, keep);
    std::vector<int64_t> dims;  // binary global: every dimension
    if (samplewise_) {
      dims = {keep};
    } else if (!binary) {
      dims = {0, 2};
    }
    counts = binary_counts(predicted, targets, ignore_index_, dims);
  }
  const std::array<const at::Tensor*, 4> values = {&counts.tp, &counts.fp, &counts.tn, &counts.fn};
  for (size_t i = 0; i < kStates.size(); ++i) {
    if (samplewise_) {
      append(kStates[i], *values[i]);
    } else {
      set_state(kStates[i], state(kStates[i]) + *values[i]);
    }
  }
}

std::vector<at::Tensor> StatScoresBase::compute_states() {
  const auto kind = at::TensorOptions().dtype(at::kLong).device(device());
  const auto no_samples =
      task_ == ClassificationTask::Binary ? at::zeros({0}, kind) : at::zeros({0, classes_}, kind);
  std::array<at::Tensor, 4> s;
  for (size_t i = 0; i < kStates.size(); ++i) {
    s[i] = samplewise_ ? cat_state(kStates[i], no_samples) : state(kStates[i]);
  }
  auto out = score_ == Score::StatScores ? stack_stats(s[0], s[1], s[2], s[3])
                                         : score_stats(s[0], s[1], s[2], s[3]);
  return {squeeze_scalar(out)};
}

at::Tensor StatScoresBase::stack_stats(const at::Tensor& tp, const at::Tensor& fp,
                                       const at::Tensor& tn, const at::Tensor& fn) const {
  auto res = at::stack({tp, fp, tn, fn, tp + fn}, -1);
  if (task_ == ClassificationTask::Binary) return res.squeeze();
  switch (average_) {
    case Average::Micro:
      return res.sum(-2);
    case Average::Macro:
      return res.to(at::kFloat).mean(-2);
    case Average::Weighted: {
      // Plain division, as torchmetrics: no support at all gives NaN.
      auto support = tp + fn;
      auto weights = support / support.sum(-1, /*keepdim=*/true);
      return (res * weights.unsqueeze(-1)).sum(-2);
    }
    case Average::None:
      return res;
  }
  return res;
}

at::Tensor StatScoresBase::formula(const at::Tensor& tp, const at::Tensor& fp, const at::Tensor& tn,
                                   const at::Tensor& fn) const {
  const bool multiclass = task_ == ClassificationTask::Multiclass;
  switch (score_) {
    case Score::Accuracy:
    case Score::HammingDistance: {
      auto accuracy =
          multiclass ? safe_divide(tp, tp + fn) : safe_divide(tp + tn, tp + tn + fp + fn);
      return score_ == Score::Accuracy ? accuracy : 1 - accuracy;
    }
    case Score::Precision:
      return safe_divide(tp, tp + fp, zero_division_);
    case Score::Recall:
      return safe_divide(tp, tp + fn, zero_division_);
    case Score::F1Score:
    case Score::FBetaScore: {
      const double beta2 = beta_ * beta_;
      return safe_divide((1 + beta2) * tp, (1 + beta2) * tp + beta2 * fn + fp, zero_division_);
    }
    case Score::Specificity:
      return safe_divide(tn, tn + fp);
    case Score::StatScores:
      break;
  }
  TORCH_INTERNAL_ASSERT(false, "StatScores has no formula");
  return {};
}

at::Tensor StatScoresBase::score_stats(const at::Tensor& tp, const at::Tensor& fp,
                                       const at::Tensor& tn, const at::Tensor& fn) const {
  if (task_ == ClassificationTask::Binary) return formula(tp, fp, tn, fn);
  if (average_ == Average::Micro) return formula(tp.sum(-1), fp.sum(-1), tn.sum(-1), fn.sum(-1));
  auto score = formula(tp, fp, tn, fn);
  if (average_ == Average::None) return score;
  // torchmetrics' _adjust_weights_safe_divide.
  at::Tensor weights;
  if (average_ == Average::Weighted) {
    weights = tp + fn;
  } else {
    weights = at::ones_like(score);
    if (task_ == ClassificationTask::Multiclass) {
      // Classes that never occur do not count. With top_k > 1 torchmetrics
      // asks for support instead, for accuracy, precision and recall only.
      const bool by_support = top_k_ > 1 && (score_ == Score::Accuracy ||
                                             score_ == Score::Precision || score_ == Score::Recall);
      weights.masked_fill_((by_support ? tp + fn : tp + fp + fn) == 0, 0);
    }
  }
  return safe_divide(weights * score, weights.sum(-1, /*keepdim=*/true)).sum(-1);
}

// ---- ExactMatchBase --------------------------------------------------------------

ExactMatchBase::ExactMatchBase(const MulticlassStatScoresOptions& o)
    : ExactMatchBase(ClassificationTask::Multiclass, o.multidim_average(), 0.5, o.num_classes(),
                     o.top_k(), o.ignore_index(), o.validate_args()) {}

ExactMatchBase::ExactMatchBase(const MultilabelStatScoresOptions& o)
    : ExactMatchBase(ClassificationTask::Multilabel, o.multidim_average(), o.threshold(),
                     o.num_labels(), 1, o.ignore_index(), o.validate_args()) {}

ExactMatchBase::ExactMatchBase(const ExactMatchOptions& o)
    : ExactMatchBase(parse_task(o.task(), "ExactMatch", false), o.multidim_average(), o.threshold(),
                     task_classes(o, parse_task(o.task(), "ExactMatch", false), "ExactMatch"), 1,
                     o.ignore_index(), o.validate_args()) {}

ExactMatchBase::ExactMatchBase(ClassificationTask task, const std::string& multidim_average,
                               double threshold, std::optional<int64_t> classes, int64_t top_k,
                               std::optional<int64_t> ignore_index, bool validate_args)
    : Metric(std::string(task_prefix(task)) + "ExactMatch"),
      task_(task),
      samplewise_(parse_samplewise(metric_name(), multidim_average)),
      threshold_(threshold),
      ignore_index_(ignore_index),
      validate_args_(validate_args) {
  const std::string& who = metric_name();
  const bool multiclass = task == ClassificationTask::Multiclass;
  check_count(who, multiclass ? "num_classes" : "num_labels", classes);
  classes_ = *classes;
  if (multiclass) {
    LIGHTNING_CHECK(top_k == 1, who,
                    ": top_k must be 1 (exact match takes the highest score), got ", top_k, ".");
  } else {
    check_threshold(who, threshold);
  }
  if (samplewise_) {
    add_list_state("correct");
  } else {
    add_state("correct", at::zeros({1}, at::kLong), Reduction::Sum);
    add_state("total", at::zeros({1}, at::kLong), Reduction::Sum);
  }
}

void ExactMatchBase::update_states(const std::vector<at::Tensor>& inputs) {
  expect_inputs(inputs, 2, "(preds, target)");
  const at::Tensor& preds = inputs[0];
  const at::Tensor& target = inputs[1];
  const std::string& who = metric_name();
  // right: (N, X) whether each position (multiclass) or each position's every
  // label (multilabel) is right.
  at::Tensor right;
  at::Tensor targets;
  if (task_ == ClassificationTask::Multiclass) {
    check_multiclass_inputs(who, preds, target, classes_, 1, samplewise_, ignore_index_,
                            validate_args_);
    targets = merge_trailing(target, 1);
    right = merge_trailing(predicted_labels(preds, target, 1), 1) == targets;
  } else {
    check_binary_inputs(who, preds, target, classes_, samplewise_, ignore_index_, validate_args_);
    targets = merge_trailing(target, 2);
    right = merge_trailing(positive(preds, threshold_), 2) == (targets == 1);
  }
  if (ignore_index_) right = right | (targets == *ignore_index_);
  // Per sample: whether all is right (multiclass), how many positions are (multilabel).
  at::Tensor correct;
  int64_t per_sample = 1;
  if (task_ == ClassificationTask::Multiclass) {
    correct = right.all(1);
  } else {
    correct = right.all(1).sum(1);
    per_sample = right.size(2);
  }
  if (samplewise_) {
    append("correct", safe_divide(correct, at::scalar_tensor(per_sample, correct.device())));
  } else {
    set_state("correct", state("correct") + correct.sum());
    set_state("total", state("total") + correct.size(0) * per_sample);
  }
}

std::vector<at::Tensor> ExactMatchBase::compute_states() {
  if (samplewise_) {
    return {squeeze_scalar(cat_state(
        "correct", at::zeros({0}, at::TensorOptions().dtype(at::kFloat).device(device()))))};
  }
  return {squeeze_scalar(safe_divide(state("correct"), state("total")))};
}

}  // namespace lightning::metrics
