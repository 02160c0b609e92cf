// lightning/optim/optimizer_config.h — what `configure_optimizers` returns.
//
//   L::OptimizerConfig configure_optimizers() override {
//     return std::make_shared<torch::optim::Adam>(parameters(), torch::optim::AdamOptions(1e-3));
//   }
//
// One optimizer drives automatic optimization. Several optimizers (GANs) need
// manual optimization; schedulers and the dict form arrive with the
// optimization work (see docs/optimization.md once it exists).
#pragma once

#include <torch/optim/optimizer.h>

#include <memory>
#include <vector>

namespace lightning {

/// The optimizers (and, later, schedulers) a module trains with.
class OptimizerConfig {
 public:
  /// No optimizer: training steps run forward only (Lightning warns likewise).
  OptimizerConfig() = default;
  OptimizerConfig(std::shared_ptr<torch::optim::Optimizer> optimizer) {
    if (optimizer) optimizers_.push_back(std::move(optimizer));
  }
  template <typename T, std::enable_if_t<std::is_base_of_v<torch::optim::Optimizer, T>, int> = 0>
  OptimizerConfig(std::shared_ptr<T> optimizer)
      : OptimizerConfig(std::static_pointer_cast<torch::optim::Optimizer>(std::move(optimizer))) {}
  OptimizerConfig(std::vector<std::shared_ptr<torch::optim::Optimizer>> optimizers)
      : optimizers_(std::move(optimizers)) {}

  const std::vector<std::shared_ptr<torch::optim::Optimizer>>& optimizers() const {
    return optimizers_;
  }
  bool empty() const { return optimizers_.empty(); }

 private:
  std::vector<std::shared_ptr<torch::optim::Optimizer>> optimizers_;
};

}  // namespace lightning
