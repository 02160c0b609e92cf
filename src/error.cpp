#include "lightning/error.h"

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <set>

namespace lightning::detail {

void throw_error(const std::string& message) { throw Error(message); }

void warn(const std::string& message) {
  // Every process of a distributed job runs the same code: warnings are
  // printed by global rank 0 only (Lightning's rank_zero_warn). RANK is set
  // by the launcher and by torchrun.
  const char* rank = std::getenv("RANK");
  if (rank != nullptr && std::strcmp(rank, "0") != 0 && *rank != '\0') return;
  // One write: other processes (launched ranks) share the terminal or pipe,
  // and a line written in pieces can be split by theirs.
  std::cerr << ("[lightning] warning: " + message + "\n") << std::flush;
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
