#include "lightning/precision.h"

#include <ATen/autocast_mode.h>
#include <c10/core/DefaultDtype.h>
#include <torch/autograd.h>

#include <cmath>
#include <limits>

#include "detail/torch_compat.h"
#include "lightning/error.h"

namespace lightning {

namespace torch_compat = detail::torch_compat;

namespace {

constexpr const char* kAccepted =
    "\"32-true\", \"64-true\", \"bf16-mixed\", \"bf16-true\", \"16-mixed\", \"16-true\" (or "
    "the legacy \"32\", \"64\", \"bf16\", \"16\")";

const char* kOwner = "GradScaler";

/// The scale lives in a float32 tensor in PyTorch; every value it takes is
/// rounded to float32 (inf beyond float32's range).
double as_float32(double v) {
  if (std::isfinite(v) && std::abs(v) > std::numeric_limits<float>::max()) {
    return v > 0 ? std::numeric_limits<double>::infinity()
                 : -std::numeric_limits<double>::infinity();
  }
  return static_cast<double>(static_cast<float>(v));
}

void check_scaler_values(const std::string& where, double scale, double growth_factor,
                         double backoff_factor, int64_t growth_interval) {
  LIGHTNING_CHECK(std::isfinite(scale) && scale > 0 && std::isfinite(as_float32(scale)) &&
                      as_float32(scale) > 0,
                  where,
                  ": the scale (init_scale) must be a positive number that fits in float32, got ",
                  scale, ".");
  LIGHTNING_CHECK(std::isfinite(growth_factor) && growth_factor > 1.0, where,
                  ": growth_factor must be > 1 (the scale is multiplied by it after "
                  "growth_interval clean steps), got ",
                  growth_factor, ".");
  LIGHTNING_CHECK(backoff_factor > 0.0 && backoff_factor < 1.0, where,
                  ": backoff_factor must be in (0, 1) (the scale is multiplied by it when a "
                  "gradient is inf/NaN), got ",
                  backoff_factor, ".");
  LIGHTNING_CHECK(growth_interval >= 1, where, ": growth_interval must be >= 1, got ",
                  growth_interval, ".");
}

bool is_true_low(PrecisionMode mode) {
  return mode == PrecisionMode::k64True || mode == PrecisionMode::kBf16True ||
         mode == PrecisionMode::k16True;
}

}  // namespace

// ---- parse_precision ----------------------------------------------------------

PrecisionMode parse_precision(const std::string& value) {
  if (value == "32-true" || value == "32") return PrecisionMode::k32True;
  if (value == "64-true" || value == "64") return PrecisionMode::k64True;
  if (value == "bf16-mixed" || value == "bf16") return PrecisionMode::kBf16Mixed;
  if (value == "bf16-true") return PrecisionMode::kBf16True;
  if (value == "16-mixed" || value == "16") return PrecisionMode::k16Mixed;
  if (value == "16-true") return PrecisionMode::k16True;
  LIGHTNING_FAIL("precision must be one of ", kAccepted, ", got \"", value, "\".");
}

std::string precision_name(PrecisionMode mode) {
  switch (mode) {
    case PrecisionMode::k32True:
      return "32-true";
    case PrecisionMode::k64True:
      return "64-true";
    case PrecisionMode::kBf16Mixed:
      return "bf16-mixed";
    case PrecisionMode::kBf16True:
      return "bf16-true";
    case PrecisionMode::k16Mixed:
      return "16-mixed";
    case PrecisionMode::k16True:
      return "16-true";
  }
  return "32-true";
}

// ---- GradScaler ---------------------------------------------------------------

GradScaler::GradScaler(GradScalerOptions options) : options_(options) {
  check_scaler_values("GradScalerOptions", options_.init_scale(), options_.growth_factor(),
                      options_.backoff_factor(), options_.growth_interval());
  // PyTorch's get_scale() is 1.0 for a disabled scaler.
  scale_ = options_.enabled() ? as_float32(options_.init_scale()) : 1.0;
}

bool GradScaler::OptimizerState::found_inf_now() {
  if (!found_inf_value) found_inf_value = found_inf.item<bool>();
  return *found_inf_value;
}

bool GradScaler::is_unscaled(const torch::optim::Optimizer& optimizer) const {
  auto it = per_optimizer_.find(&optimizer);
  return it != per_optimizer_.end() && it->second.stage == Stage::kUnscaled;
}

at::Tensor GradScaler::scale(const at::Tensor& loss) const {
  if (!options_.enabled()) return loss;
  // PyTorch multiplies by a float32 tensor: the result type is
  // promote(loss dtype, float32), and float32 math for a float32 loss.
  const auto dtype = at::promote_types(loss.scalar_type(), at::kFloat);
  return loss.to(dtype) * scale_;
}

void GradScaler::unscale_(torch::optim::Optimizer& optimizer) {
  if (!options_.enabled()) return;
  OptimizerState& state = per_optimizer_[&optimizer];
  LIGHTNING_CHECK(state.stage != Stage::kUnscaled,
                  "GradScaler: unscale_() has already been called on this optimizer since the "
                  "last update(). Unscale once per optimizer step (the Trainer does it before "
                  "gradient clipping).");
  LIGHTNING_CHECK(state.stage != Stage::kStepped,
                  "GradScaler: unscale_() is being called after step(); call update() first.");

  // inv_scale = scale.double().reciprocal().float(), as PyTorch.
  const float inv_scale = static_cast<float>(1.0 / scale_);
  at::NoGradGuard no_grad;
  at::Tensor found_inf;  // 0-dim bool, on the device of the first gradient
  for (auto& group : optimizer.param_groups()) {
    for (auto& param : group.params()) {
      if (!param.grad().defined()) continue;
      at::Tensor& grad = param.mutable_grad();
      at::Tensor values = grad;
      if (grad.is_sparse()) {
        // As PyTorch: fp16 sparse gradients are coalesced first, so that
        // duplicate indices cannot overflow when summed later.
        if (grad.scalar_type() == at::kHalf) grad = grad.coalesce();
        values = grad._values();
      }
      at::Tensor bad = at::isfinite(values).all().logical_not();
      if (!found_inf.defined()) {
        found_inf = bad;
      } else {
        found_inf.logical_or_(bad.to(found_inf.device(), /*non_blocking=*/true));
      }
      values.mul_(inv_scale);
    }
  }
  state.found_inf = found_inf;
  state.found_inf_value.reset();
  state.stage = Stage::kUnscaled;
}

bool GradScaler::step(torch::optim::Optimizer& optimizer) {
  if (!options_.enabled()) {
    optimizer.step();
    return true;
  }
  OptimizerState& state = per_optimizer_[&optimizer];
  LIGHTNING_CHECK(state.stage != Stage::kStepped,
                  "GradScaler: step() has already been called on this optimizer since the last "
                  "update(); call update() after each step.");
  if (state.stage == Stage::kReady) unscale_(optimizer);
  LIGHTNING_CHECK(state.found_inf.defined(),
                  "GradScaler: no inf checks were recorded for this optimizer: none of its "
                  "parameters has a gradient. Call backward() on the scaled loss before step().");
  const bool stepped = !state.found_inf_now();
  if (stepped) optimizer.step();
  state.stage = Stage::kStepped;
  return stepped;
}

void GradScaler::update() {
  if (!options_.enabled()) return;
  bool recorded = false;
  bool found_inf = false;
  for (auto& entry : per_optimizer_) {
    OptimizerState& state = entry.second;
    if (!state.found_inf.defined()) continue;
    recorded = true;
    if (state.found_inf_now()) found_inf = true;
  }
  LIGHTNING_CHECK(recorded,
                  "GradScaler: update() found no inf checks recorded since the last update(); "
                  "call step() (or unscale_()) on an optimizer whose parameters have gradients "
                  "first.");
  // torch._amp_update_scale_.
  if (found_inf) {
    scale_ = as_float32(scale_ * options_.backoff_factor());
    growth_tracker_ = 0;
  } else {
    const int64_t successful = growth_tracker_ + 1;
    if (successful == options_.growth_interval()) {
      const double grown = as_float32(scale_ * options_.growth_factor());
      if (std::isfinite(grown)) scale_ = grown;
      growth_tracker_ = 0;
    } else {
      growth_tracker_ = successful;
    }
  }
  per_optimizer_.clear();
}

StateDict GradScaler::state_dict() const {
  StateDict state = make_state_dict();
  if (!options_.enabled()) return state;
  state.insert("scale", scale_);
  state.insert("growth_factor", options_.growth_factor());
  state.insert("backoff_factor", options_.backoff_factor());
  state.insert("growth_interval", options_.growth_interval());
  state.insert("_growth_tracker", growth_tracker_);
  return state;
}

void GradScaler::load_state_dict(const StateDict& state) {
  if (!options_.enabled()) return;
  LIGHTNING_CHECK(state.size() > 0,
                  "GradScaler.load_state_dict: the source state dict is empty, possibly because "
                  "it was saved from a disabled GradScaler.");
  const double scale = state_double(state, "scale", kOwner);
  const double growth_factor = state_double(state, "growth_factor", kOwner);
  const double backoff_factor = state_double(state, "backoff_factor", kOwner);
  const int64_t growth_interval = state_int(state, "growth_interval", kOwner);
  const int64_t growth_tracker = state_int(state, "_growth_tracker", kOwner);
  check_scaler_values("GradScaler.load_state_dict", scale, growth_factor, backoff_factor,
                      growth_interval);
  LIGHTNING_CHECK(growth_tracker >= 0 && growth_tracker < growth_interval,
                  "GradScaler.load_state_dict: \"_growth_tracker\" must be in [0, "
                  "growth_interval = ",
                  growth_interval, "), got ", growth_tracker, ".");
  options_.init_scale(scale)
      .growth_factor(growth_factor)
      .backoff_factor(backoff_factor)
      .growth_interval(growth_interval);
  scale_ = as_float32(scale);
  growth_tracker_ = growth_tracker;
}

// ---- Precision ----------------------------------------------------------------

Precision::Precision(PrecisionMode mode, GradScalerOptions scaler_options) : mode_(mode) {
  if (mode_ == PrecisionMode::k16Mixed) scaler_ = std::make_unique<GradScaler>(scaler_options);
}

c10::ScalarType Precision::param_dtype() const {
  switch (mode_) {
    case PrecisionMode::k64True:
      return at::kDouble;
    case PrecisionMode::kBf16True:
      return at::kBFloat16;
    case PrecisionMode::k16True:
      return at::kHalf;
    default:
      return at::kFloat;
  }
}

std::optional<c10::ScalarType> Precision::autocast_dtype() const {
  if (mode_ == PrecisionMode::kBf16Mixed) return at::kBFloat16;
  if (mode_ == PrecisionMode::k16Mixed) return at::kHalf;
  return std::nullopt;
}

namespace {

[[noreturn]] void fail_fp16_autocast(const std::string& where) {
  LIGHTNING_FAIL(
      "precision \"16-mixed\" (float16 autocast with a loss scaler) needs a CUDA device, "
      "got ",
      where,
      ". PyTorch has no float16 autocast on CPU; use precision \"bf16-mixed\" "
      "(bfloat16 autocast) on CPU, or \"32-true\".");
}

}  // namespace

void Precision::check_device(const c10::Device& device) const {
  if (mode_ == PrecisionMode::k16Mixed && !device.is_cuda()) {
    fail_fp16_autocast("device " + device.str());
  }
  if (mode_ == PrecisionMode::kBf16Mixed) {
    LIGHTNING_CHECK(device.is_cpu() || device.is_cuda(),
                    "precision \"bf16-mixed\" autocasts on CPU "
                    "or CUDA devices, got device ",
                    device.str(), ".");
  }
  if (mode_ == PrecisionMode::k16True && device.is_cpu()) {
    detail::warn_once(
        "precision \"16-true\" on CPU: many libtorch CPU kernels have no float16 version (a "
        "Linear layer fails with \"addmm_impl_cpu_\" not implemented for 'Half'). Use "
        "\"bf16-true\" or \"bf16-mixed\" on CPU.");
  }
}

void Precision::setup(torch::nn::Module& module, const c10::Device& device) {
  check_device(device);
  if (!is_true_low(mode_)) return;

  const auto dtype = param_dtype();
  at::NoGradGuard no_grad;
  // torch::nn::Module::to(dtype) would also cast integer buffers; Python's
  // module.to(dtype) casts only the floating ones.
  for (auto& param : module.parameters(/*recurse=*/true)) {
    if (!param.is_floating_point() || param.scalar_type() == dtype) continue;
    param.set_data(param.data().to(dtype));
    if (param.grad().defined()) param.mutable_grad() = param.grad().to(dtype);
  }
  for (auto& buffer : module.buffers(/*recurse=*/true)) {
    if (!buffer.is_floating_point() || buffer.scalar_type() == dtype) continue;
    buffer.set_data(buffer.data().to(dtype));
  }
}

Batch Precision::convert_input(Batch batch) const {
  if (!is_true_low(mode_)) return batch;
  return batch.to(param_dtype());
}

Precision::ForwardContext::ForwardContext(const Precision& precision, c10::DeviceType device_type)
    : device_type_(device_type) {
  if (auto dtype = precision.autocast_dtype()) {
    if (*dtype == at::kHalf && device_type != c10::DeviceType::CUDA) {
      fail_fp16_autocast(std::string("device type ") + c10::DeviceTypeName(device_type, true));
    }
    LIGHTNING_CHECK(device_type == c10::DeviceType::CPU || device_type == c10::DeviceType::CUDA,
                    "precision \"", precision_name(precision.mode()),
                    "\" autocasts on CPU or CUDA, got device type ",
                    c10::DeviceTypeName(device_type, true), ".");
    prev_enabled_ = torch_compat::autocast_enabled(device_type);
    prev_dtype_ = torch_compat::autocast_dtype(device_type);
    torch_compat::set_autocast_dtype(device_type, *dtype);
    torch_compat::set_autocast_enabled(device_type, true);
    at::autocast::increment_nesting();
    prev_cache_enabled_ = at::autocast::is_autocast_cache_enabled();
    at::autocast::set_autocast_cache_enabled(true);
    kind_ = Kind::kAutocast;
  } else if (is_true_low(precision.mode())) {
    prev_dtype_ = c10::typeMetaToScalarType(c10::get_default_dtype());
    c10::set_default_dtype(caffe2::TypeMeta::fromScalarType(precision.param_dtype()));
    kind_ = Kind::kDefaultDtype;
  }
}

Precision::ForwardContext::~ForwardContext() {
  if (kind_ == Kind::kAutocast) {
    // As torch.autocast.__exit__.
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    torch_compat::set_autocast_enabled(device_type_, prev_enabled_);
    torch_compat::set_autocast_dtype(device_type_, prev_dtype_);
    at::autocast::set_autocast_cache_enabled(prev_cache_enabled_);
  } else if (kind_ == Kind::kDefaultDtype) {
    c10::set_default_dtype(caffe2::TypeMeta::fromScalarType(prev_dtype_));
  }
}

at::Tensor Precision::pre_backward(const at::Tensor& loss) const {
  return scaler_ ? scaler_->scale(loss) : loss;
}

void Precision::unscale_gradients(torch::optim::Optimizer& optimizer) {
  if (!scaler_ || !scaler_->is_enabled() || scaler_->is_unscaled(optimizer)) return;
  scaler_->unscale_(optimizer);
}

bool Precision::optimizer_step(torch::optim::Optimizer& optimizer) {
  if (!scaler_) {
    optimizer.step();
    return true;
  }
  const bool stepped = scaler_->step(optimizer);
  scaler_->update();
  return stepped;
}

}  // namespace lightning
