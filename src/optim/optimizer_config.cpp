#include "lightning/optim/optimizer_config.h"

namespace lightning {

OptimizerConfig::OptimizerConfig(std::initializer_list<OptimizerConfig> configs) {
  for (const OptimizerConfig& c : configs) {
    optimizers_.insert(optimizers_.end(), c.optimizers_.begin(), c.optimizers_.end());
    schedulers_.insert(schedulers_.end(), c.schedulers_.begin(), c.schedulers_.end());
  }
}

}  // namespace lightning
