// ReduceLROnPlateau: PyTorch 1.13's torch.optim.lr_scheduler.ReduceLROnPlateau,
// step for step. In PyTorch it is no _LRScheduler; here it derives LRScheduler
// so the Trainer can hold every scheduler alike: base_lrs, last_lr and the step
// count are bookkeeping, and it records no initial_lr.
#include "lightning/optim/reduce_lr_on_plateau.h"

#include <cstdio>
#include <limits>
#include <utility>

#include "lightning/error.h"
#include "lightning/optim/param_groups.h"

namespace lightning {

namespace {

constexpr const char* kPlateau = "ReduceLROnPlateau";

void check_modes(const std::string& mode, const std::string& threshold_mode,
                 const std::string& where) {
  LIGHTNING_CHECK(mode == "min" || mode == "max", kPlateau, where, ": mode ", mode,
                  " is unknown! Use \"min\" or \"max\".");
  LIGHTNING_CHECK(threshold_mode == "rel" || threshold_mode == "abs", kPlateau, where,
                  ": threshold mode ", threshold_mode, " is unknown! Use \"rel\" or \"abs\".");
}

double worse_for(const std::string& mode) {
  const double inf = std::numeric_limits<double>::infinity();
  return mode == "min" ? inf : -inf;
}

}  // namespace

ReduceLROnPlateau::ReduceLROnPlateau(std::shared_ptr<torch::optim::Optimizer> optimizer,
                                     ReduceLROnPlateauOptions options)
    : LRScheduler(std::move(optimizer), NoInit{}), options_(std::move(options)) {
  LIGHTNING_CHECK(options_.factor() < 1.0, kPlateau, ": Factor should be < 1.0, got ",
                  options_.factor(), ".");
  const size_t n = num_groups();
  const auto& min_lr = options_.min_lr();
  if (min_lr.size() == 1) {
    min_lrs_.assign(n, min_lr[0]);
  } else {
    LIGHTNING_CHECK(min_lr.size() == n, kPlateau, ": expected ", n, " min_lrs, got ", min_lr.size(),
                    " (give one value, or one per parameter group).");
    min_lrs_ = min_lr;
  }
  // _init_is_better
  check_modes(options_.mode(), options_.threshold_mode(), "");
  mode_worse_ = worse_for(options_.mode());
  // _reset
  best_ = mode_worse_;
  cooldown_counter_ = 0;
  num_bad_epochs_ = 0;
  // PyTorch's plateau starts at last_epoch 0 and leaves the rates alone.
  last_epoch_ = 0;
  base_lrs_ = group_lrs();
  last_lr_ = base_lrs_;
}

void ReduceLROnPlateau::step() {
  LIGHTNING_FAIL(kPlateau,
                 ".step() needs the monitored metric: call step(metric) with the value it "
                 "watches (e.g. the validation loss). In the Trainer, give its SchedulerConfig "
                 "the metric's name: SchedulerConfig().monitor(\"val_loss\").");
}

bool ReduceLROnPlateau::is_better(double a, double best) const {
  const bool min = options_.mode() == "min";
  const bool rel = options_.threshold_mode() == "rel";
  if (min && rel) {
    const double rel_epsilon = 1. - options_.threshold();
    return a < best * rel_epsilon;
  } else if (min && !rel) {
    return a < best - options_.threshold();
  } else if (!min && rel) {
    const double rel_epsilon = options_.threshold() + 1.;
    return a > best * rel_epsilon;
  }
  return a > best + options_.threshold();
}

void ReduceLROnPlateau::step(double metric) {
  const double current = metric;
  const int64_t epoch = last_epoch_ + 1;
  last_epoch_ = epoch;
  ++step_count_;

  if (is_better(current, best_)) {
    best_ = current;
    num_bad_epochs_ = 0;
  } else {
    num_bad_epochs_ += 1;
  }

  if (cooldown_counter_ > 0) {  // in_cooldown
    cooldown_counter_ -= 1;
    num_bad_epochs_ = 0;  // ignore any bad epochs in cooldown
  }

  if (num_bad_epochs_ > options_.patience()) {
    reduce_lr(epoch);
    cooldown_counter_ = options_.cooldown();
    num_bad_epochs_ = 0;
  }

  last_lr_ = group_lrs();
}

void ReduceLROnPlateau::reduce_lr(int64_t epoch) {
  auto& groups = optimizer_->param_groups();
  LIGHTNING_CHECK(min_lrs_.size() == groups.size(), kPlateau, " has ", min_lrs_.size(),
                  " min_lr(s) for ", groups.size(),
                  " parameter group(s); build the scheduler after the last add_param_group.");
  for (size_t i = 0; i < groups.size(); ++i) {
    auto& options = groups[i].options();
    const double old_lr = options.get_lr();
    // Python's max(old_lr * factor, min_lr): the first unless the second is larger.
    double new_lr = old_lr * options_.factor();
    if (min_lrs_[i] > new_lr) new_lr = min_lrs_[i];
    if (old_lr - new_lr > options_.eps()) {
      options.set_lr(new_lr);
      if (options_.verbose()) {
        std::printf("Epoch %05lld: reducing learning rate of group %zu to %.4e.\n",
                    static_cast<long long>(epoch), i, new_lr);
        std::fflush(stdout);
      }
    }
  }
}

SchedulerState ReduceLROnPlateau::state_dict() const {
  // PyTorch's __dict__, in its order, then the base's bookkeeping keys it lacks.
  SchedulerState state = make_state_dict();
  state.insert("factor", options_.factor());
  state.insert("min_lrs", to_ivalue(min_lrs_));
  state.insert("patience", options_.patience());
  state.insert("verbose", options_.verbose());
  state.insert("cooldown", options_.cooldown());
  state.insert("cooldown_counter", cooldown_counter_);
  state.insert("mode", options_.mode());
  state.insert("threshold", options_.threshold());
  state.insert("threshold_mode", options_.threshold_mode());
  state.insert("best", best_);
  state.insert("num_bad_epochs", num_bad_epochs_);
  state.insert("mode_worse", mode_worse_);
  state.insert("eps", options_.eps());
  state.insert("last_epoch", last_epoch_);
  state.insert("_last_lr", to_ivalue(last_lr_));
  for (const auto& entry : LRScheduler::state_dict()) state.insert(entry.key(), entry.value());
  return state;
}

void ReduceLROnPlateau::load_state_dict(const SchedulerState& state) {
  // PyTorch's keys are required; the base's bookkeeping keys (absent from a
  // PyTorch state) are optional. Read everything before changing anything.
  const double factor = state_double(state, "factor", kPlateau);
  auto min_lrs = state_doubles(state, "min_lrs", kPlateau);
  const int64_t patience = state_int(state, "patience", kPlateau);
  const bool verbose = state_bool(state, "verbose", kPlateau);
  const int64_t cooldown = state_int(state, "cooldown", kPlateau);
  const int64_t cooldown_counter = state_int(state, "cooldown_counter", kPlateau);
  const std::string mode = state_string(state, "mode", kPlateau);
  const double threshold = state_double(state, "threshold", kPlateau);
  const std::string threshold_mode = state_string(state, "threshold_mode", kPlateau);
  const double best = state_double(state, "best", kPlateau);
  const int64_t num_bad_epochs = state_int(state, "num_bad_epochs", kPlateau);
  const double eps = state_double(state, "eps", kPlateau);
  const int64_t last_epoch = state_int(state, "last_epoch", kPlateau);
  // PyTorch's load_state_dict re-runs _init_is_better: checks the modes and
  // recomputes mode_worse.
  check_modes(mode, threshold_mode, ".load_state_dict");
  const c10::IValue key_last_lr("_last_lr"), key_base_lrs("base_lrs"), key_steps("_step_count");
  std::vector<double> last_lr, base_lrs;
  if (state.contains(key_last_lr)) last_lr = state_doubles(state, "_last_lr", kPlateau);
  if (state.contains(key_base_lrs)) base_lrs = state_doubles(state, "base_lrs", kPlateau);
  const int64_t step_count =
      state.contains(key_steps) ? state_int(state, "_step_count", kPlateau) : last_epoch;

  options_.factor(factor)
      .patience(patience)
      .verbose(verbose)
      .cooldown(cooldown)
      .mode(mode)
      .threshold(threshold)
      .threshold_mode(threshold_mode)
      .eps(eps);
  min_lrs_ = std::move(min_lrs);
  cooldown_counter_ = cooldown_counter;
  best_ = best;
  num_bad_epochs_ = num_bad_epochs;
  mode_worse_ = worse_for(mode);
  last_epoch_ = last_epoch;
  step_count_ = step_count;
  // The saved rates go back into the groups (PyTorch leaves that to
  // optimizer.load_state_dict), so a fresh optimizer continues exactly.
  if (!last_lr.empty() && last_lr.size() == num_groups()) set_group_lrs(last_lr);
  last_lr_ = group_lrs();
  if (base_lrs.size() == num_groups()) base_lrs_ = std::move(base_lrs);
}

}  // namespace lightning
