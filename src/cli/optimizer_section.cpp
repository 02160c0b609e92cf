// The `optimizer:` / `lr_scheduler:` sections of a LightningCLI config
// (cli/optimizer_section.h): each built-in class is a table of its
// arguments (Python's names, types and defaults) and a builder.
#include "cli/optimizer_section.h"

#include <c10/util/Exception.h>
#include <torch/optim.h>

#include <cerrno>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>

#include "cli/config_reading.h"
#include "cli/registries.h"
#include "lightning/error.h"
#include "lightning/optim/lr_schedulers.h"

namespace lightning::detail {

namespace {

using OptimizerPtr = std::shared_ptr<torch::optim::Optimizer>;

// One argument of a built-in class. `type` is Python's annotation as --help
// prints it; values are checked and normalized by it (see `typed`).
struct Arg {
  std::string name;
  std::string type;
  HParamValue default_value;
  std::string doc;
  bool required = false;
};

// An argument of the Python class without a counterpart here, accepted only
// with one of `neutral`.
struct PythonOnlyArg {
  std::string name;
  std::vector<HParamValue> neutral;
  std::string why;
};

struct BuiltinClass {
  std::string name;    // "Adam"
  std::string module;  // "torch.optim"
  std::vector<Arg> args;
  std::vector<PythonOnlyArg> python_only;
  // Exactly one is set, by the section.
  std::function<OptimizerPtr(const HParams&, std::vector<at::Tensor>)> make_optimizer;
  std::function<LRSchedulerConfig(const HParams&, OptimizerPtr)> make_scheduler;

  std::string class_path() const { return module + "." + name; }
  const Arg* arg(const std::string& n) const {
    for (const auto& a : args)
      if (a.name == n) return &a;
    return nullptr;
  }
  const PythonOnlyArg* python_only_arg(const std::string& n) const {
    for (const auto& a : python_only)
      if (a.name == n) return &a;
    return nullptr;
  }
};

Arg required(std::string name, std::string type, std::string doc) {
  return Arg{std::move(name), std::move(type), HParamValue(), std::move(doc), true};
}

// ---- values by type ------------------------------------------------------------

// A float from a number, or from text that reads as one (a command line's
// `1e-3`, which YAML 1.1 reads as a string).
double float_of(const HParamValue& v, const std::string& path, const std::string& expected) {
  if (v.is_string()) {
    const std::string& s = std::get<std::string>(v.variant());
    char* stop = nullptr;
    errno = 0;
    const double d = std::strtod(s.c_str(), &stop);
    if (!s.empty() && stop == s.c_str() + s.size() && errno == 0) return d;
  }
  return to_float(v, path, expected);
}

HParamValue typed(const std::string& type, const HParamValue& v, const std::string& path) {
  const std::string opt = "Optional[";
  if (type.rfind(opt, 0) == 0) {
    if (v.is_none()) return v;
    return typed(type.substr(opt.size(), type.size() - opt.size() - 1), v, path);
  }
  if (type == "float") return float_of(v, path, type);
  if (type == "int") return to_int(v, path);
  if (type == "bool") return to_bool(v, path);
  if (type == "str") return to_str(v, path);
  if (type == "float | list[float]" && !v.is_list()) return float_of(v, path, type);
  if (type == "list[int]" || type == "float | list[float]" || type == "tuple[float, float]") {
    if (!v.is_list()) type_error(path, v, type);
    const auto& items = v.as<HParamValue::List>();
    if (type == "tuple[float, float]" && items.size() != 2) type_error(path, v, type);
    HParamValue::List out;
    for (size_t i = 0; i < items.size(); ++i) {
      const std::string at = path + "[" + std::to_string(i) + "]";
      if (type == "list[int]") {
        out.emplace_back(to_int(items[i], at));
      } else {
        out.emplace_back(float_of(items[i], at, "float"));
      }
    }
    return out;
  }
  type_error(path, v, type);
}

double f64(const HParams& a, const char* n) { return a.at(n).as<double>(); }
int64_t i64(const HParams& a, const char* n) { return a.at(n).as<int64_t>(); }
bool flag(const HParams& a, const char* n) { return a.at(n).as<bool>(); }
std::string text(const HParams& a, const char* n) { return a.at(n).as<std::string>(); }
std::optional<int64_t> opt_i64(const HParams& a, const char* n) {
  if (a.at(n).is_none()) return std::nullopt;
  return i64(a, n);
}
std::vector<double> floats(const HParams& a, const char* n) {
  const HParamValue& v = a.at(n);
  if (v.is_double()) return {v.as<double>()};
  std::vector<double> out;
  for (const auto& x : v.as<HParamValue::List>()) out.push_back(x.as<double>());
  return out;
}
std::vector<int64_t> ints(const HParams& a, const char* n) {
  std::vector<int64_t> out;
  for (const auto& x : a.at(n).as<HParamValue::List>()) out.push_back(x.as<int64_t>());
  return out;
}

// ---- the built-in classes --------------------------------------------------------

const HParamValue kNone;

std::vector<PythonOnlyArg> optimizer_python_only(std::vector<std::string> names) {
  std::vector<PythonOnlyArg> out;
  for (const auto& n : names) {
    if (n == "foreach" || n == "fused") {
      out.push_back({n,
                     {kNone, false, true},
                     "an implementation choice of PyTorch's Python optimizers; libtorch has one "
                     "implementation, with the same arithmetic"});
    } else if (n == "maximize") {
      out.push_back({n, {false}, "libtorch's optimizers minimize: negate the loss instead"});
    } else if (n == "capturable") {
      out.push_back({n, {false}, "CUDA-graph capture of the optimizer step"});
    } else if (n == "differentiable") {
      out.push_back({n, {false}, "autograd through the optimizer step"});
    } else if (n == "decoupled_weight_decay") {
      out.push_back({n, {false}, "Adam with decoupled weight decay is AdamW: use AdamW"});
    }
  }
  return out;
}

Arg lr_arg(double def) { return Arg{"lr", "float", def, "learning rate"}; }

const std::vector<BuiltinClass>& builtin_optimizers() {
  static const std::vector<BuiltinClass> classes = [] {
    std::vector<BuiltinClass> c;
    const Arg eps8{"eps", "float", 1e-8, "term added to the denominator"};
    const Arg betas{"betas", "tuple[float, float]", HParamValue::List{0.9, 0.999},
                    "coefficients of the running averages of the gradient and its square"};
    const Arg amsgrad{"amsgrad", "bool", false, "the AMSGrad variant"};
    c.push_back(
        {"SGD",
         "torch.optim",
         {lr_arg(1e-3),
          {"momentum", "float", 0.0, "momentum factor"},
          {"dampening", "float", 0.0, "dampening for momentum"},
          {"weight_decay", "float", 0.0, "L2 penalty"},
          {"nesterov", "bool", false, "Nesterov momentum (needs momentum > 0, dampening 0)"}},
         optimizer_python_only({"maximize", "foreach", "differentiable", "fused"}),
         [](const HParams& a, std::vector<at::Tensor> p) -> OptimizerPtr {
           return std::make_shared<torch::optim::SGD>(p, torch::optim::SGDOptions(f64(a, "lr"))
                                                             .momentum(f64(a, "momentum"))
                                                             .dampening(f64(a, "dampening"))
                                                             .weight_decay(f64(a, "weight_decay"))
                                                             .nesterov(flag(a, "nesterov")));
         },
         nullptr});
    for (const bool decoupled : {false, true}) {
      c.push_back({decoupled ? "AdamW" : "Adam",
                   "torch.optim",
                   {lr_arg(1e-3),
                    betas,
                    eps8,
                    {"weight_decay", "float", decoupled ? 1e-2 : 0.0,
                     decoupled ? "decoupled weight decay" : "L2 penalty"},
                    amsgrad},
                   optimizer_python_only(
                       decoupled ? std::vector<std::string>{"maximize", "foreach", "capturable",
                                                            "differentiable", "fused"}
                                 : std::vector<std::string>{"foreach", "maximize", "capturable",
                                                            "differentiable", "fused",
                                                            "decoupled_weight_decay"}),
                   [decoupled](const HParams& a, std::vector<at::Tensor> p) -> OptimizerPtr {
                     const auto b = floats(a, "betas");
                     if (decoupled) {
                       return std::make_shared<torch::optim::AdamW>(
                           p, torch::optim::AdamWOptions(f64(a, "lr"))
                                  .betas(std::make_tuple(b[0], b[1]))
                                  .eps(f64(a, "eps"))
                                  .weight_decay(f64(a, "weight_decay"))
                                  .amsgrad(flag(a, "amsgrad")));
                     }
                     return std::make_shared<torch::optim::Adam>(
                         p, torch::optim::AdamOptions(f64(a, "lr"))
                                .betas(std::make_tuple(b[0], b[1]))
                                .eps(f64(a, "eps"))
                                .weight_decay(f64(a, "weight_decay"))
                                .amsgrad(flag(a, "amsgrad")));
                   },
                   nullptr});
    }
    c.push_back({"Adagrad",
                 "torch.optim",
                 {lr_arg(1e-2),
                  {"lr_decay", "float", 0.0, "learning rate decay"},
                  {"weight_decay", "float", 0.0, "L2 penalty"},
                  {"initial_accumulator_value", "float", 0.0,
                   "initial value of the sum of squares of gradients"},
                  {"eps", "float", 1e-10, "term added to the denominator"}},
                 optimizer_python_only({"foreach", "maximize", "differentiable", "fused"}),
                 [](const HParams& a, std::vector<at::Tensor> p) -> OptimizerPtr {
                   return std::make_shared<torch::optim::Adagrad>(
                       p, torch::optim::AdagradOptions(f64(a, "lr"))
                              .lr_decay(f64(a, "lr_decay"))
                              .weight_decay(f64(a, "weight_decay"))
                              .initial_accumulator_value(f64(a, "initial_accumulator_value"))
                              .eps(f64(a, "eps")));
                 },
                 nullptr});
    c.push_back({"RMSprop",
                 "torch.optim",
                 {lr_arg(1e-2),
                  {"alpha", "float", 0.99, "smoothing constant"},
                  eps8,
                  {"weight_decay", "float", 0.0, "L2 penalty"},
                  {"momentum", "float", 0.0, "momentum factor"},
                  {"centered", "bool", false, "normalize by the estimated gradient variance"}},
                 optimizer_python_only({"capturable", "foreach", "maximize", "differentiable"}),
                 [](const HParams& a, std::vector<at::Tensor> p) -> OptimizerPtr {
                   return std::make_shared<torch::optim::RMSprop>(
                       p, torch::optim::RMSpropOptions(f64(a, "lr"))
                              .alpha(f64(a, "alpha"))
                              .eps(f64(a, "eps"))
                              .weight_decay(f64(a, "weight_decay"))
                              .momentum(f64(a, "momentum"))
                              .centered(flag(a, "centered")));
                 },
                 nullptr});
    c.push_back(
        {"LBFGS",
         "torch.optim",
         {lr_arg(1.0),
          {"max_iter", "int", 20, "iterations per optimizer step"},
          {"max_eval", "Optional[int]", kNone,
           "function evaluations per step (null: max_iter*5/4)"},
          {"tolerance_grad", "float", 1e-7, "termination tolerance on first-order optimality"},
          {"tolerance_change", "float", 1e-9, "termination tolerance on changes"},
          {"history_size", "int", 100, "update history size"},
          {"line_search_fn", "Optional[str]", kNone, "null or \"strong_wolfe\""}},
         optimizer_python_only({"maximize"}),
         [](const HParams& a, std::vector<at::Tensor> p) -> OptimizerPtr {
           torch::optim::LBFGSOptions o(f64(a, "lr"));
           o.max_iter(i64(a, "max_iter"))
               .tolerance_grad(f64(a, "tolerance_grad"))
               .tolerance_change(f64(a, "tolerance_change"))
               .history_size(i64(a, "history_size"));
           if (auto m = opt_i64(a, "max_eval")) o.max_eval(*m);
           if (!a.at("line_search_fn").is_none()) {
             const std::string fn = text(a, "line_search_fn");
             LIGHTNING_CHECK(fn == "strong_wolfe",
                             "line_search_fn must be null or "
                             "\"strong_wolfe\", got \"",
                             fn, "\".");
             o.line_search_fn(fn);
           }
           return std::make_shared<torch::optim::LBFGS>(p, o);
         },
         nullptr});
    return c;
  }();
  return classes;
}

const Arg kLastEpoch{"last_epoch", "int", -1, "index of the last epoch (-1: start fresh)"};
const std::vector<PythonOnlyArg> kSchedulerPythonOnly = {
    {"verbose",
     {HParamValue("deprecated"), false},
     "deprecated in PyTorch; the LearningRateMonitor callback logs the rates"}};

LRSchedulerConfig scheduler(std::shared_ptr<LRScheduler> s) { return LRSchedulerConfig(s); }

const std::vector<BuiltinClass>& builtin_schedulers() {
  static const std::vector<BuiltinClass> classes = [] {
    const std::string m = "torch.optim.lr_scheduler";
    std::vector<BuiltinClass> c;
    const Arg gamma{"gamma", "float", 0.1, "multiplicative factor of the decay"};
    c.push_back(
        {"StepLR",
         m,
         {required("step_size", "int", "period of the decay, in epochs"), gamma, kLastEpoch},
         kSchedulerPythonOnly,
         nullptr,
         [](const HParams& a, OptimizerPtr o) {
           return scheduler(std::make_shared<StepLR>(o, StepLROptions(i64(a, "step_size"))
                                                            .gamma(f64(a, "gamma"))
                                                            .last_epoch(i64(a, "last_epoch"))));
         }});
    c.push_back({"MultiStepLR",
                 m,
                 {required("milestones", "list[int]", "epochs of the decays, increasing"), gamma,
                  kLastEpoch},
                 kSchedulerPythonOnly,
                 nullptr,
                 [](const HParams& a, OptimizerPtr o) {
                   return scheduler(
                       std::make_shared<MultiStepLR>(o, MultiStepLROptions(ints(a, "milestones"))
                                                            .gamma(f64(a, "gamma"))
                                                            .last_epoch(i64(a, "last_epoch"))));
                 }});
    c.push_back({"ConstantLR",
                 m,
                 {{"factor", "float", 1.0 / 3.0, "factor applied until total_iters"},
                  {"total_iters", "int", 5, "epochs the factor applies"},
                  kLastEpoch},
                 kSchedulerPythonOnly,
                 nullptr,
                 [](const HParams& a, OptimizerPtr o) {
                   return scheduler(
                       std::make_shared<ConstantLR>(o, ConstantLROptions()
                                                           .factor(f64(a, "factor"))
                                                           .total_iters(i64(a, "total_iters"))
                                                           .last_epoch(i64(a, "last_epoch"))));
                 }});
    c.push_back({"LinearLR",
                 m,
                 {{"start_factor", "float", 1.0 / 3.0, "factor at the first epoch"},
                  {"end_factor", "float", 1.0, "factor at total_iters"},
                  {"total_iters", "int", 5, "epochs of the ramp"},
                  kLastEpoch},
                 kSchedulerPythonOnly,
                 nullptr,
                 [](const HParams& a, OptimizerPtr o) {
                   return scheduler(
                       std::make_shared<LinearLR>(o, LinearLROptions()
                                                         .start_factor(f64(a, "start_factor"))
                                                         .end_factor(f64(a, "end_factor"))
                                                         .total_iters(i64(a, "total_iters"))
                                                         .last_epoch(i64(a, "last_epoch"))));
                 }});
    c.push_back({"ExponentialLR",
                 m,
                 {required("gamma", "float", "multiplicative factor per epoch"), kLastEpoch},
                 kSchedulerPythonOnly,
                 nullptr,
                 [](const HParams& a, OptimizerPtr o) {
                   return scheduler(std::make_shared<ExponentialLR>(
                       o, ExponentialLROptions(f64(a, "gamma")).last_epoch(i64(a, "last_epoch"))));
                 }});
    c.push_back({"PolynomialLR",
                 m,
                 {{"total_iters", "int", 5, "epochs of the decay"},
                  {"power", "float", 1.0, "power of the polynomial"},
                  kLastEpoch},
                 kSchedulerPythonOnly,
                 nullptr,
                 [](const HParams& a, OptimizerPtr o) {
                   return scheduler(
                       std::make_shared<PolynomialLR>(o, PolynomialLROptions()
                                                             .total_iters(i64(a, "total_iters"))
                                                             .power(f64(a, "power"))
                                                             .last_epoch(i64(a, "last_epoch"))));
                 }});
    c.push_back({"CosineAnnealingLR",
                 m,
                 {required("T_max", "int", "epochs of half a cosine period"),
                  {"eta_min", "float", 0.0, "minimum learning rate"},
                  kLastEpoch},
                 kSchedulerPythonOnly,
                 nullptr,
                 [](const HParams& a, OptimizerPtr o) {
                   return scheduler(std::make_shared<CosineAnnealingLR>(
                       o, CosineAnnealingLROptions(i64(a, "T_max"))
                              .eta_min(f64(a, "eta_min"))
                              .last_epoch(i64(a, "last_epoch"))));
                 }});
    c.push_back({"CosineAnnealingWarmRestarts",
                 m,
                 {required("T_0", "int", "epochs of the first cycle"),
                  {"T_mult", "int", 1, "growth of the cycle length after a restart"},
                  {"eta_min", "float", 0.0, "minimum learning rate"},
                  kLastEpoch},
                 kSchedulerPythonOnly,
                 nullptr,
                 [](const HParams& a, OptimizerPtr o) {
                   return scheduler(std::make_shared<CosineAnnealingWarmRestarts>(
                       o, CosineAnnealingWarmRestartsOptions(i64(a, "T_0"))
                              .T_mult(i64(a, "T_mult"))
                              .eta_min(f64(a, "eta_min"))
                              .last_epoch(i64(a, "last_epoch"))));
                 }});
    std::vector<PythonOnlyArg> cyclic_python_only = kSchedulerPythonOnly;
    cyclic_python_only.push_back({"scale_fn",
                                  {kNone},
                                  "a Python function; use mode, or build CyclicLR with a C++ "
                                  "scale_fn in configure_optimizers"});
    c.push_back(
        {"CyclicLR",
         m,
         {required("base_lr", "float | list[float]", "lower bound of the cycle"),
          required("max_lr", "float | list[float]", "upper bound of the cycle"),
          {"step_size_up", "int", 2000, "steps of the increasing half"},
          {"step_size_down", "Optional[int]", kNone, "steps of the decreasing half (null: up)"},
          {"mode", "str", "triangular", "triangular, triangular2 or exp_range"},
          {"gamma", "float", 1.0, "exp_range's factor"},
          {"scale_mode", "str", "cycle", "cycle or iterations"},
          {"cycle_momentum", "bool", true, "cycle the momentum inversely"},
          {"base_momentum", "float | list[float]", 0.8, "lower momentum bound"},
          {"max_momentum", "float | list[float]", 0.9, "upper momentum bound"},
          kLastEpoch},
         cyclic_python_only,
         nullptr,
         [](const HParams& a, OptimizerPtr o) {
           return scheduler(std::make_shared<CyclicLR>(
               o, CyclicLROptions(floats(a, "base_lr"), floats(a, "max_lr"))
                      .step_size_up(i64(a, "step_size_up"))
                      .step_size_down(opt_i64(a, "step_size_down"))
                      .mode(text(a, "mode"))
                      .gamma(f64(a, "gamma"))
                      .scale_mode(text(a, "scale_mode"))
                      .cycle_momentum(flag(a, "cycle_momentum"))
                      .base_momentum(floats(a, "base_momentum"))
                      .max_momentum(floats(a, "max_momentum"))
                      .last_epoch(i64(a, "last_epoch"))));
         }});
    c.push_back({"OneCycleLR",
                 m,
                 {required("max_lr", "float | list[float]", "peak learning rate"),
                  {"total_steps", "Optional[int]", kNone,
                   "steps of the cycle (or epochs x steps_per_epoch)"},
                  {"epochs", "Optional[int]", kNone, "epochs, with steps_per_epoch"},
                  {"steps_per_epoch", "Optional[int]", kNone, "steps per epoch, with epochs"},
                  {"pct_start", "float", 0.3, "share of the cycle spent increasing"},
                  {"anneal_strategy", "str", "cos", "cos or linear"},
                  {"cycle_momentum", "bool", true, "cycle the momentum inversely"},
                  {"base_momentum", "float | list[float]", 0.85, "lower momentum bound"},
                  {"max_momentum", "float | list[float]", 0.95, "upper momentum bound"},
                  {"div_factor", "float", 25.0, "initial lr = max_lr / div_factor"},
                  {"final_div_factor", "float", 1e4, "final lr = initial lr / final_div_factor"},
                  {"three_phase", "bool", false, "fast.ai's three-phase schedule"},
                  kLastEpoch},
                 kSchedulerPythonOnly,
                 nullptr,
                 [](const HParams& a, OptimizerPtr o) {
                   return scheduler(std::make_shared<OneCycleLR>(
                       o, OneCycleLROptions(floats(a, "max_lr"))
                              .total_steps(opt_i64(a, "total_steps"))
                              .epochs(opt_i64(a, "epochs"))
                              .steps_per_epoch(opt_i64(a, "steps_per_epoch"))
                              .pct_start(f64(a, "pct_start"))
                              .anneal_strategy(text(a, "anneal_strategy"))
                              .cycle_momentum(flag(a, "cycle_momentum"))
                              .base_momentum(floats(a, "base_momentum"))
                              .max_momentum(floats(a, "max_momentum"))
                              .div_factor(f64(a, "div_factor"))
                              .final_div_factor(f64(a, "final_div_factor"))
                              .three_phase(flag(a, "three_phase"))
                              .last_epoch(i64(a, "last_epoch"))));
                 }});
    c.push_back({"SWALR",
                 "torch.optim.swa_utils",
                 {required("swa_lr", "float | list[float]", "the rate annealed to"),
                  {"anneal_epochs", "int", 10, "epochs of the annealing"},
                  {"anneal_strategy", "str", "cos", "cos or linear"},
                  kLastEpoch},
                 {},
                 nullptr,
                 [](const HParams& a, OptimizerPtr o) {
                   return scheduler(
                       std::make_shared<SWALR>(o, SWALROptions(floats(a, "swa_lr"))
                                                      .anneal_epochs(i64(a, "anneal_epochs"))
                                                      .anneal_strategy(text(a, "anneal_strategy"))
                                                      .last_epoch(i64(a, "last_epoch"))));
                 }});
    // Lightning's CLI subclass, which adds the metric to monitor.
    c.push_back({"ReduceLROnPlateau",
                 "lightning.pytorch.cli",
                 {required("monitor", "str", "the logged metric to watch (e.g. val_loss)"),
                  {"mode", "str", "min", "min or max"},
                  {"factor", "float", 0.1, "new lr = lr * factor"},
                  {"patience", "int", 10, "epochs without improvement before a reduction"},
                  {"threshold", "float", 1e-4, "least change that counts as improvement"},
                  {"threshold_mode", "str", "rel", "rel or abs"},
                  {"cooldown", "int", 0, "epochs to wait after a reduction"},
                  {"min_lr", "float | list[float]", 0.0, "lower bound of the learning rate"},
                  {"eps", "float", 1e-8, "smallest change of the lr applied"}},
                 kSchedulerPythonOnly,
                 nullptr,
                 [](const HParams& a, OptimizerPtr o) {
                   auto s = std::make_shared<ReduceLROnPlateau>(
                       o, ReduceLROnPlateauOptions()
                              .mode(text(a, "mode"))
                              .factor(f64(a, "factor"))
                              .patience(i64(a, "patience"))
                              .threshold(f64(a, "threshold"))
                              .threshold_mode(text(a, "threshold_mode"))
                              .cooldown(i64(a, "cooldown"))
                              .min_lr(floats(a, "min_lr"))
                              .eps(f64(a, "eps")));
                   return LRSchedulerConfig(s, SchedulerConfig().monitor(text(a, "monitor")));
                 }});
    return c;
  }();
  return classes;
}

const std::vector<BuiltinClass>& builtins(OptimSection section) {
  return section == OptimSection::Optimizer ? builtin_optimizers() : builtin_schedulers();
}

// PyTorch classes that cannot come from a config here, and why.
std::optional<std::string> unavailable(OptimSection section, const std::string& name) {
  if (section == OptimSection::Optimizer) {
    for (const char* n : {"ASGD", "Adadelta", "Adafactor", "Adamax", "Muon", "NAdam", "RAdam",
                          "Rprop", "SparseAdam"}) {
      if (name == n)
        return "a PyTorch optimizer that libtorch's C++ API does not have; implement it as a "
               "torch::optim::Optimizer and register it with L::register_optimizer";
    }
    return std::nullopt;
  }
  if (name == "LambdaLR" || name == "MultiplicativeLR")
    return "it takes a Python function; build L::" + name +
           " with a C++ lambda in the model's configure_optimizers";
  if (name == "SequentialLR" || name == "ChainedScheduler")
    return "it takes scheduler objects; build L::" + name + " in the model's configure_optimizers";
  if (name == "SWALR") return "lightning.cpp has no SWALR";
  return std::nullopt;
}

bool torch_or_lightning_module(const std::string& module) {
  return module.empty() || module == "torch.optim" || module.rfind("torch.optim.", 0) == 0 ||
         lightning_module(module);
}

// What a class_path names: a built-in class or a registered factory.
struct Resolved {
  const BuiltinClass* builtin = nullptr;
  std::string registered;  // the registry key, when registered
  std::string class_path;  // canonical for a built-in, as written otherwise
};

std::vector<std::string> registered_names(OptimSection section) {
  return section == OptimSection::Optimizer ? optimizer_registry().names()
                                            : lr_scheduler_registry().names();
}
bool is_registered(OptimSection section, const std::string& name) {
  return section == OptimSection::Optimizer ? optimizer_registry().find(name).has_value()
                                            : lr_scheduler_registry().find(name).has_value();
}

Resolved resolve_class(OptimSection section, const ClassSpec& spec) {
  const auto& classes = builtins(section);
  const BuiltinClass* builtin = nullptr;
  for (const auto& c : classes)
    if (c.name == spec.short_name) builtin = &c;
  const bool ours = torch_or_lightning_module(spec.module);
  Resolved r;
  // A registered name wins over a built-in one of the same short name, unless
  // the class_path names torch's or Lightning's module.
  if (is_registered(section, spec.class_path)) {
    r.registered = spec.class_path;
  } else if (!(ours && !spec.module.empty() && builtin) &&
             is_registered(section, spec.short_name)) {
    r.registered = spec.short_name;
  }
  if (!r.registered.empty()) {
    r.class_path = spec.class_path;
    return r;
  }
  const std::string kind = section == OptimSection::Optimizer ? "optimizer" : "LR scheduler";
  const std::string key = spec.path + ".class_path";
  std::vector<std::string> names;
  for (const auto& c : classes) names.push_back(c.name);
  const auto user = registered_names(section);
  const std::string available =
      " Available: " + join(names) +
      (user.empty() ? std::string(" (none registered)") : "; registered: " + join(user)) +
      ". A class of your own: L::register_" +
      (section == OptimSection::Optimizer ? "optimizer" : "lr_scheduler") +
      " (lightning/cli_registry.h).";
  if (builtin && ours) {
    r.builtin = builtin;
    r.class_path = builtin->class_path();
    return r;
  }
  if (builtin) {
    LIGHTNING_FAIL(key, ": '", spec.class_path, "' is not a registered ", kind, "; the built-in '",
                   spec.short_name, "' is found as '", builtin->class_path(), "' or '",
                   spec.short_name, "'.", available);
  }
  if (auto why = unavailable(section, spec.short_name); why && ours) {
    LIGHTNING_FAIL(key, ": '", spec.class_path, "' cannot come from a config here: ", *why, ".",
                   available);
  }
  std::vector<std::string> candidates = names;
  candidates.insert(candidates.end(), user.begin(), user.end());
  LIGHTNING_FAIL(key, ": unknown ", kind, " '", spec.class_path, "'",
                 end(spec.short_name, candidates), available);
}

// The init_args of a built-in class, checked: known names with their types,
// Python-only arguments at a neutral value (then dropped).
HParams checked_args(const BuiltinClass& cls, const HParams& given, const std::string& path) {
  HParams out;
  std::vector<std::string> known;
  for (const auto& a : cls.args) known.push_back(a.name);
  for (const auto& p : cls.python_only) known.push_back(p.name);
  for (const auto& [key, value] : given.items()) {
    const std::string at = path + "." + key;
    if (const Arg* a = cls.arg(key)) {
      if (a->required && value.is_none())
        LIGHTNING_FAIL(at, ": ", cls.name, " requires this argument (", a->type, ": ", a->doc,
                       "), got None.");
      out.set(key, typed(a->type, value, at));
    } else if (const PythonOnlyArg* p = cls.python_only_arg(key)) {
      if (std::find(p->neutral.begin(), p->neutral.end(), value) != p->neutral.end()) continue;
      std::vector<std::string> accepted;
      for (const auto& n : p->neutral) accepted.push_back(shown(n));
      LIGHTNING_FAIL(at, ": ", cls.name, "'s '", key,
                     "' exists in PyTorch but not in lightning.cpp (", p->why, "); only ",
                     join_or(accepted), " is accepted here, got ", shown(value), ".");
    } else {
      std::vector<std::string> names;
      for (const auto& a : cls.args) names.push_back(a.name);
      LIGHTNING_FAIL(at, ": ", cls.name, " has no argument '", key, "'", end(key, known),
                     " Its arguments: ", join(names), ".");
    }
  }
  return out;
}

HParams section_map(const std::string& class_path, const HParams& init_args) {
  return HParams{{"class_path", class_path}, {"init_args", init_args}};
}

// Rethrows a constructor's refusal (lightning::Error or libtorch's check)
// with the section and class in front.
template <typename F>
auto labelled(const std::string& label, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error& e) {
    LIGHTNING_FAIL(label, ": ", e.what());
  } catch (const c10::Error& e) {
    LIGHTNING_FAIL(label, ": ", e.what_without_backtrace());
  }
}

}  // namespace

const char* section_name(OptimSection section) {
  return section == OptimSection::Optimizer ? "optimizer" : "lr_scheduler";
}

HParamValue merge_optim_section(OptimSection section, const HParamValue& current,
                                const HParamValue& value, const std::string& origin) {
  const std::string where = section_name(section);
  if (value.is_none()) return value;  // null clears the section
  try {
    const bool args_only = value.is_map() && !value.as<HParams>().contains("class_path");
    if (args_only) {
      // `--optimizer.lr 0.1` / `--optimizer.init_args.lr 0.1` / a file's
      // `optimizer: {init_args: {...}}`: arguments of the class given before.
      LIGHTNING_CHECK(current.is_map(), where, " = ", shown(value), ": no ", where,
                      " class given before these arguments. Give the class first (--", where, " ",
                      section == OptimSection::Optimizer ? "Adam" : "StepLR", ", or ", where,
                      ": {class_path: ..., init_args: {...}} in a config file).");
      HParams map = value.as<HParams>();
      HParams args;
      for (const auto& [k, v] : map.items()) {
        if (k == "init_args" || k == "dict_kwargs") {
          if (v.is_none()) continue;
          if (!v.is_map()) type_error(where + "." + k, v, "a mapping of argument names");
          args.update(v.as<HParams>());
        } else {
          args.set(k, v);
        }
      }
      HParams with_class = current.as<HParams>();
      with_class.set("init_args", args);
      return merge_optim_section(section, current, with_class, origin);
    }
    const ClassSpec spec =
        parse_spec(value, where, section == OptimSection::Optimizer ? "optimizer" : "scheduler");
    const Resolved r = resolve_class(section, spec);
    HParams args;
    if (current.is_map()) {
      const HParams cur = current.as<HParams>();
      const HParams cur_args = cur.at("init_args").as<HParams>();
      if (cur.at("class_path").as<std::string>() == r.class_path) {
        args = cur_args;
      } else if (r.builtin) {
        // Another class: keep the arguments it also takes (as jsonargparse).
        for (const auto& [k, v] : cur_args.items())
          if (r.builtin->arg(k)) args.set(k, v);
      }
    }
    HParams given = spec.init_args;
    if (r.builtin) given = checked_args(*r.builtin, given, where + ".init_args");
    for (const auto& [k, v] : given.items()) args.set(k, v);
    return section_map(r.class_path, args);
  } catch (const Error& e) {
    throw Error(origin + ": " + e.what());
  }
}

HParamValue resolve_optim_section(OptimSection section, const HParamValue& merged) {
  if (merged.is_none()) return merged;
  const std::string where = section_name(section);
  const HParams map = merged.as<HParams>();
  ClassSpec spec = parse_spec(merged, where, where);
  const Resolved r = resolve_class(section, spec);
  if (!r.builtin) return merged;  // a registered factory reads its own init_args
  const HParams given = map.at("init_args").as<HParams>();
  HParams full;
  for (const auto& a : r.builtin->args) {
    if (given.contains(a.name)) {
      full.set(a.name, given.at(a.name));
      continue;
    }
    LIGHTNING_CHECK(!a.required, where, ".init_args.", a.name, ": ", r.builtin->name,
                    " requires this argument (", a.type, ": ", a.doc,
                    "), it is missing. Give it in a config file (", where,
                    ": {class_path: ", r.builtin->name, ", init_args: {", a.name,
                    ": ...}}) or as --", where, ".", a.name, " VALUE.");
    full.set(a.name, a.default_value);
  }
  // Build once on a stand-in parameter: what the constructor refuses is
  // reported now, with the section's name, rather than when fit starts.
  const std::string label = where + " (" + r.builtin->name + ")";
  const at::Tensor stand_in = torch::zeros({1}).requires_grad_(true);
  if (section == OptimSection::Optimizer) {
    labelled(label, [&] { return r.builtin->make_optimizer(full, {stand_in}); });
  } else {
    auto opt = std::make_shared<torch::optim::SGD>(std::vector<at::Tensor>{stand_in},
                                                   torch::optim::SGDOptions(0.1));
    labelled(label, [&] { return r.builtin->make_scheduler(full, opt); });
  }
  return section_map(r.class_path, full);
}

OptimizerConfig configure_from_sections(LightningModule& model, const HParamValue& optimizer,
                                        const HParamValue& lr_scheduler) {
  const ClassSpec ospec = parse_spec(optimizer, "optimizer", "optimizer");
  const Resolved o = resolve_class(OptimSection::Optimizer, ospec);
  const std::string olabel = "optimizer (" + ospec.short_name + ")";
  OptimizerPtr opt = labelled(olabel, [&]() -> OptimizerPtr {
    if (o.builtin) return o.builtin->make_optimizer(ospec.init_args, model.parameters());
    return (*optimizer_registry().find(o.registered))(model.parameters(), ospec.init_args);
  });
  LIGHTNING_CHECK(opt != nullptr, olabel, ": the registered optimizer factory returned nullptr.");
  if (lr_scheduler.is_none()) return opt;
  const ClassSpec sspec = parse_spec(lr_scheduler, "lr_scheduler", "scheduler");
  const Resolved s = resolve_class(OptimSection::LRScheduler, sspec);
  const std::string slabel = "lr_scheduler (" + sspec.short_name + ")";
  LRSchedulerConfig config = labelled(slabel, [&]() -> LRSchedulerConfig {
    if (s.builtin) return s.builtin->make_scheduler(sspec.init_args, opt);
    auto made = (*lr_scheduler_registry().find(s.registered))(opt, sspec.init_args);
    LIGHTNING_CHECK(made != nullptr, "the registered scheduler factory returned nullptr.");
    LRSchedulerConfig c(made);
    if (made->reduce_on_plateau()) {
      const HParamValue monitor =
          sspec.init_args.contains("monitor") ? sspec.init_args.at("monitor") : HParamValue();
      LIGHTNING_CHECK(monitor.is_string(),
                      "it reduces on a plateau, so its init_args need "
                      "'monitor': the logged metric to watch (e.g. monitor: val_loss).");
      c.config.monitor(monitor.as<std::string>());
    }
    return c;
  });
  return OptimizerConfig(opt).lr_scheduler(config.scheduler, config.config);
}

std::vector<std::string> optim_class_names(OptimSection section) {
  std::vector<std::string> names;
  for (const auto& c : builtins(section)) names.push_back(c.class_path());
  for (const auto& n : registered_names(section)) names.push_back(n);
  return names;
}

std::string optim_class_help(OptimSection section, const std::string& class_path) {
  const std::string where = section_name(section);
  ClassSpec spec = parse_spec(HParamValue(class_path), "--" + where + ".help", where);
  const Resolved r = resolve_class(section, spec);
  std::ostringstream os;
  if (!r.builtin) {
    os << r.class_path << " (registered): its factory reads the init_args itself.\n";
    return os.str();
  }
  os << "usage: --" << where << " " << r.builtin->name << " [--" << where << ".NAME VALUE ...]\n\n"
     << r.builtin->class_path() << " (--" << where << ".init_args):\n";
  for (const auto& a : r.builtin->args) {
    os << "  --" << where << "." << a.name << "\n      " << a.doc << " (type: " << a.type
       << (a.required ? ", required" : ", default: " + shown(a.default_value)) << ")\n";
  }
  return os.str();
}

}  // namespace lightning::detail
