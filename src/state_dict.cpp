#include "lightning/state_dict.h"

#include <ATen/core/jit_type.h>

#include "lightning/error.h"

namespace lightning {

StateDict make_state_dict() { return StateDict(c10::StringType::get(), c10::AnyType::get()); }

c10::IValue to_ivalue(const std::vector<double>& values) {
  c10::List<double> list;
  for (double v : values) list.push_back(v);
  return list;
}

const c10::IValue& state_value(const StateDict& state, const std::string& key,
                               const std::string& owner) {
  auto it = state.find(c10::IValue(key));
  LIGHTNING_CHECK(it != state.end(), owner, ".load_state_dict: the state has no \"", key,
                  "\" entry; was it saved by something else?");
  return it->value();
}

namespace {
double number_in(const c10::IValue& e, const std::string& key, const std::string& owner) {
  LIGHTNING_CHECK(e.isDouble() || e.isInt(), owner, ".load_state_dict: \"", key,
                  "\" must hold numbers, found a ", e.tagKind(), ".");
  return e.isDouble() ? e.toDouble() : static_cast<double>(e.toInt());
}
}  // namespace

std::vector<double> state_doubles(const StateDict& state, const std::string& key,
                                  const std::string& owner) {
  const c10::IValue& v = state_value(state, key, owner);
  std::vector<double> out;
  if (v.isList()) {
    for (const c10::IValue& e : v.toListRef()) out.push_back(number_in(e, key, owner));
  } else if (v.isTuple()) {
    for (const c10::IValue& e : v.toTupleRef().elements()) out.push_back(number_in(e, key, owner));
  } else {
    LIGHTNING_FAIL(owner, ".load_state_dict: \"", key, "\" must be a list of numbers, got a ",
                   v.tagKind(), ".");
  }
  return out;
}

double state_double(const StateDict& state, const std::string& key, const std::string& owner) {
  return number_in(state_value(state, key, owner), key, owner);
}

int64_t state_int(const StateDict& state, const std::string& key, const std::string& owner) {
  const c10::IValue& v = state_value(state, key, owner);
  LIGHTNING_CHECK(v.isInt(), owner, ".load_state_dict: \"", key, "\" must be an integer, got a ",
                  v.tagKind(), ".");
  return v.toInt();
}

bool state_bool(const StateDict& state, const std::string& key, const std::string& owner) {
  const c10::IValue& v = state_value(state, key, owner);
  LIGHTNING_CHECK(v.isBool(), owner, ".load_state_dict: \"", key, "\" must be a bool, got a ",
                  v.tagKind(), ".");
  return v.toBool();
}

std::string state_string(const StateDict& state, const std::string& key, const std::string& owner) {
  const c10::IValue& v = state_value(state, key, owner);
  LIGHTNING_CHECK(v.isString(), owner, ".load_state_dict: \"", key, "\" must be a string, got a ",
                  v.tagKind(), ".");
  return v.toStringRef();
}

StateDict state_dict_at(const StateDict& state, const std::string& key, const std::string& owner) {
  const c10::IValue& v = state_value(state, key, owner);
  LIGHTNING_CHECK(v.isGenericDict(), owner, ".load_state_dict: \"", key,
                  "\" must be a dict, got a ", v.tagKind(), ".");
  return v.toGenericDict();
}

}  // namespace lightning
