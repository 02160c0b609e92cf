#include "lightning/error.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <set>

#include "detail/process_rank.h"

namespace lightning::detail {
namespace {

std::atomic<int64_t> published_rank{-1};  // -1: none published

std::optional<int64_t> integer_variable(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  char* end = nullptr;
  const long long parsed = std::strtoll(value, &end, 10);
  if (*end != '\0') return std::nullopt;
  return static_cast<int64_t>(parsed);
}

}  // namespace

void publish_global_rank(std::optional<int64_t> rank) { published_rank = rank.value_or(-1); }

int64_t process_global_rank() {
  const int64_t published = published_rank;
  if (published >= 0) return published;
  return rank_from_environment().value_or(0);
}

std::optional<int64_t> rank_from_environment() {
  // The order of DistributedEnvironment::detect (src/strategies/launcher.cpp).
  if (std::getenv("WORLD_SIZE") != nullptr || std::getenv("RANK") != nullptr) {
    return integer_variable("RANK");
  }
  const auto tasks = integer_variable("SLURM_NTASKS");
  if (!tasks || *tasks <= 1) return std::nullopt;
  const char* job_name = std::getenv("SLURM_JOB_NAME");
  if (job_name != nullptr &&
      (std::strcmp(job_name, "bash") == 0 || std::strcmp(job_name, "interactive") == 0)) {
    return std::nullopt;
  }
  return integer_variable("SLURM_PROCID");
}

void throw_error(const std::string& message) { throw Error(message); }

void warn(const std::string& message) {
  // Every process of a distributed job runs the same code: warnings are
  // printed by global rank 0 only (Lightning's rank_zero_warn).
  if (process_global_rank() != 0) return;
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
