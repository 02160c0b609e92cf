#include "lightning/optim/constant_lr.h"

#include <utility>

#include "lightning/error.h"

namespace lightning {

namespace {
void check_factor(double factor) {
  LIGHTNING_CHECK(factor >= 0.0 && factor <= 1.0, "ConstantLR factor must be between 0 and 1, got ",
                  factor, ".");
}
}  // namespace

ConstantLR::ConstantLR(std::shared_ptr<torch::optim::Optimizer> optimizer,
                       ConstantLROptions options)
    : LRScheduler(std::move(optimizer), options.last_epoch()), options_(std::move(options)) {
  check_factor(options_.factor());
  initial_step();
}

std::vector<double> ConstantLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  const double factor = options_.factor();
  const int64_t total_iters = options_.total_iters();
  if (last_epoch_ == 0) {
    for (double& lr : lrs) lr = lr * factor;
    return lrs;
  }
  if (last_epoch_ != total_iters) return lrs;
  // PyTorch divides by the factor here, and raises ZeroDivisionError for 0.
  LIGHTNING_CHECK(
      factor != 0.0,
      "ConstantLR with factor 0 cannot restore the learning rate at total_iters=", total_iters,
      " (PyTorch raises ZeroDivisionError here as well); use a small positive factor.");
  for (double& lr : lrs) lr = lr * (1.0 / factor);
  return lrs;
}

std::optional<std::vector<double>> ConstantLR::closed_form_lr() {
  const double factor = options_.factor();
  const double done = last_epoch_ >= options_.total_iters() ? 1.0 : 0.0;
  std::vector<double> lrs;
  for (double base_lr : base_lrs_) lrs.push_back(base_lr * (factor + done * (1 - factor)));
  return lrs;
}

SchedulerState ConstantLR::state_dict() const {
  SchedulerState state = make_state_dict();
  state.insert("factor", options_.factor());
  state.insert("total_iters", options_.total_iters());
  for (const auto& e : LRScheduler::state_dict()) state.insert(e.key(), e.value());
  return state;
}

void ConstantLR::load_state_dict(const SchedulerState& state) {
  const double factor = state_double(state, "factor", name());
  check_factor(factor);
  const int64_t total_iters = state_int(state, "total_iters", name());
  LRScheduler::load_state_dict(state);
  options_.factor(factor);
  options_.total_iters(total_iters);
}

}  // namespace lightning
