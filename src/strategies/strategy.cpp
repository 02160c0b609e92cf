#include "lightning/strategies/strategy.h"

namespace lightning {

Strategy::~Strategy() = default;

at::Device Strategy::root_device(const std::string& accelerator) const {
  if (accelerator == "cuda" || accelerator == "gpu") return at::Device(at::kCUDA, local_rank());
  return at::Device(at::kCPU);
}

}  // namespace lightning
