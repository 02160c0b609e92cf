// PyTorch's SWALR (torch/optim/swa_utils.py), value for value.
#include "lightning/optim/swalr.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "lightning/error.h"
#include "util/python_math.h"

namespace lightning {

namespace {

void check_strategy(const std::string& strategy) {
  LIGHTNING_CHECK(strategy == "cos" || strategy == "linear",
                  "anneal_strategy must be one of 'cos' or 'linear', instead got '", strategy,
                  "'.");
}

void check_anneal_epochs(int64_t anneal_epochs) {
  LIGHTNING_CHECK(anneal_epochs >= 0, "anneal_epochs must be equal or greater than 0, got ",
                  anneal_epochs, ".");
}

// PyTorch records swa_lr in the groups before the base constructor runs:
// one value per group (a single value is broadcast).
std::vector<double> swa_lrs_for(const std::shared_ptr<torch::optim::Optimizer>& optimizer,
                                const SWALROptions& options) {
  LIGHTNING_CHECK(optimizer != nullptr,
                  "A learning-rate scheduler needs an optimizer, got a null pointer.");
  check_strategy(options.anneal_strategy());
  check_anneal_epochs(options.anneal_epochs());
  const size_t groups = optimizer->param_groups().size();
  const std::vector<double>& lrs = options.swa_lr();
  if (lrs.size() == 1) return std::vector<double>(groups, lrs[0]);
  LIGHTNING_CHECK(lrs.size() == groups,
                  "swa_lr must have the same length as optimizer.param_groups: swa_lr has ",
                  lrs.size(), ", optimizer.param_groups has ", groups,
                  ". Give one value, or one per parameter group.");
  return lrs;
}

}  // namespace

SWALR::SWALR(std::shared_ptr<torch::optim::Optimizer> optimizer, SWALROptions options)
    : LRScheduler(optimizer, options.last_epoch()),
      swa_lrs_(swa_lrs_for(optimizer, options)),
      anneal_epochs_(options.anneal_epochs()),
      anneal_strategy_(options.anneal_strategy()) {
  initial_step();
}

double SWALR::anneal(double t) const {
  return anneal_strategy_ == "cos" ? (1 - std::cos(detail::kPi * t)) / 2 : t;
}

std::vector<double> SWALR::get_lr() {
  // Python: t = max(0, min(1, step / max(1, anneal_epochs))), step counted
  // from the scheduler's construction.
  int64_t step = step_count_ - 1;
  if (anneal_epochs_ == 0) step = std::max<int64_t>(1, step);
  const double epochs = static_cast<double>(std::max<int64_t>(1, anneal_epochs_));
  const double prev_t = std::max(0.0, std::min(1.0, static_cast<double>(step - 1) / epochs));
  const double prev_alpha = anneal(prev_t);
  const double t = std::max(0.0, std::min(1.0, static_cast<double>(step) / epochs));
  const double alpha = anneal(t);
  std::vector<double> lrs = group_lrs();
  for (size_t i = 0; i < lrs.size(); ++i) {
    // The rate before annealing, recovered from the current one.
    const double prev_lr =
        prev_alpha == 1 ? swa_lrs_[i] : (lrs[i] - prev_alpha * swa_lrs_[i]) / (1 - prev_alpha);
    lrs[i] = swa_lrs_[i] * alpha + prev_lr * (1 - alpha);
  }
  return lrs;
}

SchedulerState SWALR::state_dict() const {
  SchedulerState state = make_state_dict();
  state.insert("anneal_epochs", anneal_epochs_);
  state.insert("_anneal_strategy", anneal_strategy_);
  for (const auto& e : LRScheduler::state_dict()) state.insert(e.key(), e.value());
  return state;
}

void SWALR::load_state_dict(const SchedulerState& state) {
  const int64_t anneal_epochs = state_int(state, "anneal_epochs", name());
  check_anneal_epochs(anneal_epochs);
  // PyTorch 1.13 saves the annealing function instead of its name: then
  // the strategy this scheduler was built with stays.
  std::string strategy = anneal_strategy_;
  if (state.contains("_anneal_strategy")) {
    strategy = state_string(state, "_anneal_strategy", name());
    check_strategy(strategy);
  }
  LRScheduler::load_state_dict(state);
  anneal_epochs_ = anneal_epochs;
  anneal_strategy_ = std::move(strategy);
}

}  // namespace lightning
