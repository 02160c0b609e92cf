// Reading a LightningCLI config tree (cli/config_reading.h).
#include "cli/config_reading.h"

#include <c10/util/StringUtil.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "util/closest_names.h"

namespace lightning::detail {

// ---- Typed reading of config values -------------------------------------------

std::string shown(const HParamValue& v) { return c10::str(v); }

[[noreturn]] void type_error(const std::string& path, const HParamValue& v,
                             const std::string& expected) {
  LIGHTNING_FAIL(path, ": expected ", expected, ", got ", v.type_name(), " ", shown(v), ".");
}

int64_t to_int(const HParamValue& v, const std::string& path, const std::string& expected) {
  if (!v.is_int()) type_error(path, v, expected);
  return std::get<int64_t>(v.variant());
}
double to_float(const HParamValue& v, const std::string& path, const std::string& expected) {
  if (v.is_int()) return static_cast<double>(std::get<int64_t>(v.variant()));
  if (!v.is_double()) type_error(path, v, expected);
  return std::get<double>(v.variant());
}
bool to_bool(const HParamValue& v, const std::string& path, const std::string& expected) {
  if (!v.is_bool()) type_error(path, v, expected);
  return std::get<bool>(v.variant());
}
std::string to_str(const HParamValue& v, const std::string& path, const std::string& expected) {
  if (!v.is_string()) type_error(path, v, expected);
  return std::get<std::string>(v.variant());
}
std::optional<int64_t> to_opt_int(const HParamValue& v, const std::string& path) {
  if (v.is_none()) return std::nullopt;
  return to_int(v, path, "int or None");
}
std::optional<double> to_opt_float(const HParamValue& v, const std::string& path) {
  if (v.is_none()) return std::nullopt;
  return to_float(v, path, "float or None");
}
std::optional<bool> to_opt_bool(const HParamValue& v, const std::string& path) {
  if (v.is_none()) return std::nullopt;
  return to_bool(v, path, "bool or None");
}
std::optional<std::string> to_opt_str(const HParamValue& v, const std::string& path) {
  if (v.is_none()) return std::nullopt;
  return to_str(v, path, "str or None");
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) out += (i ? ", " : "") + names[i];
  return out;
}

std::string join_or(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    out += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  }
  return out;
}

// A sentence's end after a name: ", did you mean 'x'?" or ".".
std::string end(const std::string& name, const std::vector<std::string>& candidates) {
  const std::string s = did_you_mean(name, candidates);
  return s.empty() ? "." : s;
}

std::string quoted_list(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) out += (i ? ", " : "") + ("'" + names[i] + "'");
  return out;
}

// A duration as Python's timedelta is written in a config: seconds (a
// number), "[D day[s], ]H:MM:SS[.ffffff]" (str(timedelta)), or a mapping of
// days/hours/minutes/seconds/milliseconds (Lightning's max_time dict form).
std::chrono::milliseconds to_duration(const HParamValue& v, const std::string& path) {
  const std::string expected =
      "a duration (seconds as a number, \"H:MM:SS\", \"D days, H:MM:SS\" or "
      "{days: .., hours: .., minutes: .., seconds: ..})";
  double seconds = 0;
  if (v.is_int() || v.is_double()) {
    seconds = to_float(v, path);
  } else if (v.is_string()) {
    std::string text = std::get<std::string>(v.variant());
    double days = 0;
    const auto comma = text.find(',');
    if (comma != std::string::npos) {
      std::istringstream head(text.substr(0, comma));
      std::string word;
      if (!(head >> days >> word) || (word != "day" && word != "days")) {
        type_error(path, v, expected);
      }
      text = text.substr(comma + 1);
    }
    std::vector<double> parts;
    size_t start = 0;
    while (true) {
      const auto colon = text.find(':', start);
      const std::string piece =
          text.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
      char* end = nullptr;
      errno = 0;
      const double x = std::strtod(piece.c_str(), &end);
      bool only_space = end != piece.c_str();
      for (const char* p = end; only_space && *p; ++p) only_space = *p == ' ';
      if (!only_space || errno != 0 || !std::isfinite(x) || x < 0) type_error(path, v, expected);
      parts.push_back(x);
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
    if (parts.size() != 3) type_error(path, v, expected);
    seconds = days * 86400 + parts[0] * 3600 + parts[1] * 60 + parts[2];
  } else if (v.is_map()) {
    static const std::vector<std::pair<std::string, double>> units = {
        {"weeks", 604800}, {"days", 86400},        {"hours", 3600},       {"minutes", 60},
        {"seconds", 1},    {"milliseconds", 1e-3}, {"microseconds", 1e-6}};
    std::vector<std::string> names;
    for (const auto& u : units) names.push_back(u.first);
    const HParams map = v.as<HParams>();
    for (const auto& [key, value] : map.items()) {
      auto unit =
          std::find_if(units.begin(), units.end(), [&](const auto& u) { return u.first == key; });
      LIGHTNING_CHECK(unit != units.end(), path, ".", key, ": unknown duration unit",
                      end(key, names), " Units: ", join(names), ".");
      seconds += to_float(value, path + "." + key) * unit->second;
    }
  } else {
    type_error(path, v, expected);
  }
  LIGHTNING_CHECK(std::isfinite(seconds) && seconds >= 0, path, ": expected ", expected, ", got ",
                  shown(v), " (a negative or infinite duration).");
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(seconds * 1000.0)));
}

// ---- init_args of a class_path object -----------------------------------------

const HParamValue* InitArgs::take(const std::string& name) {
  known_.push_back(name);
  return args_.contains(name) ? &args_.at(name) : nullptr;
}

const HParamValue& InitArgs::require(const std::string& name, const std::string& what) {
  const HParamValue* v = take(name);
  LIGHTNING_CHECK(v != nullptr && !v->is_none(), path(name), ": ", cls_,
                  " requires this argument (", what, ")",
                  v ? std::string(", got None") : std::string(", it is missing"), ".");
  return *v;
}

void InitArgs::python_only(const std::string& name, const std::vector<HParamValue>& neutral,
                           const std::string& why) {
  known_.push_back(name);
  if (!args_.contains(name)) return;
  const HParamValue& v = args_.at(name);
  if (std::find(neutral.begin(), neutral.end(), v) != neutral.end()) return;
  std::vector<std::string> accepted;
  for (const auto& n : neutral) accepted.push_back(shown(n));
  LIGHTNING_FAIL(path(name), ": ", cls_, "'s '", name,
                 "' exists in Python Lightning but not in lightning.cpp (", why, "); only ",
                 join_or(accepted), " is accepted here, got ", shown(v), ".");
}

void InitArgs::finish() const {
  for (const auto& [key, value] : args_.items()) {
    if (std::find(known_.begin(), known_.end(), key) != known_.end()) continue;
    LIGHTNING_FAIL(path(key), ": ", cls_, " has no argument '", key, "'", end(key, known_),
                   " Its arguments: ", join(known_), ".");
  }
}

// ---- class_path objects -------------------------------------------------------

ClassSpec parse_spec(const HParamValue& spec, const std::string& where, const std::string& kind) {
  ClassSpec out;
  out.path = where;
  const std::string expected = "a " + kind + " class name or {class_path: ..., init_args: {...}}";
  if (spec.is_string()) {
    out.class_path = std::get<std::string>(spec.variant());
  } else if (spec.is_map()) {
    const HParams map = spec.as<HParams>();
    const std::vector<std::string> keys = {"class_path", "init_args", "dict_kwargs"};
    for (const auto& [key, value] : map.items()) {
      LIGHTNING_CHECK(std::find(keys.begin(), keys.end(), key) != keys.end(), where, ".", key,
                      ": unknown key in a class_path object", end(key, keys),
                      " Keys: class_path, init_args, dict_kwargs.");
    }
    LIGHTNING_CHECK(map.contains("class_path"), where, ": a ", kind,
                    " object needs 'class_path' (the class name), got ", shown(spec), ".");
    out.class_path = to_str(map.at("class_path"), where + ".class_path");
    for (const char* section : {"init_args", "dict_kwargs"}) {
      if (!map.contains(section)) continue;
      const HParamValue& args = map.at(section);
      if (args.is_none()) continue;
      if (!args.is_map()) type_error(where + "." + section, args, "a mapping of argument names");
      const HParams given = args.as<HParams>();
      for (const auto& [key, value] : given.items()) {
        LIGHTNING_CHECK(!out.init_args.contains(key), where, ".", section, ".", key,
                        ": given in both init_args and dict_kwargs.");
        out.init_args.set(key, value);
      }
    }
  } else {
    type_error(where, spec, expected);
  }
  LIGHTNING_CHECK(!out.class_path.empty(), where, ": the class_path is empty.");
  const auto dot = out.class_path.rfind('.');
  out.short_name = dot == std::string::npos ? out.class_path : out.class_path.substr(dot + 1);
  out.module = dot == std::string::npos ? "" : out.class_path.substr(0, dot);
  return out;
}

// Lightning's own module paths ("lightning.pytorch.callbacks",
// "pytorch_lightning.loggers.csv_logs", "lightning.pytorch.callbacks.progress", ...).
bool lightning_module(const std::string& module) {
  for (const char* prefix : {"lightning.", "pytorch_lightning."}) {
    if (module.rfind(prefix, 0) == 0) return true;
  }
  return module == "lightning" || module == "pytorch_lightning";
}

}  // namespace lightning::detail
