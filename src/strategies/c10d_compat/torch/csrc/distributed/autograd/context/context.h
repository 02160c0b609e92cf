// Stand-in for a libtorch header that Debian's libtorch-dev does not ship:
// c10d/reducer.hpp includes it for two names only, a callback type (checked by
// a static_assert) and the pointer type of one member. Same layout as the real
// header: ContextPtr is a std::shared_ptr, and nothing here is ever called.
// Only src/strategies/ddp.cpp sees this directory (CMakeLists.txt).
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>

namespace torch {
namespace distributed {
namespace autograd {

class DistAutogradContext {
 public:
  using GradCallback = std::function<bool(at::Tensor&)>;
};

using ContextPtr = std::shared_ptr<DistAutogradContext>;

}  // namespace autograd
}  // namespace distributed
}  // namespace torch
