#include "trainer/allocator.h"

#include <cstdlib>
#include <cstring>
#include <mutex>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace lightning::detail {
namespace {

// The user (or their launcher) chose malloc settings through the environment.
bool environment_sets_malloc() {
  for (const char* name : {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_",
                           "MALLOC_MMAP_MAX_"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  return tunables != nullptr && std::strstr(tunables, "glibc.malloc.") != nullptr;
}

}  // namespace

AllocatorTuning tune_allocator() {
#if defined(__GLIBC__)
  static std::once_flag once;
  static AllocatorTuning first = AllocatorTuning::Applied;
  bool this_call = false;
  std::call_once(once, [&] {
    this_call = true;
    if (environment_sets_malloc()) {
      first = AllocatorTuning::LeftToEnvironment;
      return;
    }
    // Setting either threshold also turns off glibc's dynamic adjustment of both.
    mallopt(M_MMAP_THRESHOLD, static_cast<int>(kTunedMmapThreshold));
    mallopt(M_TRIM_THRESHOLD, static_cast<int>(kTunedTrimThreshold));
  });
  if (!this_call && first == AllocatorTuning::Applied) return AllocatorTuning::AlreadyApplied;
  return first;
#else
  return AllocatorTuning::NotGlibc;
#endif
}

}  // namespace lightning::detail
