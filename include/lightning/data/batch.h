// lightning/data/batch.h — what a DataLoader yields and every step receives.
//
//   L::StepOutput training_step(L::Batch& batch, int64_t batch_idx) override {
//     auto [x, y] = batch.unpack<2>();     // as `x, y = batch` in Python
//     ...
//   }
//
// A Batch is an ordered list of tensors, optionally named (`batch["image"]`).
// Its batch size is dim 0 of the first tensor.
#pragma once

#include <ATen/ATen.h>
#include <torch/data/example.h>

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "lightning/export.h"

namespace lightning {

/// An ordered list of tensors, each optionally named.
class LIGHTNING_API Batch {
 public:
  Batch() = default;
  Batch(std::vector<at::Tensor> tensors) : tensors_(std::move(tensors)) {}
  Batch(std::initializer_list<at::Tensor> tensors) : tensors_(tensors) {}
  /// Named fields; order is kept.
  Batch(std::vector<std::string> names, std::vector<at::Tensor> tensors);
  /// From libtorch's `torch::data::Example<>`: fields {data, target}.
  Batch(const torch::data::Example<>& example) : tensors_{example.data, example.target} {}

  /// The first N tensors, for structured bindings: `auto [x, y] = batch.unpack<2>();`.
  /// Throws `lightning::Error` when the batch holds fewer than N tensors.
  template <size_t N>
  std::array<at::Tensor, N> unpack() const {
    check_unpack(N);
    std::array<at::Tensor, N> out;
    for (size_t i = 0; i < N; ++i) out[i] = tensors_[i];
    return out;
  }

  /// The i-th tensor; `lightning::Error` when out of range.
  const at::Tensor& operator[](size_t i) const;
  at::Tensor& operator[](size_t i);
  /// The tensor named `name`; `lightning::Error` listing the names when missing.
  const at::Tensor& operator[](const std::string& name) const;
  bool contains(const std::string& name) const;

  /// Number of tensors in the batch (not the batch size).
  size_t size() const { return tensors_.size(); }
  bool empty() const { return tensors_.empty(); }
  /// Dim 0 of the first tensor (1 for a 0-dim tensor, 0 for an empty batch).
  int64_t batch_size() const;

  /// A copy with every tensor moved to `device` (non_blocking where possible).
  Batch to(const at::Device& device, bool non_blocking = false) const;
  /// A copy in page-locked host memory (at::Tensor::pin_memory on every CPU
  /// tensor), for asynchronous copies to a CUDA device. Needs CUDA.
  Batch pin_memory() const;
  /// True when every defined tensor is in pinned host memory (and there is one).
  bool is_pinned() const;
  /// A copy with every floating-point tensor cast to `dtype`.
  Batch to(at::ScalarType dtype) const;

  const std::vector<at::Tensor>& tensors() const { return tensors_; }
  std::vector<at::Tensor>& tensors() { return tensors_; }
  /// Field names; empty when the batch is unnamed.
  const std::vector<std::string>& names() const { return names_; }

  auto begin() const { return tensors_.begin(); }
  auto end() const { return tensors_.end(); }

 private:
  void check_unpack(size_t n) const;

  std::vector<at::Tensor> tensors_;
  std::vector<std::string> names_;
};

/// Stacks samples (each a Batch of unbatched tensors with the same layout) along
/// a new dim 0: the default collate function of the DataLoader.
LIGHTNING_API Batch collate(const std::vector<Batch>& samples);

}  // namespace lightning
