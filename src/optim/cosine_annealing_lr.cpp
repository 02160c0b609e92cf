#include "lightning/optim/cosine_annealing_lr.h"

#include <cmath>
#include <utility>

#include "lightning/error.h"
#include "util/python_math.h"

namespace lightning {

namespace {

// Python's `base ** exp` for ints (exp >= 0).
int64_t int_pow(int64_t base, int64_t exp) {
  int64_t result = 1;
  for (int64_t i = 0; i < exp; ++i) result *= base;
  return result;
}

const CosineAnnealingLROptions& checked(const CosineAnnealingLROptions& options) {
  // PyTorch does not check; T_max=0 divides by zero at the second step.
  LIGHTNING_CHECK(options.T_max() >= 1,
                  "CosineAnnealingLR T_max must be >= 1 (epochs from the base rate down to "
                  "eta_min), got ",
                  options.T_max(), ".");
  return options;
}

void check_restarts(int64_t T_0, int64_t T_mult) {
  LIGHTNING_CHECK(T_0 > 0,
                  "CosineAnnealingWarmRestarts expected a positive integer T_0 (epochs "
                  "of the first cycle), but got ",
                  T_0, ".");
  LIGHTNING_CHECK(T_mult >= 1,
                  "CosineAnnealingWarmRestarts expected an integer T_mult >= 1 (growth "
                  "of the cycle length), but got ",
                  T_mult, ".");
}

const CosineAnnealingWarmRestartsOptions& checked(
    const CosineAnnealingWarmRestartsOptions& options) {
  check_restarts(options.T_0(), options.T_mult());
  return options;
}

}  // namespace

// ----------------------------------------------------------------------------
// CosineAnnealingLR

CosineAnnealingLR::CosineAnnealingLR(std::shared_ptr<torch::optim::Optimizer> optimizer,
                                     CosineAnnealingLROptions options)
    : LRScheduler(std::move(optimizer), checked(options).last_epoch()),
      options_(std::move(options)) {
  initial_step();
}

std::vector<double> CosineAnnealingLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  const double eta_min = options_.eta_min();
  const int64_t T_max = options_.T_max();
  const double t_max = static_cast<double>(T_max);
  const double epoch = static_cast<double>(last_epoch_);
  if (last_epoch_ == 0) return lrs;
  if (step_count_ == 1 && last_epoch_ > 0) {
    // Built with last_epoch > -1: the closed form.
    for (size_t i = 0; i < lrs.size(); ++i) {
      lrs[i] = eta_min + (base_lrs_[i] - eta_min) * (1 + std::cos(epoch * detail::kPi / t_max)) / 2;
    }
    return lrs;
  }
  if (detail::py_mod(last_epoch_ - 1 - T_max, 2 * T_max) == 0) {
    for (size_t i = 0; i < lrs.size(); ++i) {
      lrs[i] = lrs[i] + (base_lrs_[i] - eta_min) * (1 - std::cos(detail::kPi / t_max)) / 2;
    }
    return lrs;
  }
  for (double& lr : lrs) {
    lr = (1 + std::cos(detail::kPi * epoch / t_max)) /
             (1 + std::cos(detail::kPi * static_cast<double>(last_epoch_ - 1) / t_max)) *
             (lr - eta_min) +
         eta_min;
  }
  return lrs;
}

std::optional<std::vector<double>> CosineAnnealingLR::closed_form_lr() {
  const double eta_min = options_.eta_min();
  const double t_max = static_cast<double>(options_.T_max());
  std::vector<double> lrs;
  for (double base_lr : base_lrs_) {
    lrs.push_back(eta_min +
                  (base_lr - eta_min) *
                      (1 + std::cos(detail::kPi * static_cast<double>(last_epoch_) / t_max)) / 2);
  }
  return lrs;
}

SchedulerState CosineAnnealingLR::state_dict() const {
  SchedulerState state = make_state_dict();
  state.insert("T_max", options_.T_max());
  state.insert("eta_min", options_.eta_min());
  for (const auto& e : LRScheduler::state_dict()) state.insert(e.key(), e.value());
  return state;
}

void CosineAnnealingLR::load_state_dict(const SchedulerState& state) {
  const int64_t T_max = state_int(state, "T_max", name());
  const double eta_min = state_double(state, "eta_min", name());
  checked(CosineAnnealingLROptions(T_max));
  LRScheduler::load_state_dict(state);
  options_.T_max(T_max);
  options_.eta_min(eta_min);
}

// ----------------------------------------------------------------------------
// CosineAnnealingWarmRestarts

CosineAnnealingWarmRestarts::CosineAnnealingWarmRestarts(
    std::shared_ptr<torch::optim::Optimizer> optimizer, CosineAnnealingWarmRestartsOptions options)
    : LRScheduler(std::move(optimizer), checked(options).last_epoch()),
      options_(std::move(options)),
      T_i_(options_.T_0()),
      T_cur_(static_cast<double>(options_.last_epoch())) {
  initial_step();
}

std::vector<double> CosineAnnealingWarmRestarts::get_lr() {
  const double eta_min = options_.eta_min();
  std::vector<double> lrs;
  for (double base_lr : base_lrs_) {
    lrs.push_back(eta_min + (base_lr - eta_min) *
                                (1 + std::cos(detail::kPi * T_cur_ / static_cast<double>(T_i_))) /
                                2);
  }
  return lrs;
}

// PyTorch's step() of this scheduler neither counts _step_count nor uses the
// base class's step.
void CosineAnnealingWarmRestarts::step() {
  if (last_epoch_ < 0) {
    step_fractional(0.0);
    return;
  }
  T_cur_ = T_cur_ + 1;
  if (T_cur_ >= static_cast<double>(T_i_)) {
    T_cur_ = T_cur_ - static_cast<double>(T_i_);
    T_i_ = T_i_ * options_.T_mult();
  }
  last_epoch_ = last_epoch_ + 1;
  apply_lrs(get_lr());
}

void CosineAnnealingWarmRestarts::step_fractional(double epoch) {
  LIGHTNING_CHECK(epoch >= 0,
                  "CosineAnnealingWarmRestarts.step(epoch) expected a non-negative "
                  "epoch, but got ",
                  epoch, ".");
  const int64_t T_0 = options_.T_0();
  const int64_t T_mult = options_.T_mult();
  // An integral epoch stands for a Python int (step_to_epoch), a fractional one
  // for a float; the state_dict keeps T_cur's type accordingly.
  const bool epoch_is_float = epoch != std::floor(epoch);
  if (epoch >= static_cast<double>(T_0)) {
    if (T_mult == 1) {
      T_cur_ = std::fmod(epoch, static_cast<double>(T_0));
      T_cur_is_float_ = epoch_is_float;
    } else {
      // int(math.log(epoch / T_0 * (T_mult - 1) + 1, T_mult))
      const auto n = static_cast<int64_t>(
          std::log(epoch / static_cast<double>(T_0) * static_cast<double>(T_mult - 1) + 1) /
          std::log(static_cast<double>(T_mult)));
      T_cur_ = epoch - static_cast<double>(T_0 * (int_pow(T_mult, n) - 1)) /
                           static_cast<double>(T_mult - 1);
      T_i_ = T_0 * int_pow(T_mult, n);
      T_cur_is_float_ = true;
    }
  } else {
    T_i_ = T_0;
    T_cur_ = epoch;
    T_cur_is_float_ = epoch_is_float;
  }
  last_epoch_ = static_cast<int64_t>(std::floor(epoch));
  apply_lrs(get_lr());
}

SchedulerState CosineAnnealingWarmRestarts::state_dict() const {
  SchedulerState state = make_state_dict();
  state.insert("T_0", options_.T_0());
  state.insert("T_i", T_i_);
  state.insert("T_mult", options_.T_mult());
  state.insert("eta_min", options_.eta_min());
  if (T_cur_is_float_) {
    state.insert("T_cur", T_cur_);
  } else {
    state.insert("T_cur", static_cast<int64_t>(T_cur_));
  }
  for (const auto& e : LRScheduler::state_dict()) state.insert(e.key(), e.value());
  return state;
}

void CosineAnnealingWarmRestarts::load_state_dict(const SchedulerState& state) {
  const std::string who = name();
  const int64_t T_0 = state_int(state, "T_0", who);
  const int64_t T_i = state_int(state, "T_i", who);
  const int64_t T_mult = state_int(state, "T_mult", who);
  check_restarts(T_0, T_mult);
  const double eta_min = state_double(state, "eta_min", who);
  const double T_cur = state_double(state, "T_cur", who);
  const bool T_cur_is_float = state_value(state, "T_cur", who).isDouble();
  LRScheduler::load_state_dict(state);
  options_.T_0(T_0);
  options_.T_mult(T_mult);
  options_.eta_min(eta_min);
  T_i_ = T_i;
  T_cur_ = T_cur;
  T_cur_is_float_ = T_cur_is_float;
}

}  // namespace lightning
