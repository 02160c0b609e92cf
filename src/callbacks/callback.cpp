#include "lightning/callbacks/callback.h"

#include <c10/util/Type.h>

#include <typeinfo>

namespace lightning {

std::string Callback::state_key() const {
  // Lightning uses the qualified class name; the unqualified part is what users read.
  std::string name = c10::demangle(typeid(*this).name());
  auto pos = name.rfind("::");
  return pos == std::string::npos ? name : name.substr(pos + 2);
}

}  // namespace lightning
