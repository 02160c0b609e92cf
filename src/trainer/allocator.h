// TrainerOptions::tune_allocator: glibc malloc settings that keep batch-sized
// buffers in the heap between steps instead of returning them to the kernel
// and faulting them back in on the next step.
#pragma once

namespace lightning::detail {

/// Fixes glibc's mmap threshold (32 MiB, glibc's maximum) and trim threshold
/// (64 MiB), once per process, unless the environment sets malloc
/// (MALLOC_*_ variables, GLIBC_TUNABLES=glibc.malloc.*); does nothing with
/// another C library. glibc otherwise moves both with the sizes freed so far,
/// and with the sizes a training step allocates it can end up unmapping (or
/// trimming) and faulting in the same buffers every step.
void tune_allocator();

}  // namespace lightning::detail
