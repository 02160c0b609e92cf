#include "lightning/optim/lambda_lr.h"

#include <ATen/core/jit_type.h>

#include <utility>

#include "lightning/error.h"

namespace lightning {

namespace {

// One function per group: `lr_lambdas` as given (checked against the group
// count) or `lr_lambda` repeated. Runs after the base constructor, which has
// checked the optimizer.
std::vector<LRLambda> lambdas_for(const torch::optim::Optimizer* optimizer,
                                  std::vector<LRLambda> lr_lambdas, bool broadcast,
                                  const char* who) {
  const size_t groups = optimizer->param_groups().size();
  if (broadcast) {
    lr_lambdas = std::vector<LRLambda>(groups, lr_lambdas.at(0));
  } else {
    LIGHTNING_CHECK(lr_lambdas.size() == groups, who, " expected ", groups,
                    " lr_lambdas (one per parameter group), but got ", lr_lambdas.size(),
                    "; pass one function per group or a single function for all.");
  }
  for (size_t i = 0; i < lr_lambdas.size(); ++i) {
    LIGHTNING_CHECK(static_cast<bool>(lr_lambdas[i]), who, ": lr_lambda ", i,
                    " is an empty std::function; pass a callable.");
  }
  return lr_lambdas;
}

// PyTorch saves plain functions as None: "lr_lambdas" is a list of None.
c10::IValue none_list(size_t n) {
  c10::impl::GenericList list(c10::NoneType::get());
  for (size_t i = 0; i < n; ++i) list.push_back(c10::IValue());
  return list;
}

// Checks the saved "lr_lambdas" (a list, one entry per function). Entries that
// are not None are a Python callable object's __dict__, which has no C++
// counterpart; they are ignored.
void check_lambdas_state(const SchedulerState& state, size_t n, const std::string& who) {
  const c10::IValue& v = state_value(state, "lr_lambdas", who);
  LIGHTNING_CHECK(v.isList(), who, ".load_state_dict: \"lr_lambdas\" must be a list, got a ",
                  v.tagKind(), ".");
  LIGHTNING_CHECK(v.toListRef().size() == n, who, ".load_state_dict: \"lr_lambdas\" has ",
                  v.toListRef().size(), " entries but the scheduler has ", n,
                  " lr_lambdas; was the state saved with another number of parameter groups?");
}

}  // namespace

LambdaLR::LambdaLR(std::shared_ptr<torch::optim::Optimizer> optimizer, LRLambda lr_lambda,
                   int64_t last_epoch)
    : LRScheduler(optimizer, last_epoch),
      lr_lambdas_(lambdas_for(optimizer.get(), {std::move(lr_lambda)}, true, "LambdaLR")) {
  initial_step();
}

LambdaLR::LambdaLR(std::shared_ptr<torch::optim::Optimizer> optimizer,
                   std::vector<LRLambda> lr_lambdas, int64_t last_epoch)
    : LRScheduler(optimizer, last_epoch),
      lr_lambdas_(lambdas_for(optimizer.get(), std::move(lr_lambdas), false, "LambdaLR")) {
  initial_step();
}

std::vector<double> LambdaLR::get_lr() {
  std::vector<double> lrs;
  for (size_t i = 0; i < base_lrs_.size(); ++i) {
    lrs.push_back(base_lrs_[i] * lr_lambdas_.at(i)(last_epoch_));
  }
  return lrs;
}

SchedulerState LambdaLR::state_dict() const {
  SchedulerState state = LRScheduler::state_dict();
  state.insert("lr_lambdas", none_list(lr_lambdas_.size()));
  return state;
}

void LambdaLR::load_state_dict(const SchedulerState& state) {
  check_lambdas_state(state, lr_lambdas_.size(), name());
  LRScheduler::load_state_dict(state);
}

MultiplicativeLR::MultiplicativeLR(std::shared_ptr<torch::optim::Optimizer> optimizer,
                                   LRLambda lr_lambda, int64_t last_epoch)
    : LRScheduler(optimizer, last_epoch),
      lr_lambdas_(lambdas_for(optimizer.get(), {std::move(lr_lambda)}, true, "MultiplicativeLR")) {
  initial_step();
}

MultiplicativeLR::MultiplicativeLR(std::shared_ptr<torch::optim::Optimizer> optimizer,
                                   std::vector<LRLambda> lr_lambdas, int64_t last_epoch)
    : LRScheduler(optimizer, last_epoch),
      lr_lambdas_(lambdas_for(optimizer.get(), std::move(lr_lambdas), false, "MultiplicativeLR")) {
  initial_step();
}

std::vector<double> MultiplicativeLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  if (last_epoch_ > 0) {
    for (size_t i = 0; i < lrs.size(); ++i) lrs[i] = lrs[i] * lr_lambdas_.at(i)(last_epoch_);
  }
  return lrs;
}

SchedulerState MultiplicativeLR::state_dict() const {
  SchedulerState state = LRScheduler::state_dict();
  state.insert("lr_lambdas", none_list(lr_lambdas_.size()));
  return state;
}

void MultiplicativeLR::load_state_dict(const SchedulerState& state) {
  check_lambdas_state(state, lr_lambdas_.size(), name());
  LRScheduler::load_state_dict(state);
}

}  // namespace lightning
