#include "lightning/optim/multi_step_lr.h"

#include <ATen/core/jit_type.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "lightning/error.h"
#include "util/python_math.h"

namespace lightning {

namespace {

// How often `epoch` occurs in `milestones` (PyTorch's Counter lookup).
int64_t count_of(const std::vector<int64_t>& milestones, int64_t epoch) {
  return std::count(milestones.begin(), milestones.end(), epoch);
}

}  // namespace

MultiStepLR::MultiStepLR(std::shared_ptr<torch::optim::Optimizer> optimizer,
                         MultiStepLROptions options)
    : LRScheduler(std::move(optimizer), options.last_epoch()), options_(std::move(options)) {
  initial_step();
}

std::vector<double> MultiStepLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  const int64_t count = count_of(options_.milestones(), last_epoch_);
  if (count == 0) return lrs;
  const double factor = std::pow(options_.gamma(), static_cast<double>(count));
  for (double& lr : lrs) lr = lr * factor;
  return lrs;
}

std::optional<std::vector<double>> MultiStepLR::closed_form_lr() {
  std::vector<int64_t> sorted = options_.milestones();
  std::sort(sorted.begin(), sorted.end());
  const double factor =
      std::pow(options_.gamma(), static_cast<double>(detail::py_bisect_right(sorted, last_epoch_)));
  std::vector<double> lrs;
  for (double base_lr : base_lrs_) lrs.push_back(base_lr * factor);
  return lrs;
}

SchedulerState MultiStepLR::state_dict() const {
  // "milestones" is PyTorch's Counter: {milestone: count} in order of first
  // appearance.
  c10::impl::GenericDict counter(c10::IntType::get(), c10::IntType::get());
  for (int64_t m : options_.milestones()) {
    auto it = counter.find(m);
    if (it == counter.end()) {
      counter.insert(m, int64_t{1});
    } else {
      it->setValue(it->value().toInt() + 1);
    }
  }
  SchedulerState state = make_state_dict();
  state.insert("milestones", std::move(counter));
  state.insert("gamma", options_.gamma());
  for (const auto& e : LRScheduler::state_dict()) state.insert(e.key(), e.value());
  return state;
}

void MultiStepLR::load_state_dict(const SchedulerState& state) {
  const c10::IValue& value = state_value(state, "milestones", name());
  LIGHTNING_CHECK(value.isGenericDict(), name(),
                  ".load_state_dict: \"milestones\" must be a dict {milestone: count}, got a ",
                  value.tagKind(), ".");
  std::vector<int64_t> milestones;
  for (const auto& e : value.toGenericDict()) {
    LIGHTNING_CHECK(e.key().isInt() && e.value().isInt(), name(),
                    ".load_state_dict: \"milestones\" must map int milestones to int counts, "
                    "found a ",
                    e.key().tagKind(), " -> ", e.value().tagKind(), " entry.");
    for (int64_t i = 0; i < e.value().toInt(); ++i) milestones.push_back(e.key().toInt());
  }
  const double gamma = state_double(state, "gamma", name());
  LRScheduler::load_state_dict(state);
  options_.milestones(std::move(milestones));
  options_.gamma(gamma);
}

}  // namespace lightning
