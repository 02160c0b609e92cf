// ModelCheckpoint, as Lightning 2.x's lightning/pytorch/callbacks/model_checkpoint.py:
// the same triggers, top-k bookkeeping, file names, messages and state dict.
#include "lightning/callbacks/model_checkpoint.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <limits>
#include <tuple>
#include <utility>

#include "lightning/error.h"
#include "lightning/loggers/logger.h"
#include "lightning/trainer.h"
#include "trainer/trainer_impl.h"
#include "util/float_format.h"
#include "util/python_format.h"

namespace lightning {

namespace fs = std::filesystem;

namespace detail {
namespace {

/// One value of a filename template: an int (epoch, step, missing names) or a float.
struct TemplateValue {
  bool is_int;
  int64_t i;
  double d;
};

std::string format_value(const TemplateValue& v, const std::string& spec) {
  return v.is_int ? python_format(v.i, spec) : python_format(v.d, spec);
}

/// Lightning's `re.findall(r"(\{.*?)[:\}]", filename)`.
std::vector<std::string> template_groups(const std::string& s) {
  std::vector<std::string> groups;
  size_t pos = 0;
  while (true) {
    const size_t open = s.find('{', pos);
    if (open == std::string::npos) break;
    const size_t close = s.find_first_of(":}", open + 1);
    if (close == std::string::npos) break;
    groups.push_back(s.substr(open, close - open));
    pos = close + 1;
  }
  return groups;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  if (from.empty()) return;
  size_t pos = 0;
  while ((pos = s.find(from, pos)) != std::string::npos) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
}

/// os.path.realpath(os.path.expanduser(p)).
std::string realpath(const std::string& p) {
  std::string expanded = p;
  if (!expanded.empty() && expanded[0] == '~' && (expanded.size() == 1 || expanded[1] == '/')) {
    if (const char* home = std::getenv("HOME")) expanded = home + expanded.substr(1);
  }
  std::error_code ec;
  fs::path out = fs::weakly_canonical(fs::absolute(expanded, ec), ec);
  if (ec) out = fs::absolute(expanded).lexically_normal();
  std::string s = out.string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

/// A score as Lightning keeps it: a 0-dim tensor (float32 when exact, else float64).
c10::IValue score_ivalue(double v) {
  const bool exact = std::isnan(v) || static_cast<double>(static_cast<float>(v)) == v;
  return at::scalar_tensor(v, exact ? at::kFloat : at::kDouble);
}

std::optional<double> score_from(const c10::IValue& v, const std::string& key) {
  if (v.isNone()) return std::nullopt;
  if (v.isTensor()) {
    const at::Tensor& t = v.toTensor();
    LIGHTNING_CHECK(t.numel() == 1, "ModelCheckpoint.load_state_dict: \"", key,
                    "\" must hold one number, got a tensor of shape ", t.sizes(), ".");
    return t.item<double>();
  }
  if (v.isDouble()) return v.toDouble();
  if (v.isInt()) return static_cast<double>(v.toInt());
  LIGHTNING_FAIL("ModelCheckpoint.load_state_dict: \"", key,
                 "\" must be a number, a tensor or None, got a ", v.tagKind(), ".");
}

std::string string_or_empty(const c10::IValue& v, const std::string& key) {
  if (v.isNone()) return "";
  LIGHTNING_CHECK(v.isString(), "ModelCheckpoint.load_state_dict: \"", key,
                  "\" must be a string, got a ", v.tagKind(), ".");
  return v.toStringRef();
}

void info(const Trainer& trainer, const std::string& message) {
  if (trainer.is_global_zero()) std::cerr << (message + "\n") << std::flush;
}

}  // namespace
}  // namespace detail

using detail::py_repr;

struct ModelCheckpoint::Candidates {
  Metrics metrics;                // callback_metrics + epoch + step, as numbers
  std::vector<std::string> keys;  // in Lightning's order, for messages
  int64_t epoch = 0, step = 0;
};

// ---- Construction --------------------------------------------------------------------

ModelCheckpoint::ModelCheckpoint(ModelCheckpointOptions options) : options_(std::move(options)) {
  const ModelCheckpointOptions& o = options_;
  LIGHTNING_CHECK(o.mode() == "min" || o.mode() == "max", "`mode` can be min, max but got ",
                  o.mode());
  kth_value_ = o.mode() == "min" ? std::numeric_limits<double>::infinity()
                                 : -std::numeric_limits<double>::infinity();
  if (o.dirpath() && !o.dirpath()->empty()) dirpath_ = detail::realpath(*o.dirpath());

  if (!o.every_n_train_steps() && !o.every_n_epochs() && !o.train_time_interval()) {
    every_n_epochs_ = 1;
    every_n_train_steps_ = 0;
  } else {
    every_n_epochs_ = o.every_n_epochs().value_or(0);
    every_n_train_steps_ = o.every_n_train_steps().value_or(0);
  }

  LIGHTNING_CHECK(o.save_top_k() >= -1, "Invalid value for save_top_k=", o.save_top_k(),
                  ". Must be >= -1");
  LIGHTNING_CHECK(every_n_train_steps_ >= 0,
                  "Invalid value for every_n_train_steps=", every_n_train_steps_, ". Must be >= 0");
  LIGHTNING_CHECK(every_n_epochs_ >= 0, "Invalid value for every_n_epochs=", every_n_epochs_,
                  ". Must be >= 0");
  if (o.train_time_interval()) {
    LIGHTNING_CHECK(o.train_time_interval()->count() >= 0,
                    "Invalid value for train_time_interval=", o.train_time_interval()->count(),
                    "ms. Must be >= 0");
  }
  const int triggers = (every_n_train_steps_ >= 1) + (every_n_epochs_ >= 1) +
                       (o.train_time_interval().has_value() ? 1 : 0);
  LIGHTNING_CHECK(triggers <= 1,
                  "Combination of parameters every_n_train_steps=", every_n_train_steps_,
                  ", every_n_epochs=", every_n_epochs_, " and train_time_interval=",
                  o.train_time_interval() ? detail::timedelta_str(*o.train_time_interval())
                                          : std::string("None"),
                  " should be mutually exclusive.");
  LIGHTNING_CHECK(o.monitor() || o.save_top_k() == -1 || o.save_top_k() == 0 || o.save_top_k() == 1,
                  "ModelCheckpoint(save_top_k=", o.save_top_k(),
                  ", monitor=None) is not a valid configuration. No quantity for top_k to track.");
}

std::string ModelCheckpoint::state_key() const {
  return "ModelCheckpoint{'monitor': " + py_repr(options_.monitor()) +
         ", 'mode': " + py_repr(options_.mode()) +
         ", 'every_n_train_steps': " + std::to_string(every_n_train_steps_) +
         ", 'every_n_epochs': " + std::to_string(every_n_epochs_) + ", 'train_time_interval': " +
         (options_.train_time_interval() ? detail::timedelta_repr(*options_.train_time_interval())
                                         : std::string("None")) +
         "}";
}

// ---- Folder ----------------------------------------------------------------------------

std::string ModelCheckpoint::resolve_dirpath(const Trainer& trainer) const {
  if (options_.dirpath() && !options_.dirpath()->empty()) return dirpath_;
  if (!trainer.loggers().empty()) {
    return (fs::path(trainer.log_dir()) / "checkpoints").string();
  }
  if (trainer.options().logger().use_default() && trainer.is_global_zero()) {
    // The default loggers are created when the fit starts (after setup): the
    // folder they will claim, <root>/lightning_logs/version_N. on_train_start
    // resolves again from the real loggers.
    const std::string logs = (fs::path(trainer.default_root_dir()) / "lightning_logs").string();
    return (fs::path(logs) / ("version_" + std::to_string(next_version(logs))) / "checkpoints")
        .string();
  }
  return (fs::path(trainer.default_root_dir()) / "checkpoints").string();
}

void ModelCheckpoint::setup(Trainer& trainer, LightningModule&, Stage stage) {
  dirpath_ = resolve_dirpath(trainer);
  if (stage == Stage::Fit) val_has_run_ = false;
  if (trainer.is_global_zero() && stage == Stage::Fit && options_.save_top_k() != 0) {
    std::error_code ec;
    if (fs::is_directory(dirpath_, ec) && !fs::is_empty(dirpath_, ec)) {
      detail::TrainerAccess::impl(trainer).warn_once("Checkpoint directory " + dirpath_ +
                                                     " exists and is not empty.");
    }
  }
}

void ModelCheckpoint::on_train_start(Trainer& trainer, LightningModule&) {
  dirpath_ = resolve_dirpath(trainer);  // the loggers exist now
  last_time_checked_ = std::chrono::steady_clock::now();
}

// ---- Triggers ----------------------------------------------------------------------------

bool ModelCheckpoint::should_skip_saving(const Trainer& trainer) const {
  return trainer.options().fast_dev_run().enabled() || trainer.state() != Stage::Fit ||
         trainer.sanity_checking() || last_global_step_saved_ == trainer.global_step();
}

bool ModelCheckpoint::should_save_on_train_epoch_end(const Trainer& trainer) const {
  if (options_.save_on_train_epoch_end()) return *options_.save_on_train_epoch_end();
  // Validation not every epoch: we cannot tell when it runs, so save after it.
  if (trainer.options().check_val_every_n_epoch() != 1) return false;
  int64_t val_batches = 0;
  for (int64_t n : trainer.num_val_batches()) val_batches += n;
  if (val_batches == 0) return true;
  // Validation several times per epoch: save after each. Python's
  // `val_check_interval == 1.0` (an int 1 compares equal too).
  const BatchLimit& vci = trainer.options().val_check_interval();
  return vci.is_fraction() ? vci.fraction() == 1.0 : vci.count() == 1;
}

void ModelCheckpoint::on_train_batch_end(Trainer& trainer, LightningModule&, const StepOutput&,
                                         Batch&, int64_t) {
  if (should_skip_saving(trainer)) return;
  const bool skip_batch =
      every_n_train_steps_ < 1 || trainer.global_step() % every_n_train_steps_ != 0;
  bool skip_time = true;
  const auto now = std::chrono::steady_clock::now();
  const auto& interval = options_.train_time_interval();
  if (interval && interval->count() > 0) {
    skip_time = !last_time_checked_ || now - *last_time_checked_ < *interval;
  }
  if (skip_batch && skip_time) return;
  if (!skip_time) last_time_checked_ = now;
  const Candidates c = monitor_candidates(trainer);
  save_topk(trainer, c);
  save_last(trainer, c);
}

void ModelCheckpoint::on_train_epoch_end(Trainer& trainer, LightningModule&) {
  if (should_skip_saving(trainer) || !should_save_on_train_epoch_end(trainer)) return;
  const Candidates c = monitor_candidates(trainer);
  if (every_n_epochs_ >= 1 && (trainer.current_epoch() + 1) % every_n_epochs_ == 0) {
    save_topk(trainer, c);
  }
  save_last(trainer, c);
}

void ModelCheckpoint::on_validation_end(Trainer& trainer, LightningModule&) {
  // Lightning's val_loop._has_run: a validation batch ran outside the sanity check.
  if (trainer.state() == Stage::Fit && !trainer.sanity_checking()) {
    int64_t val_batches = 0;
    for (int64_t n : trainer.num_val_batches()) val_batches += n;
    if (val_batches > 0) val_has_run_ = true;
  }
  if (should_skip_saving(trainer) || should_save_on_train_epoch_end(trainer)) return;
  const Candidates c = monitor_candidates(trainer);
  if (every_n_epochs_ >= 1 && (trainer.current_epoch() + 1) % every_n_epochs_ == 0) {
    save_topk(trainer, c);
  }
  save_last(trainer, c);
}

// ---- Names -------------------------------------------------------------------------------

ModelCheckpoint::Candidates ModelCheckpoint::monitor_candidates(const Trainer& trainer) const {
  Candidates c;
  const TensorMetrics& metrics = trainer.callback_metrics();
  for (const auto& [name, value] : metrics) {
    c.keys.push_back(name);
    if (value.defined() && value.numel() == 1) c.metrics[name] = value.item<double>();
  }
  // A logged "epoch"/"step" wins (cast to int, as Lightning's `.int()`).
  auto as_int = [&](const char* key, int64_t fallback) {
    auto it = c.metrics.find(key);
    if (it == c.metrics.end() || !std::isfinite(it->second)) return fallback;
    return static_cast<int64_t>(static_cast<int32_t>(it->second));
  };
  c.epoch = as_int("epoch", trainer.current_epoch());
  c.step = as_int("step", trainer.global_step());
  for (const char* key : {"epoch", "step"}) {
    if (metrics.count(key) == 0) c.keys.push_back(key);
  }
  c.metrics["epoch"] = static_cast<double>(c.epoch);
  c.metrics["step"] = static_cast<double>(c.step);
  return c;
}

std::string ModelCheckpoint::format_checkpoint_name(const Metrics& metrics, int64_t epoch,
                                                    int64_t step,
                                                    const std::string& template_override) const {
  std::string filename = !template_override.empty() ? template_override
                         : options_.filename() && !options_.filename()->empty()
                             ? *options_.filename()
                             : std::string("{epoch}-{step}");
  const std::string original = filename;
  // Lightning: each "{name" becomes "name={0[name]" (or "{0[name]"), longest
  // names first, then str.format(metrics).
  std::vector<std::string> groups = detail::template_groups(filename);
  std::stable_sort(groups.begin(), groups.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const std::string& group : groups) {
    const std::string name = group.substr(1);
    if (options_.auto_insert_metric_name()) {
      detail::replace_all(filename, group, name + "={" + name);
    }
    detail::replace_all(filename, group, "{0[" + name + "]");
  }

  // str.format: "{{" / "}}" escapes and {0[key]:spec} fields.
  auto bad = [&](const std::string& why) {
    LIGHTNING_FAIL("ModelCheckpoint filename template \"", original, "\" is not valid: ", why,
                   ". Use fields like \"{epoch}\" or \"{val_loss:.2f}\".");
  };
  std::string out;
  for (size_t i = 0; i < filename.size();) {
    const char ch = filename[i];
    if (ch == '}') {
      if (i + 1 < filename.size() && filename[i + 1] == '}') {
        out += '}';
        i += 2;
        continue;
      }
      bad("single '}' encountered");
    }
    if (ch != '{') {
      out += ch;
      ++i;
      continue;
    }
    if (i + 1 < filename.size() && filename[i + 1] == '{') {
      out += '{';
      i += 2;
      continue;
    }
    if (filename.compare(i, 3, "{0[") != 0) bad("a field without a name");
    const size_t key_end = filename.find(']', i + 3);
    if (key_end == std::string::npos) bad("missing ']' in a field");
    const std::string key = filename.substr(i + 3, key_end - i - 3);
    size_t j = key_end + 1;
    std::string spec;
    if (j < filename.size() && filename[j] == ':') {
      const size_t close = filename.find('}', j + 1);
      if (close == std::string::npos) bad("expected '}' before end of string");
      spec = filename.substr(j + 1, close - j - 1);
      if (spec.find('{') != std::string::npos) bad("nested fields are not supported");
      j = close;
    }
    if (j >= filename.size() || filename[j] != '}') bad("expected '}' after a field");
    detail::TemplateValue value{true, 0, 0.0};
    if (key == "epoch") {
      value = {true, epoch, 0.0};
    } else if (key == "step") {
      value = {true, step, 0.0};
    } else if (auto it = metrics.find(key); it != metrics.end()) {
      value = {false, 0, it->second};
    }
    try {
      out += detail::format_value(value, spec);
    } catch (const Error& e) {
      LIGHTNING_FAIL("ModelCheckpoint filename template \"", original, "\": field \"", key,
                     "\": ", e.what());
    }
    i = j + 1;
  }
  return out + ".ckpt";
}

std::string ModelCheckpoint::checkpoint_path(const Candidates& c,
                                             const std::string& template_override,
                                             std::optional<int64_t> version) const {
  std::string name = format_checkpoint_name(c.metrics, c.epoch, c.step, template_override);
  if (version) {
    name = name.substr(0, name.size() - 5) + "-v" + std::to_string(*version) + ".ckpt";
  }
  return dirpath_.empty() ? name : (fs::path(dirpath_) / name).string();
}

std::string ModelCheckpoint::interpolated_path(Trainer&, const Candidates& c,
                                               const std::string& del_filepath) const {
  std::string path = checkpoint_path(c, "", std::nullopt);
  if (options_.enable_version_counter()) {
    int64_t version = 1;
    while (fs::exists(path) && path != del_filepath) {
      path = checkpoint_path(c, "", version++);
    }
  }
  return path;
}

// ---- Saving ------------------------------------------------------------------------------

void ModelCheckpoint::save_topk(Trainer& trainer, const Candidates& c) {
  if (options_.save_top_k() == 0) return;
  if (!options_.monitor()) {
    save_none_monitor(trainer, c);
    return;
  }
  const std::string& monitor = *options_.monitor();
  if (c.metrics.count(monitor) == 0) {
    std::string keys = "[";
    for (size_t i = 0; i < c.keys.size(); ++i) keys += (i ? ", " : "") + py_repr(c.keys[i]);
    keys += "]";
    const std::string message =
        "`ModelCheckpoint(monitor=" + py_repr(monitor) +
        ")` could not find the monitored key in the returned metrics: " + keys +
        ". HINT: Did you call `log(" + py_repr(monitor) + ", value)` in the `LightningModule`?";
    if (val_has_run_) LIGHTNING_FAIL(message);
    detail::TrainerAccess::impl(trainer).warn_once(message);
  }
  save_monitor(trainer, c);
}

void ModelCheckpoint::save_monitor(Trainer& trainer, const Candidates& c) {
  const std::string& monitor = *options_.monitor();
  auto it = c.metrics.find(monitor);
  bool top_k = false;
  if (it != c.metrics.end()) {
    const double current = it->second;
    const int64_t k = options_.save_top_k();
    if (k == -1 || static_cast<int64_t>(best_k_models_.size()) < k) {
      top_k = true;
    } else {
      const double kth = best_k_models_.at(kth_best_model_path_);
      top_k = options_.mode() == "min" ? current < kth : current > kth;
    }
    if (top_k) {
      update_best_and_save(current, trainer, c);
      return;
    }
  }
  if (options_.verbose()) {
    detail::info(trainer, "Epoch " + std::to_string(c.epoch) + ", global step " +
                              std::to_string(c.step) + ": " + py_repr(monitor) +
                              " was not in top " + std::to_string(options_.save_top_k()));
  }
}

void ModelCheckpoint::save_or_roll_back(const std::function<void()>& save) {
  auto fields = std::tie(best_model_path_, kth_best_model_path_, last_model_path_,
                         best_model_score_, current_score_, kth_value_, best_k_models_,
                         best_k_order_, last_global_step_saved_, last_checkpoint_saved_);
  const auto before = std::apply([](const auto&... f) { return std::make_tuple(f...); }, fields);
  try {
    save();
  } catch (...) {
    fields = before;
    throw;
  }
}

void ModelCheckpoint::save_none_monitor(Trainer& trainer, const Candidates& c) {
  save_or_roll_back([&] {
    const std::string path = interpolated_path(trainer, c, best_model_path_);
    // Set before saving: it is part of the saved state.
    const std::string previous = std::exchange(best_model_path_, path);
    save_file(trainer, path);
    if (options_.save_top_k() == 1 && !previous.empty() && should_remove(trainer, previous, path)) {
      remove_file(trainer, previous);
    }
  });
}

void ModelCheckpoint::update_best_and_save(double current, Trainer& trainer, const Candidates& c) {
  save_or_roll_back([&] { update_best_and_save_now(current, trainer, c); });
}

void ModelCheckpoint::update_best_and_save_now(double current, Trainer& trainer,
                                               const Candidates& c) {
  const int64_t k = options_.save_top_k() == -1 ? static_cast<int64_t>(best_k_models_.size()) + 1
                                                : options_.save_top_k();
  std::string del_filepath;
  auto erase_key = [&](const std::string& key) {
    best_k_models_.erase(key);
    best_k_order_.erase(std::remove(best_k_order_.begin(), best_k_order_.end(), key),
                        best_k_order_.end());
  };
  if (static_cast<int64_t>(best_k_models_.size()) == k && k > 0) {
    del_filepath = kth_best_model_path_;
    erase_key(del_filepath);
  }
  // NaN is kept as the worst value.
  if (std::isnan(current)) {
    current = options_.mode() == "min" ? std::numeric_limits<double>::infinity()
                                       : -std::numeric_limits<double>::infinity();
  }
  const std::string path = interpolated_path(trainer, c, del_filepath);
  current_score_ = current;
  if (best_k_models_.count(path) == 0) best_k_order_.push_back(path);
  best_k_models_[path] = current;

  // Python's max()/min() over the dict: the first of equal scores wins.
  const bool min_mode = options_.mode() == "min";
  auto pick = [&](bool want_max) {
    const std::string* chosen = nullptr;
    for (const std::string& p : best_k_order_) {
      if (!chosen) {
        chosen = &p;
        continue;
      }
      const double v = best_k_models_.at(p), best = best_k_models_.at(*chosen);
      if (want_max ? v > best : v < best) chosen = &p;
    }
    return *chosen;
  };
  if (static_cast<int64_t>(best_k_models_.size()) == k) {
    kth_best_model_path_ = pick(/*want_max=*/min_mode);
    kth_value_ = best_k_models_.at(kth_best_model_path_);
  }
  best_model_path_ = pick(/*want_max=*/!min_mode);
  best_model_score_ = best_k_models_.at(best_model_path_);

  if (options_.verbose()) {
    detail::info(trainer, "Epoch " + std::to_string(c.epoch) + ", global step " +
                              std::to_string(c.step) + ": " + py_repr(*options_.monitor()) +
                              " reached " + detail::python_format(current, "0.5f") + " (best " +
                              detail::python_format(*best_model_score_, "0.5f") +
                              "), saving model to " + py_repr(path) + " as top " +
                              std::to_string(k));
  }
  save_file(trainer, path);
  if (!del_filepath.empty() && should_remove(trainer, del_filepath, path)) {
    remove_file(trainer, del_filepath);
  }
}

void ModelCheckpoint::save_last(Trainer& trainer, const Candidates& c) {
  if (!options_.save_last()) return;
  std::string path = checkpoint_path(c, "last", std::nullopt);
  if (options_.enable_version_counter()) {
    int64_t version = 1;
    while (fs::exists(path) && path != last_model_path_) {
      path = checkpoint_path(c, "last", version++);
    }
  }
  save_or_roll_back([&] {
    const std::string previous = std::exchange(last_model_path_, path);
    save_file(trainer, path);
    if (!previous.empty() && should_remove(trainer, previous, path)) remove_file(trainer, previous);
  });
}

void ModelCheckpoint::save_file(Trainer& trainer, const std::string& path) {
  trainer.save_checkpoint(path, options_.save_weights_only());
  last_global_step_saved_ = trainer.global_step();
  last_checkpoint_saved_ = path;
  // Lightning tells the loggers after every save, on global rank 0.
  if (trainer.is_global_zero()) {
    for (const auto& logger : trainer.loggers()) logger->after_save_checkpoint(*this);
  }
}

bool ModelCheckpoint::should_remove(const Trainer& trainer, const std::string& previous,
                                    const std::string& current) const {
  if (previous == current) return false;
  auto normal = [](const std::string& p) { return fs::absolute(p).lexically_normal(); };
  const fs::path prev = normal(previous);
  if (!trainer.ckpt_path().empty() && prev == normal(trainer.ckpt_path())) return false;
  if (dirpath_.empty()) return false;
  // Only files inside this callback's folder.
  const fs::path dir = normal(dirpath_);
  auto d = dir.begin();
  auto p = prev.begin();
  for (; d != dir.end(); ++d, ++p) {
    if (d->empty()) continue;  // a trailing separator
    if (p == prev.end() || *p != *d) return false;
  }
  return p != prev.end();
}

void ModelCheckpoint::remove_file(const Trainer& trainer, const std::string& path) const {
  if (!trainer.is_global_zero()) return;
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) detail::warn("ModelCheckpoint could not remove " + path + ": " + ec.message());
}

// ---- State -------------------------------------------------------------------------------

StateDict ModelCheckpoint::state_dict() const {
  StateDict s = make_state_dict();
  auto score = [](const std::optional<double>& v) {
    return v ? detail::score_ivalue(*v) : c10::IValue();
  };
  s.insert("monitor", options_.monitor() ? c10::IValue(*options_.monitor()) : c10::IValue());
  s.insert("best_model_score", score(best_model_score_));
  s.insert("best_model_path", best_model_path_);
  s.insert("current_score", score(current_score_));
  s.insert("dirpath", dirpath_.empty() ? c10::IValue() : c10::IValue(dirpath_));
  StateDict best_k = make_state_dict();
  for (const std::string& path : best_k_order_) {
    best_k.insert(path, detail::score_ivalue(best_k_models_.at(path)));
  }
  s.insert("best_k_models", best_k);
  s.insert("kth_best_model_path", kth_best_model_path_);
  s.insert("kth_value", detail::score_ivalue(kth_value_));
  s.insert("last_model_path", last_model_path_);
  return s;
}

void ModelCheckpoint::load_state_dict(const StateDict& state) {
  const std::string owner = "ModelCheckpoint";
  auto find = [&](const char* key) -> const c10::IValue* {
    auto it = state.find(c10::IValue(std::string(key)));
    return it == state.end() ? nullptr : &it->value();
  };
  std::string dirpath_from_ckpt = dirpath_;
  if (const c10::IValue* v = find("dirpath"))
    dirpath_from_ckpt = detail::string_or_empty(*v, "dirpath");

  if (dirpath_ == dirpath_from_ckpt) {
    best_model_score_ =
        detail::score_from(state_value(state, "best_model_score", owner), "best_model_score");
    if (const c10::IValue* v = find("kth_best_model_path")) {
      kth_best_model_path_ = detail::string_or_empty(*v, "kth_best_model_path");
    }
    if (const c10::IValue* v = find("kth_value")) {
      if (auto kth = detail::score_from(*v, "kth_value")) kth_value_ = *kth;
    }
    if (const c10::IValue* v = find("best_k_models")) {
      LIGHTNING_CHECK(v->isGenericDict(), "ModelCheckpoint.load_state_dict: \"best_k_models\" ",
                      "must be a dict of path -> score, got a ", v->tagKind(), ".");
      best_k_models_.clear();
      best_k_order_.clear();
      for (const auto& entry : v->toGenericDict()) {
        LIGHTNING_CHECK(entry.key().isString(),
                        "ModelCheckpoint.load_state_dict: \"best_k_models\" keys must be paths.");
        const std::string path = entry.key().toStringRef();
        auto score = detail::score_from(entry.value(), "best_k_models");
        LIGHTNING_CHECK(score.has_value(), "ModelCheckpoint.load_state_dict: \"best_k_models\"[",
                        py_repr(path), "] is None.");
        if (best_k_models_.count(path) == 0) best_k_order_.push_back(path);
        best_k_models_[path] = *score;
      }
    }
    if (const c10::IValue* v = find("last_model_path")) {
      last_model_path_ = detail::string_or_empty(*v, "last_model_path");
    }
  } else {
    detail::warn("The dirpath has changed from " +
                 (dirpath_from_ckpt.empty() ? std::string("None") : py_repr(dirpath_from_ckpt)) +
                 " to " + (dirpath_.empty() ? std::string("None") : py_repr(dirpath_)) +
                 ", therefore `best_model_score`, `kth_best_model_path`, `kth_value`, "
                 "`last_model_path` and `best_k_models` won't be reloaded. Only "
                 "`best_model_path` will be reloaded.");
  }
  best_model_path_ =
      detail::string_or_empty(state_value(state, "best_model_path", owner), "best_model_path");
}

}  // namespace lightning
