#include "lightning/optim/sequential_lr.h"

#include <ATen/core/jit_type.h>

#include <utility>

#include "lightning/error.h"
#include "lightning/optim/param_groups.h"
#include "util/python_math.h"

namespace lightning {

namespace {

// The children must exist and not be ReduceLROnPlateau (which has no
// chainable step).
void check_children(const std::vector<std::shared_ptr<LRScheduler>>& schedulers, const char* who) {
  for (size_t i = 0; i < schedulers.size(); ++i) {
    LIGHTNING_CHECK(schedulers[i] != nullptr, who, ": scheduler at index ", i,
                    " is a null pointer; pass constructed schedulers.");
    LIGHTNING_CHECK(!schedulers[i]->reduce_on_plateau(), who,
                    " cannot run ReduceLROnPlateau (scheduler at index ", i,
                    "): it needs a metric at each step; give it its own scheduler config instead.");
  }
}

c10::IValue int_list(const std::vector<int64_t>& values) {
  c10::List<int64_t> list;
  for (int64_t v : values) list.push_back(v);
  return list;
}

c10::IValue child_states(const std::vector<std::shared_ptr<LRScheduler>>& schedulers) {
  c10::impl::GenericList list(c10::DictType::create(c10::StringType::get(), c10::AnyType::get()));
  for (const auto& s : schedulers) list.push_back(s->state_dict());
  return list;
}

// The saved child states, one per scheduler.
std::vector<SchedulerState> child_states_from(const SchedulerState& state, size_t expected,
                                              const std::string& who) {
  const c10::IValue& v = state_value(state, "_schedulers", who);
  LIGHTNING_CHECK(v.isList(), who,
                  ".load_state_dict: \"_schedulers\" must be a list of dicts, got a ", v.tagKind(),
                  ".");
  std::vector<SchedulerState> out;
  for (const c10::IValue& e : v.toListRef()) {
    LIGHTNING_CHECK(e.isGenericDict(), who,
                    ".load_state_dict: \"_schedulers\" must be a list of dicts, found a ",
                    e.tagKind(), " in it.");
    out.push_back(e.toGenericDict());
  }
  LIGHTNING_CHECK(out.size() == expected, who, ".load_state_dict: \"_schedulers\" holds ",
                  out.size(), " scheduler state(s) but this ", who, " has ", expected,
                  " scheduler(s); build it with the same schedulers as the saved one.");
  return out;
}

}  // namespace

// ----------------------------------------------------------------------------
// SequentialLR

SequentialLR::SequentialLR(std::shared_ptr<torch::optim::Optimizer> optimizer,
                           std::vector<std::shared_ptr<LRScheduler>> schedulers,
                           std::vector<int64_t> milestones, int64_t last_epoch)
    : LRScheduler(std::move(optimizer), NoInit{}),
      schedulers_(std::move(schedulers)),
      milestones_(std::move(milestones)) {
  check_children(schedulers_, "SequentialLR");
  for (size_t i = 0; i < schedulers_.size(); ++i) {
    LIGHTNING_CHECK(schedulers_[i]->optimizer_ptr() == optimizer_,
                    "SequentialLR expects all schedulers to belong to the same optimizer, but got "
                    "the scheduler at index ",
                    i, " (", schedulers_[i]->name(),
                    ") bound to a different optimizer than the one passed in; build every "
                    "scheduler on the SequentialLR's optimizer.");
  }
  LIGHTNING_CHECK(milestones_.size() + 1 == schedulers_.size(),
                  "SequentialLR expects the number of schedulers to be one more than the number "
                  "of milestones, but got ",
                  schedulers_.size(), " scheduler(s) and ", milestones_.size(),
                  " milestone(s); give one milestone per switch to the next scheduler.");
  last_epoch_ = last_epoch + 1;

  // Reset the learning rates to their initial values (the children recorded them).
  auto initial = detail::initial_lrs(*optimizer_);
  LIGHTNING_CHECK(initial && initial->size() == num_groups(),
                  "SequentialLR: param 'initial_lr' is not specified in the param_groups of ",
                  optimizer_name(*optimizer_),
                  "; build the schedulers with last_epoch=-1 before the SequentialLR.");
  base_lrs_ = *initial;
  set_group_lrs(*initial);

  // "Undo" the step performed by the children, then take the first one's
  // initial step again.
  for (auto& s : schedulers_) s->last_epoch_ -= 1;
  schedulers_[0]->initial_step();
  last_lr_ = schedulers_[0]->get_last_lr();
}

void SequentialLR::step() {
  ++last_epoch_;
  const int64_t idx = detail::py_bisect_right(milestones_, last_epoch_);
  LRScheduler& scheduler = *schedulers_[static_cast<size_t>(idx)];
  if (idx > 0 && milestones_[static_cast<size_t>(idx - 1)] == last_epoch_) {
    scheduler.step_to_epoch(0);
  } else {
    scheduler.step();
  }
  last_lr_ = scheduler.get_last_lr();
}

void SequentialLR::step_to_epoch(int64_t epoch) {
  LIGHTNING_FAIL("SequentialLR cannot jump to epoch ", epoch,
                 " (PyTorch's SequentialLR.step takes no epoch); call step() once per epoch.");
}

// SequentialLR has no formula of its own: the current rates.
std::vector<double> SequentialLR::get_lr() { return group_lrs(); }

SchedulerState SequentialLR::state_dict() const {
  // PyTorch's SequentialLR does not run the base constructor: its __dict__
  // holds only these.
  SchedulerState state = make_state_dict();
  state.insert("_milestones", int_list(milestones_));
  state.insert("last_epoch", last_epoch_);
  state.insert("_last_lr", to_ivalue(last_lr_));
  state.insert("_schedulers", child_states(schedulers_));
  return state;
}

void SequentialLR::load_state_dict(const SchedulerState& state) {
  const std::string who = name();
  const c10::IValue& m = state_value(state, "_milestones", who);
  LIGHTNING_CHECK(m.isList(), who,
                  ".load_state_dict: \"_milestones\" must be a list of ints, got a ", m.tagKind(),
                  ".");
  std::vector<int64_t> milestones;
  for (const c10::IValue& e : m.toListRef()) {
    LIGHTNING_CHECK(e.isInt(), who,
                    ".load_state_dict: \"_milestones\" must be a list of ints, found a ",
                    e.tagKind(), " in it.");
    milestones.push_back(e.toInt());
  }
  LIGHTNING_CHECK(milestones.size() + 1 == schedulers_.size(), who,
                  ".load_state_dict: \"_milestones\" holds ", milestones.size(),
                  " milestone(s) but this SequentialLR has ", schedulers_.size(),
                  " schedulers; build it with the same schedulers as the saved one.");
  const int64_t last_epoch = state_int(state, "last_epoch", who);
  std::vector<double> last_lr = state_doubles(state, "_last_lr", who);
  const std::vector<SchedulerState> children = child_states_from(state, schedulers_.size(), who);

  milestones_ = std::move(milestones);
  last_epoch_ = last_epoch;
  last_lr_ = std::move(last_lr);
  for (size_t i = 0; i < children.size(); ++i) schedulers_[i]->load_state_dict(children[i]);
  // Each child wrote its own last rates; the active one's are SequentialLR's.
  if (last_lr_.size() == num_groups()) set_group_lrs(last_lr_);
}

// ----------------------------------------------------------------------------
// ChainedScheduler

namespace {
std::shared_ptr<torch::optim::Optimizer> first_optimizer(
    const std::vector<std::shared_ptr<LRScheduler>>& schedulers) {
  LIGHTNING_CHECK(!schedulers.empty(),
                  "ChainedScheduler needs at least one scheduler, got an empty list.");
  check_children(schedulers, "ChainedScheduler");
  return schedulers[0]->optimizer_ptr();
}
}  // namespace

ChainedScheduler::ChainedScheduler(std::vector<std::shared_ptr<LRScheduler>> schedulers)
    : LRScheduler(first_optimizer(schedulers), NoInit{}), schedulers_(std::move(schedulers)) {
  for (size_t i = 1; i < schedulers_.size(); ++i) {
    LIGHTNING_CHECK(schedulers_[i]->optimizer_ptr() == optimizer_,
                    "ChainedScheduler expects all schedulers to belong to the same optimizer, but "
                    "got the schedulers at index 0 and ",
                    i, " (", schedulers_[i]->name(),
                    ") bound to different optimizers; build every scheduler on one optimizer.");
  }
  // PyTorch's ChainedScheduler has no base_lrs; the first child's serve the
  // base_lrs() accessor (not part of the state_dict).
  base_lrs_ = schedulers_[0]->base_lrs();
  last_lr_ = group_lrs();
}

void ChainedScheduler::step() {
  for (auto& s : schedulers_) s->step();
  last_lr_ = group_lrs();
}

void ChainedScheduler::step_to_epoch(int64_t epoch) {
  LIGHTNING_FAIL("ChainedScheduler cannot jump to epoch ", epoch,
                 " (PyTorch's ChainedScheduler.step takes no epoch); call step() once per epoch.");
}

// ChainedScheduler has no formula of its own: the current rates.
std::vector<double> ChainedScheduler::get_lr() { return group_lrs(); }

SchedulerState ChainedScheduler::state_dict() const {
  // PyTorch's ChainedScheduler does not run the base constructor: its
  // __dict__ holds only these.
  SchedulerState state = make_state_dict();
  state.insert("_last_lr", to_ivalue(last_lr_));
  state.insert("_schedulers", child_states(schedulers_));
  return state;
}

void ChainedScheduler::load_state_dict(const SchedulerState& state) {
  const std::string who = name();
  std::vector<double> last_lr = state_doubles(state, "_last_lr", who);
  const std::vector<SchedulerState> children = child_states_from(state, schedulers_.size(), who);
  last_lr_ = std::move(last_lr);
  for (size_t i = 0; i < children.size(); ++i) schedulers_[i]->load_state_dict(children[i]);
  if (last_lr_.size() == num_groups()) set_group_lrs(last_lr_);
}

}  // namespace lightning
