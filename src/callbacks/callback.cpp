#include "lightning/callbacks/callback.h"

#include <typeinfo>

#include "util/type_name.h"

namespace lightning {

std::string Callback::state_key() const {
  // Lightning uses the qualified class name; the unqualified part is what users read.
  return detail::unqualified_type_name(typeid(*this));
}

}  // namespace lightning
