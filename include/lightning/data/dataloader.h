// lightning/data/dataloader.h — batches from a Dataset, as torch.utils.data.DataLoader.
//
//   L::DataLoader loader(dataset, L::DataLoaderOptions().batch_size(64).shuffle(true)
//                                     .num_workers(2));
//   for (L::Batch& batch : loader) { ... }   // one epoch
//
// Shuffling draws a permutation per epoch from `generator_seed` when set, else
// from libtorch's default CPU generator (so `L::seed_everything(42)` makes the
// order reproducible, as in PyTorch). With `num_workers > 0`, worker threads
// build batches ahead (`prefetch_factor` per worker) and they are delivered in
// order, so results do not depend on the number of workers.
#pragma once

#include <torch/arg.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <vector>

#include "lightning/data/batch.h"
#include "lightning/data/dataset.h"

namespace lightning {

/// Options of a DataLoader, with PyTorch's names and defaults.
struct DataLoaderOptions {
  /// Samples per batch. Default 1.
  TORCH_ARG(int64_t, batch_size) = 1;
  /// Reshuffle the sample order every epoch. Default false.
  TORCH_ARG(bool, shuffle) = false;
  /// Drop the last incomplete batch. Default false.
  TORCH_ARG(bool, drop_last) = false;
  /// Worker threads building batches ahead; 0 builds them in the calling thread. Default 0.
  TORCH_ARG(int64_t, num_workers) = 0;
  /// Batches each worker prepares ahead. Default 2.
  TORCH_ARG(int64_t, prefetch_factor) = 2;
  /// Seed of the shuffle generator; unset draws from libtorch's default generator.
  TORCH_ARG(std::optional<uint64_t>, generator_seed) = std::nullopt;
  /// Custom collate function over samples; unset uses the dataset's `get_batch`.
  TORCH_ARG(std::function<Batch(const std::vector<Batch>&)>, collate_fn) = nullptr;
};

/// Iterates a Dataset in batches. Cheap to copy: copies share the dataset.
class DataLoader {
 public:
  /// `lightning::Error` on a null dataset or invalid options (batch_size < 1,
  /// num_workers < 0, prefetch_factor < 1).
  DataLoader(std::shared_ptr<Dataset> dataset, DataLoaderOptions options = {});

  class Iterator;
  /// Starts an epoch: draws the shuffle order and starts the workers.
  Iterator begin();
  Iterator end();

  /// Batches per epoch (`len(loader)`).
  int64_t size() const;
  const std::shared_ptr<Dataset>& dataset() const { return dataset_; }
  const DataLoaderOptions& options() const { return options_; }
  /// Number of epochs started (`begin()` calls) so far.
  int64_t epochs_started() const;
  /// The seed the epoch started last drew its shuffle order from (0 before
  /// the first epoch or without shuffling). Checkpoints save it.
  uint64_t current_shuffle_seed() const;
  /// Exact mid-epoch resume: the next `begin()` restarts epoch number
  /// `epoch_index` (0-based) with the shuffle order of `shuffle_seed`, at
  /// batch `first_batch` (the batches before it are not built), and draws
  /// nothing from libtorch's generator. `lightning::Error` on a negative
  /// index or a first_batch beyond the epoch.
  void resume_epoch(int64_t epoch_index, uint64_t shuffle_seed, int64_t first_batch);
  /// The next `begin()` starts epoch number `epoch` (as DistributedSampler's
  /// set_epoch: a loader with generator_seed shuffles with seed + epoch).
  /// `lightning::Error` on a negative epoch.
  void set_epoch(int64_t epoch);

  /// A copy of this loader with other options (e.g. shuffle off for overfit_batches).
  DataLoader with_options(DataLoaderOptions options) const;

  // Iteration state for one epoch; defined in src/data/dataloader.cpp.
  struct Epoch;

  class Iterator {
   public:
    Iterator() = default;
    Batch& operator*();
    Batch* operator->() { return &**this; }
    Iterator& operator++();
    bool operator==(const Iterator& other) const;
    bool operator!=(const Iterator& other) const { return !(*this == other); }

   private:
    friend class DataLoader;
    explicit Iterator(std::shared_ptr<Epoch> epoch);
    std::shared_ptr<Epoch> epoch_;
  };

 private:
  std::shared_ptr<Dataset> dataset_;
  DataLoaderOptions options_;
  // Shared by copies (with_options): epochs started, the current epoch's
  // shuffle seed, and a pending resume_epoch.
  struct Progress;
  std::shared_ptr<Progress> progress_;
};

/// Zero, one or several DataLoaders: what the `*_dataloader()` hooks return.
/// A single DataLoader converts implicitly: `return L::DataLoader(ds, opts);`.
class DataLoaders {
 public:
  DataLoaders() = default;
  DataLoaders(DataLoader loader) : loaders_{std::move(loader)} {}
  DataLoaders(std::vector<DataLoader> loaders) : loaders_(std::move(loaders)) {}
  DataLoaders(std::initializer_list<DataLoader> loaders) : loaders_(loaders) {}

  bool empty() const { return loaders_.empty(); }
  size_t size() const { return loaders_.size(); }
  DataLoader& operator[](size_t i) { return loaders_.at(i); }
  const DataLoader& operator[](size_t i) const { return loaders_.at(i); }
  auto begin() { return loaders_.begin(); }
  auto end() { return loaders_.end(); }
  auto begin() const { return loaders_.begin(); }
  auto end() const { return loaders_.end(); }

 private:
  std::vector<DataLoader> loaders_;
};

}  // namespace lightning
