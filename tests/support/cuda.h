// GPU tests (their names end in _CUDA; scripts/gpu_check.sh runs them all):
// LIGHTNING_REQUIRE_CUDA(n) skips the test, saying what is missing, unless
// libtorch sees at least n CUDA devices.
#pragma once

#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <string>

namespace lightning::testing {

/// Empty when libtorch sees `n` CUDA devices; otherwise what is missing.
inline std::string missing_cuda(int64_t n) {
  const int64_t have = static_cast<int64_t>(torch::cuda::device_count());
  if (have >= n) return "";
  std::string why = "needs " + std::to_string(n) + " CUDA device(s); libtorch " + TORCH_VERSION +
                    " sees " + std::to_string(have);
#if !defined(USE_C10D_NCCL)
  if (have == 0) why += " (this build's libtorch may be CPU-only, as Debian's is)";
#endif
  return why + ". Run scripts/gpu_check.sh on a machine with a GPU.";
}

}  // namespace lightning::testing

#define LIGHTNING_REQUIRE_CUDA(n)                                                \
  do {                                                                           \
    const std::string lightning_missing = ::lightning::testing::missing_cuda(n); \
    if (!lightning_missing.empty()) GTEST_SKIP() << lightning_missing;           \
  } while (0)
