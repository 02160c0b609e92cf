#include "lightning/optim/linear_lr.h"

#include <algorithm>
#include <utility>

#include "lightning/error.h"

namespace lightning {

namespace {
void check_factors(double start_factor, double end_factor) {
  // PyTorch 1.13 accepts start_factor == 0, then divides by zero at epoch 1;
  // later releases reject it, as here.
  LIGHTNING_CHECK(start_factor > 0.0 && start_factor <= 1.0,
                  "LinearLR start_factor must be greater than 0 and at most 1, got ", start_factor,
                  ".");
  LIGHTNING_CHECK(end_factor >= 0.0 && end_factor <= 1.0,
                  "LinearLR end_factor must be between 0 and 1, got ", end_factor, ".");
}
}  // namespace

LinearLR::LinearLR(std::shared_ptr<torch::optim::Optimizer> optimizer, LinearLROptions options)
    : LRScheduler(std::move(optimizer), options.last_epoch()), options_(std::move(options)) {
  check_factors(options_.start_factor(), options_.end_factor());
  initial_step();
}

std::vector<double> LinearLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  const double start = options_.start_factor();
  const double end = options_.end_factor();
  const int64_t total_iters = options_.total_iters();
  if (last_epoch_ == 0) {
    for (double& lr : lrs) lr = lr * start;
    return lrs;
  }
  if (last_epoch_ > total_iters) return lrs;
  const double factor = 1. + (end - start) / (static_cast<double>(total_iters) * start +
                                              static_cast<double>(last_epoch_ - 1) * (end - start));
  for (double& lr : lrs) lr = lr * factor;
  return lrs;
}

std::optional<std::vector<double>> LinearLR::closed_form_lr() {
  const double start = options_.start_factor();
  const double end = options_.end_factor();
  const int64_t total_iters = options_.total_iters();
  LIGHTNING_CHECK(total_iters != 0,
                  "LinearLR with total_iters=0 has no closed form (PyTorch raises "
                  "ZeroDivisionError); use total_iters >= 1.");
  std::vector<double> lrs;
  for (double base_lr : base_lrs_) {
    lrs.push_back(base_lr *
                  (start + (end - start) * static_cast<double>(std::min(total_iters, last_epoch_)) /
                               static_cast<double>(total_iters)));
  }
  return lrs;
}

SchedulerState LinearLR::state_dict() const {
  SchedulerState state = make_state_dict();
  state.insert("start_factor", options_.start_factor());
  state.insert("end_factor", options_.end_factor());
  state.insert("total_iters", options_.total_iters());
  for (const auto& e : LRScheduler::state_dict()) state.insert(e.key(), e.value());
  return state;
}

void LinearLR::load_state_dict(const SchedulerState& state) {
  const double start_factor = state_double(state, "start_factor", name());
  const double end_factor = state_double(state, "end_factor", name());
  check_factors(start_factor, end_factor);
  const int64_t total_iters = state_int(state, "total_iters", name());
  LRScheduler::load_state_dict(state);
  options_.start_factor(start_factor);
  options_.end_factor(end_factor);
  options_.total_iters(total_iters);
}

}  // namespace lightning
