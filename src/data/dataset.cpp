#include "lightning/data/dataset.h"

#include <ATen/CPUGeneratorImpl.h>

#include <numeric>

#include "lightning/error.h"

namespace lightning {

Batch Dataset::get_batch(const std::vector<int64_t>& indices) {
  std::vector<Batch> samples;
  samples.reserve(indices.size());
  for (int64_t i : indices) samples.push_back(get(i));
  return collate(samples);
}

TensorDataset::TensorDataset(std::vector<at::Tensor> tensors) : tensors_(std::move(tensors)) {
  LIGHTNING_CHECK(!tensors_.empty(), "TensorDataset needs at least one tensor, got none.");
  for (size_t i = 0; i < tensors_.size(); ++i) {
    LIGHTNING_CHECK(tensors_[i].defined(), "TensorDataset: tensor ", i, " is undefined.");
    LIGHTNING_CHECK(tensors_[i].dim() >= 1, "TensorDataset: tensor ", i,
                    " is 0-dimensional; samples are slices along dim 0, so every tensor needs "
                    "at least one dimension.");
    LIGHTNING_CHECK(tensors_[i].size(0) == tensors_[0].size(0),
                    "TensorDataset: size mismatch between tensors: tensor 0 has ",
                    tensors_[0].size(0), " samples (dim 0) but tensor ", i, " has ",
                    tensors_[i].size(0), ".");
  }
}

int64_t TensorDataset::size() const { return tensors_[0].size(0); }

Batch TensorDataset::get(int64_t index) {
  LIGHTNING_CHECK(index >= 0 && index < size(), "TensorDataset index ", index,
                  " is out of range for a dataset of size ", size(), ".");
  std::vector<at::Tensor> out;
  out.reserve(tensors_.size());
  for (const auto& t : tensors_) out.push_back(t.select(0, index));
  return Batch(std::move(out));
}

Batch TensorDataset::get_batch(const std::vector<int64_t>& indices) {
  const int64_t n = static_cast<int64_t>(indices.size());
  std::vector<at::Tensor> out;
  out.reserve(tensors_.size());

  // Unshuffled loaders ask for consecutive ranges: one contiguous copy. A copy,
  // not a view, so that in-place ops on a batch never write into the dataset.
  bool consecutive = n > 0;
  for (int64_t k = 1; consecutive && k < n; ++k) consecutive = indices[k] == indices[0] + k;
  if (consecutive && indices[0] >= 0 && indices[0] + n <= size()) {
    for (const auto& t : tensors_) out.push_back(t.narrow(0, indices[0], n).clone());
    return Batch(std::move(out));
  }

  // from_blob does not copy: `indices` outlives the synchronous index_select calls.
  const at::Tensor cpu_index =
      at::from_blob(const_cast<int64_t*>(indices.data()), {n}, at::TensorOptions(at::kLong));
  at::Tensor device_index;
  for (const auto& t : tensors_) {
    if (t.device().is_cpu()) {
      out.push_back(t.index_select(0, cpu_index));
    } else {
      if (!device_index.defined() || device_index.device() != t.device()) {
        device_index = cpu_index.to(t.device());
      }
      out.push_back(t.index_select(0, device_index));
    }
  }
  return Batch(std::move(out));
}

Subset::Subset(std::shared_ptr<Dataset> dataset, std::vector<int64_t> indices)
    : dataset_(std::move(dataset)), indices_(std::move(indices)) {
  LIGHTNING_CHECK(dataset_ != nullptr, "Subset got a null dataset.");
  const int64_t n = dataset_->size();
  for (size_t i = 0; i < indices_.size(); ++i) {
    LIGHTNING_CHECK(indices_[i] >= 0 && indices_[i] < n, "Subset index ", indices_[i],
                    " (position ", i, ") is out of range for a dataset of size ", n, ".");
  }
}

int64_t Subset::size() const { return static_cast<int64_t>(indices_.size()); }

Batch Subset::get(int64_t index) {
  LIGHTNING_CHECK(index >= 0 && index < size(), "Subset index ", index,
                  " is out of range for a subset of size ", size(), ".");
  return dataset_->get(indices_[index]);
}

Batch Subset::get_batch(const std::vector<int64_t>& indices) {
  std::vector<int64_t> mapped(indices.size());
  const int64_t n = size();
  for (size_t k = 0; k < indices.size(); ++k) {
    LIGHTNING_CHECK(indices[k] >= 0 && indices[k] < n, "Subset index ", indices[k],
                    " is out of range for a subset of size ", n, ".");
    mapped[k] = indices_[indices[k]];
  }
  return dataset_->get_batch(mapped);
}

std::vector<std::shared_ptr<Dataset>> random_split(std::shared_ptr<Dataset> dataset,
                                                   const std::vector<int64_t>& lengths,
                                                   uint64_t seed) {
  LIGHTNING_CHECK(dataset != nullptr, "random_split got a null dataset.");
  int64_t total = 0;
  for (size_t i = 0; i < lengths.size(); ++i) {
    LIGHTNING_CHECK(lengths[i] >= 0, "random_split: length ", i, " is negative (", lengths[i],
                    "); lengths must be >= 0.");
    total += lengths[i];
  }
  const int64_t n = dataset->size();
  LIGHTNING_CHECK(total == n, "random_split: the lengths add up to ", total,
                  " but the dataset has ", n, " samples; make them sum to ", n, ".");

  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const at::Tensor perm = at::randperm(n, generator, at::TensorOptions(at::kLong));
  const int64_t* p = perm.data_ptr<int64_t>();

  std::vector<std::shared_ptr<Dataset>> parts;
  parts.reserve(lengths.size());
  int64_t offset = 0;
  for (int64_t len : lengths) {
    parts.push_back(
        std::make_shared<Subset>(dataset, std::vector<int64_t>(p + offset, p + offset + len)));
    offset += len;
  }
  return parts;
}

}  // namespace lightning
