#include "lightning/hparams.h"

#include <cmath>
#include <limits>
#include <sstream>

#include "util/float_format.h"
#include "lightning/error.h"

namespace lightning {

HParamValue::HParamValue(const HParams& v) : value_(v.items()) {}

std::string HParamValue::type_name() const {
  switch (value_.index()) {
    case 0:
      return "None";
    case 1:
      return "bool";
    case 2:
      return "int";
    case 3:
      return "float";
    case 4:
      return "str";
    case 5:
      return "list";
    default:
      return "dict";
  }
}

namespace {

[[noreturn]] void type_error(const std::string& what, const HParamValue& v, const char* wanted) {
  LIGHTNING_FAIL(what, " is ", v.type_name(), " (", v, "), not ", wanted,
                 ". Read it with the matching type, e.g. get<",
                 v.is_int()      ? "int64_t"
                 : v.is_double() ? "double"
                 : v.is_bool()   ? "bool"
                 : v.is_string() ? "std::string"
                 : v.is_list()   ? "HParamValue::List"
                 : v.is_map()    ? "HParams"
                                 : "HParamValue",
                 ">.");
}

}  // namespace

template <typename T>
T HParamValue::as(const std::string& what) const {
  if constexpr (std::is_same_v<T, HParamValue>) {
    return *this;
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!is_bool()) type_error(what, *this, "bool");
    return std::get<bool>(value_);
  } else if constexpr (std::is_integral_v<T>) {
    if (!is_int()) type_error(what, *this, "int");
    int64_t v = std::get<int64_t>(value_);
    bool fits;
    if constexpr (std::is_signed_v<T>) {
      fits = v >= static_cast<int64_t>(std::numeric_limits<T>::min()) &&
             v <= static_cast<int64_t>(std::numeric_limits<T>::max());
    } else {
      fits = v >= 0 &&
             static_cast<uint64_t>(v) <= static_cast<uint64_t>(std::numeric_limits<T>::max());
    }
    LIGHTNING_CHECK(fits, what, " = ", v,
                    " does not fit the requested integer type; read it as int64_t.");
    return static_cast<T>(v);
  } else if constexpr (std::is_floating_point_v<T>) {
    if (is_int()) return static_cast<T>(std::get<int64_t>(value_));
    if (!is_double()) type_error(what, *this, "float");
    return static_cast<T>(std::get<double>(value_));
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!is_string()) type_error(what, *this, "str");
    return std::get<std::string>(value_);
  } else if constexpr (std::is_same_v<T, List>) {
    if (!is_list()) type_error(what, *this, "list");
    return std::get<List>(value_);
  } else if constexpr (std::is_same_v<T, HParams>) {
    if (!is_map()) type_error(what, *this, "dict");
    return HParams(std::get<Map>(value_));
  } else {
    static_assert(!sizeof(T*), "unsupported HParamValue::as<T> type");
  }
}

template bool HParamValue::as<bool>(const std::string&) const;
template int HParamValue::as<int>(const std::string&) const;
template long HParamValue::as<long>(const std::string&) const;
template long long HParamValue::as<long long>(const std::string&) const;
template unsigned HParamValue::as<unsigned>(const std::string&) const;
template unsigned long HParamValue::as<unsigned long>(const std::string&) const;
template float HParamValue::as<float>(const std::string&) const;
template double HParamValue::as<double>(const std::string&) const;
template std::string HParamValue::as<std::string>(const std::string&) const;
template HParamValue::List HParamValue::as<HParamValue::List>(const std::string&) const;
template HParams HParamValue::as<HParams>(const std::string&) const;
template HParamValue HParamValue::as<HParamValue>(const std::string&) const;

HParams::HParams(std::initializer_list<std::pair<std::string, HParamValue>> items) {
  for (const auto& [k, v] : items) set(k, v);
}

const HParamValue& HParams::at(const std::string& key) const {
  for (const auto& item : items_) {
    if (item.first == key) return item.second;
  }
  std::ostringstream known;
  for (size_t i = 0; i < items_.size(); ++i)
    known << (i ? ", " : "") << "'" << items_[i].first << "'";
  LIGHTNING_FAIL("hparams has no key '", key, "'. Available keys: [", known.str(),
                 "]. Pass it to save_hyperparameters() in the module's constructor.");
}

bool HParams::contains(const std::string& key) const {
  for (const auto& item : items_) {
    if (item.first == key) return true;
  }
  return false;
}

HParams& HParams::set(const std::string& key, HParamValue value) {
  for (auto& item : items_) {
    if (item.first == key) {
      item.second = std::move(value);
      return *this;
    }
  }
  items_.emplace_back(key, std::move(value));
  return *this;
}

HParams& HParams::update(const HParams& other) {
  for (const auto& [k, v] : other.items_) set(k, v);
  return *this;
}

bool HParams::erase(const std::string& key) {
  for (auto it = items_.begin(); it != items_.end(); ++it) {
    if (it->first == key) {
      items_.erase(it);
      return true;
    }
  }
  return false;
}

std::vector<std::string> HParams::keys() const {
  std::vector<std::string> out;
  out.reserve(items_.size());
  for (const auto& item : items_) out.push_back(item.first);
  return out;
}

std::ostream& operator<<(std::ostream& os, const HParamValue& value) {
  const auto& v = value.variant();
  switch (v.index()) {
    case 0:
      return os << "None";
    case 1:
      return os << (std::get<bool>(v) ? "True" : "False");
    case 2:
      return os << std::get<int64_t>(v);
    case 3:
      return os << detail::format_float_repr(std::get<double>(v));
    case 4:
      return os << "'" << std::get<std::string>(v) << "'";
    case 5: {
      os << "[";
      const auto& list = std::get<HParamValue::List>(v);
      for (size_t i = 0; i < list.size(); ++i) os << (i ? ", " : "") << list[i];
      return os << "]";
    }
    default:
      return os << HParams(std::get<HParamValue::Map>(v));
  }
}

std::ostream& operator<<(std::ostream& os, const HParams& hparams) {
  os << "{";
  bool first = true;
  for (const auto& [k, v] : hparams) {
    os << (first ? "" : ", ") << "'" << k << "': " << v;
    first = false;
  }
  return os << "}";
}

}  // namespace lightning
