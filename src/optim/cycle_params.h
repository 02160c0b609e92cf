// Internal: argument checks CyclicLR and OneCycleLR share (PyTorch's
// _format_param and their cycle_momentum check).
#pragma once

#include <torch/optim/optimizer.h>

#include <vector>

#include "lightning/error.h"
#include "lightning/optim/param_groups.h"

namespace lightning::detail {

/// One value per parameter group: a single value is repeated, otherwise
/// there must be one per group. `scheduler` and `what` name them in the error.
inline std::vector<double> per_group_values(const torch::optim::Optimizer& optimizer,
                                            const std::vector<double>& values,
                                            const char* scheduler, const char* what) {
  const size_t n = optimizer.param_groups().size();
  if (values.size() == 1) return std::vector<double>(n, values[0]);
  LIGHTNING_CHECK(values.size() == n, scheduler, ": expected ", n, " values for ", what, ", got ",
                  values.size(), " (give one per parameter group, or a single value for all).");
  return values;
}

/// cycle_momentum needs an optimizer with momentum or beta1.
inline void require_momentum(const torch::optim::Optimizer& optimizer, const char* scheduler) {
  LIGHTNING_CHECK(momentum_of(optimizer.defaults()).has_value(), scheduler,
                  ": optimizer must support momentum with `cycle_momentum` option enabled; ",
                  optimizer_name(optimizer),
                  " has no momentum or beta1 to cycle. Use SGD, RMSprop, Adam or AdamW, or set "
                  "cycle_momentum(false).");
}

}  // namespace lightning::detail
