// The curve metrics: one update (exact samples or binned confusion counts)
// and one curve computation shared by ROC, PrecisionRecallCurve, AUROC and
// AveragePrecision. Semantics follow torchmetrics 1.9 (see curves.h).
#include "lightning/metrics/curves.h"

#include <c10/util/StringUtil.h>

#include <cmath>
#include <sstream>
#include <tuple>
#include <utility>

#include "lightning/error.h"
#include "metrics/tensor_math.h"

namespace lightning::metrics {

namespace detail {
/// Curves of every class (or one): binned as tensors, exact as lists.
struct Curves {
  bool binned = false;
  // Binned: x and y are [T'] (one curve) or [C, T']; thr is [T].
  at::Tensor x, y, thr;
  // Exact: one entry per class (one for a single curve).
  std::vector<at::Tensor> xs, ys, thrs;
};
}  // namespace detail

namespace {

using detail::Curves;

/// num / den as floats, NaN where both are 0.
at::Tensor float_divide(at::Tensor num, at::Tensor den) {
  if (!num.is_floating_point()) num = num.to(at::kFloat);
  if (!den.is_floating_point()) den = den.to(at::kFloat);
  return num / den;
}

/// Probabilities from logits: when any value is outside [0, 1] (NaN counts),
/// sigmoid (or softmax over dim 1) of the whole batch. No host sync.
at::Tensor normalize(const at::Tensor& preds, bool softmax) {
  if (preds.numel() == 0) return preds;
  at::Tensor probabilities = ((preds >= 0) & (preds <= 1)).all();
  at::Tensor normalized = softmax ? at::softmax(preds, 1) : at::sigmoid(preds);
  return at::where(probabilities, preds, normalized);
}

/// Confusion counts per threshold: [T, C, 2 (target), 2 (predicted)], a
/// sample being predicted positive at threshold t when pred >= t. `target`
/// is 0/1 with preds' shape [N, C]; `valid` (optional) masks samples out.
/// Sorting the thresholds and bucketing every prediction once keeps the work
/// at O(N log T) and the memory at O(N + T).
at::Tensor binned_counts(const at::Tensor& preds, const at::Tensor& target, const at::Tensor& valid,
                         const at::Tensor& thresholds) {
  const int64_t T = thresholds.size(0);
  const int64_t C = preds.size(1);
  at::ScalarType type = at::promote_types(preds.scalar_type(), thresholds.scalar_type());
  if (type == at::kHalf || type == at::kBFloat16) type = at::kFloat;
  at::Tensor sorted, order;
  std::tie(sorted, order) = thresholds.to(preds.device(), type).sort();
  at::Tensor p = preds.to(type).contiguous();
  // Number of thresholds <= pred: the sample is positive at the first `k` sorted thresholds.
  at::Tensor k = at::bucketize(p, sorted, /*out_int32=*/false, /*right=*/true);
  k = at::where(at::isnan(p), at::zeros({}, k.options()), k);
  at::Tensor classes = at::arange(C, k.options()).unsqueeze(0);
  at::Tensor index = k + (T + 1) * (target.to(at::kLong) + 2 * classes);
  index = valid.defined() ? index.masked_select(valid) : index.reshape(-1);
  at::Tensor hist = at::bincount(index, {}, (T + 1) * 2 * C).view({C, 2, T + 1});
  at::Tensor at_least = hist.flip(-1).cumsum(-1).flip(-1);  // [..., j]: samples with k >= j
  at::Tensor positive = at_least.narrow(-1, 1, T);          // predicted positive at sorted j
  at::Tensor negative = at_least.narrow(-1, 0, 1) - positive;
  at::Tensor counts = at::stack({negative, positive}, -1).permute({2, 0, 1, 3});  // [T, C, 2, 2]
  return at::zeros_like(counts).index_copy_(0, order, counts.contiguous());
}

/// Sorted-score cumulative counts of one one-vs-rest problem: false and true
/// positives at every distinct score (descending), and those scores.
std::tuple<at::Tensor, at::Tensor, at::Tensor> clf_curve(const std::string& metric,
                                                         const at::Tensor& preds,
                                                         const at::Tensor& target,
                                                         int64_t pos_label) {
  const int64_t n = preds.size(0);
  LIGHTNING_CHECK(n > 0, metric,
                  ": no samples to compute the curve from (call update() with at least one "
                  "sample that is not ignore_index).");
  at::Tensor scores, order;
  std::tie(scores, order) = preds.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true);
  at::Tensor positive = (target.index_select(0, order) == pos_label).to(at::kLong);
  // The last index of every run of equal scores (NaN counts as distinct).
  at::Tensor last =
      at::cat({at::nonzero(scores.slice(0, 1) - scores.slice(0, 0, n - 1) != 0).reshape(-1),
               at::full({1}, n - 1, order.options())});
  at::Tensor tps = positive.cumsum(0).index_select(0, last);
  at::Tensor fps = last + 1 - tps;
  return {fps, tps, scores.index_select(0, last)};
}

void exact_roc(const std::string& metric, const at::Tensor& preds, const at::Tensor& target,
               int64_t pos_label, Curves& out) {
  at::Tensor fps, tps, thr;
  std::tie(fps, tps, thr) = clf_curve(metric, preds, target, pos_label);
  tps = at::cat({at::zeros({1}, tps.options()), tps});
  fps = at::cat({at::zeros({1}, fps.options()), fps});
  thr = at::cat({at::ones({1}, thr.options()), thr});
  at::Tensor fpr, tpr;
  if (fps[-1].item<int64_t>() <= 0) {
    lightning::detail::warn_once(metric +
                                 ": no negative samples in the targets, the false positive rate "
                                 "is meaningless and set to zero.");
    fpr = at::zeros_like(thr);
  } else {
    fpr = float_divide(fps, fps[-1]);
  }
  if (tps[-1].item<int64_t>() <= 0) {
    lightning::detail::warn_once(metric +
                                 ": no positive samples in the targets, the true positive rate "
                                 "is meaningless and set to zero.");
    tpr = at::zeros_like(thr);
  } else {
    tpr = float_divide(tps, tps[-1]);
  }
  out.xs.push_back(fpr);
  out.ys.push_back(tpr);
  out.thrs.push_back(thr);
}

void exact_pr(const std::string& metric, const at::Tensor& preds, const at::Tensor& target,
              int64_t pos_label, Curves& out) {
  at::Tensor fps, tps, thr;
  std::tie(fps, tps, thr) = clf_curve(metric, preds, target, pos_label);
  at::Tensor precision = float_divide(tps, tps + fps);
  at::Tensor recall = float_divide(tps, tps[-1]);
  // As torchmetrics: the fallback looks at the raw target being all 0, not at
  // the class being absent (so a multiclass class > 0 absent keeps NaN recall).
  if ((target == 0).all().item<bool>()) {
    lightning::detail::warn_once(metric +
                                 ": no positive samples in the targets, recall is undefined and "
                                 "set to one for every threshold.");
    recall = at::ones_like(recall);
  }
  out.xs.push_back(at::cat({precision.flip(0), at::ones({1}, precision.options())}));
  out.ys.push_back(at::cat({recall.flip(0), at::zeros({1}, recall.options())}));
  out.thrs.push_back(thr.flip(0));
}

/// Curves from confusion counts [T, 2, 2] (one curve) or [T, C, 2, 2].
Curves binned_curves(const at::Tensor& confmat, const at::Tensor& thresholds, bool roc) {
  Curves out;
  out.binned = true;
  at::Tensor tps = confmat.select(-2, 1).select(-1, 1);
  at::Tensor fps = confmat.select(-2, 0).select(-1, 1);
  at::Tensor fns = confmat.select(-2, 1).select(-1, 0);
  const bool per_class = confmat.dim() == 4;
  if (roc) {
    at::Tensor tns = confmat.select(-2, 0).select(-1, 0);
    out.y = detail::safe_divide(tps, tps + fns).flip(0);
    out.x = detail::safe_divide(fps, fps + tns).flip(0);
    out.thr = thresholds.flip(0);
  } else {
    at::Tensor precision = float_divide(tps, tps + fps);
    at::Tensor recall = float_divide(tps, tps + fns);
    auto row = precision.sizes().vec();
    row[0] = 1;
    out.x = at::cat({precision, at::ones(row, precision.options())});
    out.y = at::cat({recall, at::zeros(row, recall.options())});
    out.thr = thresholds;
  }
  if (per_class) {
    out.x = out.x.t().contiguous();
    out.y = out.y.t().contiguous();
  }
  return out;
}

/// Piecewise-linear interpolation of (xp, fp) at x (torchmetrics' interp):
/// the segment starting at the last xp <= x, clamped to the first/last one.
/// xp need not be sorted; the count of xp <= x comes from a sorted copy.
at::Tensor interp(const at::Tensor& x, const at::Tensor& xp, const at::Tensor& fp) {
  const int64_t n = xp.size(0);
  at::Tensor m = detail::safe_divide(fp.slice(0, 1) - fp.slice(0, 0, n - 1),
                                     xp.slice(0, 1) - xp.slice(0, 0, n - 1));
  at::Tensor b = fp.slice(0, 0, n - 1) - m * xp.slice(0, 0, n - 1);
  at::ScalarType type = at::promote_types(x.scalar_type(), xp.scalar_type());
  at::Tensor sorted = std::get<0>(xp.to(type).sort());
  const int64_t finite = n - at::isnan(sorted).sum().item<int64_t>();  // NaN sort last
  at::Tensor xt = x.to(type).contiguous();
  at::Tensor count = at::searchsorted(sorted.slice(0, 0, finite).contiguous(), xt,
                                      /*out_int32=*/false, /*right=*/true);
  count = at::where(at::isnan(xt), at::zeros({}, count.options()), count);
  at::Tensor index = (count - 1).clamp(0, m.size(0) - 1);
  return m.index_select(0, index) * x + b.index_select(0, index);
}

/// torchmetrics' "macro" curve: every class's curve interpolated at the
/// pooled x values, averaged; the pooled thresholds sorted.
std::vector<at::Tensor> macro_curve(const Curves& curves, int64_t num_classes, bool roc) {
  at::Tensor thr, x;
  if (curves.binned) {
    thr = curves.thr.repeat({num_classes});
    x = curves.x.flatten();
  } else {
    thr = at::cat(curves.thrs);
    x = at::cat(curves.xs);
  }
  thr = std::get<0>(thr.sort(/*stable=*/true, 0, /*descending=*/roc));
  x = std::get<0>(x.sort(/*stable=*/true, 0, /*descending=*/false));
  at::Tensor y = at::zeros_like(x);
  for (int64_t c = 0; c < num_classes; ++c) {
    if (curves.binned) {
      y += interp(x, curves.x[c], curves.y[c]);
    } else {
      y += interp(x, curves.xs[c], curves.ys[c]);
    }
  }
  y /= num_classes;
  return {x, y, thr};
}

/// The outputs in torchmetrics' order. Its Metric.compute squeezes every
/// one-element tensor to 0-dim (a curve of a single distinct score has one
/// threshold); so does this.
std::vector<at::Tensor> flatten_curves(const Curves& curves) {
  std::vector<at::Tensor> out;
  if (curves.binned) {
    out = {curves.x, curves.y, curves.thr};
  } else {
    out = curves.xs;
    out.insert(out.end(), curves.ys.begin(), curves.ys.end());
    out.insert(out.end(), curves.thrs.begin(), curves.thrs.end());
  }
  for (auto& t : out) {
    if (t.numel() == 1) t = t.reshape({});
  }
  return out;
}

/// compute_outputs() of a curve metric as per-class vectors.
void split_outputs(const std::vector<at::Tensor>& outputs, bool per_class,
                   std::vector<at::Tensor>& a, std::vector<at::Tensor>& b,
                   std::vector<at::Tensor>& c) {
  if (!per_class) {
    a = {outputs[0]};
    b = {outputs[1]};
    c = {outputs[2]};
  } else if (outputs.size() == 3 && outputs[0].dim() == 2) {  // binned: [C, T'] rows
    a = outputs[0].unbind(0);
    b = outputs[1].unbind(0);
    c.assign(a.size(), outputs[2]);
  } else {
    const size_t n = outputs.size() / 3;
    a.assign(outputs.begin(), outputs.begin() + n);
    b.assign(outputs.begin() + n, outputs.begin() + 2 * n);
    c.assign(outputs.begin() + 2 * n, outputs.end());
  }
}

ROCCurve roc_from(const std::vector<at::Tensor>& outputs, bool per_class) {
  ROCCurve curve;
  split_outputs(outputs, per_class, curve.fpr, curve.tpr, curve.thresholds);
  return curve;
}

PRCurve pr_from(const std::vector<at::Tensor>& outputs, bool per_class) {
  PRCurve curve;
  split_outputs(outputs, per_class, curve.precision, curve.recall, curve.thresholds);
  return curve;
}

/// Area under one ROC curve, or torchmetrics' McClish-standardized partial
/// area up to max_fpr.
at::Tensor binary_auroc(const std::string& metric, const at::Tensor& fpr, const at::Tensor& tpr,
                        std::optional<double> max_fpr) {
  if (!max_fpr || *max_fpr == 1.0 || fpr.sum().item<double>() == 0 ||
      tpr.sum().item<double>() == 0) {
    return at::trapz(tpr, fpr);
  }
  at::Tensor max_area = at::scalar_tensor(*max_fpr, fpr.options().dtype(at::kFloat));
  const int64_t stop =
      at::bucketize(max_area.to(fpr.scalar_type()), fpr.contiguous(), /*out_int32=*/true,
                    /*right=*/true)
          .item<int64_t>();
  // stop == 0 (the curve starts above max_fpr, possible with thresholds)
  // wraps to the last point as torchmetrics' indexing does.
  LIGHTNING_CHECK(stop < fpr.size(0), metric, ": max_fpr=", *max_fpr,
                  " is beyond the largest false positive rate of the curve (",
                  fpr.max().item<double>(), "); the thresholds must reach down to it.");
  at::Tensor weight = (max_area - fpr[stop - 1]) / (fpr[stop] - fpr[stop - 1]);
  at::Tensor interp_tpr = at::lerp(tpr[stop - 1], tpr[stop], weight);
  at::Tensor partial = at::trapz(at::cat({tpr.slice(0, 0, stop), interp_tpr.view({1})}),
                                 at::cat({fpr.slice(0, 0, stop), max_area.view({1})}));
  at::Tensor min_area = max_area.pow(2) * 0.5;
  return ((partial - min_area) / (max_area - min_area) + 1) * 0.5;
}

/// Per-class areas under the ROC curves.
at::Tensor per_class_auroc(const Curves& curves) {
  if (curves.binned) return at::trapz(curves.y, curves.x, 1);
  std::vector<at::Tensor> areas;
  for (size_t c = 0; c < curves.xs.size(); ++c)
    areas.push_back(at::trapz(curves.ys[c], curves.xs[c]));
  return at::stack(areas);
}

at::Tensor zero_nan(const at::Tensor& t) { return at::where(at::isnan(t), at::zeros_like(t), t); }

/// -sum((r[i+1] - r[i]) * p[i]) along the last dim.
at::Tensor step_area(const at::Tensor& precision, const at::Tensor& recall) {
  const int64_t n = recall.size(-1);
  return -((recall.narrow(-1, 1, n - 1) - recall.narrow(-1, 0, n - 1)) *
           precision.narrow(-1, 0, n - 1))
              .sum(-1);
}

at::Tensor binary_average_precision(const Curves& curves) {
  at::Tensor p = curves.binned ? curves.x : curves.xs[0];
  at::Tensor r = curves.binned ? curves.y : curves.ys[0];
  return step_area(zero_nan(p), zero_nan(r));
}

/// Per-class average precision; NaN is zeroed only for binned curves, as torchmetrics.
at::Tensor per_class_average_precision(const Curves& curves) {
  if (curves.binned) return step_area(zero_nan(curves.x), zero_nan(curves.y));
  std::vector<at::Tensor> areas;
  for (size_t c = 0; c < curves.xs.size(); ++c)
    areas.push_back(step_area(curves.xs[c], curves.ys[c]));
  return at::stack(areas);
}

/// torchmetrics' reduction of per-class scores: "none", or the mean
/// ("macro") or support-weighted mean ("weighted") over the non-NaN classes.
at::Tensor reduce_scores(const std::string& metric, const at::Tensor& scores,
                         const std::string& average, const at::Tensor& weights) {
  if (average == "none") return scores;
  at::Tensor keep = at::isnan(scores).logical_not();
  if (!keep.all().item<bool>()) {
    lightning::detail::warn_once(metric +
                                 ": the score of one or more classes is NaN; those "
                                 "classes are left out of the " +
                                 average + " average.");
  }
  at::Tensor kept = scores.masked_select(keep);
  if (average == "macro") return kept.mean();
  at::Tensor w = weights.masked_select(keep);
  return (kept * detail::safe_divide(w, w.sum())).sum();
}

// --- argument checks ---------------------------------------------------------

std::string quoted_list(const std::vector<std::string>& allowed) {
  std::string out;
  for (size_t i = 0; i < allowed.size(); ++i) {
    if (i > 0) out += i + 1 == allowed.size() ? " or " : ", ";
    out += "\"" + allowed[i] + "\"";
  }
  return out;
}

void check_average(const std::string& metric, const std::string& average,
                   const std::vector<std::string>& allowed) {
  for (const auto& a : allowed) {
    if (a == average) return;
  }
  LIGHTNING_FAIL(metric, ": average must be ", quoted_list(allowed), ", got \"", average, "\".");
}

void check_num_classes(const std::string& metric, const char* arg, int64_t n) {
  LIGHTNING_CHECK(n >= 2, metric, ": ", arg, " must be an integer larger than 1, got ", n, ".");
}

void check_max_fpr(const std::string& metric, const std::optional<double>& max_fpr) {
  if (!max_fpr) return;
  LIGHTNING_CHECK(*max_fpr > 0 && *max_fpr <= 1, metric,
                  ": max_fpr must be a float in (0, 1] or none, got ", *max_fpr, ".");
}

bool check_normalization(const std::string& metric, const std::string& normalization) {
  LIGHTNING_CHECK(normalization == "sigmoid" || normalization == "none", metric,
                  ": normalization must be \"sigmoid\" or \"none\" (binary scores are one "
                  "column, so softmax does not apply), got \"",
                  normalization, "\".");
  return normalization == "sigmoid";
}

}  // namespace

// --- Thresholds ---------------------------------------------------------------

Thresholds::Thresholds(int64_t count) : kind_(Kind::Count), count_(count) {}
Thresholds::Thresholds(std::vector<double> values)
    : kind_(Kind::List), values_(std::move(values)) {}
Thresholds::Thresholds(std::initializer_list<double> values) : kind_(Kind::List), values_(values) {}
Thresholds::Thresholds(at::Tensor values) : kind_(Kind::Tensor), tensor_(std::move(values)) {
  if (!tensor_.defined()) kind_ = Kind::None;
}

std::string Thresholds::describe() const {
  switch (kind_) {
    case Kind::None:
      return "None";
    case Kind::Count:
      return std::to_string(count_);
    case Kind::List: {
      std::ostringstream out;
      out << "[";
      for (size_t i = 0; i < values_.size(); ++i) out << (i ? ", " : "") << values_[i];
      out << "]";
      return out.str();
    }
    case Kind::Tensor:
      return c10::str("a tensor of shape ", tensor_.sizes());
  }
  return "";
}

void Thresholds::validate(const std::string& metric) const {
  const char* allowed =
      "none, an integer larger than 1, a list of floats in [0, 1] or a 1-d floating tensor";
  switch (kind_) {
    case Kind::None:
      return;
    case Kind::Count:
      LIGHTNING_CHECK(count_ >= 2, metric, ": thresholds must be ", allowed, ", got ", describe(),
                      ".");
      return;
    case Kind::List:
      for (double v : values_) {
        LIGHTNING_CHECK(v >= 0 && v <= 1, metric, ": thresholds must be ", allowed, ", got ",
                        describe(), ".");
      }
      return;
    case Kind::Tensor:
      LIGHTNING_CHECK(tensor_.dim() == 1 && tensor_.is_floating_point(), metric,
                      ": thresholds must be ", allowed, ", got ", describe(), " of ",
                      tensor_.scalar_type(), ".");
      return;
  }
}

at::Tensor Thresholds::tensor() const {
  switch (kind_) {
    case Kind::None:
      return {};
    case Kind::Count:
      return at::linspace(0, 1, count_, at::kFloat);
    case Kind::List:
      return at::tensor(values_, at::kDouble).to(at::kFloat);
    case Kind::Tensor:
      return tensor_.detach().clone();
  }
  return {};
}

// --- CurveMetric --------------------------------------------------------------

CurveMetric::CurveMetric(std::string name, Setup setup) : Metric(std::move(name)), setup_(setup) {
  // Constructor arguments are always checked (torchmetrics skips this with
  // validate_args=false and then fails later, or silently).
  setup_.thresholds.validate(metric_name());
  thresholds_ = setup_.thresholds.tensor();
  if (!thresholds_.defined()) {
    add_list_state("preds");
    add_list_state("target");
  } else {
    const int64_t T = thresholds_.size(0);
    const bool single = setup_.task == Task::Binary || setup_.pooled;
    add_state("confmat",
              single ? at::zeros({T, 2, 2}, at::kLong)
                     : at::zeros({T, setup_.num_classes, 2, 2}, at::kLong),
              Reduction::Sum);
  }
}

at::Tensor CurveMetric::thresholds() const {
  return thresholds_.defined() ? thresholds_.to(device()) : thresholds_;
}

void CurveMetric::check_inputs(const at::Tensor& preds, const at::Tensor& target) const {
  const std::string& name = metric_name();
  const int64_t C = setup_.num_classes;
  const auto& ii = setup_.ignore_index;
  if (setup_.task == Task::Multiclass) {
    LIGHTNING_CHECK(preds.dim() == target.dim() + 1, name,
                    ": preds must have one more dimension than target ((N, C, ...) and (N, ...)), "
                    "got ",
                    preds.dim(), " and ", target.dim(), " dimensions.");
  } else {
    LIGHTNING_CHECK(preds.sizes() == target.sizes(), name,
                    ": preds and target must have the same shape, got ", preds.sizes(), " and ",
                    target.sizes(), ".");
  }
  LIGHTNING_CHECK(!target.is_floating_point() && !target.is_complex(), name,
                  ": target must be an integer tensor of labels, got ", target.scalar_type(), ".");
  LIGHTNING_CHECK(preds.is_floating_point(), name,
                  ": preds must be a floating tensor of probabilities or logits, got ",
                  preds.scalar_type(), ".");
  if (setup_.task == Task::Multiclass) {
    LIGHTNING_CHECK(preds.size(1) == C, name, ": preds.shape[1] must equal num_classes (", C,
                    "), got ", preds.size(1), ".");
    bool same = preds.size(0) == target.size(0);
    for (int64_t d = 2; same && d < preds.dim(); ++d) same = preds.size(d) == target.size(d - 1);
    LIGHTNING_CHECK(same, name, ": preds must have shape (N, C, ...) and target (N, ...), got ",
                    preds.sizes(), " and ", target.sizes(), ".");
    if (target.numel() == 0) return;
    at::Tensor bad = (target < 0) | (target >= C);
    if (ii) bad &= target != *ii;
    if (bad.any().item<bool>()) {
      LIGHTNING_FAIL(name, ": target must hold class indices in [0, ", C, ")",
                     ii ? c10::str(" or ignore_index (", *ii, ")") : std::string(), ", found ",
                     target.masked_select(bad)[0].item<int64_t>(), ".");
    }
    return;
  }
  if (setup_.task == Task::Multilabel) {
    LIGHTNING_CHECK(preds.dim() >= 2 && preds.size(1) == C, name,
                    ": preds and target must have shape (N, num_labels, ...) with num_labels=", C,
                    ", got ", preds.sizes(), ".");
  }
  if (target.numel() == 0) return;
  at::Tensor bad = (target != 0) & (target != 1);
  if (ii) bad &= target != *ii;
  if (bad.any().item<bool>()) {
    LIGHTNING_FAIL(name, ": target must hold only 0 and 1",
                   ii ? c10::str(" (or ignore_index ", *ii, ")") : std::string(), ", found ",
                   target.masked_select(bad)[0].item<int64_t>(), ".");
  }
}

void CurveMetric::update_states(const std::vector<at::Tensor>& inputs) {
  expect_inputs(inputs, 2, "(preds, target)");
  at::Tensor preds = inputs[0].detach();
  at::Tensor target = inputs[1].detach();
  if (setup_.validate_args) check_inputs(preds, target);
  const int64_t C = setup_.num_classes;
  const auto& ii = setup_.ignore_index;
  at::Tensor valid;  // multilabel: entries that are not ignore_index
  switch (setup_.task) {
    case Task::Binary:
      preds = preds.flatten();
      target = target.flatten();
      if (ii) {
        at::Tensor keep = target != *ii;
        preds = preds.masked_select(keep);
        target = target.masked_select(keep);
      }
      if (setup_.normalize) preds = normalize(preds, /*softmax=*/false);
      break;
    case Task::Multiclass:
      preds = preds.transpose(0, 1).reshape({C, -1}).t();
      target = target.flatten();
      if (ii) {
        at::Tensor keep = (target != *ii).nonzero().reshape(-1);
        preds = preds.index_select(0, keep);
        target = target.index_select(0, keep);
      }
      preds = normalize(preds, /*softmax=*/true);
      break;
    case Task::Multilabel:
      preds = preds.transpose(0, 1).reshape({C, -1}).t();
      target = target.transpose(0, 1).reshape({C, -1}).t();
      preds = normalize(preds, /*softmax=*/false);
      if (ii) valid = target != *ii;
      break;
  }
  target = target.to(at::kLong);
  if (!thresholds_.defined()) {
    append("preds", preds.contiguous());
    append("target", target.contiguous());
    return;
  }
  at::Tensor thr = thresholds_.to(preds.device());
  at::Tensor counts;
  if (setup_.task == Task::Binary) {
    counts = binned_counts(preds.unsqueeze(1), target.unsqueeze(1), valid, thr).squeeze(1);
  } else if (setup_.task == Task::Multiclass) {
    at::Tensor onehot = at::one_hot(target, C);
    if (setup_.pooled) {
      counts =
          binned_counts(preds.reshape({-1, 1}), onehot.reshape({-1, 1}), valid, thr).squeeze(1);
    } else {
      counts = binned_counts(preds, onehot, valid, thr);
    }
  } else {
    at::Tensor labels = valid.defined() ? at::where(valid, target, at::zeros_like(target)) : target;
    counts = binned_counts(preds, labels, valid, thr);
  }
  set_state("confmat", state("confmat") + counts.to(state("confmat").device()));
}

detail::Curves CurveMetric::curves(bool pooled, bool roc) const {
  const std::string& name = metric_name();
  const int64_t C = setup_.num_classes;
  if (thresholds_.defined()) {
    at::Tensor cm = state("confmat");
    if (pooled && cm.dim() == 4) cm = cm.sum(1);
    return binned_curves(cm, thresholds(), roc);
  }
  auto curve = roc ? exact_roc : exact_pr;
  Curves out;
  const bool binary = setup_.task == Task::Binary;
  at::Tensor preds =
      cat_state("preds", binary ? at::empty({0}, at::kFloat) : at::empty({0, C}, at::kFloat));
  at::Tensor target =
      cat_state("target", binary ? at::empty({0}, at::kLong) : at::empty({0, C}, at::kLong));
  if (setup_.task == Task::Multiclass) target = target.reshape(-1);
  const auto& ii = setup_.ignore_index;
  switch (setup_.task) {
    case Task::Binary:
      curve(name, preds, target, 1, out);
      break;
    case Task::Multiclass:
      if (pooled) {
        curve(name, preds.reshape(-1), at::one_hot(target, C).reshape(-1), 1, out);
      } else {
        for (int64_t c = 0; c < C; ++c) curve(name, preds.select(1, c), target, c, out);
      }
      break;
    case Task::Multilabel:
      if (pooled) {
        at::Tensor p = preds.reshape(-1), t = target.reshape(-1);
        if (ii) {
          at::Tensor keep = t != *ii;
          p = p.masked_select(keep);
          t = t.masked_select(keep);
        }
        curve(name, p, t, 1, out);
      } else {
        for (int64_t c = 0; c < C; ++c) {
          at::Tensor p = preds.select(1, c), t = target.select(1, c);
          if (ii) {
            at::Tensor keep = t != *ii;
            p = p.masked_select(keep);
            t = t.masked_select(keep);
          }
          curve(name, p, t, 1, out);
        }
      }
      break;
  }
  return out;
}

detail::Curves CurveMetric::roc_curves(bool pooled) const { return curves(pooled, true); }
detail::Curves CurveMetric::pr_curves(bool pooled) const { return curves(pooled, false); }

at::Tensor CurveMetric::support() const {
  const int64_t C = setup_.num_classes;
  if (thresholds_.defined()) {
    // Every sample is counted at each threshold: the target rows of any one give the support.
    return state("confmat").select(0, 0).select(1, 1).sum(-1).to(at::kFloat);
  }
  at::Tensor target =
      cat_state("target", setup_.task == Task::Multiclass ? at::empty({0}, at::kLong)
                                                          : at::empty({0, C}, at::kLong));
  if (setup_.task == Task::Multiclass) {
    return at::bincount(target.reshape(-1), {}, C).to(at::kFloat);
  }
  return (target == 1).sum(0).to(at::kFloat);
}

// --- ROC --------------------------------------------------------------------

BinaryROC::BinaryROC(BinaryROCOptions options)
    : CurveMetric("BinaryROC", {Task::Binary, 1, options.thresholds(), options.ignore_index(),
                                options.validate_args(),
                                check_normalization("BinaryROC", options.normalization()), false}) {
}
std::vector<at::Tensor> BinaryROC::compute_states() { return flatten_curves(roc_curves(false)); }
ROCCurve BinaryROC::curve() { return roc_from(compute_outputs(), false); }

namespace {
std::string checked_curve_average(const std::string& metric, const std::string& average) {
  check_average(metric, average, {"none", "micro", "macro"});
  return average;
}
int64_t checked_classes(const std::string& metric, const char* arg, int64_t n) {
  check_num_classes(metric, arg, n);
  return n;
}
}  // namespace

MulticlassROC::MulticlassROC(int64_t num_classes, MulticlassROCOptions options)
    : CurveMetric("MulticlassROC",
                  {Task::Multiclass, checked_classes("MulticlassROC", "num_classes", num_classes),
                   options.thresholds(), options.ignore_index(), options.validate_args(), true,
                   checked_curve_average("MulticlassROC", options.average()) == "micro"}),
      average_(options.average()) {}
std::vector<at::Tensor> MulticlassROC::compute_states() {
  if (average_ == "micro") return flatten_curves(roc_curves(true));
  if (average_ == "macro") return macro_curve(roc_curves(false), setup().num_classes, true);
  return flatten_curves(roc_curves(false));
}
ROCCurve MulticlassROC::curve() { return roc_from(compute_outputs(), average_ == "none"); }

MultilabelROC::MultilabelROC(int64_t num_labels, MultilabelROCOptions options)
    : CurveMetric(
          "MultilabelROC",
          {Task::Multilabel, checked_classes("MultilabelROC", "num_labels", num_labels),
           options.thresholds(), options.ignore_index(), options.validate_args(), true, false}) {}
std::vector<at::Tensor> MultilabelROC::compute_states() {
  return flatten_curves(roc_curves(false));
}
ROCCurve MultilabelROC::curve() { return roc_from(compute_outputs(), true); }

// --- Precision-recall curve ---------------------------------------------------

BinaryPrecisionRecallCurve::BinaryPrecisionRecallCurve(BinaryPrecisionRecallCurveOptions options)
    : CurveMetric(
          "BinaryPrecisionRecallCurve",
          {Task::Binary, 1, options.thresholds(), options.ignore_index(), options.validate_args(),
           check_normalization("BinaryPrecisionRecallCurve", options.normalization()), false}) {}
std::vector<at::Tensor> BinaryPrecisionRecallCurve::compute_states() {
  return flatten_curves(pr_curves(false));
}
PRCurve BinaryPrecisionRecallCurve::curve() { return pr_from(compute_outputs(), false); }

MulticlassPrecisionRecallCurve::MulticlassPrecisionRecallCurve(
    int64_t num_classes, MulticlassPrecisionRecallCurveOptions options)
    : CurveMetric(
          "MulticlassPrecisionRecallCurve",
          {Task::Multiclass,
           checked_classes("MulticlassPrecisionRecallCurve", "num_classes", num_classes),
           options.thresholds(), options.ignore_index(), options.validate_args(), true,
           checked_curve_average("MulticlassPrecisionRecallCurve", options.average()) == "micro"}),
      average_(options.average()) {}
std::vector<at::Tensor> MulticlassPrecisionRecallCurve::compute_states() {
  if (average_ == "micro") return flatten_curves(pr_curves(true));
  if (average_ == "macro") return macro_curve(pr_curves(false), setup().num_classes, false);
  return flatten_curves(pr_curves(false));
}
PRCurve MulticlassPrecisionRecallCurve::curve() {
  return pr_from(compute_outputs(), average_ == "none");
}

MultilabelPrecisionRecallCurve::MultilabelPrecisionRecallCurve(
    int64_t num_labels, MultilabelPrecisionRecallCurveOptions options)
    : CurveMetric(
          "MultilabelPrecisionRecallCurve",
          {Task::Multilabel,
           checked_classes("MultilabelPrecisionRecallCurve", "num_labels", num_labels),
           options.thresholds(), options.ignore_index(), options.validate_args(), true, false}) {}
std::vector<at::Tensor> MultilabelPrecisionRecallCurve::compute_states() {
  return flatten_curves(pr_curves(false));
}
PRCurve MultilabelPrecisionRecallCurve::curve() { return pr_from(compute_outputs(), true); }

// --- AUROC --------------------------------------------------------------------

namespace {
std::string checked_score_average(const std::string& metric, const std::string& average,
                                  bool micro) {
  if (micro) {
    check_average(metric, average, {"micro", "macro", "weighted", "none"});
  } else {
    check_average(metric, average, {"macro", "weighted", "none"});
  }
  return average;
}
std::optional<double> checked_max_fpr(const std::optional<double>& max_fpr) {
  check_max_fpr("BinaryAUROC", max_fpr);
  return max_fpr;
}
}  // namespace

BinaryAUROC::BinaryAUROC(BinaryAUROCOptions options)
    : CurveMetric("BinaryAUROC", {Task::Binary, 1, options.thresholds(), options.ignore_index(),
                                  options.validate_args(), true, false}),
      max_fpr_(checked_max_fpr(options.max_fpr())) {}
std::vector<at::Tensor> BinaryAUROC::compute_states() {
  Curves c = roc_curves(false);
  return {c.binned ? binary_auroc(metric_name(), c.x, c.y, max_fpr_)
                   : binary_auroc(metric_name(), c.xs[0], c.ys[0], max_fpr_)};
}

MulticlassAUROC::MulticlassAUROC(int64_t num_classes, MulticlassAUROCOptions options)
    : CurveMetric(
          "MulticlassAUROC",
          {Task::Multiclass, checked_classes("MulticlassAUROC", "num_classes", num_classes),
           options.thresholds(), options.ignore_index(), options.validate_args(), true, false}),
      average_(checked_score_average("MulticlassAUROC", options.average(), false)) {}
std::vector<at::Tensor> MulticlassAUROC::compute_states() {
  return {reduce_scores(metric_name(), per_class_auroc(roc_curves(false)), average_, support())};
}

MultilabelAUROC::MultilabelAUROC(int64_t num_labels, MultilabelAUROCOptions options)
    : CurveMetric(
          "MultilabelAUROC",
          {Task::Multilabel, checked_classes("MultilabelAUROC", "num_labels", num_labels),
           options.thresholds(), options.ignore_index(), options.validate_args(), true, false}),
      average_(checked_score_average("MultilabelAUROC", options.average(), true)) {}
std::vector<at::Tensor> MultilabelAUROC::compute_states() {
  if (average_ == "micro") {
    Curves c = roc_curves(true);
    return {c.binned ? binary_auroc(metric_name(), c.x, c.y, std::nullopt)
                     : binary_auroc(metric_name(), c.xs[0], c.ys[0], std::nullopt)};
  }
  return {reduce_scores(metric_name(), per_class_auroc(roc_curves(false)), average_, support())};
}

// --- Average precision ------------------------------------------------------------

BinaryAveragePrecision::BinaryAveragePrecision(BinaryAveragePrecisionOptions options)
    : CurveMetric(
          "BinaryAveragePrecision",
          {Task::Binary, 1, options.thresholds(), options.ignore_index(), options.validate_args(),
           check_normalization("BinaryAveragePrecision", options.normalization()), false}) {}
std::vector<at::Tensor> BinaryAveragePrecision::compute_states() {
  return {binary_average_precision(pr_curves(false))};
}

MulticlassAveragePrecision::MulticlassAveragePrecision(int64_t num_classes,
                                                       MulticlassAveragePrecisionOptions options)
    : CurveMetric(
          "MulticlassAveragePrecision",
          {Task::Multiclass,
           checked_classes("MulticlassAveragePrecision", "num_classes", num_classes),
           options.thresholds(), options.ignore_index(), options.validate_args(), true, false}),
      average_(checked_score_average("MulticlassAveragePrecision", options.average(), false)) {}
std::vector<at::Tensor> MulticlassAveragePrecision::compute_states() {
  return {reduce_scores(metric_name(), per_class_average_precision(pr_curves(false)), average_,
                        support())};
}

MultilabelAveragePrecision::MultilabelAveragePrecision(int64_t num_labels,
                                                       MultilabelAveragePrecisionOptions options)
    : CurveMetric(
          "MultilabelAveragePrecision",
          {Task::Multilabel,
           checked_classes("MultilabelAveragePrecision", "num_labels", num_labels),
           options.thresholds(), options.ignore_index(), options.validate_args(), true, false}),
      average_(checked_score_average("MultilabelAveragePrecision", options.average(), true)) {}
std::vector<at::Tensor> MultilabelAveragePrecision::compute_states() {
  if (average_ == "micro") return {binary_average_precision(pr_curves(true))};
  return {reduce_scores(metric_name(), per_class_average_precision(pr_curves(false)), average_,
                        support())};
}

}  // namespace lightning::metrics
