// CyclicLR: PyTorch 1.13's torch.optim.lr_scheduler.CyclicLR, formula for
// formula and in the same operation order, so the rates agree to the last bit
// or two. Beta1 cycling for Adam/AdamW follows PyTorch 2.x (1.13 refuses).
#include "lightning/optim/cyclic_lr.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "lightning/error.h"
#include "lightning/optim/param_groups.h"
#include "optim/cycle_params.h"

namespace lightning {

namespace {

constexpr const char* kCyclicLR = "CyclicLR";

bool builtin_mode(const std::string& mode) {
  return mode == "triangular" || mode == "triangular2" || mode == "exp_range";
}

std::vector<double> group_momentums(const torch::optim::Optimizer& optimizer) {
  std::vector<double> out;
  for (const auto& g : optimizer.param_groups()) out.push_back(momentum_of(g.options()).value());
  return out;
}

}  // namespace

std::shared_ptr<torch::optim::Optimizer> CyclicLR::prepare(
    const std::shared_ptr<torch::optim::Optimizer>& optimizer, const CyclicLROptions& options) {
  LIGHTNING_CHECK(optimizer != nullptr,
                  "A learning-rate scheduler needs an optimizer, got a null pointer.");
  // Every check first, so that a refused configuration leaves the optimizer as it was.
  const auto base_lrs =
      detail::per_group_values(*optimizer, options.base_lr(), kCyclicLR, "base_lr");
  detail::per_group_values(*optimizer, options.max_lr(), kCyclicLR, "max_lr");
  LIGHTNING_CHECK(options.step_size_up() >= 1, kCyclicLR, ": step_size_up must be >= 1, got ",
                  options.step_size_up(), ".");
  LIGHTNING_CHECK(!options.step_size_down() || *options.step_size_down() >= 0, kCyclicLR,
                  ": step_size_down must be >= 0, got ", options.step_size_down().value_or(0), ".");
  LIGHTNING_CHECK(builtin_mode(options.mode()) || options.scale_fn(), kCyclicLR,
                  ": mode is invalid and scale_fn is None: got mode \"", options.mode(),
                  "\"; use \"triangular\", \"triangular2\" or \"exp_range\", or give a scale_fn.");
  LIGHTNING_CHECK(options.scale_mode() == "cycle" || options.scale_mode() == "iterations",
                  kCyclicLR, ": scale_mode must be \"cycle\" or \"iterations\", got \"",
                  options.scale_mode(), "\".");
  std::vector<double> base_momentums;
  if (options.cycle_momentum()) {
    detail::require_momentum(*optimizer, kCyclicLR);
    base_momentums =
        detail::per_group_values(*optimizer, options.base_momentum(), kCyclicLR, "base_momentum");
    detail::per_group_values(*optimizer, options.max_momentum(), kCyclicLR, "max_momentum");
  }
  // PyTorch sets the groups' rates (and momentums) before _LRScheduler.__init__
  // records them as initial_lr.
  if (options.last_epoch() == -1) {
    auto& groups = optimizer->param_groups();
    for (size_t i = 0; i < groups.size(); ++i) {
      groups[i].options().set_lr(base_lrs[i]);
      if (options.cycle_momentum()) {
        set_momentum(groups[i].options(), base_momentums[i], optimizer_name(*optimizer));
      }
    }
  }
  return optimizer;
}

CyclicLR::CyclicLR(std::shared_ptr<torch::optim::Optimizer> optimizer, CyclicLROptions options)
    : LRScheduler(prepare(optimizer, options), options.last_epoch()), options_(std::move(options)) {
  max_lrs_ = detail::per_group_values(*optimizer_, options_.max_lr(), kCyclicLR, "max_lr");
  const double up = static_cast<double>(options_.step_size_up());
  const double down =
      options_.step_size_down() ? static_cast<double>(*options_.step_size_down()) : up;
  total_size_ = up + down;
  step_ratio_ = up / total_size_;
  if (!options_.scale_fn()) {
    scale_fn_ref_ = options_.mode();
    options_.scale_mode(options_.mode() == "exp_range" ? "iterations" : "cycle");
  }
  if (options_.cycle_momentum()) {
    // As 1.13: the groups' momentums, which are base_momentum unless resuming.
    base_momentums_ = group_momentums(*optimizer_);
    max_momentums_ =
        detail::per_group_values(*optimizer_, options_.max_momentum(), kCyclicLR, "max_momentum");
  }
  initial_step();
  // As PyTorch, after the first step (which used the groups' initial_lr).
  base_lrs_ = detail::per_group_values(*optimizer_, options_.base_lr(), kCyclicLR, "base_lr");
}

double CyclicLR::scale(double x) const {
  if (scale_fn_ref_.empty()) return options_.scale_fn()(x);
  if (scale_fn_ref_ == "triangular") return 1.;
  if (scale_fn_ref_ == "triangular2") return 1 / std::pow(2., x - 1);
  return std::pow(options_.gamma(), x);  // exp_range
}

std::vector<double> CyclicLR::compute(std::vector<double>* momentums) const {
  const double epoch = static_cast<double>(last_epoch_);
  const double cycle = std::floor(1 + epoch / total_size_);
  const double x = 1. + epoch / total_size_ - cycle;
  double scale_factor;
  if (x <= step_ratio_) {
    scale_factor = x / step_ratio_;
  } else {
    scale_factor = (x - 1) / (step_ratio_ - 1);
  }
  const double scale_arg = options_.scale_mode() == "cycle" ? cycle : epoch;

  std::vector<double> lrs;
  const size_t n = std::min(base_lrs_.size(), max_lrs_.size());
  for (size_t i = 0; i < n; ++i) {
    const double base_height = (max_lrs_[i] - base_lrs_[i]) * scale_factor;
    lrs.push_back(base_lrs_[i] + base_height * scale(scale_arg));
  }
  if (momentums != nullptr) {
    momentums->clear();
    const size_t m = std::min(base_momentums_.size(), max_momentums_.size());
    for (size_t i = 0; i < m; ++i) {
      const double base_height = (max_momentums_[i] - base_momentums_[i]) * scale_factor;
      momentums->push_back(max_momentums_[i] - base_height * scale(scale_arg));
    }
  }
  return lrs;
}

std::vector<double> CyclicLR::get_lr() {
  if (!options_.cycle_momentum()) return compute(nullptr);
  std::vector<double> momentums;
  auto lrs = compute(&momentums);
  set_group_momentums(momentums);
  return lrs;
}

SchedulerState CyclicLR::state_dict() const {
  // PyTorch's __dict__ order; the scale function, a Python callable there, is
  // saved by name: "_scale_fn_ref" names the built-in policy ("triangular",
  // "triangular2", "exp_range") or is None, "_scale_fn_custom" is "custom" when
  // a scale_fn was given (the function itself cannot be saved) or None.
  SchedulerState state = make_state_dict();
  state.insert("max_lrs", to_ivalue(max_lrs_));
  state.insert("total_size", total_size_);
  state.insert("step_ratio", step_ratio_);
  state.insert("mode", options_.mode());
  state.insert("gamma", options_.gamma());
  state.insert("_scale_fn_custom",
               scale_fn_ref_.empty() ? c10::IValue(std::string("custom")) : c10::IValue());
  state.insert("_scale_fn_ref", scale_fn_ref_.empty() ? c10::IValue() : c10::IValue(scale_fn_ref_));
  state.insert("scale_mode", options_.scale_mode());
  state.insert("cycle_momentum", options_.cycle_momentum());
  if (options_.cycle_momentum()) {
    state.insert("base_momentums", to_ivalue(base_momentums_));
    state.insert("max_momentums", to_ivalue(max_momentums_));
  }
  for (const auto& entry : LRScheduler::state_dict()) state.insert(entry.key(), entry.value());
  return state;
}

void CyclicLR::load_state_dict(const SchedulerState& state) {
  // Read everything before changing anything.
  auto max_lrs = state_doubles(state, "max_lrs", kCyclicLR);
  const double total_size = state_double(state, "total_size", kCyclicLR);
  const double step_ratio = state_double(state, "step_ratio", kCyclicLR);
  const std::string mode = state_string(state, "mode", kCyclicLR);
  const double gamma = state_double(state, "gamma", kCyclicLR);
  const std::string scale_mode = state_string(state, "scale_mode", kCyclicLR);
  LIGHTNING_CHECK(scale_mode == "cycle" || scale_mode == "iterations", kCyclicLR,
                  ".load_state_dict: unknown scale_mode \"", scale_mode, "\".");
  const bool cycle_momentum = state_bool(state, "cycle_momentum", kCyclicLR);
  const bool custom = !state_value(state, "_scale_fn_custom", kCyclicLR).isNone();
  std::string ref;
  if (custom) {
    LIGHTNING_CHECK(options_.scale_fn() != nullptr, kCyclicLR,
                    ".load_state_dict: the state was saved with a custom scale_fn, which "
                    "cannot be saved; build this CyclicLR with the same scale_fn before loading.");
  } else {
    const c10::IValue& r = state_value(state, "_scale_fn_ref", kCyclicLR);
    LIGHTNING_CHECK(r.isString() && builtin_mode(r.toStringRef()), kCyclicLR,
                    ".load_state_dict: \"_scale_fn_ref\" must name \"triangular\", "
                    "\"triangular2\" or \"exp_range\" when \"_scale_fn_custom\" is None.");
    ref = r.toStringRef();
  }
  std::vector<double> base_momentums, max_momentums;
  if (cycle_momentum) {
    detail::require_momentum(*optimizer_, kCyclicLR);
    base_momentums = state_doubles(state, "base_momentums", kCyclicLR);
    max_momentums = state_doubles(state, "max_momentums", kCyclicLR);
  }

  LRScheduler::load_state_dict(state);
  max_lrs_ = std::move(max_lrs);
  total_size_ = total_size;
  step_ratio_ = step_ratio;
  options_.mode(mode).gamma(gamma).scale_mode(scale_mode).cycle_momentum(cycle_momentum);
  scale_fn_ref_ = ref;
  base_momentums_ = std::move(base_momentums);
  max_momentums_ = std::move(max_momentums);
  // The momentum of the restored step, as the rates are: a fresh optimizer then
  // continues exactly (PyTorch leaves both to optimizer.load_state_dict).
  if (cycle_momentum && last_epoch_ >= 0) {
    std::vector<double> momentums;
    compute(&momentums);
    if (momentums.size() == num_groups()) set_group_momentums(momentums);
  }
}

}  // namespace lightning
