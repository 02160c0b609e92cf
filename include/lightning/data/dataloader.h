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
// order, so results do not depend on the number of workers. Each worker runs
// its tensor work on one libtorch intra-op thread (as PyTorch's worker
// processes do), so workers and the training step do not fight for the cores.
//
// With `num_workers == 0` the loader still builds the next batches on one
// background thread while the caller works on the current one, when that is
// safe and a core is free (see `background_prefetch`): the batches, their
// order and so the results are the same as building them in the caller.
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
#include "lightning/export.h"

namespace lightning {

/// Options of a DataLoader, with PyTorch's names and defaults.
struct LIGHTNING_API DataLoaderOptions {
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
  /// Copy every batch into page-locked ("pinned") host memory as it is built
  /// (in the worker thread when there are workers), so that the Trainer's copy
  /// to a CUDA device runs asynchronously. Needs CUDA: where libtorch sees no
  /// CUDA device it is ignored with a warning, as PyTorch does. Default false.
  TORCH_ARG(bool, pin_memory) = false;
  /// With `num_workers == 0`: build up to `prefetch_factor` batches ahead on
  /// one background thread, so that assembling the next batch overlaps the
  /// step. Unset (the default) turns it on when all of these hold:
  ///  - the dataset says its batches may be built on another thread
  ///    (`Dataset::safe_to_prefetch`: TensorDataset, FashionMNIST, and Subsets
  ///    of them do; a Dataset of your own does not unless it says so);
  ///  - no `collate_fn` is set;
  ///  - a core is free: libtorch's intra-op threads (`at::get_num_threads()`)
  ///    are fewer than the CPUs this process may run on.
  /// `true` always prefetches (you vouch for your `get`/`collate_fn` running on
  /// another thread); `false` builds every batch in the calling thread when it
  /// is asked for, as PyTorch's DataLoader does with `num_workers=0`. Ignored
  /// when `num_workers > 0`.
  TORCH_ARG(std::optional<bool>, background_prefetch) = std::nullopt;
};

/// This process's share of a loader under distributed training (the Trainer
/// sets it with `use_distributed_sampler`; see DataLoader::with_shard).
struct LIGHTNING_API DataShard {
  int64_t num_replicas = 1;
  int64_t rank = 0;
  /// Pad to equal shards (training) or give every sample exactly once (evaluation).
  bool pad = true;
};

/// Iterates a Dataset in batches. Cheap to copy: copies share the dataset.
class LIGHTNING_API DataLoader {
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
  /// Whether an epoch started now would build its batches on background
  /// threads (worker threads, or the `background_prefetch` thread).
  bool builds_in_background() const;
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

  /// A copy of this loader with other options (e.g. shuffle off for
  /// overfit_batches); the shard is kept.
  DataLoader with_options(DataLoaderOptions options) const;
  /// A copy that yields only shard `rank` of `num_replicas`, cut as torch's
  /// DistributedSampler cuts: the epoch's order (shuffled or not, the same on
  /// every rank for the same seed and epoch) gives its i-th sample to rank
  /// i % num_replicas. With `pad` (training) the order is first extended with
  /// its own beginning to a multiple of num_replicas, so every rank gets
  /// ceil(n / num_replicas) samples and the same number of batches
  /// (DistributedSampler with drop_last=false). Without `pad` (validation,
  /// test, predict) every sample is in exactly one shard; shards differ by at
  /// most one sample. The loader's batch_size and drop_last then apply to the
  /// shard. `lightning::Error` when num_replicas < 1 or rank is not in
  /// [0, num_replicas).
  DataLoader with_shard(int64_t num_replicas, int64_t rank, bool pad) const;
  /// The shard this loader yields ({1, 0, true}: everything).
  const DataShard& shard() const { return shard_; }

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
  DataShard shard_;
  // Shared by copies (with_options): epochs started, the current epoch's
  // shuffle seed, and a pending resume_epoch. A with_shard copy starts from a
  // copy of it and keeps its own (its batches are counted per shard).
  struct Progress;
  std::shared_ptr<Progress> progress_;
};

/// Zero, one or several DataLoaders: what the `*_dataloader()` hooks return.
/// A single DataLoader converts implicitly: `return L::DataLoader(ds, opts);`.
class LIGHTNING_API DataLoaders {
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
