// TrainerOptions::tune_allocator: glibc malloc settings that keep batch-sized
// buffers in the heap between steps instead of returning them to the kernel
// and faulting them back in on the next step.
#pragma once

#include <cstddef>

namespace lightning::detail {

/// What tune_allocator did.
enum class AllocatorTuning {
  Applied,            // this call set the thresholds
  AlreadyApplied,     // an earlier call did (the settings are process-wide)
  LeftToEnvironment,  // MALLOC_*_ or GLIBC_TUNABLES=glibc.malloc... set them: left as they are
  NotGlibc,           // another C library: nothing to do
};

/// Blocks below this come from the heap; above, from mmap (glibc's maximum).
inline constexpr size_t kTunedMmapThreshold = size_t{32} << 20;
/// Free memory at the top of the heap is given back to the kernel only above this.
inline constexpr size_t kTunedTrimThreshold = size_t{64} << 20;

/// Fixes glibc's mmap and trim thresholds at the values above, once per
/// process. glibc otherwise moves both with the sizes freed so far, and with
/// the sizes a training step allocates it can end up unmapping (or trimming)
/// and faulting in the same buffers every step.
AllocatorTuning tune_allocator();

}  // namespace lightning::detail
