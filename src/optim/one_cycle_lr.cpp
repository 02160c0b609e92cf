// OneCycleLR: PyTorch 1.13's torch.optim.lr_scheduler.OneCycleLR, formula for
// formula and in the same operation order.
//
// PyTorch keeps initial_lr, max_lr, min_lr, max_momentum and base_momentum in
// the optimizer's param_groups; libtorch's groups have no room for them, so
// they live in group_values_ (initial_lr also in the base's side table).
#include "lightning/optim/one_cycle_lr.h"

#include <cmath>
#include <utility>

#include "lightning/error.h"
#include "lightning/optim/param_groups.h"
#include "optim/cycle_params.h"
#include "util/python_math.h"

namespace lightning {

namespace {

constexpr const char* kOneCycleLR = "OneCycleLR";

int64_t total_steps_of(const OneCycleLROptions& o) {
  if (o.total_steps()) {
    LIGHTNING_CHECK(*o.total_steps() > 0, kOneCycleLR,
                    ": Expected positive integer total_steps, but got ", *o.total_steps(), ".");
    return *o.total_steps();
  }
  LIGHTNING_CHECK(o.epochs() && o.steps_per_epoch(), kOneCycleLR,
                  ": You must define either total_steps OR (epochs AND steps_per_epoch); with "
                  "the Trainer, total_steps(trainer().estimated_stepping_batches()) is the usual "
                  "choice.");
  LIGHTNING_CHECK(*o.epochs() > 0, kOneCycleLR, ": Expected positive integer epochs, but got ",
                  *o.epochs(), ".");
  LIGHTNING_CHECK(*o.steps_per_epoch() > 0, kOneCycleLR,
                  ": Expected positive integer steps_per_epoch, but got ", *o.steps_per_epoch(),
                  ".");
  return *o.epochs() * *o.steps_per_epoch();
}

bool known_value(const std::string& key) {
  return key == "initial_lr" || key == "max_lr" || key == "min_lr" || key == "max_momentum" ||
         key == "base_momentum";
}

double anneal(const std::string& strategy, double start, double end, double pct) {
  if (strategy == "cos") {
    // _annealing_cos
    const double cos_out = std::cos(detail::kPi * pct) + 1;
    return end + (start - end) / 2.0 * cos_out;
  }
  // _annealing_linear
  return (end - start) * pct + start;
}

}  // namespace

std::shared_ptr<torch::optim::Optimizer> OneCycleLR::prepare(
    const std::shared_ptr<torch::optim::Optimizer>& optimizer, const OneCycleLROptions& options) {
  LIGHTNING_CHECK(optimizer != nullptr,
                  "A learning-rate scheduler needs an optimizer, got a null pointer.");
  // Every check first, so that a refused configuration leaves the optimizer as it was.
  total_steps_of(options);
  const double pct = options.pct_start();
  LIGHTNING_CHECK(pct >= 0 && pct <= 1, kOneCycleLR,
                  ": Expected float between 0 and 1 pct_start, but got ", pct, ".");
  LIGHTNING_CHECK(options.anneal_strategy() == "cos" || options.anneal_strategy() == "linear",
                  kOneCycleLR, ": anneal_strategy must be one of 'cos' or 'linear', instead got '",
                  options.anneal_strategy(), "'.");
  const auto max_lrs =
      detail::per_group_values(*optimizer, options.max_lr(), kOneCycleLR, "max_lr");
  std::vector<double> max_momentums;
  if (options.cycle_momentum()) {
    detail::require_momentum(*optimizer, kOneCycleLR);
    max_momentums =
        detail::per_group_values(*optimizer, options.max_momentum(), kOneCycleLR, "max_momentum");
    detail::per_group_values(*optimizer, options.base_momentum(), kOneCycleLR, "base_momentum");
  }
  if (options.last_epoch() == -1) {
    // PyTorch: group['initial_lr'] = max_lr / div_factor (overwriting any), read
    // back by _LRScheduler.__init__ as base_lrs; momentum starts at max_momentum.
    std::vector<double> initial;
    for (double m : max_lrs) initial.push_back(m / options.div_factor());
    detail::set_initial_lrs(optimizer, std::move(initial));
    if (options.cycle_momentum()) {
      auto& groups = optimizer->param_groups();
      for (size_t i = 0; i < groups.size(); ++i) {
        set_momentum(groups[i].options(), max_momentums[i], optimizer_name(*optimizer));
      }
    }
  }
  return optimizer;
}

OneCycleLR::OneCycleLR(std::shared_ptr<torch::optim::Optimizer> optimizer,
                       OneCycleLROptions options)
    : LRScheduler(prepare(optimizer, options), options.last_epoch()), options_(std::move(options)) {
  total_steps_ = total_steps_of(options_);
  const double pct = options_.pct_start();
  const double total = static_cast<double>(total_steps_);
  const double last_end = static_cast<double>(total_steps_ - 1);
  if (options_.three_phase()) {
    phases_ = {
        {pct * total - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"},
        {2 * pct * total - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"},
        {last_end, "initial_lr", "min_lr", "max_momentum", "max_momentum"},
    };
  } else {
    phases_ = {
        {pct * total - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"},
        {last_end, "max_lr", "min_lr", "base_momentum", "max_momentum"},
    };
  }
  // The group values PyTorch stores in param_groups. initial_lr is the base's
  // (max_lr / div_factor unless resuming with last_epoch != -1).
  const auto max_lrs =
      detail::per_group_values(*optimizer_, options_.max_lr(), kOneCycleLR, "max_lr");
  group_values_.assign(num_groups(), {});
  for (size_t i = 0; i < group_values_.size(); ++i) {
    auto& v = group_values_[i];
    v["initial_lr"] = base_lrs_[i];
    v["max_lr"] = max_lrs[i];
    v["min_lr"] = v["initial_lr"] / options_.final_div_factor();
  }
  if (options_.cycle_momentum()) fill_momentum_bounds();
  initial_step();
}

void OneCycleLR::fill_momentum_bounds() {
  const auto max_m =
      detail::per_group_values(*optimizer_, options_.max_momentum(), kOneCycleLR, "max_momentum");
  const auto base_m =
      detail::per_group_values(*optimizer_, options_.base_momentum(), kOneCycleLR, "base_momentum");
  for (size_t i = 0; i < group_values_.size(); ++i) {
    group_values_[i]["max_momentum"] = max_m[i];
    group_values_[i]["base_momentum"] = base_m[i];
  }
}

std::vector<double> OneCycleLR::compute(int64_t step_num, std::vector<double>* momentums) const {
  LIGHTNING_CHECK(step_num <= total_steps_, kOneCycleLR, ": Tried to step ", step_num + 1,
                  " times. The specified number of total steps is ", total_steps_,
                  ". Build it with total_steps (or epochs * steps_per_epoch) covering every "
                  "scheduler step; with the Trainer, "
                  "total_steps(trainer().estimated_stepping_batches()).");
  const bool with_momentum = momentums != nullptr;
  if (with_momentum) momentums->clear();
  std::vector<double> lrs;
  for (const auto& group : group_values_) {
    double start_step = 0;
    double computed_lr = 0;
    double computed_momentum = 0;
    for (size_t i = 0; i < phases_.size(); ++i) {
      const Phase& phase = phases_[i];
      const double end_step = phase.end_step;
      if (step_num <= end_step || i == phases_.size() - 1) {
        // PyTorch raises ZeroDivisionError here.
        LIGHTNING_CHECK(end_step - start_step != 0, kOneCycleLR, ": phase ", i,
                        " of the schedule is empty (it starts and ends at step ", end_step,
                        ") with total_steps=", total_steps_,
                        " and pct_start=", options_.pct_start(),
                        ", which PyTorch fails on with a division by zero; pick a pct_start "
                        "with pct_start * total_steps != 1.");
        const double pct = (static_cast<double>(step_num) - start_step) / (end_step - start_step);
        computed_lr = anneal(options_.anneal_strategy(), group.at(phase.start_lr),
                             group.at(phase.end_lr), pct);
        if (with_momentum) {
          computed_momentum = anneal(options_.anneal_strategy(), group.at(phase.start_momentum),
                                     group.at(phase.end_momentum), pct);
        }
        break;
      }
      start_step = phase.end_step;
    }
    lrs.push_back(computed_lr);
    if (with_momentum) momentums->push_back(computed_momentum);
  }
  return lrs;
}

std::vector<double> OneCycleLR::get_lr() {
  if (!options_.cycle_momentum()) return compute(last_epoch_, nullptr);
  std::vector<double> momentums;
  auto lrs = compute(last_epoch_, &momentums);
  set_group_momentums(momentums);
  return lrs;
}

SchedulerState OneCycleLR::state_dict() const {
  // PyTorch's __dict__ order and types ("end_step" is a float but for the last
  // phase's, an int). "anneal_func", a bound method there, is saved by name:
  // "cos" or "linear".
  SchedulerState state = make_state_dict();
  state.insert("total_steps", total_steps_);
  c10::impl::GenericList phases(c10::DictType::create(c10::StringType::get(), c10::AnyType::get()));
  for (size_t i = 0; i < phases_.size(); ++i) {
    const Phase& p = phases_[i];
    StateDict d = make_state_dict();
    if (i + 1 == phases_.size() && p.end_step == std::floor(p.end_step)) {
      d.insert("end_step", static_cast<int64_t>(p.end_step));
    } else {
      d.insert("end_step", p.end_step);
    }
    d.insert("start_lr", p.start_lr);
    d.insert("end_lr", p.end_lr);
    d.insert("start_momentum", p.start_momentum);
    d.insert("end_momentum", p.end_momentum);
    phases.push_back(d);
  }
  state.insert("_schedule_phases", phases);
  state.insert("anneal_func", options_.anneal_strategy());
  state.insert("cycle_momentum", options_.cycle_momentum());
  if (options_.cycle_momentum()) state.insert("use_beta1", uses_beta1(optimizer_->defaults()));
  for (const auto& entry : LRScheduler::state_dict()) state.insert(entry.key(), entry.value());
  return state;
}

void OneCycleLR::load_state_dict(const SchedulerState& state) {
  // Read everything before changing anything.
  const int64_t total_steps = state_int(state, "total_steps", kOneCycleLR);
  const c10::IValue& list = state_value(state, "_schedule_phases", kOneCycleLR);
  LIGHTNING_CHECK(list.isList(), kOneCycleLR,
                  ".load_state_dict: \"_schedule_phases\" must be a list of dicts, got a ",
                  list.tagKind(), ".");
  std::vector<Phase> phases;
  for (const c10::IValue& e : list.toListRef()) {
    LIGHTNING_CHECK(e.isGenericDict(), kOneCycleLR,
                    ".load_state_dict: \"_schedule_phases\" must hold dicts, found a ", e.tagKind(),
                    ".");
    const StateDict d = e.toGenericDict();
    Phase p{state_double(d, "end_step", kOneCycleLR), state_string(d, "start_lr", kOneCycleLR),
            state_string(d, "end_lr", kOneCycleLR), state_string(d, "start_momentum", kOneCycleLR),
            state_string(d, "end_momentum", kOneCycleLR)};
    for (const std::string* key : {&p.start_lr, &p.end_lr, &p.start_momentum, &p.end_momentum}) {
      LIGHTNING_CHECK(known_value(*key), kOneCycleLR, ".load_state_dict: unknown schedule value \"",
                      *key, "\" in \"_schedule_phases\".");
    }
    phases.push_back(std::move(p));
  }
  LIGHTNING_CHECK(!phases.empty(), kOneCycleLR, ".load_state_dict: \"_schedule_phases\" is empty.");
  // Recent PyTorch 2.x (e.g. 2.15) saves the strategy's name as
  // "_anneal_func_type" and no "anneal_func"; 1.13 pickles the bound method as
  // "anneal_func" (which the Trainer swaps for ours), and this class saves the
  // name there.
  const char* anneal_key = state.contains("anneal_func") || !state.contains("_anneal_func_type")
                               ? "anneal_func"
                               : "_anneal_func_type";
  const std::string anneal_func = state_string(state, anneal_key, kOneCycleLR);
  LIGHTNING_CHECK(anneal_func == "cos" || anneal_func == "linear", kOneCycleLR,
                  ".load_state_dict: \"", anneal_key, "\" must be \"cos\" or \"linear\", got \"",
                  anneal_func, "\".");
  const bool cycle_momentum = state_bool(state, "cycle_momentum", kOneCycleLR);
  if (cycle_momentum) detail::require_momentum(*optimizer_, kOneCycleLR);

  LRScheduler::load_state_dict(state);
  total_steps_ = total_steps;
  phases_ = std::move(phases);
  options_.anneal_strategy(anneal_func).cycle_momentum(cycle_momentum);
  if (cycle_momentum && !group_values_.empty() && !group_values_[0].count("max_momentum")) {
    fill_momentum_bounds();
  }
  // The momentum of the restored step, as the rates are: a fresh optimizer then
  // continues exactly (PyTorch leaves both to optimizer.load_state_dict).
  if (cycle_momentum && last_epoch_ >= 0 && last_epoch_ <= total_steps_) {
    std::vector<double> momentums;
    compute(last_epoch_, &momentums);
    set_group_momentums(momentums);
  }
}

}  // namespace lightning
