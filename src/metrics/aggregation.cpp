#include "lightning/metrics/aggregation.h"

#include <ATen/ExpandUtils.h>

#include <limits>

#include "lightning/error.h"
#include "metrics/tensor_math.h"

namespace lightning::metrics {

namespace {

void check_nan_strategy(const std::string& name, const NanStrategy& strategy) {
  if (const auto* mode = std::get_if<std::string>(&strategy)) {
    LIGHTNING_CHECK(*mode == "error" || *mode == "warn" || *mode == "ignore" || *mode == "disable",
                    name,
                    ": nan_strategy must be \"error\", \"warn\", \"ignore\", \"disable\" or a "
                    "number that replaces NaN, got \"",
                    *mode, "\".");
  }
}

void check_window(const std::string& name, int64_t window) {
  LIGHTNING_CHECK(window > 0, name, ": window must be a positive integer, got ", window, ".");
}

struct Cleaned {
  at::Tensor value;   // float32
  at::Tensor weight;  // float32, the value's shape
};

// torchmetrics' `_cast_and_nan_check_input`: the value (and weight) after the
// nan_strategy, in float32. `weight` may be undefined (then ones).
Cleaned clean_input(const std::string& name, const NanStrategy& strategy, at::Tensor value,
                    at::Tensor weight) {
  const auto* mode = std::get_if<std::string>(&strategy);
  if (mode != nullptr && *mode == "disable") {
    // As torchmetrics: no check, and the weights are not used.
    return {value.to(at::kFloat), at::ones_like(value, value.options().dtype(at::kFloat))};
  }
  at::Tensor nans = at::isnan(value);
  if (weight.defined()) {
    nans = nans | at::isnan(weight);
  } else {
    weight = at::ones_like(value);
  }
  if (nans.any().item<bool>()) {
    if (mode == nullptr) {
      const double replacement = std::get<double>(strategy);
      value = at::where(nans, at::full_like(value, replacement), value);
      weight = at::where(nans, at::ones_like(weight), weight);
    } else if (*mode == "error") {
      LIGHTNING_FAIL(name,
                     ": encountered NaN values in the input (nan_strategy=\"error\"); use "
                     "nan_strategy \"warn\", \"ignore\", \"disable\" or a replacement number.");
    } else {
      if (*mode == "warn") {
        lightning::detail::warn_once(name +
                                     ": encountered NaN values in the input; they are removed.");
      }
      const at::Tensor keep = nans.logical_not();
      value = value.index({keep});
      weight = weight.index({keep});
    }
  }
  return {value.to(at::kFloat), weight.to(at::kFloat)};
}

// One value (update(value) or update(value) from a number).
at::Tensor single_input(const Metric& metric, const std::vector<at::Tensor>& inputs) {
  LIGHTNING_CHECK(inputs.size() == 1 && inputs[0].defined(), metric.metric_name(),
                  ".update takes (value), got ", inputs.size(), " tensors.");
  return inputs[0];
}

// MeanMetric's (value, weight) after the broadcast and the nan_strategy.
Cleaned mean_input(const std::string& name, const NanStrategy& strategy,
                   const std::vector<at::Tensor>& inputs) {
  LIGHTNING_CHECK((inputs.size() == 1 || inputs.size() == 2) && inputs[0].defined(), name,
                  ".update takes (value) or (value, weight), got ", inputs.size(), " tensors.");
  const at::Tensor& value = inputs[0];
  at::Tensor weight;
  if (inputs.size() == 2 && inputs[1].defined()) {
    LIGHTNING_CHECK(at::is_expandable_to(inputs[1].sizes(), value.sizes()), name,
                    ": the weight of shape ", inputs[1].sizes(),
                    " does not broadcast to the value of shape ", value.sizes(), ".");
    weight = inputs[1].expand(value.sizes()).contiguous();
  } else {
    weight = at::ones_like(value);
  }
  return clean_input(name, strategy, value, weight);
}

at::Tensor float_scalar(double v) { return at::full({}, v, at::kFloat); }

// A window state: the oldest entry drops out, `latest` comes in last.
at::Tensor shift_in(const at::Tensor& window, const at::Tensor& latest) {
  return at::cat({window.slice(0, 1), latest.reshape({1}).to(window.options())});
}

}  // namespace

// ---- MeanMetric ---------------------------------------------------------------------

MeanMetric::MeanMetric(MeanMetricOptions options)
    : Metric("MeanMetric"), options_(std::move(options)) {
  check_nan_strategy(metric_name(), options_.nan_strategy());
  add_state("mean_value", float_scalar(0.0), Reduction::Sum);
  add_state("weight", float_scalar(0.0), Reduction::Sum);
}

void MeanMetric::update_states(const std::vector<at::Tensor>& inputs) {
  const Cleaned in = mean_input(metric_name(), options_.nan_strategy(), inputs);
  if (in.value.numel() == 0) return;
  set_state("mean_value", state("mean_value") + (in.value * in.weight).sum());
  set_state("weight", state("weight") + in.weight.sum());
}

std::vector<at::Tensor> MeanMetric::compute_states() {
  return {detail::squeeze_if_scalar(state("mean_value") / state("weight"))};
}

// ---- SumMetric ----------------------------------------------------------------------

SumMetric::SumMetric(SumMetricOptions options) : Metric("SumMetric"), options_(std::move(options)) {
  check_nan_strategy(metric_name(), options_.nan_strategy());
  add_state("sum_value", float_scalar(0.0), Reduction::Sum);
}

void SumMetric::update_states(const std::vector<at::Tensor>& inputs) {
  const Cleaned in =
      clean_input(metric_name(), options_.nan_strategy(), single_input(*this, inputs), {});
  if (in.value.numel() == 0) return;
  set_state("sum_value", state("sum_value") + in.value.sum());
}

std::vector<at::Tensor> SumMetric::compute_states() {
  return {detail::squeeze_if_scalar(state("sum_value"))};
}

// ---- MaxMetric / MinMetric ----------------------------------------------------------

MaxMetric::MaxMetric(MaxMetricOptions options) : Metric("MaxMetric"), options_(std::move(options)) {
  check_nan_strategy(metric_name(), options_.nan_strategy());
  add_state("max_value", float_scalar(-std::numeric_limits<double>::infinity()), Reduction::Max);
}

void MaxMetric::update_states(const std::vector<at::Tensor>& inputs) {
  const Cleaned in =
      clean_input(metric_name(), options_.nan_strategy(), single_input(*this, inputs), {});
  if (in.value.numel() == 0) return;
  set_state("max_value", at::maximum(state("max_value"), in.value.max()));
}

std::vector<at::Tensor> MaxMetric::compute_states() {
  return {detail::squeeze_if_scalar(state("max_value"))};
}

MinMetric::MinMetric(MinMetricOptions options) : Metric("MinMetric"), options_(std::move(options)) {
  check_nan_strategy(metric_name(), options_.nan_strategy());
  add_state("min_value", float_scalar(std::numeric_limits<double>::infinity()), Reduction::Min);
}

void MinMetric::update_states(const std::vector<at::Tensor>& inputs) {
  const Cleaned in =
      clean_input(metric_name(), options_.nan_strategy(), single_input(*this, inputs), {});
  if (in.value.numel() == 0) return;
  set_state("min_value", at::minimum(state("min_value"), in.value.min()));
}

std::vector<at::Tensor> MinMetric::compute_states() {
  return {detail::squeeze_if_scalar(state("min_value"))};
}

// ---- CatMetric ----------------------------------------------------------------------

CatMetric::CatMetric(CatMetricOptions options) : Metric("CatMetric"), options_(std::move(options)) {
  check_nan_strategy(metric_name(), options_.nan_strategy());
  add_list_state("value");
}

void CatMetric::update_states(const std::vector<at::Tensor>& inputs) {
  const Cleaned in =
      clean_input(metric_name(), options_.nan_strategy(), single_input(*this, inputs), {});
  if (in.value.numel() == 0) return;
  append("value", in.value.dim() == 0 ? in.value.unsqueeze(0) : in.value);
}

std::vector<at::Tensor> CatMetric::compute_states() {
  const at::Tensor empty = at::empty({0}, at::TensorOptions().dtype(at::kFloat).device(device()));
  return {detail::squeeze_if_scalar(cat_state("value", empty))};
}

// ---- RunningMean / RunningSum -------------------------------------------------------
//
// torchmetrics keeps one copy of the base metric's states per slot of the
// window and overwrites the slot of the current update. Here each state is a
// [window] tensor that shifts: the same sums, reduced over ranks element-wise
// (Sum), and forward needs no slot counter (full_state_update: the batch's
// value comes from fresh states that hold only the batch).

RunningMean::RunningMean(RunningMeanOptions options)
    : Metric("RunningMean"), options_(std::move(options)) {
  check_window(metric_name(), options_.window());
  check_nan_strategy(metric_name(), options_.nan_strategy());
  add_state("mean_value", at::zeros({options_.window()}, at::kFloat), Reduction::Sum);
  add_state("weight", at::zeros({options_.window()}, at::kFloat), Reduction::Sum);
}

void RunningMean::update_states(const std::vector<at::Tensor>& inputs) {
  const Cleaned in = mean_input(metric_name(), options_.nan_strategy(), inputs);
  const bool empty = in.value.numel() == 0;
  const at::Tensor sum = empty ? float_scalar(0.0) : (in.value * in.weight).sum();
  const at::Tensor weight = empty ? float_scalar(0.0) : in.weight.sum();
  set_state("mean_value", shift_in(state("mean_value"), sum));
  set_state("weight", shift_in(state("weight"), weight));
}

std::vector<at::Tensor> RunningMean::compute_states() {
  return {detail::squeeze_if_scalar(state("mean_value").sum() / state("weight").sum())};
}

RunningSum::RunningSum(RunningSumOptions options)
    : Metric("RunningSum"), options_(std::move(options)) {
  check_window(metric_name(), options_.window());
  check_nan_strategy(metric_name(), options_.nan_strategy());
  add_state("sum_value", at::zeros({options_.window()}, at::kFloat), Reduction::Sum);
}

void RunningSum::update_states(const std::vector<at::Tensor>& inputs) {
  const Cleaned in =
      clean_input(metric_name(), options_.nan_strategy(), single_input(*this, inputs), {});
  const at::Tensor sum = in.value.numel() == 0 ? float_scalar(0.0) : in.value.sum();
  set_state("sum_value", shift_in(state("sum_value"), sum));
}

std::vector<at::Tensor> RunningSum::compute_states() {
  return {detail::squeeze_if_scalar(state("sum_value").sum())};
}

}  // namespace lightning::metrics
