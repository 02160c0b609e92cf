// src/data/epoch_order.h — internal: which samples an epoch of a DataLoader
// visits, in order, and which of them make up one of its batches (what
// torch's batch sampler yields; Lightning's prediction writers receive them
// as `batch_indices`).
#pragma once

#include <cstdint>
#include <vector>

#include "lightning/data/dataloader.h"
#include "lightning/export.h"

namespace lightning::detail {

/// The dataset indices an epoch visits, in order: 0..n-1, or the permutation
/// drawn from `shuffle_seed` when the loader shuffles; then cut to `shard`.
std::vector<int64_t> epoch_order(int64_t dataset_size, const DataLoaderOptions& options,
                                 const DataShard& shard, uint64_t shuffle_seed);

/// The order of the epoch `loader` started last (its current shuffle seed
/// and its shard): batch k holds elements [k * batch_size, (k + 1) *
/// batch_size) of it. Recomputed on each call: O(dataset size).
LIGHTNING_INTERNAL_API std::vector<int64_t> current_epoch_order(const DataLoader& loader);

}  // namespace lightning::detail
