// Tests of DataLoader::with_shard, the DistributedSampler of lightning.cpp:
// exact cover without padding, equal shards with padding, batching on shards,
// shuffles shared by ranks, PyTorch 1.13's DistributedSampler indices (from
// tests/data_shard_reference.txt, made by data_shard_reference.py), resume,
// workers and errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "lightning/data/batch.h"
#include "lightning/data/dataloader.h"
#include "lightning/data/dataset.h"
#include "lightning/error.h"
#include "support/errors.h"

namespace L = lightning;

namespace {

using Batches = std::vector<std::vector<int64_t>>;

std::vector<int64_t> to_vector(const at::Tensor& t) {
  at::Tensor c = t.to(at::kLong).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

// Sample i is (i, i as float).
std::shared_ptr<L::TensorDataset> index_dataset(int64_t n) {
  at::Tensor idx = at::arange(n, at::kLong);
  return std::make_shared<L::TensorDataset>(std::vector<at::Tensor>{idx, idx.to(at::kFloat)});
}

// The sample indices of one epoch, batch by batch.
Batches epoch_batches(L::DataLoader& loader) {
  Batches out;
  for (L::Batch& batch : loader) {
    EXPECT_TRUE(batch[1].equal(batch[0].to(at::kFloat)));
    out.push_back(to_vector(batch[0]));
  }
  return out;
}

// The sample indices of one epoch, in delivery order.
std::vector<int64_t> epoch_order(L::DataLoader& loader) {
  std::vector<int64_t> out;
  for (const auto& batch : epoch_batches(loader)) out.insert(out.end(), batch.begin(), batch.end());
  return out;
}

std::vector<int64_t> batch_sizes(const Batches& batches) {
  std::vector<int64_t> out;
  for (const auto& b : batches) out.push_back(static_cast<int64_t>(b.size()));
  return out;
}

std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> v(n);
  std::iota(v.begin(), v.end(), int64_t{0});
  return v;
}

// One record of tests/data_shard_reference.txt.
struct ReferenceShard {
  bool pad = true;
  int64_t n = 0;
  int64_t replicas = 1;
  int64_t rank = 0;
  bool shuffle = false;
  uint64_t seed = 0;
  int64_t epoch = 0;
  std::vector<int64_t> indices;
};

std::vector<ReferenceShard> read_reference() {
  // The source folder comes from CMake (__FILE__ is relative under Ninja).
  const std::string path = std::string(LIGHTNING_TEST_SOURCE_DIR) + "/data_shard_reference.txt";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::vector<ReferenceShard> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::istringstream fields(line);
    ReferenceShard r;
    std::string kind, colon;
    int shuffle = 0;
    fields >> kind >> r.n >> r.replicas >> r.rank >> shuffle >> r.seed >> r.epoch >> colon;
    if (!fields || colon != ":" || (kind != "pad" && kind != "nopad")) {
      throw std::runtime_error("bad line in " + path + ": " + line);
    }
    r.pad = kind == "pad";
    r.shuffle = shuffle != 0;
    for (int64_t i; fields >> i;) r.indices.push_back(i);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

TEST(DataShardTest, DefaultShardIsEverything) {
  L::DataLoader loader(index_dataset(10), L::DataLoaderOptions().batch_size(4));
  EXPECT_EQ(loader.shard().num_replicas, 1);
  EXPECT_EQ(loader.shard().rank, 0);
  EXPECT_TRUE(loader.shard().pad);
  L::DataLoader one = loader.with_shard(1, 0, false);
  EXPECT_EQ(one.size(), 3);
  EXPECT_EQ(epoch_order(one), iota(10));
}

// Without padding, rank r gets positions r, r + R, ... of the epoch's order:
// interleaving the shards gives back exactly the unsharded loader's order.
TEST(DataShardTest, UnpaddedShardsCoverTheOrderExactlyOnce) {
  for (int64_t n : {0, 1, 3, 10, 103}) {
    for (int64_t replicas : {1, 2, 3, 4, 8}) {
      for (bool shuffle : {false, true}) {
        SCOPED_TRACE("n=" + std::to_string(n) + " replicas=" + std::to_string(replicas) +
                     " shuffle=" + std::to_string(shuffle));
        const auto opts = L::DataLoaderOptions().batch_size(3).shuffle(shuffle).generator_seed(9);
        L::DataLoader whole(index_dataset(n), opts);
        whole.set_epoch(2);
        const std::vector<int64_t> order = epoch_order(whole);
        std::vector<int64_t> rebuilt(n, -1);
        int64_t total = 0;
        for (int64_t rank = 0; rank < replicas; ++rank) {
          L::DataLoader shard = L::DataLoader(index_dataset(n), opts)
                                    .with_shard(replicas, rank,
                                                /*pad=*/false);
          shard.set_epoch(2);
          const std::vector<int64_t> got = epoch_order(shard);
          // n / R, plus one for the first n % R ranks.
          const int64_t expected_size = n / replicas + (rank < n % replicas ? 1 : 0);
          ASSERT_EQ(static_cast<int64_t>(got.size()), expected_size) << "rank " << rank;
          EXPECT_EQ(shard.size(), (expected_size + 2) / 3);
          for (size_t j = 0; j < got.size(); ++j) rebuilt[rank + j * replicas] = got[j];
          total += static_cast<int64_t>(got.size());
        }
        EXPECT_EQ(total, n);
        EXPECT_EQ(rebuilt, order);
        std::sort(rebuilt.begin(), rebuilt.end());
        EXPECT_EQ(rebuilt, iota(n));
      }
    }
  }
}

TEST(DataShardTest, PaddedShardsAreEqualAndWrapAround) {
  // Unshuffled, so the padded order is known: 0..n-1 followed by 0, 1, ...
  auto shard_of = [](int64_t n, int64_t replicas, int64_t rank) {
    L::DataLoader loader = L::DataLoader(index_dataset(n), L::DataLoaderOptions().batch_size(2))
                               .with_shard(replicas, rank, /*pad=*/true);
    return epoch_order(loader);
  };
  // n = 10, R = 4: total 12, padding {0, 1}.
  EXPECT_EQ(shard_of(10, 4, 0), (std::vector<int64_t>{0, 4, 8}));
  EXPECT_EQ(shard_of(10, 4, 1), (std::vector<int64_t>{1, 5, 9}));
  EXPECT_EQ(shard_of(10, 4, 2), (std::vector<int64_t>{2, 6, 0}));
  EXPECT_EQ(shard_of(10, 4, 3), (std::vector<int64_t>{3, 7, 1}));
  // n = 3 < R = 8: padding (5) is longer than the order, which repeats.
  const std::vector<int64_t> wrapped{0, 1, 2, 0, 1, 2, 0, 1};
  for (int64_t rank = 0; rank < 8; ++rank) {
    EXPECT_EQ(shard_of(3, 8, rank), std::vector<int64_t>{wrapped[rank]}) << rank;
  }
  EXPECT_EQ(shard_of(1, 3, 2), std::vector<int64_t>{0});
  EXPECT_TRUE(shard_of(0, 3, 1).empty());

  // Every rank: ceil(n / R) samples, hence the same number of batches.
  for (int64_t n : {1, 5, 10, 103}) {
    for (int64_t replicas : {2, 3, 4, 8}) {
      for (int64_t bs : {1, 4, 7}) {
        SCOPED_TRACE("n=" + std::to_string(n) + " replicas=" + std::to_string(replicas) +
                     " bs=" + std::to_string(bs));
        const int64_t per_rank = (n + replicas - 1) / replicas;
        std::vector<int64_t> all;
        for (int64_t rank = 0; rank < replicas; ++rank) {
          L::DataLoader shard =
              L::DataLoader(index_dataset(n),
                            L::DataLoaderOptions().batch_size(bs).shuffle(true).generator_seed(3))
                  .with_shard(replicas, rank, /*pad=*/true);
          EXPECT_EQ(shard.size(), (per_rank + bs - 1) / bs);
          const Batches batches = epoch_batches(shard);
          EXPECT_EQ(static_cast<int64_t>(batches.size()), shard.size());
          for (const auto& b : batches) all.insert(all.end(), b.begin(), b.end());
        }
        // Every sample at least once; exactly total - n duplicates.
        EXPECT_EQ(static_cast<int64_t>(all.size()), per_rank * replicas);
        std::sort(all.begin(), all.end());
        all.erase(std::unique(all.begin(), all.end()), all.end());
        EXPECT_EQ(all, iota(n));
      }
    }
  }
}

TEST(DataShardTest, BatchSizeAndDropLastApplyToTheShard) {
  for (int64_t workers : {0, 2}) {
    SCOPED_TRACE("num_workers=" + std::to_string(workers));
    auto ds = index_dataset(103);
    const auto opts = L::DataLoaderOptions().batch_size(8).num_workers(workers);
    // Padded, R = 4: 26 samples a rank.
    L::DataLoader padded = L::DataLoader(ds, opts).with_shard(4, 1, true);
    EXPECT_EQ(padded.size(), 4);
    EXPECT_EQ(batch_sizes(epoch_batches(padded)), (std::vector<int64_t>{8, 8, 8, 2}));
    L::DataLoader padded_drop =
        L::DataLoader(ds, L::DataLoaderOptions(opts).drop_last(true)).with_shard(4, 1, true);
    EXPECT_EQ(padded_drop.size(), 3);
    const Batches dropped = epoch_batches(padded_drop);
    EXPECT_EQ(batch_sizes(dropped), (std::vector<int64_t>{8, 8, 8}));
    EXPECT_EQ(dropped[0], (std::vector<int64_t>{1, 5, 9, 13, 17, 21, 25, 29}));

    // Unpadded, R = 4: 26, 26, 26, 25 samples.
    const std::vector<int64_t> sizes{4, 4, 4, 4};
    const std::vector<int64_t> last{2, 2, 2, 1};
    for (int64_t rank = 0; rank < 4; ++rank) {
      L::DataLoader shard = L::DataLoader(ds, opts).with_shard(4, rank, false);
      EXPECT_EQ(shard.size(), sizes[rank]);
      const Batches batches = epoch_batches(shard);
      ASSERT_EQ(static_cast<int64_t>(batches.size()), sizes[rank]);
      EXPECT_EQ(static_cast<int64_t>(batches.back().size()), last[rank]);
      L::DataLoader drop =
          L::DataLoader(ds, L::DataLoaderOptions(opts).drop_last(true)).with_shard(4, rank, false);
      EXPECT_EQ(drop.size(), 3);
      EXPECT_EQ(batch_sizes(epoch_batches(drop)), (std::vector<int64_t>{8, 8, 8}));
    }

    // Fewer samples than ranks, unpadded: the last ranks have nothing.
    L::DataLoader empty = L::DataLoader(index_dataset(2), opts).with_shard(4, 3, false);
    EXPECT_EQ(empty.size(), 0);
    EXPECT_TRUE(empty.begin() == empty.end());
    L::DataLoader single = L::DataLoader(index_dataset(2), opts).with_shard(4, 1, false);
    EXPECT_EQ(single.size(), 1);
    EXPECT_EQ(epoch_order(single), std::vector<int64_t>{1});
  }
}

// Each rank is its own process with its own loader: the same seed and epoch
// must give every rank the same order, so that the shards are disjoint.
TEST(DataShardTest, ShuffleAgreesAcrossRanksAndChangesWithEpoch) {
  const int64_t n = 50, replicas = 3;
  const auto opts = L::DataLoaderOptions().batch_size(4).shuffle(true).generator_seed(77);
  std::vector<std::vector<int64_t>> rank0_epochs;
  for (int64_t epoch : {0, 1, 2}) {
    SCOPED_TRACE("epoch=" + std::to_string(epoch));
    std::vector<int64_t> all;
    for (int64_t rank = 0; rank < replicas; ++rank) {
      L::DataLoader shard = L::DataLoader(index_dataset(n), opts).with_shard(replicas, rank, false);
      shard.set_epoch(epoch);
      const std::vector<int64_t> got = epoch_order(shard);
      EXPECT_EQ(shard.current_shuffle_seed(), 77u + static_cast<uint64_t>(epoch));
      if (rank == 0) rank0_epochs.push_back(got);
      all.insert(all.end(), got.begin(), got.end());
    }
    std::sort(all.begin(), all.end());
    EXPECT_EQ(all, iota(n));  // disjoint and complete: the ranks agreed
  }
  EXPECT_NE(rank0_epochs[0], rank0_epochs[1]);
  EXPECT_NE(rank0_epochs[1], rank0_epochs[2]);
  // Not sorted: it is a shuffle, not rank 0's slice of 0..n-1.
  std::vector<int64_t> sorted = rank0_epochs[0];
  std::sort(sorted.begin(), sorted.end());
  EXPECT_NE(rank0_epochs[0], sorted);

  // Consecutive epochs of one sharded loader follow set_epoch's numbering.
  L::DataLoader running = L::DataLoader(index_dataset(n), opts).with_shard(replicas, 0, false);
  EXPECT_EQ(epoch_order(running), rank0_epochs[0]);
  EXPECT_EQ(epoch_order(running), rank0_epochs[1]);
  EXPECT_EQ(running.epochs_started(), 2);

  // Without generator_seed the ranks agree only if their default generators
  // do (seed_everything with the same seed on every rank).
  std::vector<int64_t> all;
  for (int64_t rank = 0; rank < replicas; ++rank) {
    at::manual_seed(11);
    L::DataLoader shard =
        L::DataLoader(index_dataset(n), L::DataLoaderOptions().batch_size(4).shuffle(true))
            .with_shard(replicas, rank, false);
    const std::vector<int64_t> got = epoch_order(shard);
    all.insert(all.end(), got.begin(), got.end());
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, iota(n));
}

// tests/data_shard_reference.txt: torch.utils.data.DistributedSampler(range(n),
// num_replicas, rank, shuffle, seed, drop_last=False) after set_epoch(epoch);
// a loader with generator_seed(seed) shuffles epoch e with seed + e, as it does.
TEST(DataShardTest, MatchesTorchDistributedSampler) {
  const std::vector<ReferenceShard> reference = read_reference();
  int64_t padded = 0, unpadded = 0, wrapped = 0;
  for (const ReferenceShard& r : reference) {
    SCOPED_TRACE(std::string(r.pad ? "pad" : "nopad") + " n=" + std::to_string(r.n) +
                 " replicas=" + std::to_string(r.replicas) + " rank=" + std::to_string(r.rank) +
                 " shuffle=" + std::to_string(r.shuffle) + " seed=" + std::to_string(r.seed) +
                 " epoch=" + std::to_string(r.epoch));
    L::DataLoader loader =
        L::DataLoader(
            index_dataset(r.n),
            L::DataLoaderOptions().batch_size(3).shuffle(r.shuffle).generator_seed(r.seed))
            .with_shard(r.replicas, r.rank, r.pad);
    loader.set_epoch(r.epoch);
    EXPECT_EQ(epoch_order(loader), r.indices);
    EXPECT_EQ(loader.size(), (static_cast<int64_t>(r.indices.size()) + 2) / 3);
    (r.pad ? padded : unpadded) += 1;
    if (r.pad && r.replicas > 2 * r.n) ++wrapped;
  }
  // The file holds both kinds and torch's longer-than-the-order padding.
  EXPECT_GE(padded, 100);
  EXPECT_EQ(padded, unpadded);
  EXPECT_GE(wrapped, 8);
}

// resume_epoch's first_batch counts the shard's batches.
TEST(DataShardTest, ResumeEpochOnAShardResumesAtTheBatch) {
  auto ds = index_dataset(103);
  for (bool pad : {true, false}) {
    SCOPED_TRACE(std::string("pad=") + (pad ? "true" : "false"));
    // Unseeded: the seed comes from the default generator and only resume
    // can bring it back.
    at::manual_seed(5);
    L::DataLoader reference =
        L::DataLoader(ds, L::DataLoaderOptions().batch_size(5).shuffle(true)).with_shard(4, 3, pad);
    const int64_t batches = pad ? 6 : 5;  // 26 or 25 samples
    ASSERT_EQ(reference.size(), batches);
    reference.set_epoch(2);
    const Batches expected = epoch_batches(reference);
    const uint64_t seed = reference.current_shuffle_seed();
    ASSERT_EQ(static_cast<int64_t>(expected.size()), batches);
    EXPECT_EQ(static_cast<int64_t>(expected.back().size()), pad ? 1 : 5);
    for (int64_t workers : {0, 1, 3}) {
      SCOPED_TRACE("num_workers=" + std::to_string(workers));
      at::manual_seed(999);  // resume must not depend on the generator
      L::DataLoader loader =
          L::DataLoader(ds, L::DataLoaderOptions().batch_size(5).shuffle(true).num_workers(workers))
              .with_shard(4, 3, pad);
      loader.resume_epoch(2, seed, 4);
      EXPECT_EQ(epoch_batches(loader), Batches(expected.begin() + 4, expected.end()));
      EXPECT_EQ(loader.current_shuffle_seed(), seed);
      EXPECT_EQ(loader.epochs_started(), 3);
      loader.resume_epoch(2, seed, batches);  // the end of the shard's epoch
      EXPECT_TRUE(loader.begin() == loader.end());
    }
  }
  // 21 batches unsharded, 6 on the shard: the bound is the shard's.
  L::DataLoader shard =
      L::DataLoader(ds, L::DataLoaderOptions().batch_size(5)).with_shard(4, 0, true);
  EXPECT_LIGHTNING_ERROR(shard.resume_epoch(0, 0, 7),
                         "DataLoader::resume_epoch: first_batch must be in [0, 6] (the batches of "
                         "an epoch), got 7.");
}

TEST(DataShardTest, WorkersGiveTheSameBatches) {
  auto ds = index_dataset(97);
  for (bool pad : {true, false}) {
    for (int64_t rank : {0, 2}) {
      SCOPED_TRACE(std::string("pad=") + (pad ? "true" : "false") +
                   " rank=" + std::to_string(rank));
      auto opts = L::DataLoaderOptions().batch_size(6).shuffle(true).generator_seed(21);
      L::DataLoader serial = L::DataLoader(ds, opts).with_shard(3, rank, pad);
      const Batches first = epoch_batches(serial);
      const Batches second = epoch_batches(serial);
      ASSERT_EQ(static_cast<int64_t>(first.size()), serial.size());
      EXPECT_NE(first, second);
      for (int64_t workers : {1, 2, 4}) {
        SCOPED_TRACE("num_workers=" + std::to_string(workers));
        L::DataLoader parallel =
            L::DataLoader(ds, L::DataLoaderOptions(opts).num_workers(workers).prefetch_factor(1))
                .with_shard(3, rank, pad);
        EXPECT_EQ(epoch_batches(parallel), first);
        EXPECT_EQ(epoch_batches(parallel), second);
      }
    }
  }
}

TEST(DataShardTest, CopiesKeepShardOptionsAndProgress) {
  auto ds = index_dataset(20);
  L::DataLoader loader(ds, L::DataLoaderOptions().batch_size(3).shuffle(true).generator_seed(4));
  L::DataLoader shard = loader.with_shard(3, 1, false);
  // with_shard keeps the options.
  EXPECT_EQ(shard.options().batch_size(), 3);
  EXPECT_TRUE(shard.options().shuffle());
  EXPECT_EQ(shard.options().generator_seed(), std::optional<uint64_t>(4));
  EXPECT_EQ(shard.dataset(), ds);
  EXPECT_EQ(shard.shard().num_replicas, 3);
  EXPECT_EQ(shard.shard().rank, 1);
  EXPECT_FALSE(shard.shard().pad);
  EXPECT_EQ(shard.size(), 3);  // 7 samples

  // with_options keeps the shard and shares the shard's progress.
  L::DataLoader plain = shard.with_options(L::DataLoaderOptions().batch_size(2));
  EXPECT_EQ(plain.shard().num_replicas, 3);
  EXPECT_EQ(plain.shard().rank, 1);
  EXPECT_FALSE(plain.shard().pad);
  EXPECT_EQ(plain.size(), 4);
  EXPECT_EQ(epoch_order(plain), (std::vector<int64_t>{1, 4, 7, 10, 13, 16, 19}));
  EXPECT_EQ(shard.epochs_started(), 1);

  // Sharding again replaces the shard (it does not shard the shard).
  L::DataLoader other = plain.with_shard(2, 0, true);
  EXPECT_EQ(epoch_order(other), (std::vector<int64_t>{0, 2, 4, 6, 8, 10, 12, 14, 16, 18}));

  // The shard has its own progress, starting from its source's.
  L::DataLoader source(ds, L::DataLoaderOptions().batch_size(3).shuffle(true).generator_seed(4));
  epoch_order(source);
  L::DataLoader copy = source.with_shard(2, 0, true);
  EXPECT_EQ(copy.epochs_started(), 1);
  EXPECT_EQ(copy.current_shuffle_seed(), 4u);
  copy.set_epoch(5);
  epoch_order(copy);
  EXPECT_EQ(copy.epochs_started(), 6);
  EXPECT_EQ(copy.current_shuffle_seed(), 9u);
  EXPECT_EQ(source.epochs_started(), 1);
  EXPECT_EQ(source.current_shuffle_seed(), 4u);

  // A resume pending on the source counted its unsharded batches: not carried.
  source.resume_epoch(0, 4, 6);
  L::DataLoader fresh = source.with_shard(2, 1, true);
  EXPECT_EQ(epoch_batches(fresh).size(), 4u);   // all of shard 1's 10 samples
  EXPECT_EQ(epoch_batches(source).size(), 1u);  // the source resumes at its batch 6 of 7
}

TEST(DataShardTest, Errors) {
  L::DataLoader loader(index_dataset(10));
  EXPECT_LIGHTNING_ERROR(loader.with_shard(0, 0, true),
                         "DataLoader::with_shard: num_replicas must be >= 1, got 0. Pass the "
                         "number of processes (the world size).");
  EXPECT_LIGHTNING_ERROR(loader.with_shard(-2, 0, false),
                         "DataLoader::with_shard: num_replicas must be >= 1, got -2.");
  EXPECT_LIGHTNING_ERROR(loader.with_shard(4, 4, true),
                         "DataLoader::with_shard: rank must be in [0, 4) (num_replicas = 4), got "
                         "4. Pass this process's global rank.");
  EXPECT_LIGHTNING_ERROR(loader.with_shard(2, -1, false),
                         "DataLoader::with_shard: rank must be in [0, 2) (num_replicas = 2), got "
                         "-1.");
  // A failed call leaves the loader as it was.
  EXPECT_EQ(loader.shard().num_replicas, 1);
  EXPECT_EQ(loader.size(), 10);
}
