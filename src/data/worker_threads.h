// What the DataLoader's background threads need from the machine and from
// libtorch's threading: whether a core is free for them, and a way to make the
// calling thread's tensor work single-threaded.
#pragma once

namespace lightning::detail {

/// Whether a background thread would have a core to itself: libtorch's
/// intra-op threads (as the calling thread sees them) are fewer than the CPUs
/// this process may run on (its affinity mask).
bool core_free_beside_intra_op_threads();

/// Makes libtorch's intra-op parallelism use one thread for the calling
/// thread only (PyTorch's worker processes call torch.set_num_threads(1); a
/// thread cannot, because at::set_num_threads changes every thread's default).
/// Best effort: where libtorch does not use OpenMP it does nothing.
void use_one_intra_op_thread();

}  // namespace lightning::detail
