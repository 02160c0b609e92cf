// Internal: reading a LightningCLI config tree (an HParams, lightning/hparams.h)
// with messages that name the key path, the value and what was expected —
// typed values, durations, the init_args of a class, `class_path` objects,
// and the registries of user classes (lightning/cli_registry.h).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lightning/error.h"
#include "lightning/hparams.h"

namespace lightning::detail {

// ---- Typed values -------------------------------------------------------------

/// The value as a config shows it.
std::string shown(const HParamValue& v);
/// "<path>: expected <expected>, got <type> <value>."
[[noreturn]] void type_error(const std::string& path, const HParamValue& v,
                             const std::string& expected);

int64_t to_int(const HParamValue& v, const std::string& path, const std::string& expected = "int");
/// An int or a float.
double to_float(const HParamValue& v, const std::string& path,
                const std::string& expected = "float");
bool to_bool(const HParamValue& v, const std::string& path, const std::string& expected = "bool");
std::string to_str(const HParamValue& v, const std::string& path,
                   const std::string& expected = "str");
std::optional<int64_t> to_opt_int(const HParamValue& v, const std::string& path);
std::optional<double> to_opt_float(const HParamValue& v, const std::string& path);
std::optional<bool> to_opt_bool(const HParamValue& v, const std::string& path);
std::optional<std::string> to_opt_str(const HParamValue& v, const std::string& path);

/// A duration as Python's timedelta is written in a config: seconds (a
/// number), "[D day[s], ]H:MM:SS[.ffffff]" (str(timedelta)), or a mapping of
/// days/hours/minutes/seconds/milliseconds (Lightning's max_time dict form).
std::chrono::milliseconds to_duration(const HParamValue& v, const std::string& path);

// ---- Words --------------------------------------------------------------------

/// "a, b, c".
std::string join(const std::vector<std::string>& names);
/// "a, b or c".
std::string join_or(const std::vector<std::string>& names);
/// "'a', 'b', 'c'".
std::string quoted_list(const std::vector<std::string>& names);
/// A sentence's end after a name: ", did you mean 'x'?" or ".".
std::string end(const std::string& name, const std::vector<std::string>& candidates);

// ---- init_args of a class_path object -----------------------------------------

/// Reads the init_args of one class: every `take` names a known argument; at
/// `finish` any other key is an error with the closest known names.
class InitArgs {
 public:
  InitArgs(const HParams& args, std::string path, std::string cls)
      : args_(args), path_(std::move(path)), cls_(std::move(cls)) {}

  /// The key path of argument `name` ("trainer.callbacks[0].init_args.monitor").
  std::string path(const std::string& name) const { return path_ + "." + name; }
  /// The value of `name`, or nullptr when absent.
  const HParamValue* take(const std::string& name);
  /// An argument `required` by the class (Python: no default).
  const HParamValue& require(const std::string& name, const std::string& what);
  /// An argument of the Python class that has no counterpart here: accepted
  /// only with one of `neutral` (its Python default, or what matches the
  /// behaviour here).
  void python_only(const std::string& name, const std::vector<HParamValue>& neutral,
                   const std::string& why);
  /// `lightning::Error` naming the first argument no `take` asked for.
  void finish() const;

 private:
  const HParams& args_;
  std::string path_, cls_;
  std::vector<std::string> known_;
};

// ---- class_path objects -------------------------------------------------------

struct ClassSpec {
  std::string class_path;  // as written
  std::string short_name;  // the last dotted component
  std::string module;      // the part before it ("" without dots)
  HParams init_args;
  std::string path;  // key path of the object ("trainer.callbacks[0]")
};

/// A bare class name or {class_path, init_args, dict_kwargs}; `kind` names
/// what it should be in messages ("callback").
ClassSpec parse_spec(const HParamValue& spec, const std::string& where, const std::string& kind);

/// Lightning's own module paths ("lightning.pytorch.callbacks",
/// "pytorch_lightning.loggers.csv_logs", ...).
bool lightning_module(const std::string& module);

// ---- Registries of user classes -----------------------------------------------

/// Factories by name, in registration order; registering a name again
/// replaces its factory. Thread-safe.
template <typename Factory>
class Registry {
 public:
  void add(const std::string& kind, const std::string& name, Factory factory) {
    LIGHTNING_CHECK(!name.empty(), "register_", kind, ": the name is empty.");
    LIGHTNING_CHECK(static_cast<bool>(factory), "register_", kind, "(\"", name,
                    "\"): the factory is empty.");
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& entry : entries_) {
      if (entry.first == name) {
        entry.second = std::move(factory);
        return;
      }
    }
    entries_.emplace_back(name, std::move(factory));
  }
  std::vector<std::string> names() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> out;
    for (const auto& entry : entries_) out.push_back(entry.first);
    return out;
  }
  std::optional<Factory> find(const std::string& name) const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& entry : entries_) {
      if (entry.first == name) return entry.second;
    }
    return std::nullopt;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::pair<std::string, Factory>> entries_;
};

}  // namespace lightning::detail
