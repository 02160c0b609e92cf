// The learning-rate schedulers against PyTorch 1.13: every rate of every case
// in tests/optim/lr_scheduler_reference.txt (made by lr_scheduler_reference.py),
// the state_dict keys and types, state_dict round trips through pickle at
// every step, and the error messages.
#include <gtest/gtest.h>
#include <torch/optim/adagrad.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/rmsprop.h>
#include <torch/optim/sgd.h>
#include <torch/serialize.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "lightning/optim/lr_schedulers.h"
#include "support/errors.h"

#ifndef LIGHTNING_OPTIM_REFERENCE_DIR
#error "LIGHTNING_OPTIM_REFERENCE_DIR must name tests/optim (see tests/CMakeLists.txt)"
#endif

namespace L = lightning;

namespace {

using OptimizerPtr = std::shared_ptr<torch::optim::Optimizer>;
using SchedulerPtr = std::shared_ptr<L::LRScheduler>;

// ----------------------------------------------------------------------------
// Optimizers and the case table (mirrors cases() in lr_scheduler_reference.py)

/// `kind` with one parameter group per entry of `lrs`, each with one parameter.
OptimizerPtr make_optimizer(const std::string& kind, const std::vector<double>& lrs) {
  using namespace torch::optim;
  std::vector<OptimizerParamGroup> groups;
  for (double lr : lrs) {
    std::vector<torch::Tensor> params{torch::zeros({2}).requires_grad_()};
    std::unique_ptr<OptimizerOptions> options;
    if (kind == "SGD") options = std::make_unique<SGDOptions>(lr);
    if (kind == "Adam") options = std::make_unique<AdamOptions>(lr);
    if (kind == "AdamW") options = std::make_unique<AdamWOptions>(lr);
    if (kind == "Adagrad") options = std::make_unique<AdagradOptions>(lr);
    if (kind == "RMSprop") options = std::make_unique<RMSpropOptions>(lr);
    if (!options) throw std::invalid_argument("unknown optimizer " + kind);
    groups.emplace_back(std::move(params), std::move(options));
  }
  if (kind == "SGD") return std::make_shared<SGD>(groups, SGDOptions(lrs[0]));
  if (kind == "Adam") return std::make_shared<Adam>(groups, AdamOptions(lrs[0]));
  if (kind == "AdamW") return std::make_shared<AdamW>(groups, AdamWOptions(lrs[0]));
  if (kind == "Adagrad") return std::make_shared<Adagrad>(groups, AdagradOptions(lrs[0]));
  return std::make_shared<RMSprop>(groups, RMSpropOptions(lrs[0]));
}

/// What a resumed run has: initial_lr recorded for the groups.
void set_initial_lr(const OptimizerPtr& opt) {
  std::vector<double> lrs;
  for (const auto& g : opt->param_groups()) lrs.push_back(g.options().get_lr());
  L::detail::set_initial_lrs(opt, lrs);
}

using Builder = std::function<SchedulerPtr()>;

template <typename S, typename... Args>
SchedulerPtr make(Args&&... args) {
  return std::make_shared<S>(std::forward<Args>(args)...);
}

const std::map<std::string, Builder>& builders() {
  static const std::map<std::string, Builder> table = [] {
    std::map<std::string, Builder> c;
    // StepLR
    c["step_default_sgd"] = [] {
      return make<L::StepLR>(make_optimizer("SGD", {0.1}), L::StepLROptions(3));
    };
    c["step_gamma_adam"] = [] {
      return make<L::StepLR>(make_optimizer("Adam", {0.01}), L::StepLROptions(7).gamma(0.5));
    };
    c["step_two_groups_rmsprop"] = [] {
      return make<L::StepLR>(make_optimizer("RMSprop", {0.1, 0.03}),
                             L::StepLROptions(4).gamma(0.7));
    };
    c["step_resumed"] = [] {
      auto opt = make_optimizer("SGD", {0.2});
      set_initial_lr(opt);
      return make<L::StepLR>(opt, L::StepLROptions(3).gamma(0.5).last_epoch(5));
    };
    c["step_closed_form"] = [] {
      return make<L::StepLR>(make_optimizer("SGD", {0.1}), L::StepLROptions(3).gamma(0.5));
    };
    // MultiStepLR
    c["multistep_repeated_sgd"] = [] {
      return make<L::MultiStepLR>(make_optimizer("SGD", {0.05}),
                                  L::MultiStepLROptions({10, 5, 25, 10}).gamma(0.5));
    };
    c["multistep_default_adamw"] = [] {
      return make<L::MultiStepLR>(make_optimizer("AdamW", {1e-3}), L::MultiStepLROptions({3, 8}));
    };
    c["multistep_two_groups_adagrad"] = [] {
      return make<L::MultiStepLR>(make_optimizer("Adagrad", {0.1, 0.5}),
                                  L::MultiStepLROptions({2, 6, 6, 9}).gamma(0.3));
    };
    c["multistep_closed_form"] = c["multistep_repeated_sgd"];
    // ExponentialLR
    c["exponential_rmsprop"] = [] {
      return make<L::ExponentialLR>(make_optimizer("RMSprop", {0.01}),
                                    L::ExponentialLROptions(0.9));
    };
    c["exponential_two_groups_sgd"] = [] {
      return make<L::ExponentialLR>(make_optimizer("SGD", {0.1, 0.02}),
                                    L::ExponentialLROptions(0.95));
    };
    c["exponential_closed_form"] = [] {
      return make<L::ExponentialLR>(make_optimizer("Adam", {0.1}), L::ExponentialLROptions(0.8));
    };
    // ConstantLR
    c["constant_default_adagrad"] = [] {
      return make<L::ConstantLR>(make_optimizer("Adagrad", {0.1}));
    };
    c["constant_factor_sgd"] = [] {
      return make<L::ConstantLR>(make_optimizer("SGD", {0.5}),
                                 L::ConstantLROptions().factor(0.5).total_iters(4));
    };
    c["constant_two_groups_adam"] = [] {
      return make<L::ConstantLR>(make_optimizer("Adam", {0.3, 0.07}),
                                 L::ConstantLROptions().factor(0.25).total_iters(6));
    };
    c["constant_closed_form"] = c["constant_factor_sgd"];
    // LinearLR
    c["linear_default_sgd"] = [] { return make<L::LinearLR>(make_optimizer("SGD", {0.05})); };
    c["linear_decay_adam"] = [] {
      return make<L::LinearLR>(
          make_optimizer("Adam", {0.01}),
          L::LinearLROptions().start_factor(1.0).end_factor(0.1).total_iters(10));
    };
    c["linear_two_groups_adamw"] = [] {
      return make<L::LinearLR>(
          make_optimizer("AdamW", {0.1, 0.004}),
          L::LinearLROptions().start_factor(0.25).end_factor(0.75).total_iters(8));
    };
    c["linear_closed_form"] = [] {
      return make<L::LinearLR>(make_optimizer("SGD", {0.05}),
                               L::LinearLROptions().start_factor(0.2).total_iters(6));
    };
    // PolynomialLR
    c["polynomial_default_sgd"] = [] {
      return make<L::PolynomialLR>(make_optimizer("SGD", {0.001}));
    };
    c["polynomial_power2_adamw"] = [] {
      return make<L::PolynomialLR>(make_optimizer("AdamW", {0.01}),
                                   L::PolynomialLROptions().total_iters(20).power(2.0));
    };
    c["polynomial_half_two_groups_rmsprop"] = [] {
      return make<L::PolynomialLR>(make_optimizer("RMSprop", {0.1, 0.05}),
                                   L::PolynomialLROptions().total_iters(12).power(0.5));
    };
    c["polynomial_closed_form"] = [] {
      return make<L::PolynomialLR>(make_optimizer("SGD", {0.01}),
                                   L::PolynomialLROptions().total_iters(10).power(2.0));
    };
    // LambdaLR
    const L::LRLambda pow95 = [](int64_t e) { return std::pow(0.95, static_cast<double>(e)); };
    c["lambda_single_sgd"] = [pow95] {
      return make<L::LambdaLR>(make_optimizer("SGD", {0.1}), pow95);
    };
    c["lambda_per_group_adam"] = [] {
      std::vector<L::LRLambda> lambdas{
          [](int64_t e) { return static_cast<double>(e / 3); },
          [](int64_t e) { return std::min(1.0, static_cast<double>(e + 1) / 10.0); }};
      return make<L::LambdaLR>(make_optimizer("Adam", {0.1, 0.01}), lambdas);
    };
    c["lambda_epoch_jumps"] = c["lambda_single_sgd"];
    // MultiplicativeLR
    c["multiplicative_adagrad"] = [] {
      return make<L::MultiplicativeLR>(make_optimizer("Adagrad", {0.1}),
                                       [](int64_t) { return 0.95; });
    };
    c["multiplicative_per_group_sgd"] = [] {
      std::vector<L::LRLambda> lambdas{
          [](int64_t) { return 0.9; },
          [](int64_t e) { return 1.0 - 0.01 * static_cast<double>(e); }};
      return make<L::MultiplicativeLR>(make_optimizer("SGD", {0.2, 0.05}), lambdas);
    };
    // CosineAnnealingLR
    c["cosine_default_sgd"] = [] {
      return make<L::CosineAnnealingLR>(make_optimizer("SGD", {0.1}),
                                        L::CosineAnnealingLROptions(10));
    };
    c["cosine_eta_min_two_groups_adam"] = [] {
      return make<L::CosineAnnealingLR>(make_optimizer("Adam", {0.01, 0.05}),
                                        L::CosineAnnealingLROptions(7).eta_min(1e-4));
    };
    c["cosine_resumed"] = [] {
      auto opt = make_optimizer("SGD", {0.1});
      set_initial_lr(opt);
      return make<L::CosineAnnealingLR>(
          opt, L::CosineAnnealingLROptions(10).eta_min(0.01).last_epoch(3));
    };
    c["cosine_closed_form"] = [] {
      return make<L::CosineAnnealingLR>(make_optimizer("RMSprop", {0.1}),
                                        L::CosineAnnealingLROptions(8).eta_min(0.001));
    };
    // CosineAnnealingWarmRestarts
    c["warm_restarts_default_sgd"] = [] {
      return make<L::CosineAnnealingWarmRestarts>(make_optimizer("SGD", {0.1}),
                                                  L::CosineAnnealingWarmRestartsOptions(5));
    };
    c["warm_restarts_tmult2_rmsprop"] = [] {
      return make<L::CosineAnnealingWarmRestarts>(
          make_optimizer("RMSprop", {0.01, 0.1}),
          L::CosineAnnealingWarmRestartsOptions(3).T_mult(2).eta_min(0.001));
    };
    c["warm_restarts_epochs"] = [] {
      return make<L::CosineAnnealingWarmRestarts>(
          make_optimizer("Adam", {0.1}),
          L::CosineAnnealingWarmRestartsOptions(4).T_mult(2).eta_min(0.002));
    };
    c["warm_restarts_epochs_tmult1"] = [] {
      return make<L::CosineAnnealingWarmRestarts>(make_optimizer("SGD", {0.1}),
                                                  L::CosineAnnealingWarmRestartsOptions(6));
    };
    // SequentialLR
    c["sequential_linear_exp_sgd"] = [] {
      auto opt = make_optimizer("SGD", {0.1});
      auto warmup = make<L::LinearLR>(opt, L::LinearLROptions().start_factor(0.1).total_iters(5));
      auto decay = make<L::ExponentialLR>(opt, L::ExponentialLROptions(0.9));
      return make<L::SequentialLR>(opt, std::vector<SchedulerPtr>{warmup, decay},
                                   std::vector<int64_t>{5});
    };
    c["sequential_three_adamw"] = [] {
      auto opt = make_optimizer("AdamW", {0.01, 0.002});
      auto s1 = make<L::ConstantLR>(opt, L::ConstantLROptions().factor(0.5).total_iters(3));
      auto s2 = make<L::CosineAnnealingLR>(opt, L::CosineAnnealingLROptions(10));
      auto s3 = make<L::StepLR>(opt, L::StepLROptions(4).gamma(0.5));
      return make<L::SequentialLR>(opt, std::vector<SchedulerPtr>{s1, s2, s3},
                                   std::vector<int64_t>{4, 15});
    };
    c["sequential_four_adam"] = [pow95] {
      auto opt = make_optimizer("Adam", {0.1, 0.3});
      auto s1 = make<L::LinearLR>(opt, L::LinearLROptions().start_factor(0.5).total_iters(4));
      auto s2 = make<L::MultiplicativeLR>(opt, [](int64_t) { return 0.9; });
      auto s3 = make<L::LambdaLR>(opt, pow95);
      auto s4 = make<L::CosineAnnealingWarmRestarts>(
          opt, L::CosineAnnealingWarmRestartsOptions(4).T_mult(2));
      return make<L::SequentialLR>(opt, std::vector<SchedulerPtr>{s1, s2, s3, s4},
                                   std::vector<int64_t>{6, 12, 20});
    };
    // ChainedScheduler
    c["chained_constant_exp_sgd"] = [] {
      auto opt = make_optimizer("SGD", {1.0});
      auto s1 = make<L::ConstantLR>(opt, L::ConstantLROptions().factor(0.1).total_iters(2));
      auto s2 = make<L::ExponentialLR>(opt, L::ExponentialLROptions(0.9));
      return make<L::ChainedScheduler>(std::vector<SchedulerPtr>{s1, s2});
    };
    c["chained_three_adagrad"] = [] {
      auto opt = make_optimizer("Adagrad", {0.1, 0.02});
      auto s1 = make<L::LinearLR>(opt, L::LinearLROptions().start_factor(0.2).total_iters(5));
      auto s2 = make<L::MultiStepLR>(opt, L::MultiStepLROptions({3, 9}).gamma(0.5));
      auto s3 = make<L::CosineAnnealingLR>(opt, L::CosineAnnealingLROptions(12).eta_min(0.0));
      return make<L::ChainedScheduler>(std::vector<SchedulerPtr>{s1, s2, s3});
    };
    return c;
  }();
  return table;
}

// ----------------------------------------------------------------------------
// The reference file

struct Row {
  int index = 0;
  std::string action;
  std::vector<double> lrs;
};

struct StateEntry {
  std::string key;
  std::string type;
  std::string value;  // "" when the file has none
};

struct RefCase {
  std::string name;
  size_t num_groups = 0;
  std::vector<Row> rows;  // rows[0] is "init"
  std::vector<StateEntry> state;
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(s);
  while (std::getline(in, item, sep)) out.push_back(item);
  return out;
}

double parse_double(const std::string& s) {
  size_t used = 0;
  const double v = std::stod(s, &used);
  if (used != s.size()) throw std::runtime_error("bad number in the reference file: " + s);
  return v;
}

const std::vector<RefCase>& reference() {
  static const std::vector<RefCase> cases = [] {
    const std::string path =
        std::string(LIGHTNING_OPTIM_REFERENCE_DIR) + "/lr_scheduler_reference.txt";
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open " + path);
    std::vector<RefCase> out;
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      const auto f = split(line, ' ');
      if (f[0] == "case") {
        out.push_back(RefCase{f.at(1), static_cast<size_t>(std::stoul(f.at(2))), {}, {}});
      } else if (f[0] == "lr") {
        Row row{std::stoi(f.at(2)), f.at(3), {}};
        for (size_t i = 4; i < f.size(); ++i) row.lrs.push_back(parse_double(f[i]));
        out.back().rows.push_back(std::move(row));
      } else if (f[0] == "state") {
        out.back().state.push_back({f.at(2), f.at(3), f.size() > 4 ? f[4] : ""});
      } else {
        throw std::runtime_error("unexpected line in " + path + ": " + line);
      }
    }
    return out;
  }();
  return cases;
}

void apply(L::LRScheduler& s, const std::string& action) {
  if (action == "step") {
    s.step();
  } else if (action.rfind("epoch=", 0) == 0) {
    s.step_to_epoch(std::stoll(action.substr(6)));
  } else if (action.rfind("frac=", 0) == 0) {
    dynamic_cast<L::CosineAnnealingWarmRestarts&>(s).step_fractional(
        parse_double(action.substr(5)));
  } else {
    throw std::runtime_error("unknown action " + action);
  }
}

/// Within 1e-12 relative (the formulas are PyTorch's, operation for
/// operation; the brief allows 1e-6).
double tolerance(double ref) { return 1e-12 * std::max(std::abs(ref), 1e-6); }

std::vector<double> group_lrs(const torch::optim::Optimizer& opt) {
  std::vector<double> lrs;
  for (const auto& g : opt.param_groups()) lrs.push_back(g.options().get_lr());
  return lrs;
}

// ----------------------------------------------------------------------------
// State dict flattening, as state_lines() in the script

std::string type_tag(const c10::IValue& v) {
  if (v.isBool()) return "bool";
  if (v.isInt()) return "int";
  if (v.isDouble()) return "float";
  if (v.isNone()) return "none";
  if (v.isGenericDict()) return "dict";
  if (v.isList()) {
    std::set<std::string> tags;
    for (const auto& e : v.toListRef()) tags.insert(type_tag(e));
    std::string out = "list[";
    for (auto it = tags.begin(); it != tags.end(); ++it) {
      if (it != tags.begin()) out += ",";
      out += *it;
    }
    return out + "]";
  }
  return std::string("<") + v.tagKind() + ">";
}

std::string number_text(const c10::IValue& v) {
  if (v.isInt()) return std::to_string(v.toInt());
  std::ostringstream s;
  s.precision(17);
  s << v.toDouble();
  return s.str();
}

std::vector<StateEntry> flatten(const L::StateDict& state, const std::string& prefix = "") {
  std::vector<StateEntry> out;
  for (const auto& e : state) {
    const std::string key = prefix + e.key().toStringRef();
    const c10::IValue& v = e.value();
    StateEntry entry{key, type_tag(v), ""};
    if (entry.type == "int" || entry.type == "float") {
      entry.value = number_text(v);
    } else if (entry.type == "list[int]" || entry.type == "list[float]") {
      for (const auto& x : v.toListRef()) {
        if (!entry.value.empty()) entry.value += ',';
        entry.value += number_text(x);
      }
    } else if (entry.type == "dict") {
      for (const auto& kv : v.toGenericDict()) {
        entry.value.append(entry.value.empty() ? "" : ",")
            .append(number_text(kv.key()))
            .append(":")
            .append(number_text(kv.value()));
      }
    }
    out.push_back(entry);
    if (entry.type == "list[dict]") {
      const auto& list = v.toListRef();
      for (size_t i = 0; i < list.size(); ++i) {
        auto child = flatten(list[i].toGenericDict(), key + "[" + std::to_string(i) + "].");
        out.insert(out.end(), child.begin(), child.end());
      }
    }
  }
  return out;
}

/// Compares numbers (or comma-separated lists of numbers) numerically.
void expect_same_numbers(const std::string& actual, const std::string& ref,
                         const std::string& where) {
  const auto a = split(actual, ',');
  const auto r = split(ref, ',');
  ASSERT_EQ(a.size(), r.size()) << where << ": " << actual << " vs " << ref;
  for (size_t i = 0; i < a.size(); ++i) {
    const double rv = parse_double(r[i]);
    EXPECT_NEAR(parse_double(a[i]), rv, tolerance(rv)) << where;
  }
}

L::StateDict pickle_round_trip(const L::StateDict& state) {
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(state));
  return torch::pickle_load(bytes).toGenericDict();
}

}  // namespace

// ----------------------------------------------------------------------------
// Reference values

TEST(LRSchedulerReference, EveryCaseHasABuilderAndViceVersa) {
  std::set<std::string> in_file;
  for (const auto& c : reference()) in_file.insert(c.name);
  for (const auto& [name, builder] : builders()) {
    EXPECT_TRUE(in_file.count(name)) << name << " is not in lr_scheduler_reference.txt";
  }
  for (const auto& name : in_file) {
    EXPECT_TRUE(builders().count(name)) << name << " has no builder in this test";
  }
  EXPECT_GE(in_file.size(), 40u);
}

TEST(LRSchedulerReference, RatesMatchPyTorch) {
  size_t compared = 0;
  size_t bit_identical = 0;
  for (const auto& c : reference()) {
    SCOPED_TRACE(c.name);
    auto it = builders().find(c.name);
    ASSERT_NE(it, builders().end());
    SchedulerPtr s = it->second();
    ASSERT_EQ(s->optimizer().param_groups().size(), c.num_groups);
    for (const Row& row : c.rows) {
      if (row.action != "init") apply(*s, row.action);
      const auto& got = s->get_last_lr();
      ASSERT_EQ(got.size(), row.lrs.size()) << "step " << row.index;
      const auto in_groups = group_lrs(s->optimizer());
      for (size_t g = 0; g < got.size(); ++g) {
        EXPECT_NEAR(got[g], row.lrs[g], tolerance(row.lrs[g]))
            << "step " << row.index << " (" << row.action << "), group " << g;
        EXPECT_EQ(in_groups[g], got[g]) << "the optimizer's lr, step " << row.index;
        ++compared;
        if (got[g] == row.lrs[g]) ++bit_identical;
      }
    }
  }
  std::cout << "[ compared " << compared << " learning rates, " << bit_identical
            << " bit-identical to PyTorch ]\n";
  EXPECT_GT(compared, 1400u);
}

TEST(LRSchedulerReference, StateDictKeysTypesAndValuesMatchPyTorch) {
  for (const auto& c : reference()) {
    SCOPED_TRACE(c.name);
    SchedulerPtr s = builders().at(c.name)();
    for (size_t i = 1; i < c.rows.size(); ++i) apply(*s, c.rows[i].action);
    const auto got = flatten(s->state_dict());
    std::string got_keys, ref_keys;
    for (const auto& e : got) got_keys += e.key + " ";
    for (const auto& e : c.state) ref_keys += e.key + " ";
    ASSERT_EQ(got_keys, ref_keys) << "keys, in order";
    for (size_t i = 0; i < got.size(); ++i) {
      const StateEntry& g = got[i];
      const StateEntry& r = c.state[i];
      // PyTorch's default eta_min is the int 0; here it is always a double.
      const bool int_eta_min = r.type == "int" && g.type == "float" && g.key.size() >= 7 &&
                               g.key.substr(g.key.size() - 7) == "eta_min";
      if (!int_eta_min) {
        EXPECT_EQ(g.type, r.type) << g.key;
      }
      if (r.type == "dict") {
        EXPECT_EQ(g.value, r.value) << g.key;
      } else if (!r.value.empty()) {
        expect_same_numbers(g.value, r.value, g.key);
      }
    }
  }
}

// ----------------------------------------------------------------------------
// state_dict round trips: stop after k actions, save (through pickle), build a
// fresh optimizer and scheduler, load, continue: the same rates as without the
// interruption.

TEST(LRSchedulerStateDict, RoundTripAtEveryStepOfEveryCase) {
  for (const auto& c : reference()) {
    SCOPED_TRACE(c.name);
    const Builder& build = builders().at(c.name);
    const size_t n = c.rows.size();
    for (size_t k = 0; k < n; ++k) {
      L::StateDict saved = L::make_state_dict();
      {
        SchedulerPtr first = build();
        for (size_t i = 1; i <= k; ++i) apply(*first, c.rows[i].action);
        saved = pickle_round_trip(first->state_dict());
      }
      SchedulerPtr resumed = build();
      resumed->load_state_dict(saved);
      EXPECT_EQ(resumed->get_last_lr(), group_lrs(resumed->optimizer())) << "loaded at " << k;
      for (size_t i = k + 1; i < n; ++i) {
        apply(*resumed, c.rows[i].action);
        const auto& got = resumed->get_last_lr();
        for (size_t g = 0; g < got.size(); ++g) {
          ASSERT_NEAR(got[g], c.rows[i].lrs[g], tolerance(c.rows[i].lrs[g]))
              << "saved after " << k << " actions, step " << i << ", group " << g;
        }
      }
      // The state after the resumed run equals the uninterrupted one.
      SchedulerPtr straight = build();
      for (size_t i = 1; i < n; ++i) apply(*straight, c.rows[i].action);
      const auto a = flatten(straight->state_dict());
      const auto b = flatten(resumed->state_dict());
      ASSERT_EQ(a.size(), b.size());
      for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].key, b[i].key);
        EXPECT_EQ(a[i].type, b[i].type) << a[i].key << " saved after " << k;
        EXPECT_EQ(a[i].value, b[i].value) << a[i].key << " saved after " << k;
      }
    }
  }
}

TEST(LRSchedulerStateDict, MultiStepMilestonesAreACounter) {
  L::MultiStepLR s(make_optimizer("SGD", {0.1}), L::MultiStepLROptions({4, 2, 4, 4}));
  const auto state = s.state_dict();
  const auto counter = state.at("milestones").toGenericDict();
  ASSERT_EQ(counter.size(), 2u);
  EXPECT_EQ(counter.at(int64_t{4}).toInt(), 3);
  EXPECT_EQ(counter.at(int64_t{2}).toInt(), 1);
}

TEST(LRSchedulerStateDict, LambdaStateHoldsNonePerFunction) {
  auto opt = make_optimizer("SGD", {0.1, 0.2, 0.3});
  L::LambdaLR s(opt, [](int64_t) { return 1.0; });
  const L::StateDict state = s.state_dict();
  const c10::List<c10::IValue> list = state.at("lr_lambdas").toList();
  ASSERT_EQ(list.size(), 3u);
  for (size_t i = 0; i < list.size(); ++i) EXPECT_TRUE(list.get(i).isNone());
}

TEST(LRSchedulerStateDict, LoadingRestoresTheOptionsToo) {
  // A StepLR built with other arguments takes the saved ones (PyTorch's
  // __dict__.update does the same).
  L::StepLR saved(make_optimizer("SGD", {0.1}), L::StepLROptions(2).gamma(0.5));
  for (int i = 0; i < 3; ++i) saved.step();
  L::StepLR other(make_optimizer("SGD", {0.1}), L::StepLROptions(10).gamma(0.9));
  other.load_state_dict(saved.state_dict());
  saved.step();
  other.step();
  EXPECT_DOUBLE_EQ(other.get_last_lr()[0], saved.get_last_lr()[0]);
  EXPECT_DOUBLE_EQ(other.get_last_lr()[0], 0.025);
  EXPECT_EQ(other.state_dict().at("step_size").toInt(), 2);
}

TEST(LRSchedulerStateDict, FailedLoadLeavesTheSchedulerUnchanged) {
  L::StepLR s(make_optimizer("SGD", {0.1}), L::StepLROptions(2));
  s.step();
  auto state = s.state_dict();
  (void)state.erase("_last_lr");
  state.insert_or_assign("last_epoch", int64_t{40});
  EXPECT_LIGHTNING_ERROR(s.load_state_dict(state), "\"_last_lr\"");
  EXPECT_EQ(s.last_epoch(), 1);
}

// ----------------------------------------------------------------------------
// Behaviour beyond the tables

TEST(LRScheduler, FirstSchedulerRecordsInitialLrPerOptimizer) {
  auto a = make_optimizer("SGD", {0.1});
  auto b = make_optimizer("SGD", {0.5});
  L::ExponentialLR sa(a, L::ExponentialLROptions(0.5));
  sa.step();
  // A second scheduler on `a` takes the recorded initial_lr, not the current rate.
  L::StepLR sa2(a, L::StepLROptions(3));
  EXPECT_EQ(sa2.base_lrs(), std::vector<double>{0.1});
  L::StepLR sb(b, L::StepLROptions(3));
  EXPECT_EQ(sb.base_lrs(), std::vector<double>{0.5});
}

TEST(LRScheduler, NewOptimizerAtARecycledAddressStartsFresh) {
  for (int i = 0; i < 20; ++i) {
    const double lr = 0.01 * (i + 1);
    auto opt = make_optimizer("SGD", {lr});
    L::ExponentialLR s(opt, L::ExponentialLROptions(0.5));
    EXPECT_EQ(s.base_lrs(), std::vector<double>{lr});
  }
}

TEST(LRScheduler, SequentialAndChainedReportTheirChildrenRates) {
  auto opt = make_optimizer("SGD", {1.0});
  auto s1 = std::make_shared<L::ConstantLR>(opt, L::ConstantLROptions().factor(0.1).total_iters(2));
  auto s2 = std::make_shared<L::ExponentialLR>(opt, L::ExponentialLROptions(0.9));
  L::SequentialLR seq(opt, {s1, s2}, {2});
  EXPECT_NEAR(seq.get_last_lr()[0], 0.1, 1e-15);
  EXPECT_EQ(seq.last_epoch(), 0);
  seq.step();
  seq.step();  // milestone: ExponentialLR restarts at epoch 0
  EXPECT_NEAR(seq.get_last_lr()[0], 1.0, 1e-15);
  seq.step();
  EXPECT_NEAR(seq.get_last_lr()[0], 0.9, 1e-15);
  EXPECT_EQ(seq.name(), "SequentialLR");
}

// ----------------------------------------------------------------------------
// Errors

namespace {
/// Stands in for ReduceLROnPlateau (another file of the library).
class FakePlateau : public L::LRScheduler {
 public:
  explicit FakePlateau(OptimizerPtr opt) : LRScheduler(std::move(opt), -1) { initial_step(); }
  std::string name() const override { return "ReduceLROnPlateau"; }
  bool reduce_on_plateau() const override { return true; }

 protected:
  std::vector<double> get_lr() override { return group_lrs(); }
};
}  // namespace

TEST(LRSchedulerErrors, ConstructorArguments) {
  auto opt = make_optimizer("SGD", {0.1});
  EXPECT_LIGHTNING_ERROR(L::ConstantLR(opt, L::ConstantLROptions().factor(1.5)),
                         "ConstantLR factor must be between 0 and 1, got 1.5.");
  EXPECT_LIGHTNING_ERROR(L::ConstantLR(opt, L::ConstantLROptions().factor(-0.5)),
                         "ConstantLR factor must be between 0 and 1, got -0.5.");
  EXPECT_LIGHTNING_ERROR(L::LinearLR(opt, L::LinearLROptions().start_factor(1.5)),
                         "LinearLR start_factor must be greater than 0 and at most 1, got 1.5.");
  EXPECT_LIGHTNING_ERROR(L::LinearLR(opt, L::LinearLROptions().start_factor(0.0)),
                         "LinearLR start_factor must be greater than 0 and at most 1, got 0.");
  EXPECT_LIGHTNING_ERROR(L::LinearLR(opt, L::LinearLROptions().end_factor(2.0)),
                         "LinearLR end_factor must be between 0 and 1, got 2.");
  EXPECT_LIGHTNING_ERROR(L::StepLR(opt, L::StepLROptions(0)),
                         "StepLR step_size must be >= 1 (epochs between decays), got 0.");
  EXPECT_LIGHTNING_ERROR(L::CosineAnnealingLR(opt, L::CosineAnnealingLROptions(0)),
                         "CosineAnnealingLR T_max must be >= 1");
  EXPECT_LIGHTNING_ERROR(
      L::CosineAnnealingWarmRestarts(opt, L::CosineAnnealingWarmRestartsOptions(0)),
      "CosineAnnealingWarmRestarts expected a positive integer T_0 (epochs of the first cycle), "
      "but got 0.");
  EXPECT_LIGHTNING_ERROR(
      L::CosineAnnealingWarmRestarts(opt, L::CosineAnnealingWarmRestartsOptions(-3)),
      "but got -3.");
  EXPECT_LIGHTNING_ERROR(
      L::CosineAnnealingWarmRestarts(opt, L::CosineAnnealingWarmRestartsOptions(5).T_mult(0)),
      "CosineAnnealingWarmRestarts expected an integer T_mult >= 1 (growth of the cycle length), "
      "but got 0.");
  EXPECT_LIGHTNING_ERROR(L::StepLR(nullptr, L::StepLROptions(3)),
                         "A learning-rate scheduler needs an optimizer, got a null pointer.");
}

TEST(LRSchedulerErrors, ResumingWithoutInitialLr) {
  EXPECT_LIGHTNING_ERROR(
      L::StepLR(make_optimizer("Adam", {0.1}), L::StepLROptions(3).last_epoch(4)),
      "param 'initial_lr' is not specified in param_groups of Adam");
}

TEST(LRSchedulerErrors, LambdaCountMismatch) {
  auto opt = make_optimizer("SGD", {0.1, 0.2});
  auto one = [](int64_t) { return 1.0; };
  EXPECT_LIGHTNING_ERROR(L::LambdaLR(opt, std::vector<L::LRLambda>{one, one, one}),
                         "LambdaLR expected 2 lr_lambdas (one per parameter group), but got 3");
  EXPECT_LIGHTNING_ERROR(L::MultiplicativeLR(opt, std::vector<L::LRLambda>{one}),
                         "MultiplicativeLR expected 2 lr_lambdas (one per parameter group), but "
                         "got 1");
  EXPECT_LIGHTNING_ERROR(L::LambdaLR(opt, L::LRLambda()), "lr_lambda 0 is an empty std::function");
}

TEST(LRSchedulerErrors, SequentialLR) {
  auto opt = make_optimizer("SGD", {0.1});
  auto other = make_optimizer("SGD", {0.1});
  auto a = std::make_shared<L::ConstantLR>(opt);
  auto b = std::make_shared<L::ExponentialLR>(opt, L::ExponentialLROptions(0.9));
  auto foreign = std::make_shared<L::ExponentialLR>(other, L::ExponentialLROptions(0.9));
  EXPECT_LIGHTNING_ERROR(L::SequentialLR(opt, {a, b}, {2, 4}),
                         "SequentialLR expects the number of schedulers to be one more than the "
                         "number of milestones, but got 2 scheduler(s) and 2 milestone(s)");
  EXPECT_LIGHTNING_ERROR(L::SequentialLR(opt, std::vector<SchedulerPtr>{}, {}),
                         "got 0 scheduler(s) and 0 milestone(s)");
  EXPECT_LIGHTNING_ERROR(L::SequentialLR(opt, {a, foreign}, {2}),
                         "SequentialLR expects all schedulers to belong to the same optimizer, "
                         "but got the scheduler at index 1 (ExponentialLR) bound to a different "
                         "optimizer");
  auto plateau = std::make_shared<FakePlateau>(opt);
  EXPECT_LIGHTNING_ERROR(L::SequentialLR(opt, {a, plateau}, {2}),
                         "SequentialLR cannot run ReduceLROnPlateau (scheduler at index 1)");
  EXPECT_LIGHTNING_ERROR(L::SequentialLR(opt, {a, nullptr}, {2}),
                         "scheduler at index 1 is a null pointer");
}

TEST(LRSchedulerErrors, ChainedScheduler) {
  auto opt = make_optimizer("SGD", {0.1});
  auto other = make_optimizer("SGD", {0.1});
  auto a = std::make_shared<L::ConstantLR>(opt);
  auto foreign = std::make_shared<L::ExponentialLR>(other, L::ExponentialLROptions(0.9));
  EXPECT_LIGHTNING_ERROR(L::ChainedScheduler(std::vector<SchedulerPtr>{}),
                         "ChainedScheduler needs at least one scheduler, got an empty list.");
  EXPECT_LIGHTNING_ERROR(L::ChainedScheduler({a, foreign}),
                         "ChainedScheduler expects all schedulers to belong to the same "
                         "optimizer, but got the schedulers at index 0 and 1 (ExponentialLR)");
  EXPECT_LIGHTNING_ERROR(L::ChainedScheduler({a, std::make_shared<FakePlateau>(opt)}),
                         "ChainedScheduler cannot run ReduceLROnPlateau");
}

TEST(LRSchedulerErrors, StepWithMetricOnANonPlateauScheduler) {
  L::StepLR s(make_optimizer("SGD", {0.1}), L::StepLROptions(3));
  EXPECT_LIGHTNING_ERROR(
      s.step(0.5), "StepLR.step(metric): only ReduceLROnPlateau takes a metric; call step().");
  L::CosineAnnealingWarmRestarts w(make_optimizer("SGD", {0.1}),
                                   L::CosineAnnealingWarmRestartsOptions(3));
  // (step(double) is hidden by the subclasses' step(); through the base:)
  L::LRScheduler& base = w;
  EXPECT_LIGHTNING_ERROR(base.step(1.0), "CosineAnnealingWarmRestarts.step(metric)");
}

TEST(LRSchedulerErrors, SequentialAndChainedTakeNoEpoch) {
  auto opt = make_optimizer("SGD", {0.1});
  auto a = std::make_shared<L::ConstantLR>(opt);
  auto b = std::make_shared<L::ExponentialLR>(opt, L::ExponentialLROptions(0.9));
  L::SequentialLR seq(opt, {a, b}, {3});
  EXPECT_LIGHTNING_ERROR(seq.step_to_epoch(4), "SequentialLR cannot jump to epoch 4");
  EXPECT_EQ(seq.last_epoch(), 0);
  L::ChainedScheduler chained({a, b});
  EXPECT_LIGHTNING_ERROR(chained.step_to_epoch(2), "ChainedScheduler cannot jump to epoch 2");
}

TEST(LRSchedulerErrors, WarmRestartsNegativeEpoch) {
  L::CosineAnnealingWarmRestarts w(make_optimizer("SGD", {0.1}),
                                   L::CosineAnnealingWarmRestartsOptions(3));
  EXPECT_LIGHTNING_ERROR(w.step_fractional(-1.5),
                         "CosineAnnealingWarmRestarts.step(epoch) expected a non-negative epoch, "
                         "but got -1.5.");
}

TEST(LRSchedulerErrors, ConstantFactorZeroAtTotalIters) {
  L::ConstantLR s(make_optimizer("SGD", {0.1}), L::ConstantLROptions().factor(0.0).total_iters(2));
  EXPECT_EQ(s.get_last_lr()[0], 0.0);
  s.step();
  EXPECT_LIGHTNING_ERROR(s.step(), "ConstantLR with factor 0 cannot restore the learning rate");
}

TEST(LRSchedulerErrors, LoadStateDictMissingOrWrongKey) {
  auto opt = make_optimizer("SGD", {0.1});
  L::StepLR s(opt, L::StepLROptions(3));
  auto state = s.state_dict();
  (void)state.erase("gamma");
  EXPECT_LIGHTNING_ERROR(s.load_state_dict(state),
                         "StepLR.load_state_dict: the state has no \"gamma\" entry");
  state = s.state_dict();
  state.insert_or_assign("step_size", 2.5);
  EXPECT_LIGHTNING_ERROR(s.load_state_dict(state), "\"step_size\" must be an integer");
  state = s.state_dict();
  (void)state.erase("base_lrs");
  EXPECT_LIGHTNING_ERROR(s.load_state_dict(state), "the state has no \"base_lrs\" entry");

  L::MultiStepLR m(opt, L::MultiStepLROptions({2}));
  auto ms = m.state_dict();
  ms.insert_or_assign("milestones", c10::List<int64_t>({2}));
  EXPECT_LIGHTNING_ERROR(m.load_state_dict(ms), "\"milestones\" must be a dict");

  L::CosineAnnealingWarmRestarts w(opt, L::CosineAnnealingWarmRestartsOptions(3));
  auto ws = w.state_dict();
  (void)ws.erase("T_i");
  EXPECT_LIGHTNING_ERROR(w.load_state_dict(ws),
                         "CosineAnnealingWarmRestarts.load_state_dict: "
                         "the state has no \"T_i\" entry");

  L::LambdaLR l(opt, [](int64_t) { return 1.0; });
  auto ls = l.state_dict();
  (void)ls.erase("lr_lambdas");
  EXPECT_LIGHTNING_ERROR(l.load_state_dict(ls), "no \"lr_lambdas\" entry");
}

TEST(LRSchedulerErrors, LoadStateDictOfSequentialAndChained) {
  auto opt = make_optimizer("SGD", {0.1});
  auto a = std::make_shared<L::ConstantLR>(opt);
  auto b = std::make_shared<L::ExponentialLR>(opt, L::ExponentialLROptions(0.9));
  L::SequentialLR seq(opt, {a, b}, {3});
  auto state = seq.state_dict();
  (void)state.erase("_milestones");
  EXPECT_LIGHTNING_ERROR(seq.load_state_dict(state),
                         "SequentialLR.load_state_dict: the state has no \"_milestones\" entry");
  state = seq.state_dict();
  auto children = state.at("_schedulers").toList();
  children.pop_back();
  state.insert_or_assign("_schedulers", children);
  EXPECT_LIGHTNING_ERROR(seq.load_state_dict(state),
                         "\"_schedulers\" holds 1 scheduler state(s) but this SequentialLR has 2");
  // A child's missing key names the child.
  state = seq.state_dict();
  children = state.at("_schedulers").toList();
  auto child = children.get(1).toGenericDict();
  (void)child.erase("gamma");
  EXPECT_LIGHTNING_ERROR(seq.load_state_dict(state),
                         "ExponentialLR.load_state_dict: the state has no \"gamma\" entry");

  auto c1 = std::make_shared<L::ConstantLR>(opt);
  L::ChainedScheduler chained({c1});
  auto cs = chained.state_dict();
  (void)cs.erase("_schedulers");
  EXPECT_LIGHTNING_ERROR(
      chained.load_state_dict(cs),
      "ChainedScheduler.load_state_dict: the state has no \"_schedulers\" entry");
}
