// Internal: a C++ class's name without its namespaces, as Python's
// type(obj).__name__ (checkpoint keys, profiler actions, messages).
#pragma once

#include <c10/util/Type.h>

#include <string>
#include <typeinfo>

namespace lightning::detail {

inline std::string unqualified_type_name(const std::type_info& type) {
  std::string name = c10::demangle(type.name());
  const auto pos = name.rfind("::");
  return pos == std::string::npos ? name : name.substr(pos + 2);
}

}  // namespace lightning::detail
