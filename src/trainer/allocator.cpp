#include "trainer/allocator.h"

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <mutex>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace lightning::detail {
#if defined(__GLIBC__)
namespace {

// Blocks below this come from the heap, above it from mmap (glibc's maximum).
constexpr size_t kTunedMmapThreshold = size_t{32} << 20;
// Free memory at the top of the heap goes back to the kernel only above this.
constexpr size_t kTunedTrimThreshold = size_t{64} << 20;

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
#endif

void tune_allocator() {
#if defined(__GLIBC__)
  static std::once_flag once;
  std::call_once(once, [] {
    if (environment_sets_malloc()) return;
    // Setting either threshold also turns off glibc's dynamic adjustment of both.
    mallopt(M_MMAP_THRESHOLD, static_cast<int>(kTunedMmapThreshold));
    mallopt(M_TRIM_THRESHOLD, static_cast<int>(kTunedTrimThreshold));
  });
#endif
}

}  // namespace lightning::detail
