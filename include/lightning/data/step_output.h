// lightning/data/step_output.h — what `training_step` and friends return.
//
//   return loss;                               // a scalar loss tensor
//   return {{"loss", loss}, {"logits", out}};  // named tensors with a "loss" entry
//   return {};                                 // nothing: skip this batch (Python's `None`)
#pragma once

#include <ATen/ATen.h>

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "lightning/export.h"

namespace lightning {

/// A loss tensor, named tensors (one of them "loss"), or nothing.
class LIGHTNING_API StepOutput {
 public:
  /// Nothing: in training the batch is skipped (no backward, no optimizer step).
  StepOutput() = default;
  /// A loss tensor. An undefined tensor means nothing, as the default constructor.
  StepOutput(at::Tensor loss);
  /// Named tensors; training needs one named "loss".
  StepOutput(std::initializer_list<std::pair<std::string, at::Tensor>> items);
  StepOutput(std::vector<std::pair<std::string, at::Tensor>> items);

  bool empty() const { return items_.empty(); }
  bool has_loss() const { return contains("loss"); }
  /// The "loss" entry; `lightning::Error` when there is none.
  const at::Tensor& loss() const;
  bool contains(const std::string& name) const;
  /// The entry `name`; `lightning::Error` listing the names when missing.
  const at::Tensor& operator[](const std::string& name) const;
  const std::vector<std::pair<std::string, at::Tensor>>& items() const { return items_; }

 private:
  std::vector<std::pair<std::string, at::Tensor>> items_;
};

}  // namespace lightning
