// Internal: element-wise helpers the metric families share (torchmetrics'
// utilities/compute.py).
#pragma once

#include <ATen/ATen.h>

namespace lightning::metrics::detail {

/// num / den, with `zero_division` where den is 0 (torchmetrics'
/// _safe_divide); integer inputs are divided as float32.
inline at::Tensor safe_divide(at::Tensor num, at::Tensor den, double zero_division = 0.0) {
  if (!num.is_floating_point()) num = num.to(at::kFloat);
  if (!den.is_floating_point()) den = den.to(at::kFloat);
  return at::where(den != 0, num / den, at::full({}, zero_division, num.options()));
}

/// torchmetrics squeezes every one-element result of compute() to 0-dim.
inline at::Tensor squeeze_if_scalar(const at::Tensor& t) {
  return t.numel() == 1 ? t.squeeze() : t;
}

}  // namespace lightning::metrics::detail
