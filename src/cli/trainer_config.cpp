#include "cli/trainer_config.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <utility>

#include "cli/config_reading.h"
#include "cli/registries.h"
#include "lightning/callbacks/batch_size_finder.h"
#include "lightning/callbacks/device_stats_monitor.h"
#include "lightning/callbacks/early_stopping.h"
#include "lightning/callbacks/finetuning.h"
#include "lightning/callbacks/gradient_accumulation_scheduler.h"
#include "lightning/callbacks/learning_rate_monitor.h"
#include "lightning/callbacks/lr_finder.h"
#include "lightning/callbacks/model_checkpoint.h"
#include "lightning/callbacks/model_summary.h"
#include "lightning/callbacks/on_exception_checkpoint.h"
#include "lightning/callbacks/prediction_writer.h"
#include "lightning/callbacks/progress_bar.h"
#include "lightning/callbacks/stochastic_weight_averaging.h"
#include "lightning/callbacks/throughput_monitor.h"
#include "lightning/callbacks/timer.h"
#include "lightning/callbacks/weight_averaging.h"
#include "lightning/cli_registry.h"
#include "lightning/error.h"
#include "lightning/loggers/csv_logger.h"
#include "lightning/loggers/tensorboard_logger.h"
#include "lightning/precision.h"
#include "lightning/profilers/advanced.h"
#include "lightning/profilers/pytorch.h"
#include "lightning/profilers/simple.h"
#include "lightning/strategies/ddp.h"
#include "util/closest_names.h"

namespace lightning {

namespace detail {

namespace {

// ---- class_path objects -------------------------------------------------------

template <typename T, typename Registry, typename Builtin>
std::shared_ptr<T> make_object(const ClassSpec& spec, Registry& registry, const std::string& kind,
                               const std::vector<std::pair<std::string, Builtin>>& builtins,
                               const std::map<std::string, std::string>& python_only,
                               const std::vector<std::string>& other_kind_names,
                               const std::string& other_kind) {
  auto builtin = std::find_if(builtins.begin(), builtins.end(),
                              [&](const auto& b) { return b.first == spec.short_name; });
  const bool ours = spec.module.empty() || lightning_module(spec.module);
  auto registered = registry.find(spec.class_path);
  if (!registered && !(ours && !spec.module.empty() && builtin != builtins.end())) {
    registered = registry.find(spec.short_name);
  }
  const std::string label = spec.path + " (" + spec.short_name + ")";
  if (registered) {
    std::shared_ptr<T> object;
    try {
      object = (*registered)(spec.init_args);
    } catch (const Error& e) {
      LIGHTNING_FAIL(label, ": ", e.what());
    }
    LIGHTNING_CHECK(object != nullptr, label, ": the registered ", kind,
                    " factory returned nullptr.");
    return object;
  }
  if (ours && builtin != builtins.end()) {
    InitArgs args(spec.init_args, spec.path + ".init_args", spec.short_name);
    std::shared_ptr<T> object;
    // Typed reading errors already carry the key path; errors of the class's
    // own validation (its constructor) get the object's path in front.
    auto make = builtin->second(args);
    args.finish();
    try {
      object = make();
    } catch (const Error& e) {
      LIGHTNING_FAIL(label, ": ", e.what());
    }
    return object;
  }
  const std::string class_key = spec.path + (spec.path.empty() ? "" : ".") + "class_path";
  std::vector<std::string> names;
  for (const auto& b : builtins) names.push_back(b.first);
  const auto user = registry.names();
  const std::string available =
      " Available " + kind + "s: " + join(names) +
      (user.empty() ? std::string(" (none registered)") : "; registered: " + join(user)) +
      ". A class of your own: L::register_" + kind + " (lightning/cli_registry.h).";
  if (!ours && builtin != builtins.end()) {
    LIGHTNING_FAIL(class_key, ": '", spec.class_path, "' is not a registered ", kind,
                   "; the built-in '", spec.short_name, "' is found as '", spec.short_name,
                   "' or under Lightning's module (lightning.pytorch...).", available);
  }
  auto py = python_only.find(spec.short_name);
  if (ours && py != python_only.end()) {
    LIGHTNING_FAIL(class_key, ": '", spec.class_path, "' is a Python Lightning ", kind,
                   " that lightning.cpp does not have (", py->second, ").", available);
  }
  if (std::find(other_kind_names.begin(), other_kind_names.end(), spec.short_name) !=
      other_kind_names.end()) {
    LIGHTNING_FAIL(class_key, ": '", spec.class_path, "' is a ", other_kind, ", not a ", kind, ".",
                   available);
  }
  std::vector<std::string> candidates = names;
  candidates.insert(candidates.end(), user.begin(), user.end());
  LIGHTNING_FAIL(class_key, ": unknown ", kind, " '", spec.class_path, "'",
                 end(spec.short_name, candidates), available);
}

// ---- Built-in callbacks -------------------------------------------------------

using CallbackMaker = std::function<std::shared_ptr<Callback>()>;
using CallbackBuiltin = std::function<CallbackMaker(InitArgs&)>;

CallbackMaker model_checkpoint(InitArgs& a) {
  ModelCheckpointOptions o;
  if (auto v = a.take("dirpath")) o.dirpath(to_opt_str(*v, a.path("dirpath")));
  if (auto v = a.take("filename")) o.filename(to_opt_str(*v, a.path("filename")));
  if (auto v = a.take("monitor")) o.monitor(to_opt_str(*v, a.path("monitor")));
  if (auto v = a.take("verbose")) o.verbose(to_bool(*v, a.path("verbose")));
  if (auto v = a.take("save_last")) {
    if (v->is_string() && std::get<std::string>(v->variant()) == "link") {
      LIGHTNING_FAIL(a.path("save_last"),
                     ": save_last='link' exists in Python Lightning but not in lightning.cpp "
                     "(last.ckpt is always a full copy); use true or false.");
    }
    o.save_last(v->is_none() ? false : to_bool(*v, a.path("save_last"), "bool or None"));
  }
  if (auto v = a.take("save_top_k")) o.save_top_k(to_int(*v, a.path("save_top_k")));
  a.python_only("save_on_exception", {false},
                "no checkpoint is written when fit raises; resume from the last saved one");
  if (auto v = a.take("save_weights_only")) {
    o.save_weights_only(to_bool(*v, a.path("save_weights_only")));
  }
  if (auto v = a.take("mode")) o.mode(to_str(*v, a.path("mode")));
  if (auto v = a.take("auto_insert_metric_name")) {
    o.auto_insert_metric_name(to_bool(*v, a.path("auto_insert_metric_name")));
  }
  if (auto v = a.take("every_n_train_steps")) {
    o.every_n_train_steps(to_opt_int(*v, a.path("every_n_train_steps")));
  }
  if (auto v = a.take("train_time_interval")) {
    if (v->is_none()) {
      o.train_time_interval(std::nullopt);
    } else {
      o.train_time_interval(to_duration(*v, a.path("train_time_interval")));
    }
  }
  if (auto v = a.take("every_n_epochs")) o.every_n_epochs(to_opt_int(*v, a.path("every_n_epochs")));
  if (auto v = a.take("save_on_train_epoch_end")) {
    o.save_on_train_epoch_end(to_opt_bool(*v, a.path("save_on_train_epoch_end")));
  }
  if (auto v = a.take("enable_version_counter")) {
    o.enable_version_counter(to_bool(*v, a.path("enable_version_counter")));
  }
  return [o] { return std::make_shared<ModelCheckpoint>(o); };
}

CallbackMaker early_stopping(InitArgs& a) {
  EarlyStoppingOptions o(to_str(a.require("monitor", "the metric to watch"), a.path("monitor")));
  if (auto v = a.take("min_delta")) o.min_delta(to_float(*v, a.path("min_delta")));
  if (auto v = a.take("patience")) o.patience(to_int(*v, a.path("patience")));
  if (auto v = a.take("verbose")) o.verbose(to_bool(*v, a.path("verbose")));
  if (auto v = a.take("mode")) o.mode(to_str(*v, a.path("mode")));
  if (auto v = a.take("strict")) o.strict(to_bool(*v, a.path("strict")));
  if (auto v = a.take("check_finite")) o.check_finite(to_bool(*v, a.path("check_finite")));
  if (auto v = a.take("stopping_threshold")) {
    o.stopping_threshold(to_opt_float(*v, a.path("stopping_threshold")));
  }
  if (auto v = a.take("divergence_threshold")) {
    o.divergence_threshold(to_opt_float(*v, a.path("divergence_threshold")));
  }
  if (auto v = a.take("check_on_train_epoch_end")) {
    o.check_on_train_epoch_end(to_opt_bool(*v, a.path("check_on_train_epoch_end")));
  }
  a.python_only("log_rank_zero_only", {false},
                "its messages are printed by global rank 0 only already");
  return [o] { return std::make_shared<EarlyStopping>(o); };
}

CallbackMaker learning_rate_monitor(InitArgs& a) {
  LearningRateMonitorOptions o;
  if (auto v = a.take("logging_interval")) {
    o.logging_interval(to_opt_str(*v, a.path("logging_interval")));
  }
  if (auto v = a.take("log_momentum")) o.log_momentum(to_bool(*v, a.path("log_momentum")));
  if (auto v = a.take("log_weight_decay")) {
    o.log_weight_decay(to_bool(*v, a.path("log_weight_decay")));
  }
  return [o] { return std::make_shared<LearningRateMonitor>(o); };
}

CallbackMaker gradient_accumulation_scheduler(InitArgs& a) {
  const std::string path = a.path("scheduling");
  const HParamValue& v = a.require("scheduling", "a mapping epoch: batches per optimizer step");
  if (!v.is_map()) type_error(path, v, "a mapping {epoch: batches per optimizer step}");
  std::map<int64_t, int64_t> scheduling;
  const HParams map = v.as<HParams>();
  for (const auto& [key, factor] : map.items()) {
    char* end = nullptr;
    errno = 0;
    const long long epoch = std::strtoll(key.c_str(), &end, 10);
    LIGHTNING_CHECK(!key.empty() && *end == '\0' && errno == 0, path,
                    ": the keys are epochs "
                    "(ints), got '",
                    key, "'.");
    scheduling[epoch] = to_int(factor, path + "." + key);
  }
  return [scheduling] { return std::make_shared<GradientAccumulationScheduler>(scheduling); };
}

CallbackMaker model_summary(InitArgs& a) {
  ModelSummaryOptions o;
  if (auto v = a.take("max_depth")) o.max_depth(to_int(*v, a.path("max_depth")));
  return [o] { return std::make_shared<ModelSummary>(o); };
}

// Lightning's max_time / Timer(duration=...): "DD:HH:MM:SS", a timedelta's
// keyword arguments as a mapping, or None.
std::optional<TimeLimit> time_limit_from(const HParamValue& v, const std::string& path) {
  if (v.is_none()) return std::nullopt;
  if (v.is_map()) return TimeLimit(to_duration(v, path));
  const std::string text = to_str(v, path, "str (\"DD:HH:MM:SS\"), a mapping or None");
  try {
    return TimeLimit(text);
  } catch (const Error& e) {
    LIGHTNING_FAIL(path, ": ", e.what());
  }
}

CallbackMaker timer(InitArgs& a) {
  TimerOptions o;
  if (auto v = a.take("duration")) o.duration(time_limit_from(*v, a.path("duration")));
  if (auto v = a.take("interval")) o.interval(to_str(*v, a.path("interval")));
  if (auto v = a.take("verbose")) o.verbose(to_bool(*v, a.path("verbose")));
  return [o] { return std::make_shared<Timer>(o); };
}

CallbackMaker learning_rate_finder(InitArgs& a) {
  LRFindOptions o;
  if (auto v = a.take("min_lr")) o.min_lr(to_float(*v, a.path("min_lr")));
  if (auto v = a.take("max_lr")) o.max_lr(to_float(*v, a.path("max_lr")));
  // The callback's name for lr_find's num_training.
  if (auto v = a.take("num_training_steps")) {
    o.num_training(to_int(*v, a.path("num_training_steps")));
  }
  if (auto v = a.take("mode")) o.mode(to_str(*v, a.path("mode")));
  if (auto v = a.take("early_stop_threshold")) {
    o.early_stop_threshold(to_opt_float(*v, a.path("early_stop_threshold")));
  }
  if (auto v = a.take("update_attr")) o.update_attr(to_bool(*v, a.path("update_attr")));
  if (auto v = a.take("attr_name")) o.attr_name(to_str(*v, a.path("attr_name")));
  return [o] { return std::make_shared<LearningRateFinder>(o); };
}

CallbackMaker batch_size_finder(InitArgs& a) {
  BatchSizeFinderOptions o;
  if (auto v = a.take("mode")) o.mode(to_str(*v, a.path("mode")));
  if (auto v = a.take("steps_per_trial")) {
    o.steps_per_trial(to_int(*v, a.path("steps_per_trial")));
  }
  if (auto v = a.take("init_val")) o.init_val(to_int(*v, a.path("init_val")));
  if (auto v = a.take("max_trials")) o.max_trials(to_int(*v, a.path("max_trials")));
  if (auto v = a.take("batch_arg_name")) o.batch_arg_name(to_str(*v, a.path("batch_arg_name")));
  if (auto v = a.take("margin")) o.margin(to_float(*v, a.path("margin")));
  if (auto v = a.take("max_val")) o.max_val(to_int(*v, a.path("max_val")));
  if (auto v = a.take("max_memory_bytes")) {
    o.max_memory_bytes(to_opt_int(*v, a.path("max_memory_bytes")));
  }
  return [o] { return std::make_shared<BatchSizeFinder>(o); };
}

CallbackMaker on_exception_checkpoint(InitArgs& a) {
  const std::string dirpath =
      to_str(a.require("dirpath", "the folder of the checkpoint"), a.path("dirpath"));
  std::string filename = "on_exception";
  if (auto v = a.take("filename")) filename = to_str(*v, a.path("filename"));
  return [dirpath, filename] { return std::make_shared<OnExceptionCheckpoint>(dirpath, filename); };
}

// A config cannot hold C++ code: the samples of a batch are Batch::batch_size()
// (the first tensor's first dimension), and there is no length_fn.
CallbackMaker throughput_monitor(InitArgs& a) {
  const std::string why =
      "a config cannot hold C++ code; from a config the batch size is the first tensor's first "
      "dimension. Pass ThroughputMonitorOptions(batch_size_fn) in C++ for another count";
  a.python_only("batch_size_fn", {HParamValue()}, why);
  a.python_only("length_fn", {HParamValue()}, why);
  ThroughputMonitorOptions o([](const Batch& batch) { return batch.batch_size(); });
  if (auto v = a.take("window_size")) o.window_size(to_int(*v, a.path("window_size")));
  if (auto v = a.take("separator")) o.separator(to_str(*v, a.path("separator")));
  return [o] { return std::make_shared<ThroughputMonitor>(o); };
}

CallbackMaker device_stats_monitor(InitArgs& a) {
  std::optional<bool> cpu_stats;
  if (auto v = a.take("cpu_stats")) cpu_stats = to_opt_bool(*v, a.path("cpu_stats"));
  return [cpu_stats] { return std::make_shared<DeviceStatsMonitor>(cpu_stats); };
}

CallbackMaker progress_bar(InitArgs& a) {
  ProgressBarOptions o;
  if (auto v = a.take("refresh_rate")) o.refresh_rate(to_int(*v, a.path("refresh_rate")));
  a.python_only("process_position", {0}, "one bar per process is not stacked in C++");
  a.python_only("leave", {false}, "the training bar is always left on screen");
  if (auto v = a.take("interactive")) o.interactive(to_opt_bool(*v, a.path("interactive")));
  return [o] { return std::make_shared<ProgressBar>(o); };
}

// device: None (the module's) or a device string such as "cpu" / "cuda:0".
std::optional<c10::Device> to_opt_device(const HParamValue& v, const std::string& path) {
  if (v.is_none()) return std::nullopt;
  const std::string text = to_str(v, path, "str or None");
  try {
    return c10::Device(text);
  } catch (const std::exception&) {
    LIGHTNING_FAIL(path, ": expected a device such as \"cpu\" or \"cuda:0\", got '", text, "'.");
  }
}

CallbackMaker stochastic_weight_averaging(InitArgs& a) {
  const std::string lrs_path = a.path("swa_lrs");
  const HParamValue& lrs = a.require("swa_lrs", "a positive float, or one per parameter group");
  std::vector<double> swa_lrs;
  if (lrs.is_list()) {
    const auto& items = lrs.as<HParamValue::List>();
    for (size_t i = 0; i < items.size(); ++i) {
      swa_lrs.push_back(to_float(items[i], lrs_path + "[" + std::to_string(i) + "]"));
    }
  } else {
    swa_lrs.push_back(to_float(lrs, lrs_path, "float or list[float]"));
  }
  StochasticWeightAveragingOptions o(swa_lrs);
  if (auto v = a.take("swa_epoch_start")) {
    if (v->is_int()) {
      o.swa_epoch_start(to_int(*v, a.path("swa_epoch_start")));
    } else {
      o.swa_epoch_start(to_float(*v, a.path("swa_epoch_start"), "int or float"));
    }
  }
  if (auto v = a.take("annealing_epochs")) {
    o.annealing_epochs(to_int(*v, a.path("annealing_epochs")));
  }
  if (auto v = a.take("annealing_strategy")) {
    o.annealing_strategy(to_str(*v, a.path("annealing_strategy")));
  }
  a.python_only("avg_fn", {HParamValue()}, "a config cannot hold a function; pass avg_fn in C++");
  if (auto v = a.take("device")) o.device(to_opt_device(*v, a.path("device")));
  return [o] { return std::make_shared<StochasticWeightAveraging>(o); };
}

CallbackMaker weight_averaging(InitArgs& a) {
  WeightAveragingOptions o;
  if (auto v = a.take("device")) o.device(to_opt_device(*v, a.path("device")));
  if (auto v = a.take("use_buffers")) o.use_buffers(to_bool(*v, a.path("use_buffers")));
  return [o] { return std::make_shared<WeightAveraging>(o); };
}

CallbackMaker ema_weight_averaging(InitArgs& a) {
  EMAWeightAveragingOptions o;
  if (auto v = a.take("device")) o.device(to_opt_device(*v, a.path("device")));
  if (auto v = a.take("use_buffers")) o.use_buffers(to_bool(*v, a.path("use_buffers")));
  if (auto v = a.take("decay")) o.decay(to_float(*v, a.path("decay")));
  if (auto v = a.take("update_every_n_steps")) {
    o.update_every_n_steps(to_int(*v, a.path("update_every_n_steps")));
  }
  if (auto v = a.take("update_starting_at_step")) {
    o.update_starting_at_step(to_opt_int(*v, a.path("update_starting_at_step")));
  }
  if (auto v = a.take("update_starting_at_epoch")) {
    o.update_starting_at_epoch(to_opt_int(*v, a.path("update_starting_at_epoch")));
  }
  return [o] { return std::make_shared<EMAWeightAveraging>(o); };
}

CallbackMaker backbone_finetuning(InitArgs& a) {
  BackboneFinetuningOptions o;
  if (auto v = a.take("unfreeze_backbone_at_epoch")) {
    o.unfreeze_backbone_at_epoch(to_int(*v, a.path("unfreeze_backbone_at_epoch")));
  }
  a.python_only("lambda_func",
                {std::string("pytorch_lightning.callbacks.finetuning.multiplicative"),
                 std::string("lightning.pytorch.callbacks.finetuning.multiplicative")},
                "a config cannot name C++ code; set BackboneFinetuningOptions::lambda_func in "
                "C++ (the default doubles the backbone's lr each epoch, as multiplicative)");
  if (auto v = a.take("backbone_initial_ratio_lr")) {
    o.backbone_initial_ratio_lr(to_float(*v, a.path("backbone_initial_ratio_lr")));
  }
  if (auto v = a.take("backbone_initial_lr")) {
    o.backbone_initial_lr(to_opt_float(*v, a.path("backbone_initial_lr")));
  }
  if (auto v = a.take("should_align")) o.should_align(to_bool(*v, a.path("should_align")));
  if (auto v = a.take("initial_denom_lr")) {
    o.initial_denom_lr(to_float(*v, a.path("initial_denom_lr")));
  }
  if (auto v = a.take("train_bn")) o.train_bn(to_bool(*v, a.path("train_bn")));
  if (auto v = a.take("verbose")) o.verbose(to_bool(*v, a.path("verbose")));
  if (auto v = a.take("rounding")) o.rounding(to_int(*v, a.path("rounding")));
  BackboneFinetuning check(o);  // option errors at config time, naming the values
  return [o] { return std::make_shared<BackboneFinetuning>(o); };
}

CallbackMaker prediction_writer(InitArgs& a) {
  const std::string output_dir = to_str(
      a.require("output_dir", "the folder to write the predictions into"), a.path("output_dir"));
  std::string interval = "batch";
  if (auto v = a.take("write_interval")) interval = to_str(*v, a.path("write_interval"));
  PredictionWriter check(output_dir, interval);
  return
      [output_dir, interval] { return std::make_shared<PredictionWriter>(output_dir, interval); };
}

const std::vector<std::pair<std::string, CallbackBuiltin>>& callback_builtins() {
  static const std::vector<std::pair<std::string, CallbackBuiltin>> builtins = {
      {"ModelCheckpoint", model_checkpoint},
      {"EarlyStopping", early_stopping},
      {"LearningRateMonitor", learning_rate_monitor},
      {"GradientAccumulationScheduler", gradient_accumulation_scheduler},
      {"ModelSummary", model_summary},
      {"TQDMProgressBar", progress_bar},
      {"ProgressBar", progress_bar},
      {"Timer", timer},
      {"OnExceptionCheckpoint", on_exception_checkpoint},
      {"ThroughputMonitor", throughput_monitor},
      {"DeviceStatsMonitor", device_stats_monitor},
      {"LearningRateFinder", learning_rate_finder},
      {"BatchSizeFinder", batch_size_finder},
      {"StochasticWeightAveraging", stochastic_weight_averaging},
      {"WeightAveraging", weight_averaging},
      {"EMAWeightAveraging", ema_weight_averaging},
      {"BackboneFinetuning", backbone_finetuning},
      {"PredictionWriter", prediction_writer},
  };
  return builtins;
}

const std::map<std::string, std::string>& python_only_callbacks() {
  static const std::map<std::string, std::string> names = {
      {"BaseFinetuning",
       "an abstract class; subclass L::BaseFinetuning in C++ and register it (or use "
       "BackboneFinetuning)"},
      {"LambdaCallback", "a config cannot hold C++ code; subclass L::Callback and register it"},
      {"BasePredictionWriter",
       "an abstract class; use PredictionWriter, or subclass L::BasePredictionWriter and "
       "register it"},
      {"RichProgressBar", "use TQDMProgressBar"},
      {"ModelPruning", "no pruning"},
      {"RichModelSummary", "use ModelSummary"},
      {"SpikeDetection", "no loss spike detection"},
  };
  return names;
}

// ---- Built-in loggers ---------------------------------------------------------

using LoggerMaker = std::function<std::shared_ptr<Logger>()>;
using LoggerBuiltin = std::function<LoggerMaker(InitArgs&)>;

LoggerVersion logger_version(const HParamValue& v, const std::string& path) {
  if (v.is_none()) return {};
  if (v.is_int()) return LoggerVersion(std::get<int64_t>(v.variant()));
  return LoggerVersion(to_str(v, path, "int, str or None"));
}

LoggerMaker csv_logger(InitArgs& a) {
  CSVLoggerOptions o(
      to_str(a.require("save_dir", "the root folder of the runs"), a.path("save_dir")));
  if (auto v = a.take("name")) o.name(to_opt_str(*v, a.path("name")).value_or(""));
  if (auto v = a.take("version")) o.version(logger_version(*v, a.path("version")));
  if (auto v = a.take("prefix")) o.prefix(to_str(*v, a.path("prefix")));
  if (auto v = a.take("flush_logs_every_n_steps")) {
    o.flush_logs_every_n_steps(to_int(*v, a.path("flush_logs_every_n_steps")));
  }
  if (auto v = a.take("report")) o.report(to_bool(*v, a.path("report")));
  return [o] { return std::make_shared<CSVLogger>(o); };
}

LoggerMaker tensorboard_logger(InitArgs& a) {
  TensorBoardLoggerOptions o(
      to_str(a.require("save_dir", "the root folder of the runs"), a.path("save_dir")));
  if (auto v = a.take("name")) o.name(to_opt_str(*v, a.path("name")).value_or(""));
  if (auto v = a.take("version")) o.version(logger_version(*v, a.path("version")));
  a.python_only("log_graph", {false}, "there is no TorchScript graph of a C++ module to draw");
  if (auto v = a.take("default_hp_metric")) {
    o.default_hp_metric(to_bool(*v, a.path("default_hp_metric")));
  }
  if (auto v = a.take("prefix")) o.prefix(to_str(*v, a.path("prefix")));
  if (auto v = a.take("sub_dir")) o.sub_dir(to_opt_str(*v, a.path("sub_dir")).value_or(""));
  // SummaryWriter's keyword arguments (Python: **kwargs / dict_kwargs).
  if (auto v = a.take("flush_secs")) o.flush_secs(to_float(*v, a.path("flush_secs")));
  a.python_only("max_queue", {10}, "events are written as they come");
  a.python_only("filename_suffix", {""}, "the event file name is fixed");
  a.python_only("comment", {""}, "the run folder is save_dir/name/version");
  a.python_only("purge_step", {HParamValue()}, "no purging of events after a crash");
  return [o] { return std::make_shared<TensorBoardLogger>(o); };
}

const std::vector<std::pair<std::string, LoggerBuiltin>>& logger_builtins() {
  static const std::vector<std::pair<std::string, LoggerBuiltin>> builtins = {
      {"CSVLogger", csv_logger},
      {"TensorBoardLogger", tensorboard_logger},
  };
  return builtins;
}

const std::map<std::string, std::string>& python_only_loggers() {
  static const std::map<std::string, std::string> names = {
      {"CometLogger", "no Comet client in C++"},   {"LitLogger", "no Lightning AI client in C++"},
      {"MLFlowLogger", "no MLflow client in C++"}, {"NeptuneLogger", "no Neptune client in C++"},
      {"WandbLogger", "no W&B client in C++"},
  };
  return names;
}

std::vector<std::string> names_of(const std::vector<std::pair<std::string, LoggerBuiltin>>& b) {
  std::vector<std::string> out;
  for (const auto& entry : b) out.push_back(entry.first);
  return out;
}
std::vector<std::string> names_of(const std::vector<std::pair<std::string, CallbackBuiltin>>& b) {
  std::vector<std::string> out;
  for (const auto& entry : b) out.push_back(entry.first);
  return out;
}

// ---- Profilers -----------------------------------------------------------------

ProfilerOption profiler_from(const HParamValue& v, const std::string& path) {
  const std::vector<std::string> names = {"simple", "advanced", "pytorch"};
  const std::vector<std::string> classes = {"SimpleProfiler", "AdvancedProfiler", "PyTorchProfiler",
                                            "PassThroughProfiler"};
  if (v.is_none()) return {};
  if (v.is_string()) {
    std::string name = std::get<std::string>(v.variant());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (std::find(names.begin(), names.end(), name) != names.end()) return ProfilerOption(name);
    LIGHTNING_CHECK(name != "xla", path,
                    ": profiler 'xla' exists in Python Lightning but not in lightning.cpp (no "
                    "XLA devices). Profilers: ",
                    quoted_list(names), ".");
    LIGHTNING_FAIL(path, ": unknown profiler '", name, "'", end(name, names),
                   " Profilers: ", quoted_list(names),
                   ", or {class_path: SimpleProfiler, init_args: {...}}.");
  }
  if (!v.is_map()) type_error(path, v, "a profiler name or {class_path: SimpleProfiler, ...}");
  const ClassSpec spec = parse_spec(v, path, "profiler");
  const bool ours = spec.module.empty() || lightning_module(spec.module);
  LIGHTNING_CHECK(
      ours && std::find(classes.begin(), classes.end(), spec.short_name) != classes.end(), path,
      ".class_path: unknown profiler class '", spec.class_path, "'", end(spec.short_name, classes),
      " Profiler classes: SimpleProfiler, AdvancedProfiler, PyTorchProfiler, "
      "PassThroughProfiler.");
  InitArgs a(spec.init_args, path + ".init_args", spec.short_name);
  std::string dirpath, filename;
  if (auto x = a.take("dirpath")) dirpath = to_opt_str(*x, a.path("dirpath")).value_or("");
  if (auto x = a.take("filename")) filename = to_opt_str(*x, a.path("filename")).value_or("");
  std::shared_ptr<Profiler> profiler;
  if (spec.short_name == "PassThroughProfiler") {
    profiler = std::make_shared<PassThroughProfiler>();
  } else if (spec.short_name == "SimpleProfiler") {
    SimpleProfilerOptions o;
    o.dirpath(dirpath).filename(filename);
    if (auto x = a.take("extended")) o.extended(to_bool(*x, a.path("extended")));
    a.finish();
    profiler = std::make_shared<SimpleProfiler>(o);
  } else if (spec.short_name == "AdvancedProfiler") {
    AdvancedProfilerOptions o;
    o.dirpath(dirpath).filename(filename);
    if (auto x = a.take("line_count_restriction")) {
      o.line_count_restriction(to_float(*x, a.path("line_count_restriction")));
    }
    a.python_only("dump_stats", {false}, "cProfile's .prof files exist only in Python");
    a.finish();
    profiler = std::make_shared<AdvancedProfiler>(o);
  } else {
    PyTorchProfilerOptions o;
    o.dirpath(dirpath).filename(filename);
    auto flag = [&](const char* name) -> std::optional<bool> {
      if (auto x = a.take(name)) return to_bool(*x, a.path(name));
      return std::nullopt;
    };
    if (auto b = flag("group_by_input_shapes")) o.group_by_input_shapes(*b);
    if (auto b = flag("export_to_chrome")) o.export_to_chrome(*b);
    if (auto b = flag("record_shapes")) o.record_shapes(*b);
    if (auto b = flag("profile_memory")) o.profile_memory(*b);
    if (auto b = flag("with_stack")) o.with_stack(*b);
    if (auto b = flag("with_flops")) o.with_flops(*b);
    if (auto x = a.take("row_limit")) o.row_limit(to_int(*x, a.path("row_limit")));
    if (auto x = a.take("sort_by_key")) {
      if (auto key = to_opt_str(*x, a.path("sort_by_key"))) o.sort_by_key(*key);
    }
    a.python_only("emit_nvtx", {false}, "no NVTX ranges");
    a.python_only("record_module_names", {true, false},
                  "C++ modules have no forward hooks to name their ranges");
    a.python_only("table_kwargs", {HParamValue()}, "the table has fixed columns");
    a.finish();
    profiler = std::make_shared<PyTorchProfiler>(o);
  }
  return ProfilerOption(profiler);
}

// ---- Strategy objects ---------------------------------------------------------

const std::vector<std::string>& strategy_names() {
  static const std::vector<std::string> names = {"auto", "ddp", "ddp_find_unused_parameters_true",
                                                 "ddp_find_unused_parameters_false",
                                                 "single_device"};
  return names;
}

StrategyOption strategy_from(const HParamValue& v, const std::string& path) {
  if (v.is_string()) {
    const std::string name = std::get<std::string>(v.variant());
    // Lightning registers "ddp_find_unused_parameters_false" as plain "ddp".
    if (name == "ddp_find_unused_parameters_false") return StrategyOption("ddp");
    const auto& names = strategy_names();
    if (std::find(names.begin(), names.end(), name) != names.end()) return StrategyOption(name);
    for (const char* prefix : {"ddp_spawn", "ddp_fork", "ddp_notebook"}) {
      LIGHTNING_CHECK(name.rfind(prefix, 0) != 0, path, ": strategy '", name,
                      "' exists in Python Lightning but not in lightning.cpp (processes are "
                      "started by re-running the program, as strategy 'ddp'; there is no "
                      "spawn/fork start method in C++). Use 'ddp'.");
    }
    // The rest of Python Lightning's StrategyRegistry (2.6).
    static const std::vector<std::string> python = {"deepspeed",
                                                    "deepspeed_stage_1",
                                                    "deepspeed_stage_2",
                                                    "deepspeed_stage_2_offload",
                                                    "deepspeed_stage_3",
                                                    "deepspeed_stage_3_offload",
                                                    "deepspeed_stage_3_offload_nvme",
                                                    "fsdp",
                                                    "fsdp_cpu_offload",
                                                    "single_tpu",
                                                    "single_xla",
                                                    "xla",
                                                    "xla_debug"};
    LIGHTNING_CHECK(std::find(python.begin(), python.end(), name) == python.end(), path,
                    ": strategy '", name,
                    "' exists in Python Lightning but not in lightning.cpp (only DDP is "
                    "implemented). Strategies: ",
                    quoted_list(names), ".");
    LIGHTNING_FAIL(path, ": unknown strategy '", name, "'", end(name, names),
                   " Strategies: ", quoted_list(names),
                   ", or {class_path: DDPStrategy, "
                   "init_args: {...}}.");
  }
  if (!v.is_map()) type_error(path, v, "a strategy name or {class_path: DDPStrategy, ...}");
  const ClassSpec spec = parse_spec(v, path, "strategy");
  const bool ours = spec.module.empty() || lightning_module(spec.module);
  LIGHTNING_CHECK(
      ours && (spec.short_name == "DDPStrategy" || spec.short_name == "SingleDeviceStrategy"), path,
      ".class_path: unknown strategy class '", spec.class_path, "'",
      end(spec.short_name, {"DDPStrategy", "SingleDeviceStrategy"}),
      " Strategy classes: DDPStrategy, SingleDeviceStrategy.");
  InitArgs a(spec.init_args, path + ".init_args", spec.short_name);
  if (spec.short_name == "SingleDeviceStrategy") {
    a.python_only("device", {HParamValue()}, "the device follows the accelerator");
    a.python_only("accelerator", {HParamValue()}, "set trainer.accelerator instead");
    a.python_only("checkpoint_io", {HParamValue()}, "checkpoints are always torch.save files");
    a.python_only("precision_plugin", {HParamValue()}, "set trainer.precision instead");
    a.finish();
    return StrategyOption("single_device");
  }
  DDPOptions o;
  if (auto x = a.take("process_group_backend")) {
    o.backend(to_opt_str(*x, a.path("process_group_backend")));
  }
  if (auto x = a.take("timeout")) o.timeout(to_duration(*x, a.path("timeout")));
  if (auto x = a.take("find_unused_parameters")) {
    o.find_unused_parameters(to_bool(*x, a.path("find_unused_parameters")));
  }
  if (auto x = a.take("bucket_cap_mb")) {
    // None: torch DDP's default, 25 MiB.
    o.bucket_cap_mb(
        to_opt_float(*x, a.path("bucket_cap_mb")).value_or(DDPOptions().bucket_cap_mb()));
  }
  for (const char* name : {"accelerator", "parallel_devices", "cluster_environment",
                           "checkpoint_io", "precision_plugin", "ddp_comm_state", "ddp_comm_hook",
                           "ddp_comm_wrapper", "model_averaging_period"}) {
    a.python_only(name, {HParamValue()},
                  "set from the trainer's options or the environment, or not available");
  }
  a.python_only("start_method", {"popen"},
                "processes are started by re-running the program (Lightning's 'popen')");
  // torch DistributedDataParallel's keyword arguments, as Python LightningCLI
  // prints them: accepted at the values that match what lightning.cpp does.
  const std::string ddp_why = "lightning.cpp's DDP has no such setting";
  for (const char* name : {"output_device", "process_group", "delay_all_reduce_named_params",
                           "param_to_hook_all_reduce", "mixed_precision", "device_mesh",
                           "bucket_cap_mb_list", "forward_sync_buffers"}) {
    a.python_only(name, {HParamValue()}, ddp_why);
  }
  for (const char* name :
       {"check_reduction", "gradient_as_bucket_view", "static_graph",
        "skip_all_reduce_unused_params", "batched_grad_copy", "lazy_bucket_allocation"}) {
    a.python_only(name, {false}, ddp_why);
  }
  a.python_only("dim", {0}, "batches are split along dimension 0 by the samplers");
  a.python_only("init_sync", {true}, "parameters are always broadcast from rank 0 at start");
  a.python_only("broadcast_buffers", {HParamValue(), true},
                "buffers are always broadcast from rank 0 before each step");
  a.finish();
  return StrategyOption(std::make_shared<DDPStrategy>(o));
}

// ---- The trainer fields -------------------------------------------------------

using Apply = std::function<void(TrainerOptions&, const HParamValue&, const std::string&)>;

struct Field {
  ConfigField info;
  Apply apply;
};

BatchLimit batch_limit(const HParamValue& v, const std::string& path, std::optional<double> none) {
  const std::string expected =
      none ? "int (batches), float (fraction) or None" : "int (batches) or float (fraction)";
  if (v.is_none() && none) return BatchLimit(*none);
  if (v.is_int()) return BatchLimit(std::get<int64_t>(v.variant()));
  if (v.is_double()) return BatchLimit(std::get<double>(v.variant()));
  type_error(path, v, expected);
}

const std::vector<std::string>& accelerator_names() {
  static const std::vector<std::string> names = {"auto", "cpu", "cuda", "gpu"};
  return names;
}

std::optional<int64_t> devices_from(const HParamValue& v, const std::string& path) {
  const std::string expected = "int, 'auto' or a list of device indices";
  std::vector<int64_t> indices;
  if (v.is_none()) return std::nullopt;
  if (v.is_int()) return std::get<int64_t>(v.variant());
  if (v.is_string()) {
    const std::string text = std::get<std::string>(v.variant());
    if (text == "auto") return std::nullopt;
    // Lightning: "2" is a count, "-1" all devices, "0,1" (a comma) indices.
    std::stringstream parts(text);
    std::string part;
    const bool is_list = text.find(',') != std::string::npos;
    while (std::getline(parts, part, ',')) {
      part.erase(0, part.find_first_not_of(' '));
      part.erase(part.find_last_not_of(' ') + 1);
      if (part.empty() && is_list) continue;
      char* end = nullptr;
      errno = 0;
      const long long n = std::strtoll(part.c_str(), &end, 10);
      if (part.empty() || *end != '\0' || errno != 0) type_error(path, v, expected);
      indices.push_back(n);
    }
    if (!is_list) {
      if (indices.size() != 1) type_error(path, v, expected);
      return indices[0];
    }
  } else if (v.is_list()) {
    const auto list = v.as<HParamValue::List>();
    for (size_t i = 0; i < list.size(); ++i) {
      const auto& item = list[i];
      indices.push_back(to_int(item, path + "[" + std::to_string(i) + "]", "int (a device index)"));
    }
  } else {
    type_error(path, v, expected);
  }
  // Process i of a node uses device i (cuda:<local rank>), so the indices
  // 0..n-1 are `devices: n`; any other set cannot be expressed.
  bool leading = !indices.empty();
  for (size_t i = 0; i < indices.size(); ++i) leading = leading && indices[i] == int64_t(i);
  LIGHTNING_CHECK(leading, path, ": device indices ", shown(v),
                  " cannot be expressed here: TrainerOptions.devices is a number of processes "
                  "per node, and process i uses device i (cuda:<local rank>), so only the "
                  "indices 0..n-1 ([0, 1, ...]) are possible. Give a count, e.g. devices: ",
                  std::max<size_t>(indices.size(), 1),
                  ", and pick the GPUs with CUDA_VISIBLE_DEVICES.");
  return static_cast<int64_t>(indices.size());
}

LoggerOption logger_from(const HParamValue& v, const std::string& path) {
  if (v.is_none()) return LoggerOption(true);
  if (v.is_bool()) return LoggerOption(std::get<bool>(v.variant()));
  if (v.is_list()) {
    std::vector<std::shared_ptr<Logger>> loggers;
    const auto list = v.as<HParamValue::List>();
    for (size_t i = 0; i < list.size(); ++i) {
      loggers.push_back(make_logger(list[i], path + "[" + std::to_string(i) + "]"));
    }
    // An empty list means no logger (Python: logger=[] logs nothing).
    if (loggers.empty()) return LoggerOption(false);
    return LoggerOption(loggers);
  }
  if (v.is_string() || v.is_map()) return LoggerOption(make_logger(v, path));
  type_error(path, v,
             "bool, None, a logger ({class_path: ..., init_args: {...}}) or a list of them");
}

std::vector<std::shared_ptr<Callback>> callbacks_from(const HParamValue& v,
                                                      const std::string& path) {
  std::vector<std::shared_ptr<Callback>> out;
  if (v.is_none()) return out;
  if (v.is_list()) {
    const auto list = v.as<HParamValue::List>();
    for (size_t i = 0; i < list.size(); ++i) {
      out.push_back(make_callback(list[i], path + "[" + std::to_string(i) + "]"));
    }
    return out;
  }
  if (v.is_string() || v.is_map()) {
    out.push_back(make_callback(v, path));
    return out;
  }
  type_error(path, v, "a list of callbacks ({class_path: ..., init_args: {...}}), one, or None");
}

const std::vector<Field>& field_table() {
  static const std::vector<Field> fields = [] {
    const TrainerOptions d;  // the defaults the table states, checked by a test
    std::vector<Field> f;
    auto add = [&](std::string name, std::string type, HParamValue def, std::string doc,
                   Apply apply) {
      f.push_back(
          {{std::move(name), std::move(type), std::move(def), std::move(doc)}, std::move(apply)});
    };
    add("accelerator", "str", d.accelerator(), "\"auto\", \"cpu\", \"cuda\" or \"gpu\"",
        [](TrainerOptions& o, const HParamValue& v, const std::string& p) {
          const std::string a = to_str(v, p, "str ('auto', 'cpu', 'cuda' or 'gpu')");
          const auto& names = accelerator_names();
          if (std::find(names.begin(), names.end(), a) != names.end()) {
            o.accelerator(a);
            return;
          }
          for (const char* py : {"mps", "tpu", "hpu", "xla", "ipu"}) {
            LIGHTNING_CHECK(a != py, p, ": accelerator '", a,
                            "' exists in Python Lightning but not in lightning.cpp (libtorch "
                            "here runs on CPU and CUDA). Accelerators: ",
                            quoted_list(names), ".");
          }
          LIGHTNING_FAIL(p, ": unknown accelerator '", a, "'", end(a, names),
                         " Accelerators: ", quoted_list(names), ".");
        });
    add("devices", "Union[int, str, List[int]]", "auto",
        "processes (devices) per node: a count, 'auto' (one), or the indices [0, ..., n-1]",
        [](TrainerOptions& o, const HParamValue& v, const std::string& p) {
          o.devices(devices_from(v, p));
        });
    add("num_nodes", "int", d.num_nodes(), "machines taking part, each running `devices` processes",
        [](TrainerOptions& o, const HParamValue& v, const std::string& p) {
          o.num_nodes(to_int(v, p));
        });
    add("strategy", "Union[str, Strategy]", "auto",
        "'auto', 'ddp', 'ddp_find_unused_parameters_true', 'single_device', or "
        "{class_path: DDPStrategy, init_args: {...}}",
        [](TrainerOptions& o, const HParamValue& v, const std::string& p) {
          o.strategy(strategy_from(v, p));
        });
    add("use_distributed_sampler", "bool", d.use_distributed_sampler(),
        "under DDP, give every dataloader this process's shard",
        [](TrainerOptions& o, const HParamValue& v, const std::string& p) {
          o.use_distributed_sampler(to_bool(v, p));
        });
    add("precision", "Union[str, int, None]", d.precision(),
        "'32-true', '64-true', 'bf16-mixed', 'bf16-true', '16-mixed', '16-true' (or 32, 64, "
        "16, 'bf16')",
        [](TrainerOptions& o, const HParamValue& v, const std::string& p) {
          std::string text;
          if (v.is_none()) {
            text = TrainerOptions().precision();
          } else if (v.is_int()) {
            text = std::to_string(std::get<int64_t>(v.variant()));
          } else {
            text = to_str(v, p, "str, int or None");
          }
          try {
            parse_precision(text);
          } catch (const Error& e) {
            LIGHTNING_FAIL(p, ": ", e.what());
          }
          o.precision(text);
        });
    add("max_epochs", "Optional[int]", HParamValue(),
        "stop after this many epochs; -1 for no limit; None: 1000 unless max_steps is set",
        [](TrainerOptions& o, const HParamValue& v, const std::string& p) {
          o.max_epochs(to_opt_int(v, p));
        });
    add("min_epochs", "Optional[int]", HParamValue(),
        "train at least this many epochs even when asked to stop",
        [](TrainerOptions& o, const HParamValue& v, const std::string& p) {
          o.min_epochs(to_opt_int(v, p));
        });
    add("max_steps", "int", d.max_steps(), "stop after this many optimizer steps; -1 for no limit",
        [](TrainerOptions& o, const HParamValue& v, const std::string& p) {
          o.max_steps(to_int(v, p));
        });
    add("min_steps", "Optional[int]", HParamValue(),
        "train at least this many steps even when asked to stop",
        [](TrainerOptions& o, const HParamValue& v, const std::string& p) {
          o.min_steps(to_opt_int(v, p));
        });
    add("max_time", "Union[str, timedelta, Dict[str, int], None]", HParamValue(),
        "stop fit after this much time: \"DD:HH:MM:SS\" or {days: .., hours: .., minutes: .., "
        "seconds: ..}; None for no limit",
        [](TrainerOptions& o, const HParamValue& v, const std::string& p) {
          o.max_time(time_limit_from(v, p));
        });
    auto limit = [&](const std::string& name, const std::string& what,
                     TrainerOptions& (TrainerOptions::*set)(const BatchLimit&)) {
      add(name, "Union[int, float, None]", 1.0,
          what + " batches per epoch: an int (batches) or a float (fraction)",
          [set](TrainerOptions& o, const HParamValue& v, const std::string& p) {
            (o.*set)(batch_limit(v, p, 1.0));
          });
    };
    limit("limit_train_batches", "training", &TrainerOptions::limit_train_batches);
    limit("limit_val_batches", "validation", &TrainerOptions::limit_val_batches);
    limit("limit_test_batches", "test", &TrainerOptions::limit_test_batches);
    limit("limit_predict_batches", "predict", &TrainerOptions::limit_predict_batches);
    add("overfit_batches", "Union[int, float]", 0.0,
        "overfit on this many (int) or this fraction (float) of the training batches; 0 off",
        [](TrainerOptions& o, const HParamValue& v, const std::string& p) {
          o.overfit_batches(batch_limit(v, p, std::nullopt));
        });
    add("val_check_interval", "Union[int, float, None]", 1.0,
        "validate every this many training batches (int) or at this fraction of the epoch "
        "(float)",
        [](TrainerOptions& o, const HParamValue& v, const std::string& p) {
          LIGHTNING_CHECK(!v.is_string() && !v.is_map(), p, ": a time-based val_check_interval (",
                          shown(v),
                          ") exists in Python Lightning but not in lightning.cpp; give an int "
                          "(batches) or a float (fraction of the epoch).");
          o.val_check_interval(batch_limit(v, p, 1.0));
        });
    add("check_val_every_n_epoch", "int", d.check_val_every_n_epoch(), "validate every N epochs",
        [](TrainerOptions& o, const HParamValue& v, const std::string& p) {
          LIGHTNING_CHECK(!v.is_none(), p,
                          ": None (validation counted in batches across epoch boundaries) "
                          "exists in Python Lightning but not in lightning.cpp; give an int.");
          o.check_val_every_n_epoch(to_int(v, p));
        });
    add("num_sanity_val_steps", "Optional[int]", d.num_sanity_val_steps(),
        "validation batches run before training; -1 for all",
        [](TrainerOptions& o, const HParamValue& v, const std::string& p) {
          o.num_sanity_val_steps(
              to_opt_int(v, p).value_or(TrainerOptions().num_sanity_val_steps()));
        });
    add("accumulate_grad_batches", "int", d.accumulate_grad_batches(),
        "accumulate gradients over N batches before each optimizer step",
        [](TrainerOptions& o, const HParamValue& v, const std::string& p) {
          o.accumulate_grad_batches(to_int(v, p));
        });
    add("gradient_clip_val", "Optional[Union[int, float]]", HParamValue(),
        "clip gradients to this value before each optimizer step; None or 0 disables",
        [](TrainerOptions& o, const HParamValue& v, const std::string& p) {
          o.gradient_clip_val(to_opt_float(v, p));
        });
    add("gradient_clip_algorithm", "Optional[str]", HParamValue(),
        "'norm' (the default when clipping) or 'value'",
        [](TrainerOptions& o, const HParamValue& v, const std::string& p) {
          auto a = to_opt_str(v, p);
          LIGHTNING_CHECK(!a || *a == "norm" || *a == "value", p,
                          ": expected 'norm', 'value' or None, got ", shown(v),
                          end(*a, {"norm", "value"}));
          o.gradient_clip_algorithm(a);
        });
    add("log_every_n_steps", "Optional[int]", d.log_every_n_steps(),
        "send step metrics to the loggers every N optimizer steps",
        [](TrainerOptions& o, const HParamValue& v, const std::string& p) {
          o.log_every_n_steps(to_opt_int(v, p).value_or(TrainerOptions().log_every_n_steps()));
        });
    add("fast_dev_run", "Union[int, bool]", false,
        "run N batches (true: 1) of each loop once to find bugs",
        [](TrainerOptions& o, const HParamValue& v, const std::string& p) {
          if (v.is_bool()) {
            o.fast_dev_run(FastDevRun(std::get<bool>(v.variant())));
          } else {
            o.fast_dev_run(FastDevRun(to_int(v, p, "bool or int")));
          }
        });
    auto flag = [&](const std::string& name, const std::string& doc,
                    TrainerOptions& (TrainerOptions::*set)(const bool&), bool def) {
      add(name, "Optional[bool]", def, doc,
          [set, def](TrainerOptions& o, const HParamValue& v, const std::string& p) {
            (o.*set)(to_opt_bool(v, p).value_or(def));
          });
    };
    flag("enable_checkpointing",
         "add a ModelCheckpoint (the latest epoch) unless one is among the callbacks",
         &TrainerOptions::enable_checkpointing, d.enable_checkpointing());
    flag("enable_progress_bar", "draw a progress bar", &TrainerOptions::enable_progress_bar,
         d.enable_progress_bar());
    flag("enable_model_summary", "print the model summary at fit start",
         &TrainerOptions::enable_model_summary, d.enable_model_summary());
    add("default_root_dir", "Optional[str]", HParamValue(),
        "folder of logs and checkpoints; None: the working directory",
        [](TrainerOptions& o, const HParamValue& v, const std::string& p) {
          o.default_root_dir(to_opt_str(v, p).value_or(""));
        });
    add("deterministic", "Optional[bool]", d.deterministic(), "use deterministic algorithms",
        [](TrainerOptions& o, const HParamValue& v, const std::string& p) {
          LIGHTNING_CHECK(!(v.is_string() && std::get<std::string>(v.variant()) == "warn"), p,
                          ": 'warn' exists in Python Lightning but not in lightning.cpp "
                          "(nondeterministic operations raise here); give true or false.");
          o.deterministic(to_opt_bool(v, p).value_or(false));
        });
    add("benchmark", "Optional[bool]", HParamValue(),
        "cuDNN benchmark mode; None: false with deterministic, else unchanged",
        [](TrainerOptions& o, const HParamValue& v, const std::string& p) {
          o.benchmark(to_opt_bool(v, p));
        });
    add("profiler", "Union[Profiler, str, None]", HParamValue(),
        "'simple', 'advanced', 'pytorch', or {class_path: SimpleProfiler, init_args: {...}}",
        [](TrainerOptions& o, const HParamValue& v, const std::string& p) {
          o.profiler(profiler_from(v, p));
        });
    add("detect_anomaly", "bool", d.detect_anomaly(),
        "autograd anomaly detection in the training loop (slow; for debugging)",
        [](TrainerOptions& o, const HParamValue& v, const std::string& p) {
          o.detect_anomaly(to_bool(v, p));
        });
    add("inference_mode", "bool", d.inference_mode(),
        "evaluation and predict under InferenceMode (true) or no_grad (false)",
        [](TrainerOptions& o, const HParamValue& v, const std::string& p) {
          o.inference_mode(to_bool(v, p));
        });
    add("reload_dataloaders_every_n_epochs", "int", d.reload_dataloaders_every_n_epochs(),
        "fetch the train/val dataloaders from their hooks again every N epochs (0: once)",
        [](TrainerOptions& o, const HParamValue& v, const std::string& p) {
          o.reload_dataloaders_every_n_epochs(to_int(v, p));
        });
    add("barebones", "bool", d.barebones(),
        "turn off everything that costs speed (checkpoints, loggers, progress bar, summary, "
        "sanity check, self.log)",
        [](TrainerOptions& o, const HParamValue& v, const std::string& p) {
          o.barebones(to_bool(v, p));
        });
    add("num_threads", "Optional[int]", HParamValue(),
        "libtorch intra-op threads; None leaves libtorch's setting (lightning.cpp only)",
        [](TrainerOptions& o, const HParamValue& v, const std::string& p) {
          o.num_threads(to_opt_int(v, p));
        });
    add("tune_allocator", "bool", d.tune_allocator(),
        "fix glibc malloc's thresholds so training steps do not fault memory in every step "
        "(lightning.cpp only)",
        [](TrainerOptions& o, const HParamValue& v, const std::string& p) {
          o.tune_allocator(to_bool(v, p));
        });
    add("callbacks", "Union[List[Callback], Callback, None]", HParamValue(),
        "callbacks: [{class_path: ModelCheckpoint, init_args: {...}}, ...]",
        [](TrainerOptions& o, const HParamValue& v, const std::string& p) {
          // As LightningCLI: the config's callbacks, then those the base
          // (LightningCLI's trainer_defaults) already has.
          auto callbacks = callbacks_from(v, p);
          callbacks.insert(callbacks.end(), o.callbacks().begin(), o.callbacks().end());
          o.callbacks(callbacks);
        });
    add("logger", "Union[Logger, List[Logger], bool, None]", true,
        "true: CSV and TensorBoard logs under default_root_dir; false: none; or "
        "{class_path: CSVLogger, init_args: {...}} (or a list)",
        [](TrainerOptions& o, const HParamValue& v, const std::string& p) {
          o.logger(logger_from(v, p));
        });
    return f;
  }();
  return fields;
}

// Trainer arguments of Python Lightning without a counterpart here: the
// values accepted (its default, or what matches the behaviour here), and why.
struct PythonOnly {
  std::vector<HParamValue> accepted;
  std::string why;
};

const std::vector<std::pair<std::string, PythonOnly>>& python_only_keys() {
  static const std::vector<std::pair<std::string, PythonOnly>> keys = {
      {"plugins", {{HParamValue(), HParamValue(HParamValue::List{})}, "no plugins"}},
      {"sync_batchnorm", {{false}, "no SyncBatchNorm conversion"}},
      {"enable_autolog_hparams", {{true}, "the module's hparams are always logged to the loggers"}},
      {"model_registry", {{HParamValue()}, "no model registry upload"}},
  };
  return keys;
}

}  // namespace

const std::vector<ConfigField>& trainer_fields() {
  static const std::vector<ConfigField> fields = [] {
    std::vector<ConfigField> out;
    for (const auto& f : field_table()) out.push_back(f.info);
    return out;
  }();
  return fields;
}

TrainerOptions apply_trainer_config(const HParams& section, TrainerOptions base,
                                    const std::string& where) {
  const auto& table = field_table();
  for (const auto& [key, value] : section.items()) {
    const std::string path = where.empty() ? key : where + "." + key;
    auto field = std::find_if(table.begin(), table.end(),
                              [&](const Field& f) { return f.info.name == key; });
    if (field != table.end()) {
      field->apply(base, value, path);
      continue;
    }
    const auto& py = python_only_keys();
    auto only = std::find_if(py.begin(), py.end(), [&](const auto& e) { return e.first == key; });
    if (only != py.end()) {
      const auto& accepted = only->second.accepted;
      if (std::find(accepted.begin(), accepted.end(), value) != accepted.end()) continue;
      std::vector<std::string> shown_values;
      for (const auto& a : accepted) shown_values.push_back(shown(a));
      LIGHTNING_FAIL(path, ": '", key,
                     "' is a Python Lightning Trainer argument that lightning.cpp does not have (",
                     only->second.why, "); only ", join_or(shown_values),
                     " is accepted (and ignored) here, got ", shown(value), ".");
    }
    std::vector<std::string> names;
    for (const auto& f : table) names.push_back(f.info.name);
    const std::string suggestion = did_you_mean(key, names);
    LIGHTNING_FAIL(path, ": unknown Trainer option '", key, "'",
                   suggestion.empty() ? ". Trainer options: " + join(names) + "." : suggestion);
  }
  return base;
}

std::shared_ptr<Callback> make_callback(const HParamValue& spec, const std::string& where) {
  const ClassSpec s = parse_spec(spec, where, "callback");
  return make_object<Callback>(s, callback_registry(), "callback", callback_builtins(),
                               python_only_callbacks(), names_of(logger_builtins()), "logger");
}

std::shared_ptr<Logger> make_logger(const HParamValue& spec, const std::string& where) {
  const ClassSpec s = parse_spec(spec, where, "logger");
  return make_object<Logger>(s, logger_registry(), "logger", logger_builtins(),
                             python_only_loggers(), names_of(callback_builtins()), "callback");
}

}  // namespace detail
}  // namespace lightning
