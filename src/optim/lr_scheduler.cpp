#include "lightning/optim/lr_scheduler.h"

#include <mutex>
#include <utility>

#include "lightning/error.h"
#include "lightning/optim/param_groups.h"

namespace lightning {

namespace detail {
namespace {

// initial_lr per optimizer, keyed by the optimizer's address and guarded by a
// weak_ptr so that a new optimizer at a recycled address is not confused with
// a dead one.
struct InitialLrEntry {
  std::weak_ptr<torch::optim::Optimizer> optimizer;
  const torch::optim::Optimizer* address;
  std::vector<double> lrs;
};

std::mutex& table_mutex() {
  static std::mutex m;
  return m;
}
std::vector<InitialLrEntry>& table() {
  static std::vector<InitialLrEntry> t;
  return t;
}

void prune_locked() {
  auto& t = table();
  for (size_t i = 0; i < t.size();) {
    if (t[i].optimizer.expired()) {
      t[i] = std::move(t.back());
      t.pop_back();
    } else {
      ++i;
    }
  }
}

}  // namespace

std::optional<std::vector<double>> initial_lrs(const torch::optim::Optimizer& optimizer) {
  std::lock_guard<std::mutex> lock(table_mutex());
  prune_locked();
  for (const auto& e : table()) {
    if (e.address == &optimizer) return e.lrs;
  }
  return std::nullopt;
}

void set_initial_lrs(const std::shared_ptr<torch::optim::Optimizer>& optimizer,
                     std::vector<double> lrs) {
  std::lock_guard<std::mutex> lock(table_mutex());
  prune_locked();
  for (auto& e : table()) {
    if (e.address == optimizer.get()) {
      e.lrs = std::move(lrs);
      return;
    }
  }
  table().push_back({optimizer, optimizer.get(), std::move(lrs)});
}

}  // namespace detail

LRScheduler::LRScheduler(std::shared_ptr<torch::optim::Optimizer> optimizer, int64_t last_epoch)
    : optimizer_(std::move(optimizer)), last_epoch_(last_epoch) {
  LIGHTNING_CHECK(optimizer_ != nullptr,
                  "A learning-rate scheduler needs an optimizer, got a null pointer.");
  auto initial = detail::initial_lrs(*optimizer_);
  if (last_epoch == -1) {
    // PyTorch: param_group.setdefault("initial_lr", param_group["lr"]).
    std::vector<double> lrs = group_lrs();
    if (initial && initial->size() == lrs.size()) {
      lrs = *initial;
    } else if (initial && initial->size() < lrs.size()) {
      // Groups added since: they take their current rate.
      for (size_t i = 0; i < initial->size(); ++i) lrs[i] = (*initial)[i];
    }
    detail::set_initial_lrs(optimizer_, lrs);
    base_lrs_ = std::move(lrs);
  } else {
    LIGHTNING_CHECK(initial && initial->size() == num_groups(),
                    "param 'initial_lr' is not specified in param_groups of ",
                    optimizer_name(*optimizer_),
                    " when resuming a scheduler with last_epoch=", last_epoch,
                    ": build the scheduler with last_epoch=-1 first, or load its state_dict.");
    base_lrs_ = *initial;
  }
}

LRScheduler::LRScheduler(std::shared_ptr<torch::optim::Optimizer> optimizer, NoInit)
    : optimizer_(std::move(optimizer)) {
  LIGHTNING_CHECK(optimizer_ != nullptr,
                  "A learning-rate scheduler needs an optimizer, got a null pointer.");
}

LRScheduler::~LRScheduler() = default;

void LRScheduler::initial_step() {
  step_count_ = 0;
  step();
}

void LRScheduler::step() {
  ++step_count_;
  ++last_epoch_;
  apply_lrs(get_lr());
}

void LRScheduler::step(double metric) {
  LIGHTNING_FAIL(name(), ".step(metric): only ReduceLROnPlateau takes a metric; call step().");
}

void LRScheduler::step_to_epoch(int64_t epoch) {
  ++step_count_;
  last_epoch_ = epoch;
  auto closed = closed_form_lr();
  apply_lrs(closed ? *closed : get_lr());
}

std::vector<double> LRScheduler::group_lrs() const {
  std::vector<double> lrs;
  for (const auto& g : optimizer_->param_groups()) lrs.push_back(g.options().get_lr());
  return lrs;
}

void LRScheduler::set_group_lrs(const std::vector<double>& lrs) {
  auto& groups = optimizer_->param_groups();
  LIGHTNING_CHECK(lrs.size() == groups.size(), name(), " computed ", lrs.size(),
                  " learning rate(s) for ", groups.size(),
                  " parameter group(s); was a parameter group added after the scheduler was "
                  "built? Build the scheduler after the last add_param_group.");
  for (size_t i = 0; i < lrs.size(); ++i) groups[i].options().set_lr(lrs[i]);
}

void LRScheduler::set_group_momentums(const std::vector<double>& momentums) {
  auto& groups = optimizer_->param_groups();
  LIGHTNING_CHECK(momentums.size() == groups.size(), name(), " has ", momentums.size(),
                  " momentum value(s) for ", groups.size(),
                  " parameter group(s); build the scheduler after the last add_param_group.");
  const std::string kind = optimizer_name(*optimizer_);
  for (size_t i = 0; i < groups.size(); ++i) set_momentum(groups[i].options(), momentums[i], kind);
}

void LRScheduler::apply_lrs(const std::vector<double>& lrs) {
  set_group_lrs(lrs);
  last_lr_ = group_lrs();
}

std::vector<double> LRScheduler::per_group(const std::vector<double>& values,
                                           const std::string& what) const {
  const size_t n = num_groups();
  if (values.size() == 1) return std::vector<double>(n, values[0]);
  LIGHTNING_CHECK(values.size() == n, name(), ": expected 1 or ", n, " values for ", what,
                  " (one per parameter group), got ", values.size(), ".");
  return values;
}

SchedulerState LRScheduler::state_dict() const {
  SchedulerState state = make_state_dict();
  state.insert("base_lrs", to_ivalue(base_lrs_));
  state.insert("last_epoch", last_epoch_);
  state.insert("verbose", false);
  state.insert("_step_count", step_count_);
  state.insert("_get_lr_called_within_step", false);
  state.insert("_last_lr", to_ivalue(last_lr_));
  return state;
}

void LRScheduler::load_state_dict(const SchedulerState& state) {
  const std::string who = name();
  // Read everything first: a bad state leaves the scheduler as it was.
  std::vector<double> base_lrs = state_doubles(state, "base_lrs", who);
  const int64_t last_epoch = state_int(state, "last_epoch", who);
  const int64_t step_count = state_int(state, "_step_count", who);
  std::vector<double> last_lr = state_doubles(state, "_last_lr", who);
  base_lrs_ = std::move(base_lrs);
  last_epoch_ = last_epoch;
  step_count_ = step_count;
  last_lr_ = std::move(last_lr);
  // PyTorch leaves the rates to optimizer.load_state_dict; writing them here as
  // well makes a scheduler restored on a fresh optimizer continue exactly.
  if (last_lr_.size() == num_groups()) set_group_lrs(last_lr_);
  if (base_lrs_.size() == num_groups()) detail::set_initial_lrs(optimizer_, base_lrs_);
}

}  // namespace lightning
