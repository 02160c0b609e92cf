#include "lightning/optim/step_lr.h"

#include <cmath>

#include "lightning/error.h"
#include "util/python_math.h"

namespace lightning {

namespace {

// Python's `a // b` (rounds toward negative infinity).
int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

void check_step_size(int64_t step_size) {
  // PyTorch does not check; 0 would divide by zero at the first step.
  LIGHTNING_CHECK(step_size >= 1, "StepLR step_size must be >= 1 (epochs between decays), got ",
                  step_size, ".");
}

}  // namespace

StepLR::StepLR(std::shared_ptr<torch::optim::Optimizer> optimizer, StepLROptions options)
    : LRScheduler(std::move(optimizer), options.last_epoch()), options_(std::move(options)) {
  check_step_size(options_.step_size());
  initial_step();
}

std::vector<double> StepLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  if (last_epoch_ == 0 || detail::py_mod(last_epoch_, options_.step_size()) != 0) return lrs;
  for (double& lr : lrs) lr = lr * options_.gamma();
  return lrs;
}

std::optional<std::vector<double>> StepLR::closed_form_lr() {
  const double factor =
      std::pow(options_.gamma(), static_cast<double>(floor_div(last_epoch_, options_.step_size())));
  std::vector<double> lrs;
  for (double base_lr : base_lrs_) lrs.push_back(base_lr * factor);
  return lrs;
}

SchedulerState StepLR::state_dict() const {
  // PyTorch's __dict__ order: the scheduler's own attributes, then the base's.
  SchedulerState state = make_state_dict();
  state.insert("step_size", options_.step_size());
  state.insert("gamma", options_.gamma());
  for (const auto& e : LRScheduler::state_dict()) state.insert(e.key(), e.value());
  return state;
}

void StepLR::load_state_dict(const SchedulerState& state) {
  const int64_t step_size = state_int(state, "step_size", name());
  check_step_size(step_size);
  const double gamma = state_double(state, "gamma", name());
  LRScheduler::load_state_dict(state);
  options_.step_size(step_size);
  options_.gamma(gamma);
}

}  // namespace lightning
