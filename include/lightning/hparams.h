// lightning/hparams.h — hyperparameters, as `self.hparams` in Lightning.
//
//   L::HParams hp{{"learning_rate", 1e-3}, {"hidden", 128}, {"name", "mlp"}};
//   save_hyperparameters(hp);                       // in the module constructor
//   double lr = hparams().get<double>("learning_rate");
//   int64_t hidden = hparams().get<int64_t>("hidden");
//   hparams().get<std::string>("missing");          // lightning::Error listing the keys
//
// Values are None, bool, int, float, string, lists and nested maps: what a
// hparams.yaml holds. Keys keep their insertion order.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "lightning/export.h"

namespace lightning {

class HParams;

/// One hyperparameter value: None, bool, int64, double, string, list or map.
class LIGHTNING_API HParamValue {
 public:
  using List = std::vector<HParamValue>;
  using Map = std::vector<std::pair<std::string, HParamValue>>;

  /// None.
  HParamValue() = default;
  HParamValue(std::nullptr_t) {}
  HParamValue(bool v) : value_(v) {}
  template <typename T,
            std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  HParamValue(T v) : value_(static_cast<int64_t>(v)) {}
  template <typename T, std::enable_if_t<std::is_floating_point_v<T>, int> = 0>
  HParamValue(T v) : value_(static_cast<double>(v)) {}
  HParamValue(const char* v) : value_(std::string(v)) {}
  HParamValue(std::string v) : value_(std::move(v)) {}
  HParamValue(List v) : value_(std::move(v)) {}
  HParamValue(const HParams& v);

  bool is_none() const { return std::holds_alternative<std::monostate>(value_); }
  bool is_bool() const { return std::holds_alternative<bool>(value_); }
  bool is_int() const { return std::holds_alternative<int64_t>(value_); }
  bool is_double() const { return std::holds_alternative<double>(value_); }
  bool is_string() const { return std::holds_alternative<std::string>(value_); }
  bool is_list() const { return std::holds_alternative<List>(value_); }
  bool is_map() const { return std::holds_alternative<Map>(value_); }

  /// Typed access. `T` is bool, an integer type, a floating type, std::string,
  /// HParamValue::List, HParams, or HParamValue itself. An int converts to a
  /// floating type (Python does the same); every other mismatch throws
  /// `lightning::Error` naming both types. `what` names the value in messages.
  template <typename T>
  T as(const std::string& what = "value") const;

  /// "None", "bool", "int", "float", "str", "list" or "dict" (Python's names).
  std::string type_name() const;

  bool operator==(const HParamValue& other) const { return value_ == other.value_; }
  bool operator!=(const HParamValue& other) const { return !(*this == other); }

  /// The underlying variant, for code that switches on every alternative.
  using Variant = std::variant<std::monostate, bool, int64_t, double, std::string, List, Map>;
  const Variant& variant() const { return value_; }

 private:
  Variant value_;
};

/// An ordered map of hyperparameters.
class LIGHTNING_API HParams {
 public:
  HParams() = default;
  HParams(std::initializer_list<std::pair<std::string, HParamValue>> items);
  explicit HParams(HParamValue::Map items) : items_(std::move(items)) {}

  /// The value of `key` converted to `T`; `lightning::Error` when the key is
  /// missing (the message lists the keys that exist) or has another type.
  template <typename T>
  T get(const std::string& key) const {
    return at(key).as<T>("hparams['" + key + "']");
  }
  /// The value of `key`, or `fallback` when the key is missing.
  template <typename T>
  T get(const std::string& key, T fallback) const {
    return contains(key) ? get<T>(key) : fallback;
  }
  const HParamValue& at(const std::string& key) const;
  bool contains(const std::string& key) const;
  /// Inserts or replaces `key`, keeping the first insertion's position.
  HParams& set(const std::string& key, HParamValue value);
  /// Every key of `other` set on this map (overrides win).
  HParams& update(const HParams& other);
  bool erase(const std::string& key);

  std::vector<std::string> keys() const;
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  const HParamValue::Map& items() const { return items_; }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }

  bool operator==(const HParams& other) const { return items_ == other.items_; }
  bool operator!=(const HParams& other) const { return !(*this == other); }

 private:
  HParamValue::Map items_;
};

/// The hyperparameters as a YAML document, as Lightning's hparams.yaml: a
/// mapping in insertion order; Python's `yaml.safe_load` reads back the same
/// values and types (ints stay ints, floats keep full precision and always
/// carry a '.' or an exponent with '.', NaN/Inf as .nan/.inf, strings that
/// could read as another type are quoted, None as null, nested lists/maps).
LIGHTNING_API std::string to_yaml(const HParams& hparams);
/// Parses a YAML mapping (as written by `to_yaml` or by Lightning) into
/// HParams, resolving plain scalars as YAML 1.1 / PyYAML does (null, bool,
/// int, float, else string). `lightning::Error` on invalid YAML or a
/// document that is not a mapping, with the parser's line and column.
LIGHTNING_API HParams hparams_from_yaml(const std::string& text);
/// Writes `to_yaml(hparams)` to `path` (atomically: temporary file + rename),
/// as Lightning's `save_hparams_to_yaml`. `lightning::Error` naming the path
/// when it cannot be written.
LIGHTNING_API void save_hparams_to_yaml(const std::string& path, const HParams& hparams);
/// Reads a hparams.yaml, as Lightning's `load_hparams_from_yaml`.
/// `lightning::Error` naming the path when it is missing or invalid.
LIGHTNING_API HParams load_hparams_from_yaml(const std::string& path);

/// Python-like rendering: {'learning_rate': 0.001, 'layers': [64, 32]}.
LIGHTNING_API std::ostream& operator<<(std::ostream& os, const HParamValue& value);
LIGHTNING_API std::ostream& operator<<(std::ostream& os, const HParams& hparams);

}  // namespace lightning
