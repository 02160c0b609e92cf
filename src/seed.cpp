#include "lightning/seed.h"

#include <torch/utils.h>

#include <cstdlib>
#include <string>

namespace lightning {

uint64_t seed_everything(uint64_t seed) {
  torch::manual_seed(seed);  // CPU and every CUDA device
  std::srand(static_cast<unsigned>(seed));
  setenv("PL_GLOBAL_SEED", std::to_string(seed).c_str(), 1);
  return seed;
}

}  // namespace lightning
