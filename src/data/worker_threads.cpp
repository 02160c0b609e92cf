#include "data/worker_threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <sched.h>

#include <cstdint>
#include <thread>

namespace lightning::detail {
namespace {

// CPUs this process may run on (at least 1).
int64_t usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int count = CPU_COUNT(&set);
    if (count > 0) return count;
  }
  const unsigned hardware = std::thread::hardware_concurrency();
  return hardware > 0 ? static_cast<int64_t>(hardware) : 1;
}

}  // namespace

bool core_free_beside_intra_op_threads() { return at::get_num_threads() < usable_cpus(); }

void use_one_intra_op_thread() {
  // libtorch applies its global thread count to a thread the first time that
  // thread asks for it; ask now, so that this setting is not overwritten later.
  if (at::get_num_threads() == 1) return;
  // With OpenMP, at::get_num_threads() is the calling thread's
  // omp_get_max_threads(), which omp_set_num_threads sets for that thread
  // alone. The OpenMP runtime is the one libtorch loaded (Debian's libgomp, or
  // the copy inside the PyTorch wheel), so look the function up rather than
  // link one of our own.
  using SetNumThreads = void (*)(int);
  if (auto* set = reinterpret_cast<SetNumThreads>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"))) {
    set(1);
  }
}

}  // namespace lightning::detail
