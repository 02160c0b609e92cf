#include "lightning/optim/exponential_lr.h"

#include <cmath>
#include <utility>

namespace lightning {

ExponentialLR::ExponentialLR(std::shared_ptr<torch::optim::Optimizer> optimizer,
                             ExponentialLROptions options)
    : LRScheduler(std::move(optimizer), options.last_epoch()), options_(std::move(options)) {
  initial_step();
}

std::vector<double> ExponentialLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  if (last_epoch_ == 0) return lrs;
  for (double& lr : lrs) lr = lr * options_.gamma();
  return lrs;
}

std::optional<std::vector<double>> ExponentialLR::closed_form_lr() {
  const double factor = std::pow(options_.gamma(), static_cast<double>(last_epoch_));
  std::vector<double> lrs;
  for (double base_lr : base_lrs_) lrs.push_back(base_lr * factor);
  return lrs;
}

SchedulerState ExponentialLR::state_dict() const {
  SchedulerState state = make_state_dict();
  state.insert("gamma", options_.gamma());
  for (const auto& e : LRScheduler::state_dict()) state.insert(e.key(), e.value());
  return state;
}

void ExponentialLR::load_state_dict(const SchedulerState& state) {
  const double gamma = state_double(state, "gamma", name());
  LRScheduler::load_state_dict(state);
  options_.gamma(gamma);
}

}  // namespace lightning
