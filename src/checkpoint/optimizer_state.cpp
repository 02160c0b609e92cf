#include "lightning/checkpoint/optimizer_state.h"

#include <ATen/core/jit_type.h>
#include <torch/optim/adagrad.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/rmsprop.h>
#include <torch/optim/sgd.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "detail/torch_compat.h"
#include "lightning/error.h"
#include "lightning/optim/lr_scheduler.h"
#include "lightning/optim/param_groups.h"

namespace lightning {
namespace {

namespace O = torch::optim;

enum class Kind { kSGD, kAdam, kAdamW, kAdagrad, kRMSprop };

constexpr const char* kSupported = "SGD, Adam, AdamW, Adagrad and RMSprop";

std::optional<Kind> kind_of(const O::Optimizer& optimizer) {
  // dynamic_cast rather than typeid: a subclass of one of these (a custom
  // step() or a logging wrapper) keeps its base's options and state types,
  // which the casts below check one by one.
  if (dynamic_cast<const O::SGD*>(&optimizer) != nullptr) return Kind::kSGD;
  if (dynamic_cast<const O::Adam*>(&optimizer) != nullptr) return Kind::kAdam;
  if (dynamic_cast<const O::AdamW*>(&optimizer) != nullptr) return Kind::kAdamW;
  if (dynamic_cast<const O::Adagrad*>(&optimizer) != nullptr) return Kind::kAdagrad;
  if (dynamic_cast<const O::RMSprop*>(&optimizer) != nullptr) return Kind::kRMSprop;
  return std::nullopt;
}

Kind require_kind(const O::Optimizer& optimizer, const char* function) {
  const std::optional<Kind> kind = kind_of(optimizer);
  LIGHTNING_CHECK(kind.has_value(), function, ": lightning.cpp cannot convert the state of a ",
                  optimizer_name(optimizer), " optimizer; it supports libtorch's ", kSupported,
                  " (written in the layout of PyTorch's optimizer.state_dict()).");
  return *kind;
}

// The key libtorch's optimizers use for a parameter in `state()`.
detail::torch_compat::OptimizerStateKey state_key(const at::Tensor& param) {
  return detail::torch_compat::optimizer_state_key(param);
}

// Python's name for the type an IValue holds, for messages.
std::string python_type(const c10::IValue& v) {
  if (v.isNone()) return "None";
  if (v.isBool()) return "bool";
  if (v.isInt()) return "int";
  if (v.isDouble()) return "float";
  if (v.isString()) return "str";
  if (v.isTensor()) return "Tensor";
  if (v.isTuple()) return "tuple";
  if (v.isList()) return "list";
  if (v.isGenericDict()) return "dict";
  return v.tagKind();
}

std::string shape_string(c10::IntArrayRef sizes) {
  std::string out = "[";
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(sizes[i]);
  }
  return out + "]";
}

template <typename T>
const T& options_as(const O::OptimizerOptions& options, const O::Optimizer& optimizer, size_t group,
                    const char* expected) {
  const T* typed = dynamic_cast<const T*>(&options);
  LIGHTNING_CHECK(typed != nullptr, "optimizer state: param_groups[", group, "] of ",
                  optimizer_name(optimizer), " does not hold ", expected,
                  "; lightning.cpp reads each group's options as its optimizer's own type.");
  return *typed;
}

template <typename T>
const T* param_state_as(const O::OptimizerParamState& state, const O::Optimizer& optimizer,
                        int64_t index, const char* expected) {
  const T* typed = dynamic_cast<const T*>(&state);
  LIGHTNING_CHECK(typed != nullptr, "optimizer_state_dict: the state of parameter ", index, " of ",
                  optimizer_name(optimizer), " is not a ", expected, ".");
  return typed;
}

// ------------------------------------------------------------------ save --

c10::IValue betas_ivalue(const std::tuple<double, double>& betas) {
  return c10::ivalue::Tuple::create(std::get<0>(betas), std::get<1>(betas));
}

// 1.13 keeps Adam's, AdamW's and Adagrad's step as a float32 0-dim tensor.
c10::IValue step_tensor(int64_t step) {
  return at::scalar_tensor(static_cast<double>(step), at::TensorOptions().dtype(at::kFloat));
}

// The hyperparameters of one group under the keys and in the order of
// 1.13's `defaults` dict. Keys libtorch has no option for get the value
// Python's constructor defaults to.
StateDict group_hyperparameters(Kind kind, const O::OptimizerOptions& options,
                                const O::Optimizer& optimizer, size_t g) {
  StateDict d = make_state_dict();
  const c10::IValue none;
  switch (kind) {
    case Kind::kSGD: {
      const auto& o = options_as<O::SGDOptions>(options, optimizer, g, "SGDOptions");
      d.insert("lr", o.lr());
      d.insert("momentum", o.momentum());
      d.insert("dampening", o.dampening());
      d.insert("weight_decay", o.weight_decay());
      d.insert("nesterov", o.nesterov());
      d.insert("maximize", false);
      d.insert("foreach", none);
      d.insert("differentiable", false);
      break;
    }
    case Kind::kAdam: {
      const auto& o = options_as<O::AdamOptions>(options, optimizer, g, "AdamOptions");
      d.insert("lr", o.lr());
      d.insert("betas", betas_ivalue(o.betas()));
      d.insert("eps", o.eps());
      d.insert("weight_decay", o.weight_decay());
      d.insert("amsgrad", o.amsgrad());
      d.insert("maximize", false);
      d.insert("foreach", none);
      d.insert("capturable", false);
      d.insert("differentiable", false);
      d.insert("fused", false);
      break;
    }
    case Kind::kAdamW: {
      const auto& o = options_as<O::AdamWOptions>(options, optimizer, g, "AdamWOptions");
      d.insert("lr", o.lr());
      d.insert("betas", betas_ivalue(o.betas()));
      d.insert("eps", o.eps());
      d.insert("weight_decay", o.weight_decay());
      d.insert("amsgrad", o.amsgrad());
      d.insert("foreach", none);
      d.insert("maximize", false);
      d.insert("capturable", false);
      break;
    }
    case Kind::kAdagrad: {
      const auto& o = options_as<O::AdagradOptions>(options, optimizer, g, "AdagradOptions");
      d.insert("lr", o.lr());
      d.insert("lr_decay", o.lr_decay());
      d.insert("eps", o.eps());
      d.insert("weight_decay", o.weight_decay());
      d.insert("initial_accumulator_value", o.initial_accumulator_value());
      d.insert("foreach", none);
      d.insert("maximize", false);
      break;
    }
    case Kind::kRMSprop: {
      const auto& o = options_as<O::RMSpropOptions>(options, optimizer, g, "RMSpropOptions");
      d.insert("lr", o.lr());
      d.insert("momentum", o.momentum());
      d.insert("alpha", o.alpha());
      d.insert("eps", o.eps());
      d.insert("centered", o.centered());
      d.insert("weight_decay", o.weight_decay());
      d.insert("foreach", none);
      d.insert("maximize", false);
      d.insert("differentiable", false);
      break;
    }
  }
  return d;
}

// One parameter's state under 1.13's names, in the order Python creates them.
StateDict param_state_dict(Kind kind, const O::OptimizerParamState& state,
                           const O::Optimizer& optimizer, int64_t index) {
  StateDict d = make_state_dict();
  auto put_tensor = [&d](const char* key, const at::Tensor& t) {
    if (t.defined()) d.insert(key, t);
  };
  switch (kind) {
    case Kind::kSGD: {
      const auto* s = param_state_as<O::SGDParamState>(state, optimizer, index, "SGDParamState");
      // Python writes None for a group without momentum; libtorch keeps no
      // state there, so an undefined buffer here is an odd case kept as None.
      if (s->momentum_buffer().defined()) {
        d.insert("momentum_buffer", s->momentum_buffer());
      } else {
        d.insert("momentum_buffer", c10::IValue());
      }
      break;
    }
    case Kind::kAdam: {
      const auto* s = param_state_as<O::AdamParamState>(state, optimizer, index, "AdamParamState");
      d.insert("step", step_tensor(s->step()));
      put_tensor("exp_avg", s->exp_avg());
      put_tensor("exp_avg_sq", s->exp_avg_sq());
      put_tensor("max_exp_avg_sq", s->max_exp_avg_sq());
      break;
    }
    case Kind::kAdamW: {
      const auto* s =
          param_state_as<O::AdamWParamState>(state, optimizer, index, "AdamWParamState");
      d.insert("step", step_tensor(s->step()));
      put_tensor("exp_avg", s->exp_avg());
      put_tensor("exp_avg_sq", s->exp_avg_sq());
      put_tensor("max_exp_avg_sq", s->max_exp_avg_sq());
      break;
    }
    case Kind::kAdagrad: {
      const auto* s =
          param_state_as<O::AdagradParamState>(state, optimizer, index, "AdagradParamState");
      d.insert("step", step_tensor(s->step()));
      put_tensor("sum", s->sum());
      break;
    }
    case Kind::kRMSprop: {
      const auto* s =
          param_state_as<O::RMSpropParamState>(state, optimizer, index, "RMSpropParamState");
      d.insert("step", s->step());  // 1.13's RMSprop counts with a Python int
      put_tensor("square_avg", s->square_avg());
      put_tensor("momentum_buffer", s->momentum_buffer());
      put_tensor("grad_avg", s->grad_avg());
      break;
    }
  }
  return d;
}

// ------------------------------------------------------------------ load --

// Reads one group's or one parameter's dict with messages that say where.
class Reader {
 public:
  Reader(const StateDict& dict, std::string where) : dict_(dict), where_(std::move(where)) {}

  const c10::IValue* find(const char* key) const {
    auto it = dict_.find(c10::IValue(std::string(key)));
    return it == dict_.end() ? nullptr : &it->value();
  }

  const c10::IValue& get(const char* key) const {
    const c10::IValue* v = find(key);
    LIGHTNING_CHECK(v != nullptr, where_, " has no \"", key, "\" entry.");
    return *v;
  }

  double number(const char* key, std::optional<double> fallback = std::nullopt) const {
    const c10::IValue* v = find(key);
    if (v == nullptr && fallback) return *fallback;
    if (v == nullptr) get(key);  // throws
    LIGHTNING_CHECK(v->isDouble() || v->isInt(), where_, " \"", key, "\" must be a number, got a ",
                    python_type(*v), ".");
    return v->isDouble() ? v->toDouble() : static_cast<double>(v->toInt());
  }

  bool flag(const char* key, std::optional<bool> fallback = std::nullopt) const {
    const c10::IValue* v = find(key);
    if (v == nullptr && fallback) return *fallback;
    if (v == nullptr) get(key);  // throws
    LIGHTNING_CHECK(v->isBool(), where_, " \"", key, "\" must be a bool, got a ", python_type(*v),
                    ".");
    return v->toBool();
  }

  std::tuple<double, double> betas() const {
    const c10::IValue& v = get("betas");
    std::vector<c10::IValue> items;
    if (v.isTuple()) {
      const auto& e = v.toTupleRef().elements();
      items.assign(e.begin(), e.end());
    } else if (v.isList()) {
      for (const c10::IValue& e : v.toListRef()) items.push_back(e);
    }
    LIGHTNING_CHECK((v.isTuple() || v.isList()) && items.size() == 2, where_,
                    " \"betas\" must be a pair of numbers (beta1, beta2), got a ", python_type(v),
                    v.isTuple() || v.isList() ? c10::str(" of ", items.size()) : std::string(),
                    ".");
    double out[2];
    for (size_t i = 0; i < 2; ++i) {
      LIGHTNING_CHECK(items[i].isDouble() || items[i].isInt(), where_, " \"betas\"[", i,
                      "] must be a number, got a ", python_type(items[i]), ".");
      out[i] = items[i].isDouble() ? items[i].toDouble() : static_cast<double>(items[i].toInt());
    }
    return {out[0], out[1]};
  }

  // Python-only switches libtorch has no counterpart for: any value works
  // except maximize=True, which libtorch's update cannot follow.
  void python_only(const char* optimizer) const {
    if (const c10::IValue* v = find("maximize")) {
      LIGHTNING_CHECK(v->isBool() || v->isNone(), where_, " \"maximize\" must be a bool, got a ",
                      python_type(*v), ".");
      LIGHTNING_CHECK(!(v->isBool() && v->toBool()), where_, " has maximize=True; libtorch's ",
                      optimizer,
                      " only minimizes. Negate the loss instead and save with maximize=False.");
    }
  }

  // A state tensor of `param`: its shape must match; it is copied to the
  // parameter's device (and dtype, for floating-point parameters) as
  // Python's Optimizer.load_state_dict casts it.
  at::Tensor tensor(const char* key, const at::Tensor& param, bool required = true) const {
    const c10::IValue* v = find(key);
    if (v == nullptr && !required) return {};
    if (v == nullptr) get(key);  // throws
    LIGHTNING_CHECK(v->isTensor(), where_, " \"", key, "\" must be a Tensor, got a ",
                    python_type(*v), ".");
    const at::Tensor& t = v->toTensor();
    LIGHTNING_CHECK(t.defined(), where_, " \"", key, "\" is an undefined tensor.");
    LIGHTNING_CHECK(t.sizes() == param.sizes(), where_, " \"", key, "\" has shape ",
                    shape_string(t.sizes()), " but the parameter has shape ",
                    shape_string(param.sizes()), "; is this the state of another model?");
    const at::ScalarType dtype = param.is_floating_point() ? param.scalar_type() : t.scalar_type();
    return t.detach().to(param.device(), dtype, /*non_blocking=*/false, /*copy=*/true);
  }

  // The step count: 1.13 stores a float32 0-dim tensor (Adam, AdamW,
  // Adagrad) or an int (RMSprop); older versions an int; accept any of them.
  int64_t step() const {
    const c10::IValue& v = get("step");
    double value = 0;
    if (v.isInt()) {
      value = static_cast<double>(v.toInt());
    } else if (v.isDouble()) {
      value = v.toDouble();
    } else if (v.isTensor()) {
      const at::Tensor& t = v.toTensor();
      LIGHTNING_CHECK(t.defined() && t.numel() == 1, where_,
                      " \"step\" must be a number or a one-element tensor, got a tensor of shape ",
                      t.defined() ? shape_string(t.sizes()) : std::string("<undefined>"), ".");
      value = t.item<double>();
    } else {
      LIGHTNING_FAIL(where_, " \"step\" must be a number or a tensor, got a ", python_type(v), ".");
    }
    LIGHTNING_CHECK(std::isfinite(value) && value >= 0 && value == std::floor(value), where_,
                    " \"step\" must be a whole number >= 0, got ", value, ".");
    return static_cast<int64_t>(value);
  }

 private:
  const StateDict& dict_;
  std::string where_;
};

std::unique_ptr<O::OptimizerOptions> load_options(Kind kind, const O::OptimizerOptions& current,
                                                  const O::Optimizer& optimizer, size_t g,
                                                  const Reader& r) {
  const std::string name = optimizer_name(optimizer);
  switch (kind) {
    case Kind::kSGD: {
      auto o = std::make_unique<O::SGDOptions>(
          options_as<O::SGDOptions>(current, optimizer, g, "SGDOptions"));
      o->lr(r.number("lr"));
      o->momentum(r.number("momentum"));
      o->dampening(r.number("dampening"));
      o->weight_decay(r.number("weight_decay"));
      o->nesterov(r.flag("nesterov", false));
      r.python_only(name.c_str());
      return o;
    }
    case Kind::kAdam: {
      auto o = std::make_unique<O::AdamOptions>(
          options_as<O::AdamOptions>(current, optimizer, g, "AdamOptions"));
      o->lr(r.number("lr"));
      o->betas(r.betas());
      o->eps(r.number("eps"));
      o->weight_decay(r.number("weight_decay"));
      o->amsgrad(r.flag("amsgrad", false));
      r.python_only(name.c_str());
      return o;
    }
    case Kind::kAdamW: {
      auto o = std::make_unique<O::AdamWOptions>(
          options_as<O::AdamWOptions>(current, optimizer, g, "AdamWOptions"));
      o->lr(r.number("lr"));
      o->betas(r.betas());
      o->eps(r.number("eps"));
      o->weight_decay(r.number("weight_decay"));
      o->amsgrad(r.flag("amsgrad", false));
      r.python_only(name.c_str());
      return o;
    }
    case Kind::kAdagrad: {
      auto o = std::make_unique<O::AdagradOptions>(
          options_as<O::AdagradOptions>(current, optimizer, g, "AdagradOptions"));
      o->lr(r.number("lr"));
      o->lr_decay(r.number("lr_decay"));
      o->eps(r.number("eps"));
      o->weight_decay(r.number("weight_decay"));
      o->initial_accumulator_value(r.number("initial_accumulator_value"));
      r.python_only(name.c_str());
      return o;
    }
    case Kind::kRMSprop: {
      auto o = std::make_unique<O::RMSpropOptions>(
          options_as<O::RMSpropOptions>(current, optimizer, g, "RMSpropOptions"));
      o->lr(r.number("lr"));
      o->momentum(r.number("momentum", 0.0));
      o->alpha(r.number("alpha"));
      o->eps(r.number("eps"));
      o->centered(r.flag("centered", false));
      o->weight_decay(r.number("weight_decay"));
      r.python_only(name.c_str());
      return o;
    }
  }
  return nullptr;
}

// The libtorch state of one parameter, or nullptr where it has none (SGD's
// momentum_buffer None: the next step starts the buffer, as in Python).
std::unique_ptr<O::OptimizerParamState> load_param_state(Kind kind,
                                                         const O::OptimizerOptions& options,
                                                         const at::Tensor& param, const Reader& r) {
  switch (kind) {
    case Kind::kSGD: {
      const c10::IValue* buf = r.find("momentum_buffer");
      if (buf == nullptr || buf->isNone()) return nullptr;
      auto s = std::make_unique<O::SGDParamState>();
      s->momentum_buffer(r.tensor("momentum_buffer", param));
      return s;
    }
    case Kind::kAdam: {
      const auto& o = static_cast<const O::AdamOptions&>(options);
      auto s = std::make_unique<O::AdamParamState>();
      s->step(r.step());
      s->exp_avg(r.tensor("exp_avg", param));
      s->exp_avg_sq(r.tensor("exp_avg_sq", param));
      s->max_exp_avg_sq(r.tensor("max_exp_avg_sq", param, /*required=*/o.amsgrad()));
      return s;
    }
    case Kind::kAdamW: {
      const auto& o = static_cast<const O::AdamWOptions&>(options);
      auto s = std::make_unique<O::AdamWParamState>();
      s->step(r.step());
      s->exp_avg(r.tensor("exp_avg", param));
      s->exp_avg_sq(r.tensor("exp_avg_sq", param));
      s->max_exp_avg_sq(r.tensor("max_exp_avg_sq", param, /*required=*/o.amsgrad()));
      return s;
    }
    case Kind::kAdagrad: {
      auto s = std::make_unique<O::AdagradParamState>();
      s->step(r.step());
      s->sum(r.tensor("sum", param));
      return s;
    }
    case Kind::kRMSprop: {
      const auto& o = static_cast<const O::RMSpropOptions&>(options);
      auto s = std::make_unique<O::RMSpropParamState>();
      s->step(r.step());
      s->square_avg(r.tensor("square_avg", param));
      s->momentum_buffer(r.tensor("momentum_buffer", param, /*required=*/o.momentum() > 0));
      s->grad_avg(r.tensor("grad_avg", param, /*required=*/o.centered()));
      return s;
    }
  }
  return nullptr;
}

const c10::IValue& top_entry(const StateDict& state, const char* key, const std::string& name) {
  auto it = state.find(c10::IValue(std::string(key)));
  LIGHTNING_CHECK(it != state.end(), "load_optimizer_state_dict(", name, "): the state has no \"",
                  key,
                  "\" entry; expected the layout of PyTorch's optimizer.state_dict(): "
                  "{\"state\": {...}, \"param_groups\": [...]}.");
  return it->value();
}

}  // namespace

StateDict optimizer_state_dict(const torch::optim::Optimizer& optimizer) {
  const Kind kind = require_kind(optimizer, "optimizer_state_dict");
  const auto& groups = optimizer.param_groups();
  const std::optional<std::vector<double>> initial_lrs = detail::initial_lrs(optimizer);

  // Number parameters in order across groups; a parameter listed twice keeps
  // its first number, as Python's state_dict() does.
  std::unordered_map<const void*, int64_t> numbers;
  std::vector<std::pair<int64_t, const at::Tensor*>> ordered;  // first occurrences
  c10::impl::GenericList param_groups(c10::AnyType::get());
  int64_t next = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    StateDict group = group_hyperparameters(kind, groups[g].options(), optimizer, g);
    // Schedulers record "initial_lr" in Python's groups; lightning.cpp's
    // keep it in a side table (lightning/optim/lr_scheduler.h).
    if (initial_lrs && g < initial_lrs->size()) group.insert("initial_lr", (*initial_lrs)[g]);
    c10::List<int64_t> params;
    for (const at::Tensor& p : groups[g].params()) {
      auto [it, inserted] = numbers.emplace(p.unsafeGetTensorImpl(), next);
      if (inserted) ordered.emplace_back(next, &p);
      params.push_back(it->second);
      ++next;
    }
    group.insert("params", params);
    param_groups.push_back(group);
  }

  c10::impl::GenericDict state(c10::IntType::get(), c10::AnyType::get());
  const auto& states = optimizer.state();
  for (const auto& [index, param] : ordered) {
    auto it = states.find(state_key(*param));
    if (it == states.end() || it->second == nullptr) continue;
    state.insert(index, param_state_dict(kind, *it->second, optimizer, index));
  }

  StateDict out = make_state_dict();
  out.insert("state", state);
  out.insert("param_groups", param_groups);
  return out;
}

void load_optimizer_state_dict(torch::optim::Optimizer& optimizer, const StateDict& state) {
  const Kind kind = require_kind(optimizer, "load_optimizer_state_dict");
  const std::string name = optimizer_name(optimizer);
  const std::string fn = "load_optimizer_state_dict(" + name + "): ";
  auto& groups = optimizer.param_groups();

  const c10::IValue& saved_groups_v = top_entry(state, "param_groups", name);
  const c10::IValue& saved_state_v = top_entry(state, "state", name);
  LIGHTNING_CHECK(saved_groups_v.isList(), fn, "\"param_groups\" must be a list of dicts, got a ",
                  python_type(saved_groups_v), ".");
  LIGHTNING_CHECK(saved_state_v.isGenericDict(), fn,
                  "\"state\" must be a dict from parameter index to dict, got a ",
                  python_type(saved_state_v), ".");
  const c10::ArrayRef<c10::IValue> saved_groups = saved_groups_v.toListRef();
  LIGHTNING_CHECK(saved_groups.size() == groups.size(), fn, "the optimizer has ", groups.size(),
                  " parameter group(s) but the state has ", saved_groups.size(),
                  "; configure the same groups as the run that saved it.");

  // Everything is read and checked before the optimizer changes, so a bad
  // state leaves it as it was.
  std::vector<std::unique_ptr<O::OptimizerOptions>> new_options;
  std::unordered_map<int64_t, std::pair<size_t, const at::Tensor*>> by_index;  // -> group, param
  std::vector<std::tuple<int64_t, size_t, const at::Tensor*>> listed;  // in the groups' order
  for (size_t g = 0; g < groups.size(); ++g) {
    const std::string where = fn + "param_groups[" + std::to_string(g) + "]";
    LIGHTNING_CHECK(saved_groups[g].isGenericDict(), where, " must be a dict, got a ",
                    python_type(saved_groups[g]), ".");
    const StateDict saved = saved_groups[g].toGenericDict();
    const Reader r(saved, where);
    const c10::IValue& params_v = r.get("params");
    LIGHTNING_CHECK(params_v.isList(), where,
                    " \"params\" must be a list of parameter indices, got a ",
                    python_type(params_v), ".");
    const auto saved_params = params_v.toListRef();
    const auto& params = groups[g].params();
    LIGHTNING_CHECK(saved_params.size() == params.size(), where, " has ", saved_params.size(),
                    " parameter(s) but the optimizer's group ", g, " has ", params.size(),
                    "; configure the same groups as the run that saved it.");
    for (size_t i = 0; i < params.size(); ++i) {
      LIGHTNING_CHECK(saved_params[i].isInt(), where, " \"params\"[", i, "] must be an int, got a ",
                      python_type(saved_params[i]), ".");
      const bool fresh =
          by_index.emplace(saved_params[i].toInt(), std::make_pair(g, &params[i])).second;
      LIGHTNING_CHECK(fresh, where, " lists parameter index ", saved_params[i].toInt(),
                      " a second time.");
      listed.emplace_back(saved_params[i].toInt(), g, &params[i]);
    }
    new_options.push_back(load_options(kind, groups[g].options(), optimizer, g, r));
  }

  std::vector<
      std::pair<detail::torch_compat::OptimizerStateKey, std::unique_ptr<O::OptimizerParamState>>>
      new_states;
  std::unordered_map<const void*, bool> has_state;
  for (const auto& entry : saved_state_v.toGenericDict()) {
    LIGHTNING_CHECK(entry.key().isInt(), fn, "\"state\" must have int keys (parameter indices), ",
                    "found a ", python_type(entry.key()), " key.");
    const int64_t index = entry.key().toInt();
    auto found = by_index.find(index);
    LIGHTNING_CHECK(found != by_index.end(), fn, "\"state\" has an entry for parameter ", index,
                    " but no group in \"param_groups\" lists that index.");
    const auto [g, param] = found->second;
    const std::string where =
        fn + "state[" + std::to_string(index) + "] (param_groups[" + std::to_string(g) + "])";
    LIGHTNING_CHECK(entry.value().isGenericDict(), where, " must be a dict, got a ",
                    python_type(entry.value()), ".");
    const StateDict saved = entry.value().toGenericDict();
    auto s = load_param_state(kind, *new_options[g], *param, Reader(saved, where));
    if (s != nullptr) {
      has_state[param->unsafeGetTensorImpl()] = true;
      new_states.emplace_back(state_key(*param), std::move(s));
    }
  }
  if (kind == Kind::kAdagrad) {
    // libtorch's Adagrad (like Python's) creates every parameter's state in
    // its constructor and never lazily, so each one needs an entry.
    for (const auto& [index, g, param] : listed) {
      LIGHTNING_CHECK(has_state.count(param->unsafeGetTensorImpl()) > 0, fn,
                      "\"state\" has no entry for parameter ", index, " (param_groups[", g,
                      "]); Adagrad keeps \"step\" and \"sum\" for every parameter.");
    }
  }

  for (size_t g = 0; g < groups.size(); ++g) groups[g].set_options(std::move(new_options[g]));
  auto& states = optimizer.state();
  states.clear();
  for (auto& [key, s] : new_states) states[key] = std::move(s);
}

}  // namespace lightning
