#include "lightning/optim/polynomial_lr.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "lightning/error.h"

namespace lightning {

PolynomialLR::PolynomialLR(std::shared_ptr<torch::optim::Optimizer> optimizer,
                           PolynomialLROptions options)
    : LRScheduler(std::move(optimizer), options.last_epoch()), options_(std::move(options)) {
  initial_step();
}

std::vector<double> PolynomialLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  const int64_t total_iters = options_.total_iters();
  if (last_epoch_ == 0 || last_epoch_ > total_iters) return lrs;
  const double total = static_cast<double>(total_iters);
  const double decay_factor = std::pow((1.0 - static_cast<double>(last_epoch_) / total) /
                                           (1.0 - static_cast<double>(last_epoch_ - 1) / total),
                                       options_.power());
  for (double& lr : lrs) lr = lr * decay_factor;
  return lrs;
}

std::optional<std::vector<double>> PolynomialLR::closed_form_lr() {
  const int64_t total_iters = options_.total_iters();
  LIGHTNING_CHECK(total_iters != 0,
                  "PolynomialLR with total_iters=0 has no closed form (PyTorch raises "
                  "ZeroDivisionError); use total_iters >= 1.");
  const double factor = std::pow(1.0 - static_cast<double>(std::min(total_iters, last_epoch_)) /
                                           static_cast<double>(total_iters),
                                 options_.power());
  std::vector<double> lrs;
  for (double base_lr : base_lrs_) lrs.push_back(base_lr * factor);
  return lrs;
}

SchedulerState PolynomialLR::state_dict() const {
  SchedulerState state = make_state_dict();
  state.insert("total_iters", options_.total_iters());
  state.insert("power", options_.power());
  for (const auto& e : LRScheduler::state_dict()) state.insert(e.key(), e.value());
  return state;
}

void PolynomialLR::load_state_dict(const SchedulerState& state) {
  const int64_t total_iters = state_int(state, "total_iters", name());
  const double power = state_double(state, "power", name());
  LRScheduler::load_state_dict(state);
  options_.total_iters(total_iters);
  options_.power(power);
}

}  // namespace lightning
