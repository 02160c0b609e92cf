// CyclicLR, OneCycleLR and ReduceLROnPlateau against PyTorch 1.13: every case
// of tests/optim/cyclic_scheduler_reference.txt (made by
// cyclic_scheduler_reference.py, which says how to re-run it) is rebuilt here
// by name with the same arguments, and every rate, momentum (or beta1) and
// plateau counter is compared after construction and after each step. The same
// tables check state_dict round trips (through the pickler) and the beta1
// cycling PyTorch 1.13's CyclicLR lacks.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/optim/adagrad.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/rmsprop.h>
#include <torch/optim/sgd.h>
#include <torch/serialize.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "lightning/optim/cyclic_lr.h"
#include "lightning/optim/one_cycle_lr.h"
#include "lightning/optim/param_groups.h"
#include "lightning/optim/reduce_lr_on_plateau.h"
#include "support/errors.h"

#ifndef LIGHTNING_OPTIM_REFERENCE_DIR
#error "LIGHTNING_OPTIM_REFERENCE_DIR must name tests/optim"
#endif

namespace L = lightning;
namespace optim = torch::optim;

namespace {

// ------------------------------------------------------------ the reference

struct Row {
  int64_t step = 0;
  std::optional<double> metric;
  std::vector<double> lr;
  std::vector<double> mom;
  bool plateau = false;
  double best = 0;
  int64_t bad = 0;
  int64_t cooldown = 0;
};

struct Case {
  std::vector<Row> rows;
  std::string error;  // the message of the step after the last row, if any
};

double parse_double(const std::string& token) {
  char* end = nullptr;
  const double v = std::strtod(token.c_str(), &end);
  EXPECT_EQ(*end, '\0') << "not a number: " << token;
  return v;
}

bool is_keyword(const std::string& t) {
  return t == "lr" || t == "mom" || t == "metric" || t == "best" || t == "bad" || t == "cooldown";
}

Row parse_row(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> tokens;
  for (std::string t; in >> t;) tokens.push_back(t);
  Row row;
  row.step = std::stoll(tokens.at(1));
  for (size_t i = 2; i < tokens.size();) {
    const std::string key = tokens[i++];
    std::vector<double> values;
    while (i < tokens.size() && !is_keyword(tokens[i])) values.push_back(parse_double(tokens[i++]));
    if (key == "lr") {
      row.lr = values;
    } else if (key == "mom") {
      row.mom = values;
    } else {
      EXPECT_EQ(values.size(), 1u) << line;
      if (key == "metric") row.metric = values.at(0);
      if (key == "best") row.best = values.at(0), row.plateau = true;
      if (key == "bad") row.bad = static_cast<int64_t>(values.at(0));
      if (key == "cooldown") row.cooldown = static_cast<int64_t>(values.at(0));
    }
  }
  return row;
}

const std::map<std::string, Case>& reference() {
  static const std::map<std::string, Case> cases = [] {
    std::map<std::string, Case> out;
    const std::string path =
        std::string(LIGHTNING_OPTIM_REFERENCE_DIR) + "/cyclic_scheduler_reference.txt";
    std::ifstream file(path);
    EXPECT_TRUE(file.good()) << "cannot read " << path;
    std::string line, current;
    while (std::getline(file, line)) {
      if (line.empty() || line[0] == '#') continue;
      if (line.rfind("case ", 0) == 0) {
        current = line.substr(5);
        out[current];
      } else if (line.rfind("step ", 0) == 0) {
        out.at(current).rows.push_back(parse_row(line));
      } else if (line.rfind("error ", 0) == 0) {
        out.at(current).error = line.substr(6);
      } else if (line == "end") {
        current.clear();
      } else {
        ADD_FAILURE() << "unexpected line: " << line;
      }
    }
    return out;
  }();
  return cases;
}

// --------------------------------------------------- the cases, rebuilt here

struct Built {
  std::shared_ptr<optim::Optimizer> optimizer;
  std::shared_ptr<L::LRScheduler> scheduler;
};

std::vector<torch::Tensor> params() { return {torch::zeros({2}, torch::requires_grad())}; }

template <typename Options>
std::vector<optim::OptimizerParamGroup> groups(const std::vector<double>& lrs,
                                               const Options& defaults) {
  std::vector<optim::OptimizerParamGroup> out;
  for (double lr : lrs) {
    auto options = std::make_unique<Options>(defaults);
    options->lr(lr);
    out.emplace_back(params(), std::move(options));
  }
  return out;
}

std::shared_ptr<optim::Optimizer> sgd(double lr = 0.5, double momentum = 0.9) {
  return std::make_shared<optim::SGD>(params(), optim::SGDOptions(lr).momentum(momentum));
}
std::shared_ptr<optim::Optimizer> sgd_groups(const std::vector<double>& lrs) {
  const auto defaults = optim::SGDOptions(0.5).momentum(0.9);
  return std::make_shared<optim::SGD>(groups(lrs, defaults), defaults);
}

template <typename S, typename O>
Built make(std::shared_ptr<optim::Optimizer> opt, O options) {
  auto sched = std::make_shared<S>(opt, std::move(options));
  return {opt, sched};
}

// The CyclicLR options of the SGD and RMSprop reference cases, shared with
// the beta1 cases below.
L::CyclicLROptions triangular_options() { return L::CyclicLROptions(0.01, 0.1).step_size_up(4); }
L::CyclicLROptions triangular2_options() {
  return L::CyclicLROptions(0.001, 0.01)
      .step_size_up(3)
      .step_size_down(5)
      .mode("triangular2")
      .base_momentum({0.85})
      .max_momentum({0.95});
}

using Factory = std::function<Built()>;

// Case name -> how to build it; the beta1 cases map to the reference case
// whose momentum sequence their beta1 must follow.
struct Entry {
  Factory build;
  std::string reference;
};

const std::map<std::string, Entry>& entries() {
  static const std::map<std::string, Entry> all = [] {
    std::map<std::string, Entry> m;
    auto add = [&](const std::string& name, Factory f, std::string ref = "") {
      m[name] = Entry{std::move(f), ref.empty() ? name : ref};
    };
    // ------------------------------------------------------------ CyclicLR
    add("cyclic_triangular_sgd", [] { return make<L::CyclicLR>(sgd(), triangular_options()); });
    add("cyclic_triangular2_rmsprop", [] {
      auto opt =
          std::make_shared<optim::RMSprop>(params(), optim::RMSpropOptions(0.5).momentum(0.5));
      return make<L::CyclicLR>(opt, triangular2_options());
    });
    add("cyclic_exp_range_sgd", [] {
      return make<L::CyclicLR>(sgd(), L::CyclicLROptions(0.02, 0.2)
                                          .step_size_up(5)
                                          .step_size_down(2)
                                          .mode("exp_range")
                                          .gamma(0.97));
    });
    add("cyclic_custom_cycle_sgd", [] {
      return make<L::CyclicLR>(sgd(),
                               L::CyclicLROptions(0.01, 0.05)
                                   .step_size_up(2)
                                   .step_size_down(3)
                                   .scale_fn([](double x) { return 1 / std::pow(2., x - 1); })
                                   .scale_mode("cycle"));
    });
    add("cyclic_custom_iterations_sgd_2groups", [] {
      return make<L::CyclicLR>(sgd_groups({0.3, 0.6}),
                               L::CyclicLROptions({0.01, 0.02}, {0.1, 0.3})
                                   .step_size_up(3)
                                   .step_size_down(4)
                                   .scale_fn([](double x) { return 1 / (1. + 0.1 * x); })
                                   .scale_mode("iterations")
                                   .base_momentum({0.8, 0.7})
                                   .max_momentum({0.9, 0.95}));
    });
    add("cyclic_scale_fn_overrides_mode_sgd", [] {
      return make<L::CyclicLR>(sgd(),
                               L::CyclicLROptions(0.01, 0.05)
                                   .step_size_up(2)
                                   .mode("exp_range")
                                   .gamma(0.5)
                                   .scale_fn([](double x) { return 1 / std::pow(2., x - 1); })
                                   .scale_mode("cycle"));
    });
    add("cyclic_sawtooth_sgd", [] {
      return make<L::CyclicLR>(sgd(),
                               L::CyclicLROptions(0.01, 0.05).step_size_up(4).step_size_down(0));
    });
    add("cyclic_no_momentum_adam", [] {
      auto opt = std::make_shared<optim::Adam>(
          params(), optim::AdamOptions(0.5).betas(std::make_tuple(0.85, 0.99)));
      return make<L::CyclicLR>(opt, L::CyclicLROptions(0.001, 0.004)
                                        .step_size_up(3)
                                        .mode("triangular2")
                                        .cycle_momentum(false));
    });
    add("cyclic_resume_last_epoch_sgd", [] {
      auto opt = sgd();
      L::CyclicLR first(opt, triangular_options());
      for (int i = 0; i < 5; ++i) first.step();
      return make<L::CyclicLR>(opt, triangular_options().last_epoch(5));
    });
    // Beta1 cycling (PyTorch 2.x; 1.13 refuses): beta1 follows the momentum of
    // the equivalent SGD/RMSprop case.
    add(
        "cyclic_triangular_adam_beta1",
        [] {
          auto opt = std::make_shared<optim::Adam>(params(), optim::AdamOptions(0.5));
          return make<L::CyclicLR>(opt, triangular_options());
        },
        "cyclic_triangular_sgd");
    add(
        "cyclic_triangular2_adamw_beta1",
        [] {
          auto opt = std::make_shared<optim::AdamW>(
              params(), optim::AdamWOptions(0.5).betas(std::make_tuple(0.7, 0.98)));
          return make<L::CyclicLR>(opt, triangular2_options());
        },
        "cyclic_triangular2_rmsprop");
    // ---------------------------------------------------------- OneCycleLR
    add("onecycle_cos_sgd",
        [] { return make<L::OneCycleLR>(sgd(), L::OneCycleLROptions(0.1).total_steps(20)); });
    add("onecycle_linear_epochs_adam", [] {
      auto opt = std::make_shared<optim::Adam>(params(), optim::AdamOptions(0.5));
      return make<L::OneCycleLR>(opt, L::OneCycleLROptions(0.01)
                                          .epochs(4)
                                          .steps_per_epoch(6)
                                          .pct_start(0.25)
                                          .anneal_strategy("linear")
                                          .base_momentum({0.8})
                                          .max_momentum({0.9})
                                          .div_factor(10.)
                                          .final_div_factor(100.));
    });
    add("onecycle_three_phase_adamw", [] {
      auto opt = std::make_shared<optim::AdamW>(
          params(), optim::AdamWOptions(0.5).betas(std::make_tuple(0.9, 0.98)));
      return make<L::OneCycleLR>(
          opt, L::OneCycleLROptions(0.003).total_steps(30).pct_start(0.2).three_phase(true));
    });
    add("onecycle_three_phase_linear_sgd_2groups", [] {
      return make<L::OneCycleLR>(sgd_groups({0.1, 0.2}), L::OneCycleLROptions({0.05, 0.2})
                                                             .total_steps(25)
                                                             .pct_start(0.4)
                                                             .anneal_strategy("linear")
                                                             .three_phase(true)
                                                             .base_momentum({0.8, 0.85})
                                                             .max_momentum({0.9, 0.99}));
    });
    add("onecycle_no_momentum_rmsprop_2groups", [] {
      const auto defaults = optim::RMSpropOptions(0.5).momentum(0.3);
      auto opt = std::make_shared<optim::RMSprop>(groups({0.1, 0.2}, defaults), defaults);
      return make<L::OneCycleLR>(
          opt, L::OneCycleLROptions({0.05, 0.2}).total_steps(15).cycle_momentum(false));
    });
    add("onecycle_fractional_sgd", [] {
      return make<L::OneCycleLR>(
          sgd(),
          L::OneCycleLROptions(1.0).total_steps(17).pct_start(0.33).div_factor(5.).final_div_factor(
              50.));
    });
    add("onecycle_resume_last_epoch_sgd", [] {
      auto opt = sgd();
      L::OneCycleLR first(opt, L::OneCycleLROptions(0.1).total_steps(20));
      for (int i = 0; i < 7; ++i) first.step();
      return make<L::OneCycleLR>(opt, L::OneCycleLROptions(0.1).total_steps(20).last_epoch(7));
    });
    // --------------------------------------------------- ReduceLROnPlateau
    add("plateau_min_rel_sgd", [] {
      return make<L::ReduceLROnPlateau>(
          sgd(1.0, 0.9),
          L::ReduceLROnPlateauOptions().mode("min").factor(0.5).patience(2).threshold(0.01));
    });
    add("plateau_max_abs_cooldown_adam", [] {
      auto opt = std::make_shared<optim::Adam>(params(), optim::AdamOptions(0.1));
      return make<L::ReduceLROnPlateau>(opt, L::ReduceLROnPlateauOptions()
                                                 .mode("max")
                                                 .factor(0.3)
                                                 .patience(1)
                                                 .threshold(0.05)
                                                 .threshold_mode("abs")
                                                 .cooldown(2)
                                                 .min_lr({0.005}));
    });
    add("plateau_2groups_min_lr_sgd", [] {
      return make<L::ReduceLROnPlateau>(sgd_groups({0.01, 1.0}), L::ReduceLROnPlateauOptions()
                                                                     .mode("min")
                                                                     .factor(0.5)
                                                                     .patience(0)
                                                                     .threshold(1e-3)
                                                                     .cooldown(1)
                                                                     .min_lr({1e-4, 0.05})
                                                                     .eps(1e-3));
    });
    add("plateau_max_rel_nan_rmsprop", [] {
      auto opt =
          std::make_shared<optim::RMSprop>(params(), optim::RMSpropOptions(0.02).momentum(0.5));
      return make<L::ReduceLROnPlateau>(opt, L::ReduceLROnPlateauOptions()
                                                 .mode("max")
                                                 .factor(0.25)
                                                 .patience(1)
                                                 .threshold(0.05)
                                                 .threshold_mode("rel")
                                                 .cooldown(1)
                                                 .min_lr({1e-3}));
    });
    add("plateau_min_abs_defaults_adamw", [] {
      auto opt = std::make_shared<optim::AdamW>(params(), optim::AdamWOptions(0.01));
      return make<L::ReduceLROnPlateau>(
          opt, L::ReduceLROnPlateauOptions().mode("min").threshold(0.02).threshold_mode("abs"));
    });
    return m;
  }();
  return all;
}

// ------------------------------------------------------------- comparisons

// Same formulas, same operation order, same libm: the values agree to a few
// ulps. 1e-12 relative leaves room for that and nothing else.
constexpr double kRelTol = 1e-12;
int64_t g_compared = 0;
int64_t g_exact = 0;
double g_max_rel = 0;

bool close(double actual, double expected) {
  if (std::isnan(actual) || std::isnan(expected)) return std::isnan(actual) && std::isnan(expected);
  if (actual == expected) {
    ++g_exact;
    return true;
  }
  const double scale = std::max(std::abs(actual), std::abs(expected));
  g_max_rel = std::max(g_max_rel, std::abs(actual - expected) / scale);
  return std::abs(actual - expected) <= kRelTol * scale;
}

#define EXPECT_CLOSE(actual, expected, what)                                                       \
  do {                                                                                             \
    ++g_compared;                                                                                  \
    EXPECT_TRUE(close(actual, expected))                                                           \
        << what << ": got " << ::c10::str(actual) << " want " << ::c10::str(expected) << " (diff " \
        << (actual - expected) << ")";                                                             \
  } while (0)

std::vector<double> momentums(const optim::Optimizer& opt) {
  std::vector<double> out;
  for (const auto& g : opt.param_groups()) out.push_back(L::momentum_of(g.options()).value());
  return out;
}

void check_row(const Built& b, const Row& row) {
  SCOPED_TRACE("step " + std::to_string(row.step));
  const auto& groups = b.optimizer->param_groups();
  ASSERT_EQ(groups.size(), row.lr.size());
  const auto& last = b.scheduler->get_last_lr();
  ASSERT_EQ(last.size(), row.lr.size());
  for (size_t i = 0; i < row.lr.size(); ++i) {
    EXPECT_CLOSE(groups[i].options().get_lr(), row.lr[i], "lr of group " << i);
    EXPECT_EQ(last[i], groups[i].options().get_lr()) << "get_last_lr of group " << i;
  }
  if (!row.mom.empty()) {
    const auto mom = momentums(*b.optimizer);
    ASSERT_EQ(mom.size(), row.mom.size());
    for (size_t i = 0; i < mom.size(); ++i) {
      EXPECT_CLOSE(mom[i], row.mom[i], "momentum/beta1 of group " << i);
    }
  }
  if (row.plateau) {
    auto* p = dynamic_cast<L::ReduceLROnPlateau*>(b.scheduler.get());
    ASSERT_NE(p, nullptr);
    EXPECT_CLOSE(p->best(), row.best, "best");
    EXPECT_EQ(p->num_bad_epochs(), row.bad);
    EXPECT_EQ(p->cooldown_counter(), row.cooldown);
    EXPECT_EQ(p->last_epoch(), row.step);
  } else {
    EXPECT_EQ(b.scheduler->last_epoch(), row.step);
  }
}

void step(const Built& b, const Row& row) {
  if (row.metric) {
    b.scheduler->step(*row.metric);
  } else {
    b.scheduler->step();
  }
}

// Steps `b` through rows (from, end], comparing each, then the error after.
void run_from(const Built& b, const Case& c, size_t from) {
  for (size_t k = from + 1; k < c.rows.size(); ++k) {
    step(b, c.rows[k]);
    check_row(b, c.rows[k]);
    if (::testing::Test::HasFatalFailure()) return;
  }
  if (!c.error.empty()) {
    EXPECT_LIGHTNING_ERROR(b.scheduler->step(), c.error);
  }
}

std::vector<std::string> names_with_prefix(const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& [name, entry] : entries()) {
    if (name.rfind(prefix, 0) == 0) out.push_back(name);
  }
  return out;
}

void check_against_reference(const std::string& prefix) {
  const auto names = names_with_prefix(prefix);
  ASSERT_FALSE(names.empty());
  for (const auto& name : names) {
    SCOPED_TRACE(name);
    const Entry& e = entries().at(name);
    const Case& c = reference().at(e.reference);
    ASSERT_FALSE(c.rows.empty());
    Built b = e.build();
    check_row(b, c.rows[0]);
    run_from(b, c, 0);
  }
}

L::SchedulerState through_pickle(const L::SchedulerState& state) {
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(state));
  return torch::pickle_load(bytes).toGenericDict();
}

// Half-way: save, pickle, load into a FRESH optimizer and scheduler, and the
// rest of the table must follow.
void check_round_trip(const std::string& prefix) {
  const auto names = names_with_prefix(prefix);
  ASSERT_FALSE(names.empty());
  for (const auto& name : names) {
    SCOPED_TRACE(name);
    const Entry& e = entries().at(name);
    const Case& c = reference().at(e.reference);
    const size_t half = c.rows.size() / 2;
    L::SchedulerState state = L::make_state_dict();
    {
      Built first = e.build();
      for (size_t k = 1; k <= half; ++k) step(first, c.rows[k]);
      check_row(first, c.rows[half]);
      state = through_pickle(first.scheduler->state_dict());
      // The original keeps going unchanged by the save.
      run_from(first, c, half);
    }
    Built second = e.build();
    second.scheduler->load_state_dict(state);
    check_row(second, c.rows[half]);  // rates and momentums restored at once
    run_from(second, c, half);
  }
}

L::SchedulerState without(const L::SchedulerState& state, const std::string& key) {
  L::SchedulerState out = state.copy();
  (void)out.erase(key);
  return out;
}

const c10::IValue& entry(const L::SchedulerState& state, const std::string& key) {
  return L::state_value(state, key, "test");
}

}  // namespace

// ----------------------------------------------------------- the reference

TEST(CyclicSchedulerReference, EveryCaseIsRebuilt) {
  ASSERT_FALSE(reference().empty());
  for (const auto& [name, c] : reference()) {
    EXPECT_TRUE(entries().count(name)) << "no C++ factory for reference case " << name;
    EXPECT_GE(c.rows.size(), 10u) << name;
  }
  for (const auto& [name, e] : entries()) {
    EXPECT_TRUE(reference().count(e.reference)) << name << " refers to a missing case";
  }
}

TEST(CyclicLR, MatchesPyTorch) { check_against_reference("cyclic_"); }
TEST(OneCycleLR, MatchesPyTorch) { check_against_reference("onecycle_"); }
TEST(ReduceLROnPlateau, MatchesPyTorch) { check_against_reference("plateau_"); }

TEST(CyclicLR, StateDictRoundTrip) { check_round_trip("cyclic_"); }
TEST(OneCycleLR, StateDictRoundTrip) { check_round_trip("onecycle_"); }
TEST(ReduceLROnPlateau, StateDictRoundTrip) { check_round_trip("plateau_"); }

// Prints how many values were compared with PyTorch's, and how far apart.
class ReportComparisons : public ::testing::Environment {
 public:
  void TearDown() override {
    std::cout << "[cyclic_scheduler_test] " << g_compared
              << " values compared with PyTorch 1.13's; largest relative difference " << g_max_rel
              << ", " << g_exact << " bit-identical" << std::endl;
  }
};
const auto* const kReport = ::testing::AddGlobalTestEnvironment(new ReportComparisons);

// ---------------------------------------------------------------- CyclicLR

TEST(CyclicLR, SetsBaseLrBeforeRecordingInitialLr) {
  auto opt = sgd_groups({0.3, 0.6});
  L::CyclicLR sched(opt, L::CyclicLROptions({0.01, 0.02}, {0.1, 0.3}).step_size_up(3));
  EXPECT_EQ(L::detail::initial_lrs(*opt).value(), (std::vector<double>{0.01, 0.02}));
  EXPECT_EQ(sched.base_lrs(), (std::vector<double>{0.01, 0.02}));
  EXPECT_EQ(sched.get_last_lr(), (std::vector<double>{0.01, 0.02}));
  EXPECT_EQ(momentums(*opt), (std::vector<double>{0.9, 0.9}));
}

TEST(CyclicLR, Beta1CyclingLeavesBeta2) {
  auto opt = std::make_shared<optim::Adam>(
      params(), optim::AdamOptions(0.5).betas(std::make_tuple(0.5, 0.777)));
  L::CyclicLR sched(opt, triangular_options());
  for (int i = 0; i < 5; ++i) sched.step();
  const auto& o = static_cast<const optim::AdamOptions&>(opt->param_groups()[0].options());
  EXPECT_EQ(std::get<1>(o.betas()), 0.777);
  EXPECT_NE(std::get<0>(o.betas()), 0.5);
}

TEST(CyclicLR, StateDictHasPyTorchKeys) {
  L::CyclicLR sched(sgd(), triangular2_options());
  const auto s = sched.state_dict();
  for (const char* key :
       {"max_lrs", "total_size", "step_ratio", "mode", "gamma", "_scale_fn_custom", "_scale_fn_ref",
        "scale_mode", "cycle_momentum", "base_momentums", "max_momentums", "base_lrs", "last_epoch",
        "verbose", "_step_count", "_get_lr_called_within_step", "_last_lr"}) {
    EXPECT_TRUE(s.contains(key)) << key;
  }
  EXPECT_EQ(entry(s, "total_size").toDouble(), 8.0);
  EXPECT_EQ(entry(s, "step_ratio").toDouble(), 3.0 / 8.0);
  EXPECT_EQ(entry(s, "mode").toStringRef(), "triangular2");
  EXPECT_EQ(entry(s, "_scale_fn_ref").toStringRef(), "triangular2");
  EXPECT_TRUE(entry(s, "_scale_fn_custom").isNone());
  EXPECT_EQ(entry(s, "scale_mode").toStringRef(), "cycle");
  EXPECT_EQ(entry(s, "last_epoch").toInt(), 0);

  L::CyclicLR exp(sgd(), L::CyclicLROptions(0.1, 0.2).mode("exp_range").scale_mode("cycle"));
  EXPECT_EQ(entry(exp.state_dict(), "scale_mode").toStringRef(), "iterations");

  L::CyclicLR custom(sgd(), L::CyclicLROptions(0.1, 0.2).scale_fn([](double) { return 1.0; }));
  const auto c = custom.state_dict();
  EXPECT_TRUE(entry(c, "_scale_fn_ref").isNone());
  EXPECT_EQ(entry(c, "_scale_fn_custom").toStringRef(), "custom");
  // The function itself is not saved: loading needs one.
  L::CyclicLR builtin(sgd(), L::CyclicLROptions(0.1, 0.2));
  EXPECT_LIGHTNING_ERROR(builtin.load_state_dict(c), "custom scale_fn");
  // A built-in state replaces a custom policy, as PyTorch's __dict__.update does.
  custom.load_state_dict(s);
  L::CyclicLR twin(sgd(), triangular2_options());
  for (int i = 0; i < 12; ++i) {
    custom.step();
    twin.step();
    EXPECT_EQ(custom.get_last_lr(), twin.get_last_lr());
  }
}

TEST(CyclicLR, NoMomentumWithoutCycling) {
  L::CyclicLR sched(sgd(), L::CyclicLROptions(0.1, 0.2).cycle_momentum(false));
  const auto s = sched.state_dict();
  EXPECT_FALSE(s.contains("base_momentums"));
  EXPECT_FALSE(s.contains("max_momentums"));
}

TEST(CyclicLR, Errors) {
  EXPECT_LIGHTNING_ERROR(L::CyclicLR(sgd(), L::CyclicLROptions(0.1, 0.2).mode("triangle")),
                         "mode is invalid and scale_fn is None");
  EXPECT_LIGHTNING_ERROR(L::CyclicLR(sgd(), L::CyclicLROptions(0.1, 0.2).scale_mode("epoch")),
                         "scale_mode must be \"cycle\" or \"iterations\"");
  EXPECT_LIGHTNING_ERROR(L::CyclicLR(sgd(), L::CyclicLROptions(0.1, 0.2).step_size_up(0)),
                         "step_size_up must be >= 1");
  EXPECT_LIGHTNING_ERROR(L::CyclicLR(sgd(), L::CyclicLROptions(0.1, 0.2).step_size_down(-1)),
                         "step_size_down must be >= 0");
  EXPECT_LIGHTNING_ERROR(L::CyclicLR(sgd_groups({0.1, 0.2}), L::CyclicLROptions({0.1}, {1, 2, 3})),
                         "expected 2 values for max_lr, got 3");
  EXPECT_LIGHTNING_ERROR(
      L::CyclicLR(sgd_groups({0.1, 0.2}), L::CyclicLROptions({0.1, 0.2, 0.3}, {1})),
      "expected 2 values for base_lr, got 3");
  EXPECT_LIGHTNING_ERROR(L::CyclicLR(sgd_groups({0.1, 0.2}),
                                     L::CyclicLROptions(0.1, 1).base_momentum({0.8, 0.7, 0.6})),
                         "expected 2 values for base_momentum, got 3");
  auto adagrad = std::make_shared<optim::Adagrad>(params(), optim::AdagradOptions(0.5));
  EXPECT_LIGHTNING_ERROR(L::CyclicLR(adagrad, L::CyclicLROptions(0.1, 0.2)),
                         "optimizer must support momentum with `cycle_momentum` option enabled");
  EXPECT_LIGHTNING_ERROR(L::CyclicLR(adagrad, L::CyclicLROptions(0.1, 0.2)), "Adagrad");
  // A refused configuration leaves the optimizer alone.
  EXPECT_EQ(L::get_lr(*adagrad), 0.5);
  EXPECT_FALSE(L::detail::initial_lrs(*adagrad).has_value());
  // Without momentum cycling Adagrad is fine.
  L::CyclicLR ok(adagrad, L::CyclicLROptions(0.1, 0.2).cycle_momentum(false).step_size_up(2));
  ok.step();
  EXPECT_DOUBLE_EQ(L::get_lr(*adagrad), 0.15);
  EXPECT_LIGHTNING_ERROR(L::CyclicLR(nullptr, L::CyclicLROptions(0.1, 0.2)), "null pointer");
}

TEST(CyclicLR, LoadStateDictNamesMissingKey) {
  L::CyclicLR a(sgd(), triangular_options());
  L::CyclicLR b(sgd(), triangular_options());
  EXPECT_LIGHTNING_ERROR(b.load_state_dict(without(a.state_dict(), "total_size")),
                         "\"total_size\"");
  EXPECT_LIGHTNING_ERROR(b.load_state_dict(without(a.state_dict(), "max_momentums")),
                         "\"max_momentums\"");
}

// --------------------------------------------------------------- OneCycleLR

TEST(OneCycleLR, RecordsMaxLrOverDivFactorAsInitialLr) {
  auto opt = sgd_groups({0.3, 0.6});
  L::OneCycleLR sched(opt, L::OneCycleLROptions({0.05, 0.5}).total_steps(10).div_factor(5.));
  EXPECT_EQ(L::detail::initial_lrs(*opt).value(), (std::vector<double>{0.05 / 5., 0.5 / 5.}));
  EXPECT_EQ(sched.base_lrs(), (std::vector<double>{0.05 / 5., 0.5 / 5.}));
  EXPECT_EQ(sched.total_steps(), 10);
  L::OneCycleLR epochs(sgd(), L::OneCycleLROptions(0.1).epochs(3).steps_per_epoch(7));
  EXPECT_EQ(epochs.total_steps(), 21);
  // total_steps wins over epochs * steps_per_epoch, as in PyTorch.
  L::OneCycleLR both(sgd(), L::OneCycleLROptions(0.1).total_steps(5).epochs(3).steps_per_epoch(7));
  EXPECT_EQ(both.total_steps(), 5);
}

TEST(OneCycleLR, StateDictHasPyTorchKeysAndTypes) {
  auto adam = std::make_shared<optim::Adam>(params(), optim::AdamOptions(0.5));
  L::OneCycleLR sched(adam, L::OneCycleLROptions(0.1).total_steps(10));
  const auto s = sched.state_dict();
  for (const char* key :
       {"total_steps", "_schedule_phases", "anneal_func", "cycle_momentum", "use_beta1", "base_lrs",
        "last_epoch", "verbose", "_step_count", "_get_lr_called_within_step", "_last_lr"}) {
    EXPECT_TRUE(s.contains(key)) << key;
  }
  EXPECT_EQ(entry(s, "total_steps").toInt(), 10);
  EXPECT_EQ(entry(s, "anneal_func").toStringRef(), "cos");
  EXPECT_TRUE(entry(s, "use_beta1").toBool());
  // As printed by PyTorch 1.13 for OneCycleLR(opt, 0.1, total_steps=10):
  // [{'end_step': 2.0, 'start_lr': 'initial_lr', 'end_lr': 'max_lr',
  //   'start_momentum': 'max_momentum', 'end_momentum': 'base_momentum'},
  //  {'end_step': 9, 'start_lr': 'max_lr', 'end_lr': 'min_lr',
  //   'start_momentum': 'base_momentum', 'end_momentum': 'max_momentum'}]
  const auto phases = entry(s, "_schedule_phases").toList();
  ASSERT_EQ(phases.size(), 2u);
  const auto p0 = phases.get(0).toGenericDict();
  const auto p1 = phases.get(1).toGenericDict();
  EXPECT_TRUE(entry(p0, "end_step").isDouble());
  EXPECT_EQ(entry(p0, "end_step").toDouble(), 2.0);
  EXPECT_EQ(entry(p0, "start_lr").toStringRef(), "initial_lr");
  EXPECT_EQ(entry(p0, "end_lr").toStringRef(), "max_lr");
  EXPECT_EQ(entry(p0, "start_momentum").toStringRef(), "max_momentum");
  EXPECT_EQ(entry(p0, "end_momentum").toStringRef(), "base_momentum");
  EXPECT_TRUE(entry(p1, "end_step").isInt());
  EXPECT_EQ(entry(p1, "end_step").toInt(), 9);
  EXPECT_EQ(entry(p1, "end_lr").toStringRef(), "min_lr");
  // PyTorch's first rate: 0.0040000000000000036, not 0.004.
  EXPECT_EQ(sched.get_last_lr()[0], 0.0040000000000000036);

  L::OneCycleLR plain(sgd(), L::OneCycleLROptions(0.1)
                                 .total_steps(10)
                                 .cycle_momentum(false)
                                 .anneal_strategy("linear")
                                 .three_phase(true));
  const auto t = plain.state_dict();
  EXPECT_FALSE(t.contains("use_beta1"));
  EXPECT_EQ(entry(t, "anneal_func").toStringRef(), "linear");
  EXPECT_EQ(entry(t, "_schedule_phases").toList().size(), 3u);
}

TEST(OneCycleLR, Errors) {
  EXPECT_LIGHTNING_ERROR(L::OneCycleLR(sgd(), L::OneCycleLROptions(0.1)),
                         "You must define either total_steps OR (epochs AND steps_per_epoch)");
  EXPECT_LIGHTNING_ERROR(L::OneCycleLR(sgd(), L::OneCycleLROptions(0.1).epochs(3)),
                         "You must define either total_steps OR (epochs AND steps_per_epoch)");
  EXPECT_LIGHTNING_ERROR(L::OneCycleLR(sgd(), L::OneCycleLROptions(0.1).total_steps(0)),
                         "Expected positive integer total_steps, but got 0");
  EXPECT_LIGHTNING_ERROR(
      L::OneCycleLR(sgd(), L::OneCycleLROptions(0.1).epochs(-1).steps_per_epoch(3)),
      "Expected positive integer epochs, but got -1");
  EXPECT_LIGHTNING_ERROR(
      L::OneCycleLR(sgd(), L::OneCycleLROptions(0.1).epochs(2).steps_per_epoch(0)),
      "Expected positive integer steps_per_epoch, but got 0");
  EXPECT_LIGHTNING_ERROR(
      L::OneCycleLR(sgd(), L::OneCycleLROptions(0.1).total_steps(10).pct_start(1.5)),
      "Expected float between 0 and 1 pct_start, but got 1.5");
  EXPECT_LIGHTNING_ERROR(
      L::OneCycleLR(sgd(), L::OneCycleLROptions(0.1).total_steps(10).pct_start(-0.1)),
      "Expected float between 0 and 1 pct_start");
  EXPECT_LIGHTNING_ERROR(
      L::OneCycleLR(sgd(), L::OneCycleLROptions(0.1).total_steps(10).anneal_strategy("cosine")),
      "anneal_strategy must be one of 'cos' or 'linear', instead got 'cosine'");
  EXPECT_LIGHTNING_ERROR(
      L::OneCycleLR(sgd_groups({0.1, 0.2}), L::OneCycleLROptions({0.1, 0.2, 0.3}).total_steps(10)),
      "expected 2 values for max_lr, got 3");
  EXPECT_LIGHTNING_ERROR(
      L::OneCycleLR(sgd_groups({0.1, 0.2}),
                    L::OneCycleLROptions(0.1).total_steps(10).max_momentum({0.9, 0.95, 0.99})),
      "expected 2 values for max_momentum, got 3");
  auto adagrad = std::make_shared<optim::Adagrad>(params(), optim::AdagradOptions(0.5));
  EXPECT_LIGHTNING_ERROR(L::OneCycleLR(adagrad, L::OneCycleLROptions(0.1).total_steps(10)),
                         "optimizer must support momentum with `cycle_momentum` option enabled");
  EXPECT_FALSE(L::detail::initial_lrs(*adagrad).has_value());
  L::OneCycleLR ok(adagrad, L::OneCycleLROptions(0.1).total_steps(10).cycle_momentum(false));
  EXPECT_DOUBLE_EQ(L::get_lr(*adagrad), 0.1 / 25);
  // pct_start * total_steps == 1: an empty first phase, where PyTorch divides by zero.
  EXPECT_LIGHTNING_ERROR(
      L::OneCycleLR(sgd(), L::OneCycleLROptions(0.1).total_steps(10).pct_start(0.1)),
      "division by zero");
}

TEST(OneCycleLR, SteppingPastTotalStepsFails) {
  L::OneCycleLR sched(sgd(), L::OneCycleLROptions(0.1).total_steps(4));
  for (int i = 0; i < 4; ++i) sched.step();  // up to last_epoch == total_steps, as PyTorch
  EXPECT_LIGHTNING_ERROR(sched.step(),
                         "Tried to step 6 times. The specified number of total steps is 4");
  EXPECT_LIGHTNING_ERROR(sched.step(), "estimated_stepping_batches");
}

TEST(OneCycleLR, LoadStateDictNamesBadKeys) {
  L::OneCycleLR a(sgd(), L::OneCycleLROptions(0.1).total_steps(10));
  L::OneCycleLR b(sgd(), L::OneCycleLROptions(0.1).total_steps(10));
  EXPECT_LIGHTNING_ERROR(b.load_state_dict(without(a.state_dict(), "_schedule_phases")),
                         "\"_schedule_phases\"");
  auto s = a.state_dict();
  s.insert_or_assign("anneal_func", std::string("cubic"));
  EXPECT_LIGHTNING_ERROR(b.load_state_dict(s), "\"anneal_func\"");
}

TEST(OneCycleLR, LoadedTotalStepsWin) {
  // As PyTorch's __dict__.update: the saved schedule replaces the built one.
  L::OneCycleLR a(sgd(), L::OneCycleLROptions(0.1).total_steps(30));
  L::OneCycleLR b(sgd(), L::OneCycleLROptions(0.1).total_steps(10));
  for (int i = 0; i < 12; ++i) a.step();
  b.load_state_dict(a.state_dict());
  EXPECT_EQ(b.total_steps(), 30);
  for (int i = 0; i < 18; ++i) {
    a.step();
    b.step();
    EXPECT_EQ(a.get_last_lr(), b.get_last_lr());
  }
}

// -------------------------------------------------------- ReduceLROnPlateau

TEST(ReduceLROnPlateau, ConstructionLeavesRatesAlone) {
  auto opt = sgd_groups({0.3, 0.6});
  L::ReduceLROnPlateau sched(opt, L::ReduceLROnPlateauOptions().min_lr({0.01, 0.02}));
  EXPECT_EQ(L::get_lr(*opt, 0), 0.3);
  EXPECT_EQ(L::get_lr(*opt, 1), 0.6);
  EXPECT_EQ(sched.get_last_lr(), (std::vector<double>{0.3, 0.6}));
  EXPECT_EQ(sched.base_lrs(), (std::vector<double>{0.3, 0.6}));
  EXPECT_EQ(sched.last_epoch(), 0);
  EXPECT_TRUE(sched.reduce_on_plateau());
  EXPECT_EQ(sched.best(), std::numeric_limits<double>::infinity());
  EXPECT_FALSE(L::detail::initial_lrs(*opt).has_value());  // PyTorch sets no initial_lr
  // get_last_lr follows the groups after each step.
  for (int i = 0; i < 12; ++i) sched.step(1.0);
  EXPECT_EQ(sched.get_last_lr(), (std::vector<double>{0.03, 0.06}));
}

TEST(ReduceLROnPlateau, StateDictHasPyTorchKeys) {
  auto opt = sgd();
  L::ReduceLROnPlateau sched(opt, L::ReduceLROnPlateauOptions().mode("max"));
  sched.step(3.0);
  const auto s = sched.state_dict();
  // PyTorch 1.13 after one step: {'factor': 0.1, 'min_lrs': [0], 'patience': 10,
  // 'verbose': False, 'cooldown': 0, 'cooldown_counter': 0, 'mode': 'max',
  // 'threshold': 0.0001, 'threshold_mode': 'rel', 'best': 3.0, 'num_bad_epochs': 0,
  // 'mode_worse': -inf, 'eps': 1e-08, 'last_epoch': 1, '_last_lr': [0.5]}
  const std::vector<std::string> keys = {
      "factor",           "min_lrs",    "patience",  "verbose",        "cooldown",
      "cooldown_counter", "mode",       "threshold", "threshold_mode", "best",
      "num_bad_epochs",   "mode_worse", "eps",       "last_epoch",     "_last_lr"};
  size_t i = 0;
  for (const auto& entry : s) {
    if (i < keys.size()) {
      EXPECT_EQ(entry.key().toStringRef(), keys[i]) << i;
    }
    ++i;
  }
  EXPECT_EQ(entry(s, "factor").toDouble(), 0.1);
  EXPECT_EQ(entry(s, "patience").toInt(), 10);
  EXPECT_FALSE(entry(s, "verbose").toBool());
  EXPECT_EQ(entry(s, "mode").toStringRef(), "max");
  EXPECT_EQ(entry(s, "best").toDouble(), 3.0);
  EXPECT_EQ(entry(s, "num_bad_epochs").toInt(), 0);
  EXPECT_EQ(entry(s, "mode_worse").toDouble(), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(entry(s, "eps").toDouble(), 1e-8);
  EXPECT_EQ(entry(s, "last_epoch").toInt(), 1);
  EXPECT_EQ(L::state_doubles(s, "_last_lr", "test"), (std::vector<double>{0.5}));
  EXPECT_EQ(L::state_doubles(s, "min_lrs", "test"), (std::vector<double>{0.0}));
}

TEST(ReduceLROnPlateau, LoadsAStateWithPyTorchKeysOnly) {
  L::ReduceLROnPlateau a(sgd(1.0), L::ReduceLROnPlateauOptions().patience(1).factor(0.5));
  for (double m : {3.0, 2.0, 2.5, 2.5, 2.5}) a.step(m);
  auto s = a.state_dict();
  for (const char* key : {"base_lrs", "_step_count", "_get_lr_called_within_step"}) {
    s = without(s, key);
  }
  auto opt = sgd(1.0);
  L::ReduceLROnPlateau b(opt, L::ReduceLROnPlateauOptions());
  b.load_state_dict(s);
  EXPECT_EQ(L::get_lr(*opt), a.get_last_lr()[0]);
  EXPECT_EQ(b.best(), 2.0);
  EXPECT_EQ(b.last_epoch(), 5);
  for (double m : {2.5, 2.5, 1.0, 1.5, 1.5}) {
    a.step(m);
    b.step(m);
    EXPECT_EQ(a.get_last_lr(), b.get_last_lr());
    EXPECT_EQ(a.num_bad_epochs(), b.num_bad_epochs());
  }
  auto bad = a.state_dict();
  bad.insert_or_assign("mode", std::string("lowest"));
  EXPECT_LIGHTNING_ERROR(b.load_state_dict(bad), "mode lowest is unknown");
  EXPECT_LIGHTNING_ERROR(b.load_state_dict(without(a.state_dict(), "best")), "\"best\"");
}

TEST(ReduceLROnPlateau, Errors) {
  EXPECT_LIGHTNING_ERROR(L::ReduceLROnPlateau(sgd(), L::ReduceLROnPlateauOptions().factor(1.0)),
                         "Factor should be < 1.0");
  EXPECT_LIGHTNING_ERROR(L::ReduceLROnPlateau(sgd(), L::ReduceLROnPlateauOptions().factor(2.0)),
                         "Factor should be < 1.0");
  EXPECT_LIGHTNING_ERROR(L::ReduceLROnPlateau(sgd(), L::ReduceLROnPlateauOptions().mode("lowest")),
                         "mode lowest is unknown");
  EXPECT_LIGHTNING_ERROR(
      L::ReduceLROnPlateau(sgd(), L::ReduceLROnPlateauOptions().threshold_mode("relative")),
      "threshold mode relative is unknown");
  EXPECT_LIGHTNING_ERROR(
      L::ReduceLROnPlateau(sgd_groups({0.1, 0.2}), L::ReduceLROnPlateauOptions().min_lr({0, 0, 0})),
      "expected 2 min_lrs, got 3");
  L::ReduceLROnPlateau sched(sgd(), L::ReduceLROnPlateauOptions());
  EXPECT_LIGHTNING_ERROR(sched.step(), "step(metric)");
  EXPECT_LIGHTNING_ERROR(sched.step(), "SchedulerConfig().monitor(");
  L::LRScheduler& base = sched;
  EXPECT_LIGHTNING_ERROR(base.step(), "needs the monitored metric");
}

TEST(ReduceLROnPlateau, VerbosePrintsLikePyTorch) {
  L::ReduceLROnPlateau sched(sgd(1.0), L::ReduceLROnPlateauOptions().patience(0).verbose(true));
  ::testing::internal::CaptureStdout();
  sched.step(1.0);
  sched.step(1.0);
  const std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(out, "Epoch 00002: reducing learning rate of group 0 to 1.0000e-01.\n");
}
