// Optimizer state in PyTorch's layout, checked against PyTorch 1.13 itself:
// tests/checkpoint/optimizer_state_reference.py runs the same optimizers on
// the same parameters and gradients and prints optimizer.state_dict() as
// text, which this test parses into IValues and compares with
// `optimizer_state_dict` (keys, Python types, values). Python also loads the
// state lightning.cpp writes and continues from it; lightning.cpp loads
// Python's and continues; a save/load round trip continues bit for bit; and
// every mismatch raises a lightning::Error that says what differs.
#include "lightning/checkpoint/optimizer_state.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <torch/optim/adagrad.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/lbfgs.h>
#include <torch/optim/rmsprop.h>
#include <torch/optim/sgd.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "detail/torch_compat.h"
#include "lightning/optim/step_lr.h"
#include "support/errors.h"
#include "support/python.h"
#include "support/temp_dir.h"

#ifndef LIGHTNING_CHECKPOINT_TEST_DIR
#error "LIGHTNING_CHECKPOINT_TEST_DIR must name tests/checkpoint (see tests/CMakeLists.txt)"
#endif

namespace L = lightning;
namespace O = torch::optim;

namespace {

using c10::IValue;
using OptimizerPtr = std::shared_ptr<O::Optimizer>;

using lightning::testing::kPython;

// ------------------------------------------------------------------------
// The cases (mirror CASES and the helpers in optimizer_state_reference.py)

const std::vector<std::vector<int64_t>> kShapes = {{2, 3}, {3}, {2, 2}, {2}};
const std::vector<std::vector<size_t>> kGroups = {{0, 1}, {2, 3}};
constexpr size_t kNoGrad = 3;  // never gets a gradient

double weight(int64_t i, int64_t j) { return static_cast<double>((7 * i + 3 * j) % 11 - 5) / 8.0; }

double gradient(int64_t step, int64_t i, int64_t j) {
  return static_cast<double>((5 * step + 3 * i + 7 * j) % 13 - 6) / 16.0;
}

at::Tensor filled(const std::vector<int64_t>& shape, const std::function<double(int64_t)>& f) {
  at::Tensor t = torch::empty(shape, torch::kFloat32);
  auto flat = t.view({-1});
  for (int64_t j = 0; j < flat.numel(); ++j) flat[j] = f(j);
  return t;
}

std::vector<at::Tensor> initial_params() {
  std::vector<at::Tensor> out;
  for (size_t i = 0; i < kShapes.size(); ++i) {
    out.push_back(
        filled(kShapes[i], [i](int64_t j) { return weight(static_cast<int64_t>(i), j); }));
  }
  return out;
}

const std::vector<std::string> kCases = {"sgd_nesterov", "sgd_plain",        "sgd_dampening",
                                         "adam",         "adam_amsgrad",     "adamw",
                                         "adagrad",      "rmsprop_centered", "rmsprop_momentum"};

struct Trial {
  OptimizerPtr optimizer;
  std::vector<at::Tensor> params;
};

// `Opt` over two groups of fresh copies of `params`; the constructor's
// defaults are group 0's options, as in the Python script.
template <typename Opt, typename Options>
Trial build(const std::vector<at::Tensor>& params, const Options& g0, const Options& g1) {
  Trial run;
  for (const auto& p : params) run.params.push_back(p.detach().clone().requires_grad_(true));
  std::vector<O::OptimizerParamGroup> groups;
  const Options* options[] = {&g0, &g1};
  for (size_t g = 0; g < kGroups.size(); ++g) {
    std::vector<at::Tensor> ps;
    for (size_t i : kGroups[g]) ps.push_back(run.params[i]);
    groups.emplace_back(ps, std::make_unique<Options>(*options[g]));
  }
  run.optimizer = std::make_shared<Opt>(std::move(groups), g0);
  // libtorch 2.x (not 1.13) lets a group's option that equals the options
  // class's default (weight_decay(0.0), amsgrad(false), ...) take the
  // optimizer's default instead, unlike Python, where a key given in a group
  // is kept: set each group's options again after construction.
  for (size_t g = 0; g < kGroups.size(); ++g) {
    run.optimizer->param_groups()[g].set_options(std::make_unique<Options>(*options[g]));
  }
  return run;
}

// The case's optimizer; with `defaults`, both groups get other options (the
// type's defaults), which loading a state must overwrite.
Trial make_case(const std::string& name, const std::vector<at::Tensor>& params,
                bool defaults = false) {
  if (name.rfind("sgd", 0) == 0) {
    O::SGDOptions g0(0.1), g1(0.1);
    if (name == "sgd_nesterov") {
      g0 = O::SGDOptions(0.1).momentum(0.9).dampening(0.0).weight_decay(0.01).nesterov(true);
      g1 = O::SGDOptions(0.05).momentum(0.5).dampening(0.0).weight_decay(0.0).nesterov(true);
    } else if (name == "sgd_plain") {
      g0 = O::SGDOptions(0.1).momentum(0.0).dampening(0.0).weight_decay(0.0).nesterov(false);
      g1 = O::SGDOptions(0.2).momentum(0.0).dampening(0.0).weight_decay(0.1).nesterov(false);
    } else if (name == "sgd_dampening") {
      g0 = O::SGDOptions(0.1).momentum(0.9).dampening(0.1).weight_decay(0.0).nesterov(false);
      g1 = O::SGDOptions(0.3).momentum(0.0).dampening(0.0).weight_decay(0.01).nesterov(false);
    } else {
      ADD_FAILURE() << "unknown case " << name;
    }
    if (defaults) g0 = g1 = O::SGDOptions(1.0);
    return build<O::SGD>(params, g0, g1);
  }
  if (name == "adam" || name == "adam_amsgrad") {
    O::AdamOptions g0, g1;
    if (name == "adam") {
      g0 = O::AdamOptions(0.01).betas({0.9, 0.999}).eps(1e-8).weight_decay(0.0).amsgrad(false);
      g1 = O::AdamOptions(0.02).betas({0.8, 0.99}).eps(1e-6).weight_decay(0.1).amsgrad(false);
    } else {
      g0 = O::AdamOptions(0.01).betas({0.9, 0.999}).eps(1e-8).weight_decay(0.01).amsgrad(true);
      g1 = O::AdamOptions(0.03).betas({0.5, 0.9}).eps(1e-7).weight_decay(0.0).amsgrad(false);
    }
    if (defaults) g0 = g1 = O::AdamOptions();
    return build<O::Adam>(params, g0, g1);
  }
  if (name == "adamw") {
    auto g0 = O::AdamWOptions(0.01).betas({0.9, 0.999}).eps(1e-8).weight_decay(0.01).amsgrad(false);
    auto g1 = O::AdamWOptions(0.02).betas({0.8, 0.99}).eps(1e-6).weight_decay(0.1).amsgrad(true);
    if (defaults) g0 = g1 = O::AdamWOptions();
    return build<O::AdamW>(params, g0, g1);
  }
  if (name == "adagrad") {
    auto g0 =
        O::AdagradOptions(0.1).lr_decay(0.01).weight_decay(0.0).initial_accumulator_value(0.1).eps(
            1e-10);
    auto g1 =
        O::AdagradOptions(0.05).lr_decay(0.0).weight_decay(0.1).initial_accumulator_value(0.0).eps(
            1e-8);
    if (defaults) g0 = g1 = O::AdagradOptions();
    return build<O::Adagrad>(params, g0, g1);
  }
  if (name == "rmsprop_centered" || name == "rmsprop_momentum") {
    O::RMSpropOptions g0, g1;
    if (name == "rmsprop_centered") {
      g0 = O::RMSpropOptions(0.01).alpha(0.99).eps(1e-8).weight_decay(0.0).momentum(0.9).centered(
          true);
      g1 = O::RMSpropOptions(0.02).alpha(0.9).eps(1e-6).weight_decay(0.1).momentum(0.0).centered(
          false);
    } else {
      g0 = O::RMSpropOptions(0.01).alpha(0.95).eps(1e-8).weight_decay(0.01).momentum(0.5).centered(
          false);
      g1 = O::RMSpropOptions(0.02).alpha(0.9).eps(1e-6).weight_decay(0.0).momentum(0.0).centered(
          true);
    }
    if (defaults) g0 = g1 = O::RMSpropOptions();
    return build<O::RMSprop>(params, g0, g1);
  }
  ADD_FAILURE() << "unknown case " << name;
  return {};
}

void run_steps(Trial& run, int64_t first, int64_t last) {
  for (int64_t step = first; step <= last; ++step) {
    for (size_t i = 0; i < run.params.size(); ++i) {
      at::Tensor& p = run.params[i];
      if (i == kNoGrad) {
        p.mutable_grad() = at::Tensor();
        continue;
      }
      p.mutable_grad() = filled(p.sizes().vec(), [step, i](int64_t j) {
        return gradient(step, static_cast<int64_t>(i), j);
      });
    }
    run.optimizer->step();
  }
}

IValue params_ivalue(const std::vector<at::Tensor>& params) {
  c10::impl::GenericList list(c10::AnyType::get());
  for (const auto& p : params) list.push_back(p.detach());
  return list;
}

// ------------------------------------------------------------------------
// The text format of optimizer_state_reference.py (see its docstring)

std::string python_type(const IValue& v) {
  if (v.isNone()) return "None";
  if (v.isBool()) return "bool";
  if (v.isInt()) return "int";
  if (v.isDouble()) return "float";
  if (v.isString()) return "str";
  if (v.isTensor()) return "tensor";
  if (v.isTuple()) return "tuple";
  if (v.isList()) return "list";
  if (v.isGenericDict()) return "dict";
  return std::string("<") + v.tagKind() + ">";
}

std::string dtype_name(at::ScalarType t) {
  switch (t) {
    case at::kFloat:
      return "float32";
    case at::kDouble:
      return "float64";
    case at::kLong:
      return "int64";
    default:
      return std::string("<") + c10::toString(t) + ">";
  }
}

at::ScalarType dtype_of(const std::string& name) {
  if (name == "float32") return at::kFloat;
  if (name == "float64") return at::kDouble;
  if (name == "int64") return at::kLong;
  throw std::runtime_error("unknown dtype " + name);
}

std::string repr(double d) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.17g", d);
  return buf;
}

void write_value(const IValue& v, std::ostream& out, int indent = 0) {
  const std::string pad(static_cast<size_t>(2 * indent), ' ');
  if (v.isNone()) {
    out << pad << "None\n";
  } else if (v.isBool()) {
    out << pad << "bool " << (v.toBool() ? "True" : "False") << "\n";
  } else if (v.isInt()) {
    out << pad << "int " << v.toInt() << "\n";
  } else if (v.isDouble()) {
    out << pad << "float " << repr(v.toDouble()) << "\n";
  } else if (v.isString()) {
    out << pad << "str " << v.toStringRef() << "\n";
  } else if (v.isTensor()) {
    const at::Tensor t = v.toTensor().detach().contiguous();
    out << pad << "tensor " << dtype_name(t.scalar_type()) << " " << t.dim();
    for (int64_t d : t.sizes()) out << " " << d;
    const at::Tensor flat = t.reshape({-1});
    for (int64_t j = 0; j < flat.numel(); ++j) {
      if (t.is_floating_point()) {
        out << " " << repr(flat[j].item<double>());
      } else {
        out << " " << flat[j].item<int64_t>();
      }
    }
    out << "\n";
  } else if (v.isTuple()) {
    const auto& e = v.toTupleRef().elements();
    out << pad << "tuple " << e.size() << "\n";
    for (const auto& x : e) write_value(x, out, indent + 1);
  } else if (v.isList()) {
    const auto e = v.toListRef();
    out << pad << "list " << e.size() << "\n";
    for (const auto& x : e) write_value(x, out, indent + 1);
  } else if (v.isGenericDict()) {
    const auto d = v.toGenericDict();
    out << pad << "dict " << d.size() << "\n";
    for (const auto& entry : d) {
      write_value(entry.key(), out, indent + 1);
      write_value(entry.value(), out, indent + 2);
    }
  } else {
    throw std::runtime_error("cannot write a " + python_type(v));
  }
}

class Tokens {
 public:
  explicit Tokens(const std::string& text) {
    std::istringstream in(text);
    std::string t;
    while (in >> t) items_.push_back(t);
  }
  std::string next() {
    if (pos_ >= items_.size()) throw std::runtime_error("reference text ends early");
    return items_[pos_++];
  }
  int64_t next_int() { return std::stoll(next()); }
  double next_double() {
    const std::string s = next();
    char* end = nullptr;
    const double d = std::strtod(s.c_str(), &end);
    if (end != s.c_str() + s.size()) throw std::runtime_error("bad float in reference: " + s);
    return d;
  }
  bool done() const { return pos_ >= items_.size(); }

 private:
  std::vector<std::string> items_;
  size_t pos_ = 0;
};

IValue read_value(Tokens& tokens) {
  const std::string kind = tokens.next();
  if (kind == "None") return IValue();
  if (kind == "bool") return IValue(tokens.next() == "True");
  if (kind == "int") return IValue(tokens.next_int());
  if (kind == "float") return IValue(tokens.next_double());
  if (kind == "str") return IValue(tokens.next());
  if (kind == "tensor") {
    const at::ScalarType dtype = dtype_of(tokens.next());
    const int64_t ndim = tokens.next_int();
    std::vector<int64_t> dims;
    int64_t n = 1;
    for (int64_t d = 0; d < ndim; ++d) {
      dims.push_back(tokens.next_int());
      n *= dims.back();
    }
    std::vector<double> values;
    for (int64_t j = 0; j < n; ++j) values.push_back(tokens.next_double());
    return torch::tensor(values, torch::kFloat64).to(dtype).reshape(dims);
  }
  if (kind == "tuple" || kind == "list") {
    const int64_t n = tokens.next_int();
    std::vector<IValue> items;
    for (int64_t j = 0; j < n; ++j) items.push_back(read_value(tokens));
    if (kind == "tuple") return c10::ivalue::Tuple::create(std::move(items));
    c10::impl::GenericList list(c10::AnyType::get());
    for (auto& x : items) list.push_back(std::move(x));
    return list;
  }
  if (kind == "dict") {
    const int64_t n = tokens.next_int();
    std::vector<std::pair<IValue, IValue>> entries;
    for (int64_t j = 0; j < n; ++j) {
      IValue k = read_value(tokens);
      IValue v = read_value(tokens);
      entries.emplace_back(std::move(k), std::move(v));
    }
    // Python's "state" has int keys, everything else str keys.
    const bool int_keys = !entries.empty() && entries.front().first.isInt();
    const c10::TypePtr key_type =
        int_keys ? c10::TypePtr(c10::IntType::get()) : c10::TypePtr(c10::StringType::get());
    c10::impl::GenericDict d(key_type, c10::AnyType::get());
    for (auto& [k, v] : entries) d.insert(std::move(k), std::move(v));
    return d;
  }
  throw std::runtime_error("unknown value kind in reference: " + kind);
}

// Records of one case: label -> value.
using Case = std::map<std::string, IValue>;

std::map<std::string, Case> read_cases(const std::string& text) {
  std::map<std::string, Case> out;
  Tokens tokens(text);
  while (!tokens.done()) {
    if (tokens.next() != "case") throw std::runtime_error("reference: expected `case`");
    Case& c = out[tokens.next()];
    for (std::string label = tokens.next(); label != "end"; label = tokens.next()) {
      c[label] = read_value(tokens);
    }
  }
  return out;
}

// ------------------------------------------------------------------------
// Comparing values: same Python types, same keys, numbers equal, tensors
// within `rtol` (0: bit for bit).

void compare(const IValue& expected, const IValue& actual, const std::string& path, double rtol,
             std::vector<std::string>& diffs, double* worst = nullptr) {
  const std::string te = python_type(expected), ta = python_type(actual);
  if (te != ta) {
    diffs.push_back(path + ": expected a " + te + ", got a " + ta);
    return;
  }
  if (expected.isNone()) return;
  if (expected.isBool() || expected.isInt() || expected.isDouble() || expected.isString()) {
    if (expected != actual) {
      std::ostringstream s;
      s << path << ": expected " << expected << ", got " << actual;
      diffs.push_back(s.str());
    }
    return;
  }
  if (expected.isTensor()) {
    const at::Tensor e = expected.toTensor().detach(), a = actual.toTensor().detach();
    if (e.scalar_type() != a.scalar_type() || e.sizes() != a.sizes()) {
      std::ostringstream s;
      s << path << ": expected a " << dtype_name(e.scalar_type()) << " tensor of shape "
        << e.sizes() << ", got a " << dtype_name(a.scalar_type()) << " of shape " << a.sizes();
      diffs.push_back(s.str());
      return;
    }
    const at::Tensor ed = e.to(at::kDouble).reshape({-1}), ad = a.to(at::kDouble).reshape({-1});
    for (int64_t j = 0; j < ed.numel(); ++j) {
      const double x = ed[j].item<double>(), y = ad[j].item<double>();
      const double rel = x == y ? 0.0 : std::abs(x - y) / std::max(std::abs(x), 1e-30);
      if (worst != nullptr) *worst = std::max(*worst, rel);
      // Below 1e-9 apart counts as equal: torch 2.x's Python optimizers run
      // fused/foreach kernels that round float32 differently from libtorch's
      // per-parameter loop, which matters relatively only near zero.
      if (rtol == 0 ? x != y : rel > rtol && std::abs(x - y) > 1e-9) {
        std::ostringstream s;
        s.precision(17);
        s << path << "[" << j << "]: expected " << x << ", got " << y << " (relative " << rel
          << ")";
        diffs.push_back(s.str());
      }
    }
    return;
  }
  if (expected.isTuple() || expected.isList()) {
    std::vector<IValue> e, a;
    if (expected.isTuple()) {
      for (const auto& x : expected.toTupleRef().elements()) e.push_back(x);
      for (const auto& x : actual.toTupleRef().elements()) a.push_back(x);
    } else {
      for (const auto& x : expected.toListRef()) e.push_back(x);
      for (const auto& x : actual.toListRef()) a.push_back(x);
    }
    if (e.size() != a.size()) {
      diffs.push_back(path + ": expected " + std::to_string(e.size()) + " items, got " +
                      std::to_string(a.size()));
      return;
    }
    for (size_t i = 0; i < e.size(); ++i) {
      compare(e[i], a[i], path + "[" + std::to_string(i) + "]", rtol, diffs, worst);
    }
    return;
  }
  const auto de = expected.toGenericDict(), da = actual.toGenericDict();
  auto key_text = [](const IValue& k) {
    return k.isString() ? "\"" + k.toStringRef() + "\"" : std::to_string(k.toInt());
  };
  for (const auto& entry : de) {
    auto it = da.find(entry.key());
    if (it == da.end()) {
      diffs.push_back(path + ": missing key " + key_text(entry.key()));
      continue;
    }
    compare(entry.value(), it->value(), path + "[" + key_text(entry.key()) + "]", rtol, diffs,
            worst);
  }
  for (const auto& entry : da) {
    if (de.find(entry.key()) == de.end()) {
      diffs.push_back(path + ": unexpected key " + key_text(entry.key()));
    }
  }
}

std::string join(const std::vector<std::string>& lines, size_t limit = 20) {
  std::string out;
  for (size_t i = 0; i < lines.size() && i < limit; ++i) out += "  " + lines[i] + "\n";
  if (lines.size() > limit) out += "  ... " + std::to_string(lines.size() - limit) + " more\n";
  return out;
}

#define EXPECT_SAME_VALUE(expected, actual, rtol)                                    \
  do {                                                                               \
    std::vector<std::string> diffs_;                                                 \
    compare((expected), (actual), "", (rtol), diffs_);                               \
    EXPECT_TRUE(diffs_.empty()) << #actual << " differs from " << #expected << ":\n" \
                                << join(diffs_);                                     \
  } while (0)

// Python's SGD records {"momentum_buffer": None} for every stepped parameter
// of a group without momentum; libtorch keeps no state there, and
// `optimizer_state_dict` writes none. Both load to the same optimizer; the
// comparisons drop those entries from Python's side.
// Python's state_dict as optimizer_state_dict writes it: without SGD's None
// momentum buffers, and without the param_groups keys that torch 2.x added
// after 1.13 ("fused", "decoupled_weight_decay", and "differentiable" where
// 1.13 had none; Adam's "fused" None, 1.13's False, reads as False), where `ours` (what
// lightning.cpp wrote for the same optimizer) has no such key and they hold the value Python's
// load_state_dict fills in for a missing key (None or false; AdamW forces
// decoupled_weight_decay to true), so that leaving them out loses nothing. A
// key with any other value stays and fails the comparison.
IValue as_we_write(const IValue& state_dict, const IValue& ours) {
  L::StateDict out = L::make_state_dict();
  const auto sd = state_dict.toGenericDict();
  c10::impl::GenericDict state(c10::IntType::get(), c10::AnyType::get());
  const auto our_state = ours.toGenericDict().at("state").toGenericDict();
  for (const auto& entry : sd.at("state").toGenericDict()) {
    const auto s = entry.value().toGenericDict();
    const auto it = s.find("momentum_buffer");
    if (s.size() == 1 && it != s.end() && it->value().isNone()) continue;
    // RMSprop's "step": a number in 1.13's layout (which we write), a
    // one-element tensor in 2.x's; Python's load_state_dict takes either.
    const auto step = s.find("step");
    const auto mine = our_state.find(entry.key());
    if (step != s.end() && step->value().isTensor() && mine != our_state.end() &&
        mine->value().toGenericDict().contains("step") &&
        mine->value().toGenericDict().at("step").isInt()) {
      auto copy = s.copy();
      copy.insert_or_assign("step", step->value().toTensor().item<double>());
      if (copy.at("step").toDouble() ==
          static_cast<double>(mine->value().toGenericDict().at("step").toInt())) {
        copy.insert_or_assign("step", mine->value().toGenericDict().at("step"));
      }
      state.insert(entry.key(), copy);
      continue;
    }
    state.insert(entry.key(), entry.value());
  }
  out.insert("state", state);
  c10::impl::GenericList groups(c10::AnyType::get());
  const auto& our_groups = ours.toGenericDict().at("param_groups").toListRef();
  for (size_t i = 0; i < sd.at("param_groups").toListRef().size(); ++i) {
    L::StateDict group = sd.at("param_groups").toListRef()[i].toGenericDict().copy();
    for (const char* key : {"fused", "decoupled_weight_decay", "differentiable", "capturable"}) {
      const auto found = group.find(key);
      if (found == group.end()) continue;
      if (i < our_groups.size() && our_groups[i].toGenericDict().contains(key)) {
        // Adam's "fused": 1.13's default False (which we write) became None
        // in 2.x; both mean "not fused".
        const IValue& mine = our_groups[i].toGenericDict().at(key);
        if (found->value().isNone() && mine.isBool() && !mine.toBool())
          group.insert_or_assign(key, false);
        continue;
      }
      const IValue& v = found->value();
      const bool fill_in =
          v.isNone() ||
          (v.isBool() && (!v.toBool() || std::string(key) == "decoupled_weight_decay"));
      if (fill_in) (void)group.erase(key);
    }
    groups.push_back(group);
  }
  out.insert("param_groups", groups);
  return out;
}

// ------------------------------------------------------------------------
// Running Python

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct CommandResult {
  int status;
  std::string output;
};

CommandResult run_command(const std::string& command) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return {-1, std::string("popen failed: ") + std::strerror(errno)};
  std::string output;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) output.append(buf, n);
  const int rc = ::pclose(pipe);
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, output};
}

// Empty when the tests' Python can import torch; otherwise what to do. The
// cross-checks fail rather than skip: a missing torch is a broken setup.
std::string python_problem() {
  const std::string fix =
      std::string(" To fix: ") + lightning::testing::kPythonSetup + " and rerun the tests.";
  if (::access(kPython, X_OK) != 0) {
    return std::string(kPython) + " is missing; the PyTorch cross-check needs it." + fix;
  }
  const CommandResult r = run_command(std::string(kPython) + " -c 'import torch' 2>&1");
  if (r.status != 0) return std::string(kPython) + " cannot import torch (" + r.output + ")." + fix;
  return "";
}

std::string reference_script() {
  return std::string(LIGHTNING_CHECKPOINT_TEST_DIR) + "/optimizer_state_reference.py";
}

// Python's output for `args`, or a failure.
std::optional<std::string> run_reference(const std::string& args) {
  const std::string problem = python_problem();
  if (!problem.empty()) {
    ADD_FAILURE() << problem;
    return std::nullopt;
  }
  const std::string err = ::testing::TempDir() + "/optimizer_state_reference.err";
  const CommandResult r = run_command(std::string(kPython) + " " + shell_quote(reference_script()) +
                                      " " + args + " 2>" + shell_quote(err));
  if (r.status != 0) {
    std::ifstream in(err);
    std::ostringstream s;
    s << in.rdbuf();
    ADD_FAILURE() << reference_script() << " " << args << " failed (" << r.status << "):\n"
                  << s.str();
    return std::nullopt;
  }
  return r.output;
}

// The reference cases, made once per process.
const std::map<std::string, Case>* python_reference() {
  static const std::optional<std::map<std::string, Case>> cases =
      []() -> std::optional<std::map<std::string, Case>> {
    auto text = run_reference("");
    if (!text) return std::nullopt;
    return read_cases(*text);
  }();
  if (!cases) ADD_FAILURE() << "no PyTorch reference (see the failure above)";
  return cases ? &*cases : nullptr;
}

const IValue& record(const Case& c, const std::string& label) {
  auto it = c.find(label);
  if (it == c.end()) throw std::runtime_error("reference case has no " + label);
  return it->second;
}

std::vector<at::Tensor> tensors(const IValue& list) {
  std::vector<at::Tensor> out;
  for (const auto& t : list.toListRef()) out.push_back(t.toTensor());
  return out;
}

// Relative differences seen between libtorch and PyTorch, printed at the end
// of the cross-check tests so a report can quote them.
void report_worst(const std::string& what, double worst) {
  std::cout << "[ info ] " << what << ": largest relative difference to PyTorch " << worst
            << (worst == 0 ? " (bit-identical)" : "") << "\n";
}

constexpr double kRtol = 1e-6;

// ------------------------------------------------------------------------
// Against PyTorch

TEST(OptimizerStateVsPyTorch, EveryCaseIsInTheReference) {
  const auto* ref = python_reference();
  ASSERT_NE(ref, nullptr);
  std::set<std::string> names;
  for (const auto& [name, c] : *ref) names.insert(name);
  EXPECT_EQ(names, std::set<std::string>(kCases.begin(), kCases.end()));
  for (const auto& [name, c] : *ref) {
    SCOPED_TRACE(name);
    EXPECT_SAME_VALUE(record(c, "params0"), params_ivalue(initial_params()), 0.0);
  }
}

TEST(OptimizerStateVsPyTorch, StateDictAfterThreeAndSixSteps) {
  const auto* ref = python_reference();
  ASSERT_NE(ref, nullptr);
  double worst = 0;
  for (const std::string& name : kCases) {
    SCOPED_TRACE(name);
    const Case& c = ref->at(name);
    Trial run = make_case(name, initial_params());
    for (int half = 0; half < 2; ++half) {
      run_steps(run, 1 + 3 * half, 3 + 3 * half);
      const std::string n = std::to_string(3 + 3 * half);
      std::vector<std::string> diffs;
      const IValue ours = L::optimizer_state_dict(*run.optimizer);
      compare(as_we_write(record(c, "state" + n), ours), ours, "state" + n, kRtol, diffs, &worst);
      compare(record(c, "params" + n), params_ivalue(run.params), "params" + n, kRtol, diffs,
              &worst);
      EXPECT_TRUE(diffs.empty()) << join(diffs);
    }
  }
  report_worst("libtorch's 6 steps", worst);
}

TEST(OptimizerStateVsPyTorch, PythonWritesNoneMomentumBuffersThatLoadAsNoState) {
  // The one place the layouts differ (see as_we_write).
  const auto* ref = python_reference();
  ASSERT_NE(ref, nullptr);
  // torch 1.13 writes {"momentum_buffer": None} for the parameters of a group
  // without momentum (parameter 2 here); 2.x writes no entry for them.
  const auto state = record(ref->at("sgd_dampening"), "state3").toGenericDict();
  const auto python = state.at("state").toGenericDict();
  if (python.contains(int64_t{2})) {
    const auto entry = python.at(int64_t{2}).toGenericDict();
    EXPECT_TRUE(entry.at("momentum_buffer").isNone());
  } else {
    EXPECT_EQ(python.size(), 2u);
  }

  Trial run = make_case("sgd_dampening", initial_params());
  run_steps(run, 1, 3);
  const auto ours = L::optimizer_state_dict(*run.optimizer).at("state").toGenericDict();
  EXPECT_EQ(ours.size(), 2u);  // parameters 0 and 1 (group 0 has momentum)
  EXPECT_TRUE(ours.contains(int64_t{0}));
  EXPECT_TRUE(ours.contains(int64_t{1}));
}

TEST(OptimizerStateVsPyTorch, LoadsPythonsStateAndContinuesAsPyTorch) {
  const auto* ref = python_reference();
  ASSERT_NE(ref, nullptr);
  double worst = 0;
  for (const std::string& name : kCases) {
    SCOPED_TRACE(name);
    const Case& c = ref->at(name);
    // Other hyperparameters than the saved ones: loading must restore them.
    Trial run = make_case(name, tensors(record(c, "params3")), /*defaults=*/true);
    L::load_optimizer_state_dict(*run.optimizer, record(c, "state3").toGenericDict());
    const IValue ours3 = L::optimizer_state_dict(*run.optimizer);
    EXPECT_SAME_VALUE(as_we_write(record(c, "state3"), ours3), ours3, 0.0);
    run_steps(run, 4, 6);
    std::vector<std::string> diffs;
    const IValue ours6 = L::optimizer_state_dict(*run.optimizer);
    compare(as_we_write(record(c, "state6"), ours6), ours6, "state6", kRtol, diffs, &worst);
    compare(record(c, "params6"), params_ivalue(run.params), "params6", kRtol, diffs, &worst);
    EXPECT_TRUE(diffs.empty()) << join(diffs);
  }
  report_worst("libtorch's steps 4-6 from PyTorch's state", worst);
}

TEST(OptimizerStateVsPyTorch, PythonLoadsOurStateAndContinuesAsLibtorch) {
  // lightning.cpp's state after 3 steps goes to Python's load_state_dict;
  // Python's state_dict() right after must be it exactly, and Python's
  // steps 4-6 must match libtorch's uninterrupted run.
  std::map<std::string, Trial> runs;
  std::ostringstream file;
  std::map<std::string, IValue> saved;
  for (const std::string& name : kCases) {
    Trial run = make_case(name, initial_params());
    run_steps(run, 1, 3);
    saved[name] = L::optimizer_state_dict(*run.optimizer);
    file << "case " << name << "\nparams3\n";
    write_value(params_ivalue(run.params), file, 1);
    file << "state3\n";
    write_value(saved[name], file, 1);
    file << "end\n";
    runs[name] = std::move(run);
  }
  L::testing::TempDir dir("optimizer_state");
  const std::string path = dir.file("lightning_state.txt");
  std::ofstream(path) << file.str();
  const auto text = run_reference("continue " + shell_quote(path));
  ASSERT_TRUE(text.has_value());
  const auto python = read_cases(*text);

  double worst = 0;
  for (const std::string& name : kCases) {
    SCOPED_TRACE(name);
    ASSERT_EQ(python.count(name), 1u);
    const Case& c = python.at(name);
    EXPECT_SAME_VALUE(saved[name], as_we_write(record(c, "loaded"), saved[name]), 0.0);
    Trial& run = runs[name];
    run_steps(run, 4, 6);
    std::vector<std::string> diffs;
    const IValue ours6 = L::optimizer_state_dict(*run.optimizer);
    compare(as_we_write(record(c, "state6"), ours6), ours6, "state6", kRtol, diffs, &worst);
    compare(record(c, "params6"), params_ivalue(run.params), "params6", kRtol, diffs, &worst);
    EXPECT_TRUE(diffs.empty()) << join(diffs);
  }
  report_worst("PyTorch's steps 4-6 from libtorch's state", worst);
}

// ------------------------------------------------------------------------
// Round trip within lightning.cpp

TEST(OptimizerStateRoundTrip, SaveLoadContinuesBitForBit) {
  for (const std::string& name : kCases) {
    SCOPED_TRACE(name);
    Trial whole = make_case(name, initial_params());
    run_steps(whole, 1, 6);

    Trial first = make_case(name, initial_params());
    run_steps(first, 1, 3);
    const L::StateDict saved = L::optimizer_state_dict(*first.optimizer);

    Trial resumed = make_case(name, first.params, /*defaults=*/true);
    L::load_optimizer_state_dict(*resumed.optimizer, saved);
    EXPECT_SAME_VALUE(IValue(saved), IValue(L::optimizer_state_dict(*resumed.optimizer)), 0.0);
    run_steps(resumed, 4, 6);
    EXPECT_SAME_VALUE(IValue(L::optimizer_state_dict(*whole.optimizer)),
                      IValue(L::optimizer_state_dict(*resumed.optimizer)), 0.0);
    EXPECT_SAME_VALUE(params_ivalue(whole.params), params_ivalue(resumed.params), 0.0);
  }
}

TEST(OptimizerStateRoundTrip, LoadedTensorsAreCopies) {
  Trial first = make_case("adam", initial_params());
  run_steps(first, 1, 3);
  const L::StateDict saved = L::optimizer_state_dict(*first.optimizer);
  const at::Tensor exp_avg =
      saved.at("state").toGenericDict().at(int64_t{0}).toGenericDict().at("exp_avg").toTensor();
  const at::Tensor before = exp_avg.clone();

  Trial resumed = make_case("adam", first.params);
  L::load_optimizer_state_dict(*resumed.optimizer, saved);
  run_steps(resumed, 4, 6);
  EXPECT_TRUE(torch::equal(exp_avg, before)) << "the resumed optimizer wrote into the dict";
}

// ------------------------------------------------------------------------
// Layout details

TEST(OptimizerStateLayout, StepTypesAndStateKeys) {
  for (const char* name : {"adam", "adamw", "adagrad", "rmsprop_centered"}) {
    SCOPED_TRACE(name);
    Trial run = make_case(name, initial_params());
    run_steps(run, 1, 2);
    const L::StateDict sd = L::optimizer_state_dict(*run.optimizer);
    const auto state = sd.at("state").toGenericDict();
    EXPECT_TRUE(state.keyType()->kind() == c10::TypeKind::IntType);
    const IValue step = state.at(int64_t{0}).toGenericDict().at("step");
    if (name == std::string("rmsprop_centered")) {
      ASSERT_TRUE(step.isInt());
      EXPECT_EQ(step.toInt(), 2);
    } else {
      ASSERT_TRUE(step.isTensor());
      EXPECT_EQ(step.toTensor().scalar_type(), at::kFloat);
      EXPECT_EQ(step.toTensor().dim(), 0);
      EXPECT_EQ(step.toTensor().item<double>(), 2.0);
    }
  }
}

TEST(OptimizerStateLayout, OnlyParametersWithStateAppear) {
  Trial adam = make_case("adam", initial_params());
  const auto fresh = L::optimizer_state_dict(*adam.optimizer);
  EXPECT_EQ(fresh.at("state").toGenericDict().size(), 0u);
  const auto groups = fresh.at("param_groups").toListRef();
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].toGenericDict().at("params").toIntVector(), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(groups[1].toGenericDict().at("params").toIntVector(), (std::vector<int64_t>{2, 3}));
  run_steps(adam, 1, 1);
  const auto state = L::optimizer_state_dict(*adam.optimizer).at("state").toGenericDict();
  EXPECT_EQ(state.size(), 3u);
  EXPECT_FALSE(state.contains(int64_t{3}));  // never had a gradient

  // Adagrad makes state for every parameter in its constructor, as Python's.
  Trial adagrad = make_case("adagrad", initial_params());
  const auto a = L::optimizer_state_dict(*adagrad.optimizer).at("state").toGenericDict();
  ASSERT_EQ(a.size(), 4u);
  EXPECT_EQ(a.at(int64_t{3}).toGenericDict().at("step").toTensor().item<double>(), 0.0);
  EXPECT_TRUE(torch::equal(a.at(int64_t{3}).toGenericDict().at("sum").toTensor(),
                           torch::full({2}, 0.1, torch::kFloat32)));
}

TEST(OptimizerStateLayout, GroupKeysArePyTorch113s) {
  const std::map<std::string, std::vector<std::string>> keys = {
      {"sgd_plain",
       {"lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize", "foreach",
        "differentiable", "params"}},
      {"adam",
       {"lr", "betas", "eps", "weight_decay", "amsgrad", "maximize", "foreach", "capturable",
        "differentiable", "fused", "params"}},
      {"adamw",
       {"lr", "betas", "eps", "weight_decay", "amsgrad", "foreach", "maximize", "capturable",
        "params"}},
      {"adagrad",
       {"lr", "lr_decay", "eps", "weight_decay", "initial_accumulator_value", "foreach", "maximize",
        "params"}},
      {"rmsprop_centered",
       {"lr", "momentum", "alpha", "eps", "centered", "weight_decay", "foreach", "maximize",
        "differentiable", "params"}},
  };
  for (const auto& [name, expected] : keys) {
    SCOPED_TRACE(name);
    Trial run = make_case(name, initial_params());
    const auto group =
        L::optimizer_state_dict(*run.optimizer).at("param_groups").toListRef()[1].toGenericDict();
    std::vector<std::string> got;
    for (const auto& e : group) got.push_back(e.key().toStringRef());
    EXPECT_EQ(got, expected);
    EXPECT_TRUE(group.at("foreach").isNone());
    EXPECT_EQ(group.at("maximize"), IValue(false));
  }
  Trial adam = make_case("adam", initial_params());
  const IValue betas = L::optimizer_state_dict(*adam.optimizer)
                           .at("param_groups")
                           .toListRef()[1]
                           .toGenericDict()
                           .at("betas");
  ASSERT_TRUE(betas.isTuple());
  EXPECT_EQ(betas.toTupleRef().elements()[0].toDouble(), 0.8);
  EXPECT_EQ(betas.toTupleRef().elements()[1].toDouble(), 0.99);
}

TEST(OptimizerStateLayout, SchedulersInitialLrIsWritten) {
  // Python's schedulers put "initial_lr" into the groups; lightning.cpp's
  // keep it aside, and the state shows it where Python's would.
  Trial run = make_case("sgd_nesterov", initial_params());
  auto scheduler = std::make_shared<L::StepLR>(run.optimizer, L::StepLROptions(1).gamma(0.5));
  scheduler->step();
  const L::StateDict saved = L::optimizer_state_dict(*run.optimizer);
  const auto groups = saved.at("param_groups").toListRef();
  EXPECT_EQ(groups[0].toGenericDict().at("initial_lr").toDouble(), 0.1);
  EXPECT_EQ(groups[1].toGenericDict().at("initial_lr").toDouble(), 0.05);
  EXPECT_EQ(groups[0].toGenericDict().at("lr").toDouble(), 0.05);
  // Loading ignores it (the scheduler restores its own base_lrs).
  Trial other = make_case("sgd_nesterov", initial_params(), /*defaults=*/true);
  L::load_optimizer_state_dict(*other.optimizer, saved);
  EXPECT_EQ(other.optimizer->param_groups()[0].options().get_lr(), 0.05);
}

// ------------------------------------------------------------------------
// Loading what Python may write

L::StateDict adam_state(const std::string& name = "adam_amsgrad") {
  Trial run = make_case(name, initial_params());
  run_steps(run, 1, 3);
  return L::optimizer_state_dict(*run.optimizer);
}

L::StateDict entry(const L::StateDict& sd, int64_t index) {
  return sd.at("state").toGenericDict().at(index).toGenericDict();
}

L::StateDict group(const L::StateDict& sd, size_t g) {
  return sd.at("param_groups").toListRef()[g].toGenericDict();
}

template <typename State>
const State& param_state(const Trial& run, size_t i) {
  const auto& states = run.optimizer->state();
  const auto it = states.find(lightning::detail::torch_compat::optimizer_state_key(run.params[i]));
  EXPECT_NE(it, states.end());
  return static_cast<const State&>(*it->second);
}

TEST(OptimizerStateLoad, AcceptsStepAsTensorIntOrFloat) {
  const std::vector<IValue> steps = {IValue(torch::tensor(3.0)), IValue(int64_t{3}), IValue(3.0),
                                     IValue(torch::tensor({3.0}, torch::kFloat64))};
  for (const IValue& step : steps) {
    SCOPED_TRACE(python_type(step));
    L::StateDict sd = adam_state();
    for (int64_t i = 0; i < 3; ++i) entry(sd, i).insert_or_assign("step", step);
    Trial run = make_case("adam_amsgrad", initial_params(), true);
    L::load_optimizer_state_dict(*run.optimizer, sd);
    EXPECT_EQ(param_state<O::AdamParamState>(run, 1).step(), 3);
  }
}

TEST(OptimizerStateLoad, ConvertsToTheParametersDtype) {
  L::StateDict sd = adam_state();
  auto e = entry(sd, 0);
  e.insert_or_assign("exp_avg", e.at("exp_avg").toTensor().to(torch::kFloat64));
  Trial run = make_case("adam_amsgrad", initial_params(), true);
  L::load_optimizer_state_dict(*run.optimizer, sd);
  EXPECT_EQ(param_state<O::AdamParamState>(run, 0).exp_avg().scalar_type(), at::kFloat);
  // ... and a parameter of another dtype gets its state in that dtype.
  std::vector<at::Tensor> params = initial_params();
  params[0] = params[0].to(torch::kFloat64);
  Trial f64 = make_case("adam_amsgrad", params, true);
  L::load_optimizer_state_dict(*f64.optimizer, adam_state());
  EXPECT_EQ(param_state<O::AdamParamState>(f64, 0).exp_avg().scalar_type(), at::kDouble);
  EXPECT_EQ(param_state<O::AdamParamState>(f64, 0).max_exp_avg_sq().scalar_type(), at::kDouble);
  EXPECT_EQ(param_state<O::AdamParamState>(f64, 1).exp_avg().scalar_type(), at::kFloat);
}

TEST(OptimizerStateLoad, ToleratesOlderAndPythonOnlyKeys) {
  // Keys Python's __setstate__ fills in may be missing; keys libtorch has no
  // option for may hold any value but maximize=True.
  L::StateDict sd = adam_state("rmsprop_centered");
  auto g0 = group(sd, 0);
  (void)g0.erase("centered");
  (void)g0.erase("foreach");
  (void)g0.erase("differentiable");
  g0.insert("initial_lr", 0.5);
  g0.insert("some_user_key", "x");
  group(sd, 1).insert_or_assign("foreach", true);
  Trial run = make_case("rmsprop_centered", initial_params(), true);
  L::load_optimizer_state_dict(*run.optimizer, sd);
  const auto& o = static_cast<const O::RMSpropOptions&>(run.optimizer->param_groups()[0].options());
  EXPECT_FALSE(o.centered());  // Python's default
  EXPECT_EQ(o.momentum(), 0.9);
  // Python writes momentum as an int when the user passed one.
  group(sd, 1).insert_or_assign("momentum", int64_t{0});
  L::load_optimizer_state_dict(*run.optimizer, sd);
}

TEST(OptimizerStateLoad, ReplacesTheWholeState) {
  // State of parameters the loaded dict has no entry for is dropped, so
  // they start afresh on their next step (as in Python).
  Trial run = make_case("adam", initial_params());
  run_steps(run, 1, 3);
  L::StateDict sd = L::optimizer_state_dict(*run.optimizer);
  (void)sd.at("state").toGenericDict().erase(int64_t{1});
  L::load_optimizer_state_dict(*run.optimizer, sd);
  EXPECT_EQ(run.optimizer->state().size(), 2u);
  EXPECT_EQ(run.optimizer->state().count(
                lightning::detail::torch_compat::optimizer_state_key(run.params[1])),
            0u);
}

// ------------------------------------------------------------------------
// Errors

struct NotAnOptimizerWeKnow : O::Optimizer {
  explicit NotAnOptimizerWeKnow(std::vector<at::Tensor> params)
      : O::Optimizer({O::OptimizerParamGroup(std::move(params))},
                     std::make_unique<O::SGDOptions>(0.1)) {}
  at::Tensor step(LossClosure) override { return {}; }
};

TEST(OptimizerStateErrors, UnsupportedOptimizers) {
  std::vector<at::Tensor> params = initial_params();
  O::LBFGS lbfgs(params);
  EXPECT_LIGHTNING_ERROR(L::optimizer_state_dict(lbfgs), "LBFGS");
  EXPECT_LIGHTNING_ERROR(L::optimizer_state_dict(lbfgs), "SGD, Adam, AdamW, Adagrad and RMSprop");
  EXPECT_LIGHTNING_ERROR(L::load_optimizer_state_dict(lbfgs, adam_state()),
                         "load_optimizer_state_dict: lightning.cpp cannot convert the state of a "
                         "LBFGS optimizer");
  NotAnOptimizerWeKnow custom(params);
  EXPECT_LIGHTNING_ERROR(L::optimizer_state_dict(custom), "NotAnOptimizerWeKnow");
}

TEST(OptimizerStateErrors, GroupCount) {
  std::vector<at::Tensor> params = initial_params();
  O::Adam one_group(params, O::AdamOptions().amsgrad(true));
  EXPECT_LIGHTNING_ERROR(L::load_optimizer_state_dict(one_group, adam_state()),
                         "load_optimizer_state_dict(Adam): the optimizer has 1 parameter group(s) "
                         "but the state has 2");
}

TEST(OptimizerStateErrors, ParameterCountInAGroup) {
  std::vector<at::Tensor> params = initial_params();
  std::vector<O::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<at::Tensor>{params[0], params[1]});
  groups.emplace_back(std::vector<at::Tensor>{params[2], params[3], torch::zeros({5})});
  O::Adam adam(std::move(groups), O::AdamOptions());
  EXPECT_LIGHTNING_ERROR(L::load_optimizer_state_dict(adam, adam_state()),
                         "param_groups[1] has 2 parameter(s) but the optimizer's group 1 has 3");
}

TEST(OptimizerStateErrors, StateShape) {
  std::vector<at::Tensor> params = initial_params();
  params[2] = torch::zeros({4});
  Trial run = make_case("adam_amsgrad", params, true);
  EXPECT_LIGHTNING_ERROR(L::load_optimizer_state_dict(*run.optimizer, adam_state()),
                         "load_optimizer_state_dict(Adam): state[2] (param_groups[1]) \"exp_avg\" "
                         "has shape [2, 2] but the parameter has shape [4]");
}

TEST(OptimizerStateErrors, MissingKeys) {
  Trial run = make_case("adam_amsgrad", initial_params(), true);
  {
    L::StateDict sd = adam_state();
    (void)group(sd, 0).erase("lr");
    EXPECT_LIGHTNING_ERROR(L::load_optimizer_state_dict(*run.optimizer, sd),
                           "load_optimizer_state_dict(Adam): param_groups[0] has no \"lr\" entry");
  }
  {
    L::StateDict sd = adam_state();
    (void)entry(sd, 1).erase("exp_avg_sq");
    EXPECT_LIGHTNING_ERROR(L::load_optimizer_state_dict(*run.optimizer, sd),
                           "state[1] (param_groups[0]) has no \"exp_avg_sq\" entry");
  }
  {
    // amsgrad needs max_exp_avg_sq.
    L::StateDict sd = adam_state();
    (void)entry(sd, 0).erase("max_exp_avg_sq");
    EXPECT_LIGHTNING_ERROR(L::load_optimizer_state_dict(*run.optimizer, sd),
                           "state[0] (param_groups[0]) has no \"max_exp_avg_sq\" entry");
  }
  {
    L::StateDict sd = adam_state();
    (void)sd.erase("state");
    EXPECT_LIGHTNING_ERROR(L::load_optimizer_state_dict(*run.optimizer, sd),
                           "the state has no \"state\" entry");
  }
  {
    L::StateDict sd = adam_state();
    (void)group(sd, 1).erase("params");
    EXPECT_LIGHTNING_ERROR(L::load_optimizer_state_dict(*run.optimizer, sd),
                           "param_groups[1] has no \"params\" entry");
  }
  {
    // Centered RMSprop needs grad_avg; with momentum, momentum_buffer.
    Trial rms = make_case("rmsprop_centered", initial_params());
    run_steps(rms, 1, 1);
    L::StateDict sd = L::optimizer_state_dict(*rms.optimizer);
    (void)entry(sd, 0).erase("grad_avg");
    EXPECT_LIGHTNING_ERROR(L::load_optimizer_state_dict(*rms.optimizer, sd),
                           "load_optimizer_state_dict(RMSprop): state[0] (param_groups[0]) has no "
                           "\"grad_avg\" entry");
    sd = L::optimizer_state_dict(*rms.optimizer);
    (void)entry(sd, 1).erase("momentum_buffer");
    EXPECT_LIGHTNING_ERROR(L::load_optimizer_state_dict(*rms.optimizer, sd),
                           "state[1] (param_groups[0]) has no \"momentum_buffer\" entry");
  }
  {
    // Adagrad keeps state for every parameter.
    Trial adagrad = make_case("adagrad", initial_params());
    L::StateDict sd = L::optimizer_state_dict(*adagrad.optimizer);
    (void)sd.at("state").toGenericDict().erase(int64_t{3});
    EXPECT_LIGHTNING_ERROR(L::load_optimizer_state_dict(*adagrad.optimizer, sd),
                           "\"state\" has no entry for parameter 3 (param_groups[1]); Adagrad");
  }
  {
    // A state saved by another optimizer type.
    Trial sgd = make_case("sgd_nesterov", initial_params());
    EXPECT_LIGHTNING_ERROR(L::load_optimizer_state_dict(*sgd.optimizer, adam_state()),
                           "load_optimizer_state_dict(SGD): param_groups[0] has no \"momentum\" "
                           "entry");
  }
}

TEST(OptimizerStateErrors, WrongTypesAndValues) {
  Trial run = make_case("adam_amsgrad", initial_params(), true);
  auto load = [&](const L::StateDict& sd) { L::load_optimizer_state_dict(*run.optimizer, sd); };
  L::StateDict sd = adam_state();
  group(sd, 0).insert_or_assign("lr", "fast");
  EXPECT_LIGHTNING_ERROR(load(sd), "param_groups[0] \"lr\" must be a number, got a str");

  sd = adam_state();
  group(sd, 1).insert_or_assign("betas", c10::ivalue::Tuple::create(0.9, 0.99, 0.5));
  EXPECT_LIGHTNING_ERROR(load(sd), "param_groups[1] \"betas\" must be a pair of numbers");

  sd = adam_state();
  group(sd, 1).insert_or_assign("amsgrad", int64_t{1});
  EXPECT_LIGHTNING_ERROR(load(sd), "param_groups[1] \"amsgrad\" must be a bool, got a int");

  sd = adam_state();
  group(sd, 0).insert_or_assign("maximize", true);
  EXPECT_LIGHTNING_ERROR(load(sd), "param_groups[0] has maximize=True; libtorch's Adam");

  sd = adam_state();
  entry(sd, 0).insert_or_assign("exp_avg", 1.5);
  EXPECT_LIGHTNING_ERROR(load(sd),
                         "state[0] (param_groups[0]) \"exp_avg\" must be a Tensor, got "
                         "a float");

  sd = adam_state();
  entry(sd, 0).insert_or_assign("step", 2.5);
  EXPECT_LIGHTNING_ERROR(load(sd), "\"step\" must be a whole number >= 0, got 2.5");

  sd = adam_state();
  entry(sd, 0).insert_or_assign("step", torch::zeros({2}));
  EXPECT_LIGHTNING_ERROR(load(sd), "\"step\" must be a number or a one-element tensor");

  sd = adam_state();
  sd.at("state").toGenericDict().insert(9, entry(sd, 0));
  EXPECT_LIGHTNING_ERROR(load(sd),
                         "\"state\" has an entry for parameter 9 but no group in "
                         "\"param_groups\" lists that index");

  sd = adam_state();
  group(sd, 1).insert_or_assign("params", c10::List<int64_t>({2, 1}));
  EXPECT_LIGHTNING_ERROR(load(sd), "param_groups[1] lists parameter index 1 a second time");

  sd = adam_state();
  sd.insert_or_assign("param_groups", "none");
  EXPECT_LIGHTNING_ERROR(load(sd), "\"param_groups\" must be a list of dicts, got a str");
}

TEST(OptimizerStateErrors, AFailedLoadChangesNothing) {
  Trial run = make_case("adam_amsgrad", initial_params());
  run_steps(run, 1, 3);
  const L::StateDict before = L::optimizer_state_dict(*run.optimizer);
  // A good group 0 and a bad state for parameter 2 (group 1).
  L::StateDict sd = adam_state();
  group(sd, 0).insert_or_assign("lr", 7.0);
  entry(sd, 2).insert_or_assign("exp_avg", torch::zeros({3}));
  EXPECT_LIGHTNING_ERROR(L::load_optimizer_state_dict(*run.optimizer, sd), "has shape [3]");
  EXPECT_SAME_VALUE(IValue(before), IValue(L::optimizer_state_dict(*run.optimizer)), 0.0);
}

}  // namespace
