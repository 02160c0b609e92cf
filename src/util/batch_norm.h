// Internal: recognising libtorch's batch-norm layers.
#pragma once

#include <torch/nn/modules/batchnorm.h>

namespace lightning::detail {

/// A BatchNorm1d, 2d or 3d layer (Lightning's `_BatchNorm` check).
inline bool is_batch_norm(const torch::nn::Module& module) {
  return dynamic_cast<const torch::nn::BatchNorm1dImpl*>(&module) != nullptr ||
         dynamic_cast<const torch::nn::BatchNorm2dImpl*>(&module) != nullptr ||
         dynamic_cast<const torch::nn::BatchNorm3dImpl*>(&module) != nullptr;
}

}  // namespace lightning::detail
