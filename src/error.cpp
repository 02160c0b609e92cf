#include "lightning/error.h"

#include <iostream>
#include <mutex>
#include <set>

namespace lightning::detail {

void throw_error(const std::string& message) { throw Error(message); }

void warn(const std::string& message) {
  std::cerr << "[lightning] warning: " << message << std::endl;
}

void warn_once(const std::string& message) {
  static std::mutex mutex;
  static std::set<std::string> seen;
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (!seen.insert(message).second) return;
  }
  warn(message);
}

}  // namespace lightning::detail
