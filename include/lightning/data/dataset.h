// lightning/data/dataset.h — map-style datasets, as torch.utils.data.Dataset.
//
//   class MyData : public L::Dataset {
//    public:
//     L::Batch get(int64_t index) override { return {images_[index], labels_[index]}; }
//     int64_t size() const override { return images_.size(0); }
//   };
//   auto ds = std::make_shared<L::TensorDataset>(std::vector<at::Tensor>{x, y});
//
// `get` may be called from DataLoader worker threads at the same time: it must
// not mutate shared state without a lock. With `num_workers == 0` a loader
// builds batches on a background thread only when `safe_to_prefetch()` says so
// (or the loader's `background_prefetch` option forces it).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "lightning/data/batch.h"
#include "lightning/export.h"

namespace lightning {

/// A map-style dataset: `size()` samples, each a Batch of unbatched tensors.
class LIGHTNING_API Dataset {
 public:
  virtual ~Dataset() = default;
  /// Sample `index` (0 <= index < size()).
  virtual Batch get(int64_t index) = 0;
  /// Number of samples.
  virtual int64_t size() const = 0;
  /// The samples `indices`, collated. The default calls `get` for each index and
  /// stacks with `collate`; datasets backed by big tensors override it with one
  /// `index_select` per field (TensorDataset does).
  virtual Batch get_batch(const std::vector<int64_t>& indices);
  /// Whether a DataLoader with `num_workers == 0` may build this dataset's
  /// batches ahead on a background thread (DataLoaderOptions::background_prefetch).
  /// Return true only when `get`/`get_batch` give the same samples whatever
  /// thread calls them and whenever: no draws from libtorch's global generator
  /// (random augmentation would then interleave with the step's own draws,
  /// e.g. dropout, and runs would stop being reproducible), no state tied to
  /// the calling thread. Default false.
  virtual bool safe_to_prefetch() const { return false; }
};

/// Samples are slices along dim 0 of the given tensors (all with the same dim 0).
class LIGHTNING_API TensorDataset : public Dataset {
 public:
  /// `lightning::Error` when `tensors` is empty or the dim-0 sizes differ.
  explicit TensorDataset(std::vector<at::Tensor> tensors);
  Batch get(int64_t index) override;
  int64_t size() const override;
  Batch get_batch(const std::vector<int64_t>& indices) override;
  /// True: slicing tensors draws nothing and depends on no thread. A subclass
  /// that overrides `get`/`get_batch` with random augmentation should return false.
  bool safe_to_prefetch() const override { return true; }
  const std::vector<at::Tensor>& tensors() const { return tensors_; }

 private:
  std::vector<at::Tensor> tensors_;
};

/// A view of `indices` of another dataset, as torch.utils.data.Subset.
class LIGHTNING_API Subset : public Dataset {
 public:
  Subset(std::shared_ptr<Dataset> dataset, std::vector<int64_t> indices);
  Batch get(int64_t index) override;
  int64_t size() const override;
  Batch get_batch(const std::vector<int64_t>& indices) override;
  /// As the dataset it views.
  bool safe_to_prefetch() const override { return dataset_->safe_to_prefetch(); }

 private:
  std::shared_ptr<Dataset> dataset_;
  std::vector<int64_t> indices_;
};

/// Splits `dataset` into non-overlapping Subsets of the given lengths, shuffled
/// with a generator seeded by `seed` (torch.utils.data.random_split).
/// `lightning::Error` when the lengths do not add up to the dataset size.
LIGHTNING_API std::vector<std::shared_ptr<Dataset>> random_split(
    std::shared_ptr<Dataset> dataset, const std::vector<int64_t>& lengths, uint64_t seed = 42);

}  // namespace lightning
