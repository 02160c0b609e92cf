#include "lightning/metrics/regression.h"

#include <ATen/ExpandUtils.h>

#include <cmath>
#include <limits>
#include <tuple>
#include <utility>

#include "lightning/error.h"
#include "metrics/tensor_math.h"

namespace lightning::metrics {

namespace {

void check_same_shape(const std::string& name, const at::Tensor& preds, const at::Tensor& target) {
  LIGHTNING_CHECK(preds.sizes() == target.sizes(), name,
                  ": preds and target must have the same shape, got ", preds.sizes(), " and ",
                  target.sizes(), ".");
}

// preds and target of the same shape, flattened when there is one output
// (so that every element counts); at least one dimension.
std::pair<at::Tensor, at::Tensor> per_output(const std::string& name,
                                             const std::vector<at::Tensor>& inputs,
                                             int64_t num_outputs) {
  at::Tensor preds = inputs[0], target = inputs[1];
  check_same_shape(name, preds, target);
  if (num_outputs == 1) {
    preds = preds.reshape(-1);
    target = target.reshape(-1);
  }
  LIGHTNING_CHECK(target.dim() >= 1, name, ": preds and target must have at least 1 dimension.");
  return {preds, target};
}

// torchmetrics' rule for metrics with `num_outputs`: 1-D or 2-D inputs, and a
// 2-D input has num_outputs columns (1-D inputs are accepted for any count).
void check_num_outputs(const std::string& name, const at::Tensor& preds, int64_t num_outputs) {
  LIGHTNING_CHECK(preds.dim() <= 2, name, ": preds and target must be 1-D or 2-D, got shape ",
                  preds.sizes(), ".");
  const bool mismatch = preds.dim() == 2 && ((num_outputs == 1 && preds.size(1) != 1) ||
                                             (num_outputs > 1 && preds.size(1) != num_outputs));
  LIGHTNING_CHECK(!mismatch, name, ": num_outputs is ", num_outputs, " but the inputs have shape ",
                  preds.sizes(), " (", preds.size(1),
                  " columns); give num_outputs equal to the number of columns.");
}

void check_floating(const std::string& name, const at::Tensor& preds, const at::Tensor& target) {
  LIGHTNING_CHECK(
      at::isFloatingType(preds.scalar_type()) && at::isFloatingType(target.scalar_type()), name,
      ": preds and target must be floating point tensors, got ", preds.scalar_type(), " and ",
      target.scalar_type(), ".");
}

void check_positive_outputs(const std::string& name, int64_t num_outputs) {
  LIGHTNING_CHECK(num_outputs > 0, name, ": num_outputs must be a positive integer, got ",
                  num_outputs, ".");
}

void check_multioutput(const std::string& name, const std::string& multioutput) {
  LIGHTNING_CHECK(multioutput == "raw_values" || multioutput == "uniform_average" ||
                      multioutput == "variance_weighted",
                  name,
                  ": multioutput must be \"raw_values\", \"uniform_average\" or "
                  "\"variance_weighted\", got \"",
                  multioutput, "\".");
}

at::Tensor float_zeros(std::vector<int64_t> shape) { return at::zeros(shape, at::kFloat); }

at::Tensor long_zero() { return at::zeros({}, at::kLong); }

// An in-place `state += value` as torchmetrics writes it: the state keeps its
// shape and dtype, `value` must broadcast to it.
at::Tensor add_in_place(const std::string& name, const at::Tensor& state, const at::Tensor& value,
                        const char* what) {
  LIGHTNING_CHECK(at::is_expandable_to(value.sizes(), state.sizes()), name, ": the ", what,
                  " of this batch has shape ", value.sizes(),
                  ", which does not fit the state of shape ", state.sizes(),
                  " (num_outputs); check num_outputs and the inputs' columns.");
  const auto type = at::promote_types(state.scalar_type(), value.scalar_type());
  return (state.to(type) + value.to(type)).to(state.scalar_type());
}

// raw scores over the outputs -> one value, as torchmetrics' multioutput.
at::Tensor reduce_outputs(const at::Tensor& scores, const at::Tensor& variance,
                          const std::string& multioutput) {
  if (multioutput == "raw_values") return scores;
  if (multioutput == "uniform_average") return scores.mean();
  return (variance / variance.sum() * scores).sum();
}

}  // namespace

// ---- MeanSquaredError ---------------------------------------------------------------

MeanSquaredError::MeanSquaredError(MeanSquaredErrorOptions options)
    : Metric("MeanSquaredError"), options_(std::move(options)) {
  check_positive_outputs(metric_name(), options_.num_outputs());
  add_state("sum_squared_error", float_zeros({options_.num_outputs()}), Reduction::Sum);
  add_state("total", long_zero(), Reduction::Sum);
}

void MeanSquaredError::update_states(const std::vector<at::Tensor>& inputs) {
  expect_inputs(inputs, 2, "(preds, target)");
  const auto [preds, target] = per_output(metric_name(), inputs, options_.num_outputs());
  const at::Tensor diff = preds - target;
  set_state("sum_squared_error", add_in_place(metric_name(), state("sum_squared_error"),
                                              (diff * diff).sum(0), "squared error"));
  set_state("total", state("total") + target.size(0));
}

std::vector<at::Tensor> MeanSquaredError::compute_states() {
  const at::Tensor mse = state("sum_squared_error") / state("total");
  return {detail::squeeze_if_scalar(options_.squared() ? mse : mse.sqrt())};
}

// ---- MeanAbsoluteError --------------------------------------------------------------

MeanAbsoluteError::MeanAbsoluteError(MeanAbsoluteErrorOptions options)
    : Metric("MeanAbsoluteError"), options_(std::move(options)) {
  check_positive_outputs(metric_name(), options_.num_outputs());
  add_state("sum_abs_error", float_zeros({options_.num_outputs()}), Reduction::Sum);
  add_state("total", long_zero(), Reduction::Sum);
}

void MeanAbsoluteError::update_states(const std::vector<at::Tensor>& inputs) {
  expect_inputs(inputs, 2, "(preds, target)");
  const auto [preds, target] = per_output(metric_name(), inputs, options_.num_outputs());
  set_state("sum_abs_error", add_in_place(metric_name(), state("sum_abs_error"),
                                          (preds - target).abs().sum(0), "absolute error"));
  set_state("total", state("total") + target.size(0));
}

std::vector<at::Tensor> MeanAbsoluteError::compute_states() {
  return {detail::squeeze_if_scalar(state("sum_abs_error") / state("total"))};
}

// ---- (Symmetric)MeanAbsolutePercentageError -----------------------------------------

namespace {
constexpr double kPercentageEpsilon = 1.17e-06;
}

MeanAbsolutePercentageError::MeanAbsolutePercentageError() : Metric("MeanAbsolutePercentageError") {
  add_state("sum_abs_per_error", float_zeros({}), Reduction::Sum);
  add_state("total", float_zeros({}), Reduction::Sum);
}

void MeanAbsolutePercentageError::update_states(const std::vector<at::Tensor>& inputs) {
  expect_inputs(inputs, 2, "(preds, target)");
  const at::Tensor& preds = inputs[0];
  const at::Tensor& target = inputs[1];
  check_same_shape(metric_name(), preds, target);
  const at::Tensor errors = (preds - target).abs() / target.abs().clamp_min(kPercentageEpsilon);
  set_state("sum_abs_per_error",
            add_in_place(metric_name(), state("sum_abs_per_error"), errors.sum(), "error"));
  set_state("total", state("total") + target.numel());
}

std::vector<at::Tensor> MeanAbsolutePercentageError::compute_states() {
  return {detail::squeeze_if_scalar(state("sum_abs_per_error") / state("total"))};
}

SymmetricMeanAbsolutePercentageError::SymmetricMeanAbsolutePercentageError()
    : Metric("SymmetricMeanAbsolutePercentageError") {
  add_state("sum_abs_per_error", float_zeros({}), Reduction::Sum);
  add_state("total", float_zeros({}), Reduction::Sum);
}

void SymmetricMeanAbsolutePercentageError::update_states(const std::vector<at::Tensor>& inputs) {
  expect_inputs(inputs, 2, "(preds, target)");
  const at::Tensor& preds = inputs[0];
  const at::Tensor& target = inputs[1];
  check_same_shape(metric_name(), preds, target);
  const at::Tensor errors =
      (preds - target).abs() / (target.abs() + preds.abs()).clamp_min(kPercentageEpsilon);
  set_state("sum_abs_per_error",
            add_in_place(metric_name(), state("sum_abs_per_error"), 2 * errors.sum(), "error"));
  set_state("total", state("total") + target.numel());
}

std::vector<at::Tensor> SymmetricMeanAbsolutePercentageError::compute_states() {
  return {detail::squeeze_if_scalar(state("sum_abs_per_error") / state("total"))};
}

// ---- R2Score ------------------------------------------------------------------------

R2Score::R2Score(R2ScoreOptions options) : Metric("R2Score"), options_(std::move(options)) {
  LIGHTNING_CHECK(options_.adjusted() >= 0, metric_name(),
                  ": adjusted must be an integer >= 0 (the number of regressors), got ",
                  options_.adjusted(), ".");
  check_multioutput(metric_name(), options_.multioutput());
  // torchmetrics' names: sum_squared_error is the sum of target², sum_error
  // the sum of target, residual the sum of squared residuals.
  add_state("sum_squared_error", float_zeros({}), Reduction::Sum);
  add_state("sum_error", float_zeros({}), Reduction::Sum);
  add_state("residual", float_zeros({}), Reduction::Sum);
  add_state("total", long_zero(), Reduction::Sum);
}

void R2Score::update_states(const std::vector<at::Tensor>& inputs) {
  expect_inputs(inputs, 2, "(preds, target)");
  const at::Tensor& preds = inputs[0];
  const at::Tensor& target = inputs[1];
  check_same_shape(metric_name(), preds, target);
  LIGHTNING_CHECK(preds.dim() == 1 || preds.dim() == 2, metric_name(),
                  ": preds and target must be 1-D or 2-D, got shape ", preds.sizes(), ".");
  const at::Tensor residual = target - preds;
  set_state("sum_squared_error", state("sum_squared_error") + (target * target).sum(0));
  set_state("sum_error", state("sum_error") + target.sum(0));
  set_state("residual", state("residual") + (residual * residual).sum(0));
  set_state("total", state("total") + target.size(0));
}

std::vector<at::Tensor> R2Score::compute_states() {
  const at::Tensor& total = state("total");
  const int64_t num_obs = total.item<int64_t>();
  LIGHTNING_CHECK(num_obs >= 2, metric_name(),
                  ": needs at least two samples to calculate the r2 score, got ", num_obs, ".");
  const at::Tensor& sum_obs = state("sum_error");
  const at::Tensor& rss = state("residual");
  const at::Tensor mean_obs = sum_obs / total;
  const at::Tensor tss = state("sum_squared_error") - sum_obs * mean_obs;
  const at::Tensor rss_nonzero = at::isclose(rss, at::zeros_like(rss), 1e-05, 1e-4).logical_not();
  const at::Tensor tss_nonzero = at::isclose(tss, at::zeros_like(tss), 1e-05, 1e-4).logical_not();
  at::Tensor raw = at::ones_like(rss);
  raw = at::where(rss_nonzero & tss_nonzero, 1 - rss / tss, raw);
  raw = at::where(rss_nonzero & tss_nonzero.logical_not(), at::zeros_like(raw), raw);
  at::Tensor r2 = reduce_outputs(raw, tss, options_.multioutput());
  const int64_t adjusted = options_.adjusted();
  if (adjusted != 0) {
    if (adjusted > num_obs - 1) {
      lightning::detail::warn_once(
          "R2Score: more independent regressions (adjusted) than data points; falls back to the "
          "standard r2 score.");
    } else if (adjusted == num_obs - 1) {
      lightning::detail::warn_once(
          "R2Score: division by zero in the adjusted r2 score (adjusted == samples - 1); falls "
          "back to the standard r2 score.");
    } else {
      r2 = 1 - (1 - r2) * (total - 1) / (total - adjusted - 1);
    }
  }
  return {detail::squeeze_if_scalar(r2)};
}

// ---- PearsonCorrCoef ----------------------------------------------------------------
//
// The running statistics of torchmetrics (means, max deviations from the mean,
// sums of squared deviations and of co-deviations, count) cannot be reduced
// over ranks element-wise: torchmetrics gathers each rank's and merges them
// with the parallel-variance formula. The base only gathers list states, so
// each update appends its resulting statistics, with the update's sequence
// number, as one [1, kRows, num_outputs] row: locally the last row is the
// state; after a gather each rank's rows follow each other and a sequence
// number that does not grow marks where the next rank starts.

namespace {

enum PearsonRow : int64_t {
  kMeanX,
  kMeanY,
  kMaxAbsDevX,
  kMaxAbsDevY,
  kVarX,
  kVarY,
  kCorrXY,
  kNTotal,
  kSequence,
  kRows
};

struct PearsonStats {
  at::Tensor mean_x, mean_y, max_abs_dev_x, max_abs_dev_y, var_x, var_y, corr_xy, n_total;
};

PearsonStats stats_of_row(const at::Tensor& row) {  // row: [kRows, d]
  PearsonStats s;
  s.mean_x = row[kMeanX];
  s.mean_y = row[kMeanY];
  s.max_abs_dev_x = row[kMaxAbsDevX];
  s.max_abs_dev_y = row[kMaxAbsDevY];
  s.var_x = row[kVarX];
  s.var_y = row[kVarY];
  s.corr_xy = row[kCorrXY];
  s.n_total = row[kNTotal].to(at::kFloat);  // torchmetrics keeps the count in float32
  return s;
}

PearsonStats merge_ranks(const at::Tensor& rows) {  // rows: [ranks, kRows, d]
  PearsonStats a = stats_of_row(rows[0]);
  for (int64_t r = 1; r < rows.size(0); ++r) {
    const PearsonStats b = stats_of_row(rows[r]);
    const at::Tensor nb = at::where(at::logical_or(a.n_total, b.n_total), a.n_total + b.n_total,
                                    at::full_like(a.n_total, 1e-10));
    PearsonStats m;
    m.mean_x = (a.n_total * a.mean_x + b.n_total * b.mean_x) / nb;
    m.mean_y = (a.n_total * a.mean_y + b.n_total * b.mean_y) / nb;
    const at::Tensor n12 = a.n_total * b.n_total / nb;
    const at::Tensor dx = b.mean_x - a.mean_x;
    const at::Tensor dy = b.mean_y - a.mean_y;
    m.var_x = a.var_x + b.var_x + n12 * at::pow(dx, 2);
    m.var_y = a.var_y + b.var_y + n12 * at::pow(dy, 2);
    m.corr_xy = a.corr_xy + b.corr_xy + n12 * dx * dy;
    m.max_abs_dev_x = at::maximum(a.max_abs_dev_x, b.max_abs_dev_x);
    m.max_abs_dev_y = at::maximum(a.max_abs_dev_y, b.max_abs_dev_y);
    m.n_total = nb;
    a = std::move(m);
  }
  return a;
}

}  // namespace

PearsonCorrCoef::PearsonCorrCoef(PearsonCorrCoefOptions options)
    : Metric("PearsonCorrCoef"), options_(std::move(options)) {
  check_positive_outputs(metric_name(), options_.num_outputs());
  add_list_state("stats");
}

void PearsonCorrCoef::update_states(const std::vector<at::Tensor>& inputs) {
  expect_inputs(inputs, 2, "(preds, target)");
  const at::Tensor& preds = inputs[0];
  const at::Tensor& target = inputs[1];
  check_same_shape(metric_name(), preds, target);
  check_num_outputs(metric_name(), preds, options_.num_outputs());
  check_floating(metric_name(), preds, target);
  LIGHTNING_CHECK(preds.dim() >= 1, metric_name(),
                  ": preds and target must be 1-D or 2-D, got a 0-dim tensor.");
  // torchmetrics lets 1-D inputs through here and then fails (or mixes the
  // samples up when there are num_outputs of them).
  LIGHTNING_CHECK(preds.dim() == 2 || options_.num_outputs() == 1, metric_name(),
                  ": num_outputs is ", options_.num_outputs(),
                  ", so preds and target must be 2-D [N, ", options_.num_outputs(), "], got shape ",
                  preds.sizes(), ".");

  const int64_t d = options_.num_outputs();
  const auto& rows = list_state("stats");
  PearsonStats prior;
  at::Tensor sequence;
  if (rows.empty()) {
    const at::Tensor zeros = at::zeros({d}, preds.options().dtype(at::kFloat));
    prior = {zeros, zeros, zeros, zeros, zeros, zeros, zeros, zeros};
    sequence = zeros;
  } else {
    const at::Tensor last = rows.back()[0];
    prior = stats_of_row(last);
    sequence = last[kSequence];
  }

  const int64_t num_obs = preds.size(0);
  const at::Tensor batch_mean_x = preds.mean(0);
  const at::Tensor batch_mean_y = target.mean(0);
  const at::Tensor delta_x = batch_mean_x - prior.mean_x;
  const at::Tensor delta_y = batch_mean_y - prior.mean_y;
  const at::Tensor n_total = prior.n_total + num_obs;
  const at::Tensor mean_x = prior.mean_x + delta_x * num_obs / n_total;
  const at::Tensor mean_y = prior.mean_y + delta_y * num_obs / n_total;
  at::Tensor var_x, var_y, corr_xy;
  if (num_obs == 1) {
    const at::Tensor delta2_x = batch_mean_x - mean_x;
    const at::Tensor delta2_y = batch_mean_y - mean_y;
    var_x = prior.var_x + delta2_x * delta_x;
    var_y = prior.var_y + delta2_y * delta_y;
    corr_xy = prior.corr_xy + delta_x * delta2_y;
  } else {
    const at::Tensor preds_centered = preds - batch_mean_x;
    const at::Tensor target_centered = target - batch_mean_y;
    const at::Tensor correction = prior.n_total * num_obs / n_total;
    var_x = prior.var_x + at::pow(preds_centered, 2).sum(0) + at::pow(delta_x, 2) * correction;
    var_y = prior.var_y + at::pow(target_centered, 2).sum(0) + at::pow(delta_y, 2) * correction;
    corr_xy =
        prior.corr_xy + (preds_centered * target_centered).sum(0) + delta_x * delta_y * correction;
  }
  const at::Tensor max_abs_dev_x =
      at::maximum(prior.max_abs_dev_x, std::get<0>((preds - mean_x).abs().max(0)));
  const at::Tensor max_abs_dev_y =
      at::maximum(prior.max_abs_dev_y, std::get<0>((target - mean_y).abs().max(0)));

  std::vector<at::Tensor> row = {mean_x, mean_y,  max_abs_dev_x, max_abs_dev_y, var_x,
                                 var_y,  corr_xy, n_total,       sequence + 1};
  auto type = at::kFloat;
  for (const auto& t : row) type = at::promote_types(type, t.scalar_type());
  for (auto& t : row) t = t.to(type).expand({d});
  append("stats", at::stack(row).unsqueeze(0));
}

std::vector<at::Tensor> PearsonCorrCoef::compute_states() {
  const int64_t d = options_.num_outputs();
  at::Tensor rows = cat_state("stats", at::zeros({0, kRows, d}, at::kFloat));
  PearsonStats s;
  if (rows.size(0) == 0) {
    const at::Tensor zeros = at::zeros({d}, at::TensorOptions().dtype(at::kFloat).device(device()));
    s = {zeros, zeros, zeros, zeros, zeros, zeros, zeros, zeros};
  } else {
    // The last row of each rank: where the next row's sequence number does
    // not grow, and the very last row.
    const at::Tensor sequence = rows.select(1, kSequence).select(1, 0);
    const int64_t n = rows.size(0);
    const at::Tensor ends = at::cat({sequence.slice(0, 1) <= sequence.slice(0, 0, n - 1),
                                     at::ones({1}, sequence.options().dtype(at::kBool))});
    s = merge_ranks(rows.index({ends}));
  }

  at::Tensor var_x = s.var_x / (s.n_total - 1);
  at::Tensor var_y = s.var_y / (s.n_total - 1);
  at::Tensor corr_xy = s.corr_xy / (s.n_total - 1);
  var_x = var_x * at::pow(s.max_abs_dev_x, -2);
  var_y = var_y * at::pow(s.max_abs_dev_y, -2);
  corr_xy = corr_xy / (s.max_abs_dev_x * s.max_abs_dev_y);
  const double eps = var_x.scalar_type() == at::kDouble ? std::numeric_limits<double>::epsilon()
                                                        : std::numeric_limits<float>::epsilon();
  const double bound = std::sqrt(eps);
  const at::Tensor degenerate = (var_x < bound) | (var_y < bound) | var_x.isfinite().logical_not() |
                                var_y.isfinite().logical_not() | corr_xy.isfinite().logical_not();
  if (degenerate.any().item<bool>()) {
    lightning::detail::warn_once(
        "PearsonCorrCoef: the variance of preds or target is close to zero (or there is a single "
        "sample); the correlation coefficient is set to NaN. Consider re-scaling the inputs or a "
        "larger dtype.");
  }
  const at::Tensor value = corr_xy / (var_x * var_y).sqrt();
  const at::Tensor corr =
      at::where(degenerate, at::full_like(value, std::numeric_limits<double>::quiet_NaN()), value)
          .clamp(-1.0, 1.0);
  return {detail::squeeze_if_scalar(corr.squeeze())};
}

// ---- SpearmanCorrCoef ---------------------------------------------------------------

namespace {

// Ranks 1..n of a 1-D tensor, ties given the mean of their ranks (float32).
at::Tensor rank_data(const at::Tensor& data) {
  const int64_t n = data.numel();
  const at::Tensor order = data.argsort();
  at::Tensor rank = at::empty_like(data, data.options().dtype(at::kInt));
  rank.index_put_({order}, at::arange(1, n + 1, data.options().dtype(at::kInt)));
  at::Tensor unique, inverse, counts;
  std::tie(unique, inverse, counts) = at::_unique2(data, /*sorted=*/true, /*return_inverse=*/true,
                                                   /*return_counts=*/true);
  at::Tensor sum_ranks = at::zeros_like(unique, unique.options().dtype(at::kInt));
  sum_ranks.scatter_add_(0, inverse, rank);
  return (sum_ranks / counts).index({inverse});
}

at::Tensor rank_columns(const at::Tensor& data) {
  if (data.dim() == 1) return rank_data(data);
  std::vector<at::Tensor> columns;
  for (int64_t c = 0; c < data.size(1); ++c) columns.push_back(rank_data(data.select(1, c)));
  return at::stack(columns).t();
}

}  // namespace

SpearmanCorrCoef::SpearmanCorrCoef(SpearmanCorrCoefOptions options)
    : Metric("SpearmanCorrCoef"), options_(std::move(options)) {
  check_positive_outputs(metric_name(), options_.num_outputs());
  add_list_state("preds");
  add_list_state("target");
}

void SpearmanCorrCoef::update_states(const std::vector<at::Tensor>& inputs) {
  expect_inputs(inputs, 2, "(preds, target)");
  const at::Tensor& preds = inputs[0];
  const at::Tensor& target = inputs[1];
  check_floating(metric_name(), preds, target);
  check_same_shape(metric_name(), preds, target);
  check_num_outputs(metric_name(), preds, options_.num_outputs());
  LIGHTNING_CHECK(preds.dim() >= 1, metric_name(),
                  ": preds and target must be 1-D or 2-D, got a 0-dim tensor.");
  append("preds", preds.to(at::kFloat));
  append("target", target.to(at::kFloat));
}

std::vector<at::Tensor> SpearmanCorrCoef::compute_states() {
  LIGHTNING_CHECK(!list_state("preds").empty(), metric_name(),
                  ": compute() before any update: there are no samples to rank.");
  const at::Tensor preds = rank_columns(cat_state("preds", at::Tensor()));
  const at::Tensor target = rank_columns(cat_state("target", at::Tensor()));
  const at::Tensor preds_diff = preds - preds.mean(0);
  const at::Tensor target_diff = target - target.mean(0);
  const at::Tensor cov = (preds_diff * target_diff).mean(0);
  const at::Tensor preds_std = (preds_diff * preds_diff).mean(0).sqrt();
  const at::Tensor target_std = (target_diff * target_diff).mean(0).sqrt();
  return {detail::squeeze_if_scalar((cov / (preds_std * target_std + 1e-6)).clamp(-1.0, 1.0))};
}

// ---- ExplainedVariance --------------------------------------------------------------

ExplainedVariance::ExplainedVariance(ExplainedVarianceOptions options)
    : Metric("ExplainedVariance"), options_(std::move(options)) {
  check_multioutput(metric_name(), options_.multioutput());
  add_state("sum_error", float_zeros({}), Reduction::Sum);
  add_state("sum_squared_error", float_zeros({}), Reduction::Sum);
  add_state("sum_target", float_zeros({}), Reduction::Sum);
  add_state("sum_squared_target", float_zeros({}), Reduction::Sum);
  add_state("num_obs", float_zeros({}), Reduction::Sum);
}

void ExplainedVariance::update_states(const std::vector<at::Tensor>& inputs) {
  expect_inputs(inputs, 2, "(preds, target)");
  const at::Tensor& preds = inputs[0];
  const at::Tensor& target = inputs[1];
  check_same_shape(metric_name(), preds, target);
  LIGHTNING_CHECK(preds.dim() >= 1, metric_name(),
                  ": preds and target must have at least 1 dimension.");
  const at::Tensor diff = target - preds;
  set_state("num_obs", state("num_obs") + preds.size(0));
  set_state("sum_error", state("sum_error") + diff.sum(0));
  set_state("sum_squared_error", state("sum_squared_error") + (diff * diff).sum(0));
  set_state("sum_target", state("sum_target") + target.sum(0));
  set_state("sum_squared_target", state("sum_squared_target") + (target * target).sum(0));
}

std::vector<at::Tensor> ExplainedVariance::compute_states() {
  const at::Tensor& num_obs = state("num_obs");
  const at::Tensor diff_avg = state("sum_error") / num_obs;
  const at::Tensor numerator = state("sum_squared_error") / num_obs - diff_avg * diff_avg;
  const at::Tensor target_avg = state("sum_target") / num_obs;
  const at::Tensor denominator = state("sum_squared_target") / num_obs - target_avg * target_avg;
  const at::Tensor numerator_nonzero = numerator != 0;
  const at::Tensor denominator_nonzero = denominator != 0;
  at::Tensor scores = at::ones_like(diff_avg);
  scores =
      at::where(numerator_nonzero & denominator_nonzero, 1.0 - numerator / denominator, scores);
  scores = at::where(numerator_nonzero & denominator_nonzero.logical_not(), at::zeros_like(scores),
                     scores);
  return {detail::squeeze_if_scalar(reduce_outputs(scores, denominator, options_.multioutput()))};
}

// ---- CosineSimilarity ---------------------------------------------------------------

CosineSimilarity::CosineSimilarity(CosineSimilarityOptions options)
    : Metric("CosineSimilarity"), options_(std::move(options)) {
  const auto& r = options_.reduction();
  LIGHTNING_CHECK(r == "sum" || r == "mean" || r == "none", metric_name(),
                  ": reduction must be \"sum\", \"mean\" or \"none\", got \"", r, "\".");
  add_list_state("preds");
  add_list_state("target");
}

void CosineSimilarity::update_states(const std::vector<at::Tensor>& inputs) {
  expect_inputs(inputs, 2, "(preds, target)");
  const at::Tensor& preds = inputs[0];
  const at::Tensor& target = inputs[1];
  check_same_shape(metric_name(), preds, target);
  LIGHTNING_CHECK(preds.dim() == 2, metric_name(),
                  ": preds and target must be 2-D [N, D] (N samples of D dimensions), got shape ",
                  preds.sizes(), ".");
  append("preds", preds.to(at::kFloat));
  append("target", target.to(at::kFloat));
}

std::vector<at::Tensor> CosineSimilarity::compute_states() {
  LIGHTNING_CHECK(!list_state("preds").empty(), metric_name(),
                  ": compute() before any update: there are no samples.");
  const at::Tensor preds = cat_state("preds", at::Tensor());
  const at::Tensor target = cat_state("target", at::Tensor());
  const at::Tensor dot = (preds * target).sum(-1);
  const at::Tensor norms =
      at::linalg_vector_norm(preds, 2, {-1}) * at::linalg_vector_norm(target, 2, {-1});
  const at::Tensor similarity = dot / norms;
  if (options_.reduction() == "sum") return {detail::squeeze_if_scalar(similarity.sum())};
  if (options_.reduction() == "mean") return {detail::squeeze_if_scalar(similarity.mean())};
  return {detail::squeeze_if_scalar(similarity)};
}

// ---- KLDivergence -------------------------------------------------------------------

KLDivergence::KLDivergence(KLDivergenceOptions options)
    : Metric("KLDivergence"), options_(std::move(options)) {
  const auto& r = options_.reduction();
  LIGHTNING_CHECK(r == "mean" || r == "sum" || r == "none", metric_name(),
                  ": reduction must be \"mean\", \"sum\" or \"none\", got \"", r, "\".");
  if (r == "none") {
    add_list_state("measures");
  } else {
    add_state("measures", float_zeros({}), Reduction::Sum);
  }
  add_state("total", long_zero(), Reduction::Sum);
}

void KLDivergence::update_states(const std::vector<at::Tensor>& inputs) {
  expect_inputs(inputs, 2, "(p, q)");
  at::Tensor p = inputs[0], q = inputs[1];
  LIGHTNING_CHECK(p.sizes() == q.sizes(), metric_name(), ": p and q must have the same shape, got ",
                  p.sizes(), " and ", q.sizes(), ".");
  LIGHTNING_CHECK(p.dim() == 2, metric_name(),
                  ": p and q must be 2-D [N, D] (N distributions over D values), got shape ",
                  p.sizes(), ".");
  at::Tensor measures;
  if (options_.log_prob()) {
    measures = (p.exp() * (p - q)).sum(-1);
  } else {
    p = p / p.sum(-1, /*keepdim=*/true);
    q = q / q.sum(-1, /*keepdim=*/true);
    const at::Tensor terms = p * (p / q).log();
    measures = at::where(p == 0, at::zeros_like(terms), terms).sum(-1);
  }
  if (options_.reduction() == "none") {
    append("measures", measures);
  } else {
    set_state("measures", state("measures") + measures.sum());
    set_state("total", state("total") + p.size(0));
  }
}

std::vector<at::Tensor> KLDivergence::compute_states() {
  if (options_.reduction() == "none") {
    LIGHTNING_CHECK(!list_state("measures").empty(), metric_name(),
                    ": compute() before any update: there are no samples.");
    return {detail::squeeze_if_scalar(cat_state("measures", at::Tensor()))};
  }
  if (options_.reduction() == "sum") return {detail::squeeze_if_scalar(state("measures"))};
  return {detail::squeeze_if_scalar(state("measures") / state("total"))};
}

}  // namespace lightning::metrics
