// Tests of the data layer: Batch, collate, StepOutput, datasets, DataLoader,
// Fashion-MNIST and its data module.
#include <ATen/Parallel.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <numeric>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "lightning/data/batch.h"
#include "lightning/data/dataloader.h"
#include "lightning/data/dataset.h"
#include "lightning/data/datasets/fashion_mnist.h"
#include "lightning/data/step_output.h"
#include "lightning/error.h"
#include "support/errors.h"
#include "support/temp_dir.h"

namespace L = lightning;
using ::testing::HasSubstr;

namespace {

std::vector<int64_t> to_vector(const at::Tensor& t) {
  at::Tensor c = t.to(at::kLong).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

// Samples are (index, index as float).
std::shared_ptr<L::TensorDataset> index_dataset(int64_t n) {
  at::Tensor idx = at::arange(n, at::kLong);
  return std::make_shared<L::TensorDataset>(std::vector<at::Tensor>{idx, idx.to(at::kFloat)});
}

// The sample indices of one epoch, in delivery order.
std::vector<int64_t> epoch_order(L::DataLoader& loader) {
  std::vector<int64_t> out;
  for (L::Batch& batch : loader) {
    auto part = to_vector(batch[0]);
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> v(n);
  std::iota(v.begin(), v.end(), int64_t{0});
  return v;
}

// A dataset whose get() throws at one index.
class ThrowingDataset : public L::Dataset {
 public:
  ThrowingDataset(int64_t n, int64_t bad) : n_(n), bad_(bad) {}
  L::Batch get(int64_t index) override {
    if (index == bad_) LIGHTNING_FAIL("bad sample ", index);
    return {at::scalar_tensor(index, at::kLong)};
  }
  int64_t size() const override { return n_; }

 private:
  int64_t n_, bad_;
};

// A dataset with only get(): exercises Dataset::get_batch's default.
class SquaresDataset : public L::Dataset {
 public:
  L::Batch get(int64_t index) override {
    return L::Batch({"x", "y"}, {at::full({2}, static_cast<double>(index), at::kFloat),
                                 at::scalar_tensor(index * index, at::kLong)});
  }
  int64_t size() const override { return 10; }
};

// Records, for every batch it builds, the thread that built it and that
// thread's libtorch intra-op thread count. Batches are (index, index as float).
class RecordingDataset : public L::Dataset {
 public:
  RecordingDataset(int64_t n, bool safe) : n_(n), safe_(safe) {}
  L::Batch get(int64_t index) override {
    at::Tensor i = at::scalar_tensor(index, at::kLong);
    return {i, i.to(at::kFloat)};
  }
  L::Batch get_batch(const std::vector<int64_t>& indices) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      threads_.insert(std::this_thread::get_id());
      intra_op_threads_.insert(at::get_num_threads());
    }
    return L::Dataset::get_batch(indices);
  }
  int64_t size() const override { return n_; }
  bool safe_to_prefetch() const override { return safe_; }
  std::set<std::thread::id> threads() {
    std::lock_guard<std::mutex> lock(mutex_);
    return threads_;
  }
  std::set<int> intra_op_threads() {
    std::lock_guard<std::mutex> lock(mutex_);
    return intra_op_threads_;
  }

 private:
  int64_t n_;
  bool safe_;
  std::mutex mutex_;
  std::set<std::thread::id> threads_;
  std::set<int> intra_op_threads_;
};

// Sets libtorch's intra-op thread count for one test and puts it back.
class IntraOpThreads {
 public:
  explicit IntraOpThreads(int n) : saved_(at::get_num_threads()) { at::set_num_threads(n); }
  ~IntraOpThreads() { at::set_num_threads(saved_); }

 private:
  int saved_;
};

}  // namespace

// ---------------------------------------------------------------- Batch

TEST(BatchTest, UnpackAndIndex) {
  at::Tensor x = at::ones({4, 3}), y = at::zeros({4}, at::kLong);
  L::Batch batch{x, y};
  auto [a, b] = batch.unpack<2>();
  EXPECT_TRUE(a.equal(x));
  EXPECT_TRUE(b.equal(y));
  auto [only] = batch.unpack<1>();
  EXPECT_TRUE(only.equal(x));
  EXPECT_EQ(batch.size(), 2u);
  EXPECT_TRUE(batch[1].equal(y));
  batch[1] = at::ones({4}, at::kLong);
  EXPECT_EQ(batch[1].sum().item<int64_t>(), 4);
  EXPECT_TRUE(batch.names().empty());
  EXPECT_FALSE(batch.contains("x"));
}

TEST(BatchTest, UnpackTooManyIsAnError) {
  L::Batch batch{at::ones({2}), at::ones({2})};
  EXPECT_LIGHTNING_ERROR(
      batch.unpack<3>(),
      "batch.unpack<3>() needs at least 3 tensors but the batch holds 2. Unpack fewer "
      "(batch.unpack<2>())");
}

TEST(BatchTest, IndexOutOfRange) {
  L::Batch batch{at::ones({2})};
  EXPECT_LIGHTNING_ERROR(batch[1], "batch[1] is out of range: the batch holds 1 tensors.");
  const L::Batch& cbatch = batch;
  EXPECT_LIGHTNING_ERROR(cbatch[5], "batch[5] is out of range");
}

TEST(BatchTest, Names) {
  L::Batch batch({"image", "label"}, {at::ones({3, 2}), at::zeros({3}, at::kLong)});
  EXPECT_EQ(batch.names(), (std::vector<std::string>{"image", "label"}));
  EXPECT_TRUE(batch.contains("label"));
  EXPECT_EQ(batch["image"].size(1), 2);
  EXPECT_LIGHTNING_ERROR(batch["mask"],
                         "batch['mask']: no such field; the batch has 'image', 'label'.");
  L::Batch unnamed{at::ones({1})};
  EXPECT_LIGHTNING_ERROR(unnamed["image"], "batch['image']: the batch has no field names");
}

TEST(BatchTest, NamedConstructorErrors) {
  EXPECT_LIGHTNING_ERROR(L::Batch({"a"}, {at::ones({1}), at::ones({1})}),
                         "Batch got 1 names for 2 tensors; pass one name per tensor.");
  EXPECT_LIGHTNING_ERROR(L::Batch({"a", "a"}, {at::ones({1}), at::ones({1})}),
                         "Batch field name 'a' appears twice (positions 0 and 1)");
}

TEST(BatchTest, BatchSize) {
  EXPECT_EQ(L::Batch().batch_size(), 0);
  EXPECT_EQ(L::Batch({at::scalar_tensor(1.0)}).batch_size(), 1);
  EXPECT_EQ(L::Batch({at::ones({7, 2}), at::ones({7})}).batch_size(), 7);
  EXPECT_LIGHTNING_ERROR(L::Batch({at::Tensor()}).batch_size(),
                         "the first tensor of the batch is undefined");
}

TEST(BatchTest, ToDtypeCastsOnlyFloatingTensors) {
  L::Batch batch({"x", "y"}, {at::ones({2}, at::kFloat), at::ones({2}, at::kLong)});
  L::Batch half = batch.to(at::kDouble);
  EXPECT_EQ(half[0].scalar_type(), at::kDouble);
  EXPECT_EQ(half[1].scalar_type(), at::kLong);
  EXPECT_EQ(half.names(), batch.names());
  EXPECT_EQ(batch[0].scalar_type(), at::kFloat);
  EXPECT_LIGHTNING_ERROR(
      batch.to(at::kLong),
      "Batch::to(dtype) casts the floating-point tensors of a batch and needs a floating "
      "dtype, got Long");
}

TEST(BatchTest, ToDevice) {
  L::Batch batch({"x", "y"}, {at::ones({2}), at::Tensor()});
  L::Batch moved = batch.to(at::Device(at::kCPU));
  EXPECT_TRUE(moved[0].device().is_cpu());
  EXPECT_FALSE(moved[1].defined());
  EXPECT_EQ(moved.names(), batch.names());
}

TEST(BatchTest, FromExample) {
  torch::data::Example<> example(at::ones({3}), at::zeros({}, at::kLong));
  L::Batch batch = example;
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_TRUE(batch[0].equal(example.data));
}

// ---------------------------------------------------------------- collate

TEST(CollateTest, StacksEachField) {
  std::vector<L::Batch> samples;
  for (int64_t i = 0; i < 3; ++i) {
    samples.push_back(L::Batch(
        {"x", "y"}, {at::full({2, 2}, static_cast<double>(i)), at::scalar_tensor(i, at::kLong)}));
  }
  L::Batch batch = L::collate(samples);
  EXPECT_EQ(batch.names(), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(batch["x"].sizes(), (std::vector<int64_t>{3, 2, 2}));
  EXPECT_EQ(to_vector(batch["y"]), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(batch.batch_size(), 3);
}

TEST(CollateTest, Errors) {
  EXPECT_LIGHTNING_ERROR(L::collate({}), "collate() got no samples");
  EXPECT_LIGHTNING_ERROR(
      L::collate({L::Batch{at::ones({1}), at::ones({1})}, L::Batch{at::ones({1})}}),
      "collate(): sample 1 holds 1 tensors but sample 0 holds 2; every sample must have "
      "the same fields.");
  EXPECT_LIGHTNING_ERROR(
      L::collate({L::Batch({"a"}, {at::ones({1})}), L::Batch({"b"}, {at::ones({1})})}),
      "collate(): sample 1 has field names ['b'] but sample 0 has ['a']");
  EXPECT_LIGHTNING_ERROR(
      L::collate({L::Batch{at::ones({2})}, L::Batch{at::ones({3})}}),
      "collate(): field 0 of sample 1 has shape [3] but sample 0 has [2]; samples must "
      "have equal shapes");
  EXPECT_LIGHTNING_ERROR(L::collate({L::Batch{at::ones({2})}, L::Batch{at::Tensor()}}),
                         "field 0 of sample 1 has shape <undefined>");
  EXPECT_LIGHTNING_ERROR(L::collate({L::Batch{at::Tensor()}}),
                         "collate(): field 0 of sample 0 is an undefined tensor");
}

// ---------------------------------------------------------------- StepOutput

TEST(StepOutputTest, Forms) {
  L::StepOutput none;
  EXPECT_TRUE(none.empty());
  EXPECT_FALSE(none.has_loss());
  EXPECT_TRUE(L::StepOutput(at::Tensor()).empty());

  at::Tensor loss = at::scalar_tensor(0.5);
  L::StepOutput plain = loss;
  EXPECT_TRUE(plain.has_loss());
  EXPECT_TRUE(plain.loss().equal(loss));
  EXPECT_EQ(plain.items().size(), 1u);

  L::StepOutput named{{"loss", loss}, {"logits", at::ones({2, 3})}};
  EXPECT_TRUE(named.contains("logits"));
  EXPECT_EQ(named["logits"].size(1), 3);
  EXPECT_TRUE(named.loss().equal(loss));
  EXPECT_EQ(named.items()[1].first, "logits");
}

TEST(StepOutputTest, Errors) {
  L::StepOutput logits_only{{"logits", at::ones({1})}};
  EXPECT_FALSE(logits_only.has_loss());
  EXPECT_LIGHTNING_ERROR(
      logits_only.loss(),
      "the step output has no 'loss' (it has entries 'logits'); return the loss tensor "
      "itself or {{\"loss\", loss}, ...}.");
  EXPECT_LIGHTNING_ERROR(L::StepOutput().loss(),
                         "the step output has no 'loss' (it has no entries)");
  EXPECT_LIGHTNING_ERROR(logits_only["acc"],
                         "the step output has no entry 'acc' (it has entries 'logits').");
  EXPECT_LIGHTNING_ERROR((L::StepOutput{{"loss", at::ones({})}, {"loss", at::ones({})}}),
                         "StepOutput entry 'loss' appears twice; names must be unique.");
  EXPECT_LIGHTNING_ERROR((L::StepOutput{{"", at::ones({})}}),
                         "StepOutput entry 0 has an empty name");
}

// ---------------------------------------------------------------- datasets

TEST(TensorDatasetTest, GetAndGetBatch) {
  at::Tensor x = at::arange(20, at::kFloat).reshape({10, 2});
  at::Tensor y = at::arange(10, at::kLong);
  L::TensorDataset ds({x, y});
  EXPECT_EQ(ds.size(), 10);
  L::Batch sample = ds.get(3);
  EXPECT_TRUE(sample[0].equal(x[3]));
  EXPECT_EQ(sample[1].item<int64_t>(), 3);

  L::Batch range = ds.get_batch({4, 5, 6});  // consecutive: a view
  EXPECT_TRUE(range[0].equal(x.narrow(0, 4, 3)));
  EXPECT_EQ(to_vector(range[1]), (std::vector<int64_t>{4, 5, 6}));

  L::Batch picked = ds.get_batch({9, 0, 4});
  EXPECT_TRUE(picked[0].equal(at::stack({x[9], x[0], x[4]})));
  EXPECT_EQ(to_vector(picked[1]), (std::vector<int64_t>{9, 0, 4}));

  EXPECT_EQ(ds.get_batch({})[0].size(0), 0);
}

TEST(TensorDatasetTest, Errors) {
  EXPECT_LIGHTNING_ERROR(
      L::TensorDataset({at::ones({5, 2}), at::ones({4})}),
      "TensorDataset: size mismatch between tensors: tensor 0 has 5 samples (dim 0) but "
      "tensor 1 has 4.");
  EXPECT_LIGHTNING_ERROR(L::TensorDataset(std::vector<at::Tensor>{}),
                         "TensorDataset needs at least one tensor");
  EXPECT_LIGHTNING_ERROR(L::TensorDataset({at::ones({2}), at::Tensor()}),
                         "TensorDataset: tensor 1 is undefined.");
  EXPECT_LIGHTNING_ERROR(L::TensorDataset({at::scalar_tensor(1.0)}),
                         "TensorDataset: tensor 0 is 0-dimensional");
  L::TensorDataset ds({at::ones({3})});
  EXPECT_LIGHTNING_ERROR(ds.get(3),
                         "TensorDataset index 3 is out of range for a dataset of size 3.");
}

TEST(DatasetTest, DefaultGetBatchCollates) {
  SquaresDataset ds;
  L::Batch batch = ds.get_batch({3, 1});
  EXPECT_EQ(batch.names(), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(batch["x"].sizes(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(to_vector(batch["y"]), (std::vector<int64_t>{9, 1}));
}

TEST(SubsetTest, MapsIndices) {
  auto base = index_dataset(10);
  L::Subset subset(base, {7, 2, 5});
  EXPECT_EQ(subset.size(), 3);
  EXPECT_EQ(subset.get(1)[0].item<int64_t>(), 2);
  EXPECT_EQ(to_vector(subset.get_batch({2, 0})[0]), (std::vector<int64_t>{5, 7}));
  EXPECT_LIGHTNING_ERROR(subset.get(3), "Subset index 3 is out of range for a subset of size 3.");
  EXPECT_LIGHTNING_ERROR(subset.get_batch({0, 4}),
                         "Subset index 4 is out of range for a subset of size 3.");
  EXPECT_LIGHTNING_ERROR(L::Subset(base, {1, 10}),
                         "Subset index 10 (position 1) is out of range for a dataset of size 10.");
  EXPECT_LIGHTNING_ERROR(L::Subset(nullptr, {}), "Subset got a null dataset.");
}

TEST(RandomSplitTest, SizesAndDisjointness) {
  auto base = index_dataset(100);
  auto parts = L::random_split(base, {70, 20, 10}, 7);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0]->size(), 70);
  EXPECT_EQ(parts[1]->size(), 20);
  EXPECT_EQ(parts[2]->size(), 10);
  std::set<int64_t> seen;
  for (auto& part : parts) {
    for (int64_t v : to_vector(part->get_batch(iota(part->size()))[0])) {
      EXPECT_TRUE(seen.insert(v).second) << "index " << v << " in two parts";
    }
  }
  EXPECT_EQ(seen.size(), 100u);

  auto again = L::random_split(base, {70, 20, 10}, 7);
  auto other = L::random_split(base, {70, 20, 10}, 8);
  auto first_of = [](const std::shared_ptr<L::Dataset>& d) {
    return to_vector(d->get_batch(iota(d->size()))[0]);
  };
  EXPECT_EQ(first_of(parts[1]), first_of(again[1]));
  EXPECT_NE(first_of(parts[1]), first_of(other[1]));
}

TEST(RandomSplitTest, Errors) {
  auto base = index_dataset(10);
  EXPECT_LIGHTNING_ERROR(
      L::random_split(base, {5, 4}),
      "random_split: the lengths add up to 9 but the dataset has 10 samples; make them "
      "sum to 10.");
  EXPECT_LIGHTNING_ERROR(L::random_split(base, {12, -2}),
                         "random_split: length 1 is negative (-2); lengths must be >= 0.");
  EXPECT_LIGHTNING_ERROR(L::random_split(nullptr, {1}), "random_split got a null dataset.");
}

// ---------------------------------------------------------------- DataLoader

TEST(DataLoaderTest, EverySampleOnceWithShuffle) {
  for (int64_t workers : {0, 1, 2, 4}) {
    SCOPED_TRACE("num_workers=" + std::to_string(workers));
    L::DataLoader loader(index_dataset(103),
                         L::DataLoaderOptions().batch_size(10).shuffle(true).num_workers(workers));
    EXPECT_EQ(loader.size(), 11);
    for (int epoch = 0; epoch < 2; ++epoch) {
      std::vector<int64_t> sizes;
      std::vector<int64_t> order;
      for (L::Batch& batch : loader) {
        sizes.push_back(batch.batch_size());
        EXPECT_TRUE(batch[1].equal(batch[0].to(at::kFloat)));
        auto part = to_vector(batch[0]);
        order.insert(order.end(), part.begin(), part.end());
      }
      EXPECT_EQ(sizes.size(), 11u);
      EXPECT_EQ(sizes.back(), 3);
      EXPECT_NE(order, iota(103));  // shuffled
      std::sort(order.begin(), order.end());
      EXPECT_EQ(order, iota(103));
    }
    EXPECT_EQ(loader.epochs_started(), 2);
  }
}

// Exact resume: the same order from a given batch on, with any number of
// workers (repeated: a worker must not start past the first batch).
TEST(DataLoaderTest, ResumeEpochReplaysTheOrderFromABatch) {
  L::DataLoader reference(index_dataset(103), L::DataLoaderOptions().batch_size(10).shuffle(true));
  reference.set_epoch(3);
  std::vector<std::vector<int64_t>> expected;
  for (L::Batch& batch : reference) expected.push_back(to_vector(batch[0]));
  const uint64_t seed = reference.current_shuffle_seed();
  EXPECT_EQ(reference.epochs_started(), 4);
  for (int64_t workers : {0, 1, 3}) {
    for (int repeat = 0; repeat < 20; ++repeat) {
      SCOPED_TRACE("num_workers=" + std::to_string(workers));
      L::DataLoader loader(
          index_dataset(103),
          L::DataLoaderOptions().batch_size(10).shuffle(true).num_workers(workers));
      loader.resume_epoch(3, seed, 4);
      std::vector<std::vector<int64_t>> got;
      for (L::Batch& batch : loader) got.push_back(to_vector(batch[0]));
      ASSERT_EQ(got, std::vector<std::vector<int64_t>>(expected.begin() + 4, expected.end()));
      EXPECT_EQ(loader.current_shuffle_seed(), seed);
      EXPECT_EQ(loader.epochs_started(), 4);
    }
  }
  L::DataLoader loader(index_dataset(10), L::DataLoaderOptions().batch_size(5));
  EXPECT_LIGHTNING_ERROR(loader.resume_epoch(0, 0, 3),
                         "DataLoader::resume_epoch: first_batch must be in [0, 2]");
  EXPECT_LIGHTNING_ERROR(loader.set_epoch(-1),
                         "DataLoader::set_epoch: epoch must be >= 0, got -1.");
}

TEST(DataLoaderTest, DropLast) {
  for (int64_t workers : {0, 1, 2, 4}) {
    SCOPED_TRACE("num_workers=" + std::to_string(workers));
    L::DataLoader loader(
        index_dataset(103),
        L::DataLoaderOptions().batch_size(10).shuffle(true).drop_last(true).num_workers(workers));
    EXPECT_EQ(loader.size(), 10);
    int64_t batches = 0;
    std::set<int64_t> seen;
    for (L::Batch& batch : loader) {
      ++batches;
      EXPECT_EQ(batch.batch_size(), 10);
      for (int64_t v : to_vector(batch[0])) EXPECT_TRUE(seen.insert(v).second);
    }
    EXPECT_EQ(batches, 10);
    EXPECT_EQ(seen.size(), 100u);
  }
}

TEST(DataLoaderTest, UnshuffledIsInOrder) {
  for (int64_t workers : {0, 3}) {
    L::DataLoader loader(index_dataset(25),
                         L::DataLoaderOptions().batch_size(4).num_workers(workers));
    EXPECT_EQ(epoch_order(loader), iota(25));
    EXPECT_EQ(epoch_order(loader), iota(25));
  }
  L::DataLoader empty(index_dataset(0), L::DataLoaderOptions().num_workers(2));
  EXPECT_EQ(empty.size(), 0);
  EXPECT_TRUE(empty.begin() == empty.end());
}

TEST(DataLoaderTest, OrderDoesNotDependOnWorkers) {
  std::vector<std::vector<int64_t>> orders;
  for (int64_t workers : {0, 1, 2, 4}) {
    L::DataLoader loader(
        index_dataset(97),
        L::DataLoaderOptions().batch_size(8).shuffle(true).num_workers(workers).generator_seed(
            1234));
    auto first = epoch_order(loader);
    auto second = epoch_order(loader);
    orders.push_back(first);
    orders.push_back(second);
  }
  for (size_t i = 2; i < orders.size(); ++i) EXPECT_EQ(orders[i], orders[i % 2]) << i;
}

TEST(DataLoaderTest, EpochsDifferAndSeedReproduces) {
  auto ds = index_dataset(50);
  auto opts = L::DataLoaderOptions().batch_size(7).shuffle(true).generator_seed(5);
  L::DataLoader a(ds, opts), b(ds, opts);
  auto a0 = epoch_order(a), a1 = epoch_order(a);
  EXPECT_NE(a0, a1);
  EXPECT_EQ(epoch_order(b), a0);
  EXPECT_EQ(epoch_order(b), a1);

  L::DataLoader unseeded(ds, L::DataLoaderOptions().batch_size(7).shuffle(true));
  EXPECT_NE(epoch_order(unseeded), epoch_order(unseeded));
}

TEST(DataLoaderTest, GlobalSeedReproduces) {
  auto ds = index_dataset(64);
  auto opts = L::DataLoaderOptions().batch_size(16).shuffle(true);
  at::manual_seed(123);
  L::DataLoader a(ds, opts);
  auto a0 = epoch_order(a), a1 = epoch_order(a);
  at::manual_seed(123);
  L::DataLoader b(ds, opts.num_workers(2));
  EXPECT_EQ(epoch_order(b), a0);
  EXPECT_EQ(epoch_order(b), a1);
  at::manual_seed(124);
  L::DataLoader c(ds, opts);
  EXPECT_NE(epoch_order(c), a0);
}

TEST(DataLoaderTest, EarlyBreakWithWorkersDoesNotHang) {
  L::DataLoader loader(
      index_dataset(1000),
      L::DataLoaderOptions().batch_size(2).shuffle(true).num_workers(4).prefetch_factor(2));
  for (int round = 0; round < 20; ++round) {
    int64_t seen = 0;
    for (L::Batch& batch : loader) {
      EXPECT_EQ(batch.batch_size(), 2);
      if (++seen == 3) break;
    }
    EXPECT_EQ(seen, 3);
  }
  { auto it = loader.begin(); }  // started and dropped without taking a batch
  std::vector<int64_t> order = epoch_order(loader);
  std::sort(order.begin(), order.end());
  EXPECT_EQ(order, iota(1000));
  EXPECT_EQ(loader.epochs_started(), 22);
}

TEST(DataLoaderTest, AdvancingWithoutDereferencing) {
  for (int64_t workers : {0, 2}) {
    L::DataLoader loader(index_dataset(30),
                         L::DataLoaderOptions().batch_size(4).num_workers(workers));
    auto it = loader.begin();
    ++it;
    ++it;
    EXPECT_EQ(to_vector((*it)[0]), (std::vector<int64_t>{8, 9, 10, 11}));
    int64_t count = 0;
    for (; it != loader.end(); ++it) ++count;
    EXPECT_EQ(count, 6);
    EXPECT_LIGHTNING_ERROR(*it, "dereferenced a DataLoader iterator past the end of the epoch.");
    EXPECT_LIGHTNING_ERROR(++it, "advanced a DataLoader iterator past the end of the epoch.");
  }
  L::DataLoader::Iterator end;
  EXPECT_LIGHTNING_ERROR(*end, "dereferenced an end (or default) DataLoader iterator.");
  EXPECT_LIGHTNING_ERROR(++end, "advanced an end (or default) DataLoader iterator.");
}

TEST(DataLoaderTest, WorkerExceptionPropagatesAtItsBatch) {
  // -1: no workers, batches built ahead on the background_prefetch thread.
  for (int64_t workers : {0, -1, 1, 3}) {
    SCOPED_TRACE("num_workers=" + std::to_string(workers));
    auto opts = L::DataLoaderOptions().batch_size(10);
    if (workers >= 0) opts.num_workers(workers).background_prefetch(false);
    if (workers < 0) opts.background_prefetch(true);
    L::DataLoader loader(std::make_shared<ThrowingDataset>(100, 37), opts);
    EXPECT_EQ(loader.builds_in_background(), workers != 0);
    int64_t good = 0;
    int64_t failed_at = -1;
    int64_t k = 0;
    for (auto it = loader.begin(); it != loader.end(); ++it, ++k) {
      std::string message = L::testing::error_of([&] { it->batch_size(); });
      if (message == "<no lightning::Error thrown>") {
        EXPECT_EQ(to_vector((*it)[0]).front(), k * 10);
        ++good;
      } else {
        EXPECT_EQ(message, "bad sample 37");
        EXPECT_EQ(L::testing::error_of([&] { *it; }), "bad sample 37");  // sticky until ++
        failed_at = k;
      }
    }
    EXPECT_EQ(failed_at, 3);
    EXPECT_EQ(good, 9);
    // Dropping the epoch right after the failure does not hang.
    auto it = loader.begin();
    for (int i = 0; i < 3; ++i) ++it;
    EXPECT_LIGHTNING_ERROR(*it, "bad sample 37");
  }
}

TEST(DataLoaderTest, BackgroundPrefetchFollowsTheDatasetTheOptionAndFreeCores) {
  IntraOpThreads one(1);
  const bool free_core = std::thread::hardware_concurrency() > 1;
  auto opts = L::DataLoaderOptions().batch_size(4);
  // Unset: on for datasets that say they are safe, when a core is free.
  EXPECT_EQ(L::DataLoader(index_dataset(8), opts).builds_in_background(), free_core);
  EXPECT_EQ(L::DataLoader(std::make_shared<L::Subset>(index_dataset(8), iota(8)), opts)
                .builds_in_background(),
            free_core);
  EXPECT_FALSE(L::DataLoader(std::make_shared<SquaresDataset>(), opts).builds_in_background());
  auto collate = [](const std::vector<L::Batch>& samples) { return L::collate(samples); };
  EXPECT_FALSE(L::DataLoader(index_dataset(8), L::DataLoaderOptions(opts).collate_fn(collate))
                   .builds_in_background());
  // Explicit settings win.
  EXPECT_FALSE(
      L::DataLoader(index_dataset(8), L::DataLoaderOptions(opts).background_prefetch(false))
          .builds_in_background());
  EXPECT_TRUE(L::DataLoader(std::make_shared<SquaresDataset>(),
                            L::DataLoaderOptions(opts).background_prefetch(true))
                  .builds_in_background());
  // No core free: every intra-op thread count >= the CPUs turns it off.
  {
    IntraOpThreads all(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
    EXPECT_FALSE(L::DataLoader(index_dataset(8), opts).builds_in_background());
  }
}

TEST(DataLoaderTest, BackgroundThreadsBuildTheSameBatchesOnOneIntraOpThread) {
  // The caller keeps two intra-op threads; the threads that build batches use one.
  IntraOpThreads two(2);
  struct Case {
    const char* name;
    bool safe;
    L::DataLoaderOptions options;
    bool in_caller;
  };
  const auto base = L::DataLoaderOptions().batch_size(3).shuffle(true).generator_seed(7);
  const std::vector<Case> cases = {
      {"num_workers=0, not prefetched", false, base, true},
      {"num_workers=0, background_prefetch forced", false,
       L::DataLoaderOptions(base).background_prefetch(true), false},
      {"num_workers=0, safe dataset, prefetch off", true,
       L::DataLoaderOptions(base).background_prefetch(false), true},
      {"num_workers=2", false, L::DataLoaderOptions(base).num_workers(2), false},
  };
  std::vector<int64_t> reference;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto ds = std::make_shared<RecordingDataset>(20, c.safe);
    L::DataLoader loader(ds, c.options);
    std::vector<int64_t> order;
    for (L::Batch& batch : loader) {
      auto part = to_vector(batch[0]);
      order.insert(order.end(), part.begin(), part.end());
      EXPECT_TRUE(batch[1].equal(batch[0].to(at::kFloat)));
    }
    if (reference.empty()) reference = order;
    EXPECT_EQ(order, reference);
    const std::set<std::thread::id> threads = ds->threads();
    if (c.in_caller) {
      EXPECT_EQ(threads, std::set<std::thread::id>{std::this_thread::get_id()});
      EXPECT_EQ(ds->intra_op_threads(), std::set<int>{2});
    } else {
      EXPECT_EQ(threads.count(std::this_thread::get_id()), 0u);
      EXPECT_EQ(ds->intra_op_threads(), std::set<int>{1});
    }
  }
  EXPECT_EQ(at::get_num_threads(), 2);  // the caller's own setting is untouched
}

TEST(DataLoaderTest, PrefetchedBatchesAreCopiesNotViewsOfTheDataset) {
  IntraOpThreads one(1);
  auto ds = index_dataset(12);
  for (bool shuffle : {false, true}) {
    L::DataLoader loader(
        ds, L::DataLoaderOptions().batch_size(4).shuffle(shuffle).background_prefetch(true));
    for (L::Batch& batch : loader) batch[1].mul_(0).add_(-1);  // a step writing in place
  }
  EXPECT_TRUE(ds->tensors()[1].equal(at::arange(12, at::kFloat)));
}

TEST(DataLoaderTest, ExceptionThenBreakDoesNotHang) {
  L::DataLoader loader(std::make_shared<ThrowingDataset>(1000, 5),
                       L::DataLoaderOptions().num_workers(4));
  EXPECT_LIGHTNING_ERROR(
      {
        for (L::Batch& batch : loader) (void)batch;
      },
      "bad sample 5");
}

TEST(DataLoaderTest, CollateFnAndWorkerTensorsAreOrdinary) {
  std::atomic<int> calls{0};
  auto opts = L::DataLoaderOptions().batch_size(4).num_workers(2).collate_fn(
      [&calls](const std::vector<L::Batch>& samples) {
        ++calls;
        L::Batch stacked = L::collate(samples);
        return L::Batch({"x", "y"}, {stacked[1], stacked[0]});
      });
  L::DataLoader loader(index_dataset(10), opts);
  int64_t batches = 0;
  for (L::Batch& batch : loader) {
    ++batches;
    EXPECT_EQ(batch["x"].scalar_type(), at::kFloat);
    EXPECT_FALSE(batch["x"].is_inference());
    at::Tensor w = at::ones({}, at::kFloat).requires_grad_();
    (batch["x"] * w).sum().backward();
    EXPECT_TRUE(w.grad().defined());
  }
  EXPECT_EQ(batches, 3);
  EXPECT_EQ(calls.load(), 3);
}

TEST(DataLoaderTest, WithOptionsAndSize) {
  L::DataLoader loader(index_dataset(10), L::DataLoaderOptions().batch_size(3).shuffle(true));
  EXPECT_EQ(loader.size(), 4);
  L::DataLoader plain = loader.with_options(L::DataLoaderOptions().batch_size(5));
  EXPECT_EQ(plain.size(), 2);
  EXPECT_EQ(plain.dataset(), loader.dataset());
  EXPECT_FALSE(plain.options().shuffle());
  EXPECT_EQ(epoch_order(plain), iota(10));
  L::DataLoaders many{loader, plain};
  EXPECT_EQ(many.size(), 2u);
  L::DataLoaders one = loader;
  EXPECT_EQ(one[0].size(), 4);
}

TEST(DataLoaderTest, OptionErrors) {
  auto ds = index_dataset(4);
  EXPECT_LIGHTNING_ERROR(L::DataLoader(nullptr), "DataLoader got a null dataset.");
  EXPECT_LIGHTNING_ERROR(L::DataLoader(ds, L::DataLoaderOptions().batch_size(0)),
                         "DataLoader batch_size must be >= 1, got 0.");
  EXPECT_LIGHTNING_ERROR(L::DataLoader(ds, L::DataLoaderOptions().num_workers(-1)),
                         "DataLoader num_workers must be >= 0, got -1");
  EXPECT_LIGHTNING_ERROR(L::DataLoader(ds, L::DataLoaderOptions().prefetch_factor(0)),
                         "DataLoader prefetch_factor must be >= 1, got 0.");
}

// ---------------------------------------------------------------- Fashion-MNIST

namespace {

bool have_fashion_mnist() { return std::filesystem::is_directory(L::kFashionMNISTDefaultDir); }

#define REQUIRE_FASHION_MNIST() \
  if (!have_fashion_mnist())    \
  GTEST_SKIP() << "dataset-fashion-mnist is not installed at " << L::kFashionMNISTDefaultDir

// A scratch directory of fake IDX files. zlib reads uncompressed files as they
// are, so the fakes need no compression.
class FakeFashionMNIST {
 public:
  std::string dir() const { return tmp_.str(); }

  void write(const std::string& name, const std::vector<uint32_t>& header,
             const std::vector<unsigned char>& body) const {
    std::ofstream out(tmp_.path() / name, std::ios::binary);
    for (uint32_t v : header) {
      const unsigned char be[4] = {
          static_cast<unsigned char>(v >> 24), static_cast<unsigned char>(v >> 16),
          static_cast<unsigned char>(v >> 8), static_cast<unsigned char>(v)};
      out.write(reinterpret_cast<const char*>(be), 4);
    }
    out.write(reinterpret_cast<const char*>(body.data()), body.size());
  }
  void images(const std::string& split, uint32_t n, uint32_t magic = 2051, uint32_t side = 28,
              int64_t missing = 0) const {
    write(split + "-images-idx3-ubyte.gz", {magic, n, side, side},
          std::vector<unsigned char>(n * side * side - missing, 255));
  }
  void labels(const std::string& split, uint32_t n, uint32_t magic = 2049,
              unsigned char value = 3) const {
    write(split + "-labels-idx1-ubyte.gz", {magic, n}, std::vector<unsigned char>(n, value));
  }

 private:
  L::testing::TempDir tmp_{"lightning_fmnist"};
};

}  // namespace

TEST(FashionMNISTTest, LoadsDebianPackage) {
  REQUIRE_FASHION_MNIST();
  L::FashionMNIST train;
  EXPECT_EQ(train.size(), 60000);
  EXPECT_EQ(train.images().sizes(), (std::vector<int64_t>{60000, 1, 28, 28}));
  EXPECT_EQ(train.images().scalar_type(), at::kFloat);
  EXPECT_EQ(train.targets().sizes(), (std::vector<int64_t>{60000}));
  EXPECT_EQ(train.targets().scalar_type(), at::kLong);
  EXPECT_EQ(train.targets().min().item<int64_t>(), 0);
  EXPECT_EQ(train.targets().max().item<int64_t>(), 9);
  EXPECT_GE(train.images().min().item<float>(), 0.0f);
  EXPECT_LE(train.images().max().item<float>(), 1.0f);
  EXPECT_NEAR(train.images().mean().item<double>(), 0.2860, 1e-3);
  // Every class has 6000 training images.
  EXPECT_EQ(at::bincount(train.targets()).min().item<int64_t>(), 6000);

  L::FashionMNIST test(L::kFashionMNISTDefaultDir, /*train=*/false, /*normalize=*/true);
  EXPECT_EQ(test.size(), 10000);
  EXPECT_EQ(test.images().sizes(), (std::vector<int64_t>{10000, 1, 28, 28}));
  EXPECT_NEAR(test.images().mean().item<double>(), 0.0, 0.05);
  EXPECT_NEAR(test.images().std().item<double>(), 1.0, 0.05);
  EXPECT_EQ(L::FashionMNIST::classes().size(), 10u);
  EXPECT_EQ(L::FashionMNIST::classes()[9], "Ankle boot");
}

TEST(FashionMNISTTest, MissingDirectoryNamesThePackage) {
  std::string message = L::testing::error_of([] { L::FashionMNIST("/nonexistent/fmnist"); });
  EXPECT_THAT(message, HasSubstr("Fashion-MNIST directory '/nonexistent/fmnist' does not exist"));
  EXPECT_THAT(message, HasSubstr("install Debian's dataset-fashion-mnist package (apt-get install "
                                 "dataset-fashion-mnist) or pass the directory with "
                                 "FashionMNISTOptions().data_dir(...)"));
}

TEST(FashionMNISTTest, MissingFileNamesThePath) {
  FakeFashionMNIST fake;
  fake.images("train", 2);
  std::string message = L::testing::error_of([&] { L::FashionMNIST(fake.dir()); });
  EXPECT_THAT(message, HasSubstr("Fashion-MNIST file '" + fake.dir() +
                                 "/train-labels-idx1-ubyte.gz' not found; install Debian's "
                                 "dataset-fashion-mnist package"));
}

TEST(FashionMNISTTest, ReadsSmallFiles) {
  FakeFashionMNIST fake;
  fake.images("t10k", 3);
  fake.labels("t10k", 3);
  L::FashionMNIST ds(fake.dir(), /*train=*/false);
  EXPECT_EQ(ds.size(), 3);
  EXPECT_EQ(ds.images().min().item<float>(), 1.0f);
  EXPECT_EQ(to_vector(ds.targets()), (std::vector<int64_t>{3, 3, 3}));
}

TEST(FashionMNISTTest, CorruptFiles) {
  {
    FakeFashionMNIST fake;
    fake.images("train", 2, /*magic=*/1234);
    fake.labels("train", 2);
    EXPECT_LIGHTNING_ERROR(
        L::FashionMNIST(fake.dir()),
        "train-images-idx3-ubyte.gz' is not an IDX image file: magic number 1234, "
        "expected 2051.");
  }
  {
    FakeFashionMNIST fake;
    fake.images("train", 2);
    fake.labels("train", 2, /*magic=*/2051);
    EXPECT_LIGHTNING_ERROR(
        L::FashionMNIST(fake.dir()),
        "train-labels-idx1-ubyte.gz' is not an IDX label file: magic number 2051, "
        "expected 2049.");
  }
  {
    FakeFashionMNIST fake;
    fake.images("train", 2, 2051, /*side=*/27);
    fake.labels("train", 2);
    EXPECT_LIGHTNING_ERROR(L::FashionMNIST(fake.dir()),
                           "holds 27x27 images; Fashion-MNIST images are 28x28.");
  }
  {
    FakeFashionMNIST fake;
    fake.images("train", 2, 2051, 28, /*missing=*/10);
    fake.labels("train", 2);
    EXPECT_LIGHTNING_ERROR(
        L::FashionMNIST(fake.dir()),
        "train-images-idx3-ubyte.gz' is truncated: expected 1568 bytes of pixels, read "
        "1558");
  }
  {
    FakeFashionMNIST fake;
    fake.write("train-images-idx3-ubyte.gz", {2051, 2}, {});
    EXPECT_LIGHTNING_ERROR(L::FashionMNIST(fake.dir()),
                           "is truncated: expected 16 bytes of header, read 8");
  }
  {
    FakeFashionMNIST fake;
    fake.write("train-images-idx3-ubyte.gz", {2051, 20000000, 28, 28}, {});
    EXPECT_LIGHTNING_ERROR(
        L::FashionMNIST(fake.dir()),
        "claims 20000000 images, more than any Fashion-MNIST file; the file is corrupt.");
  }
  {
    FakeFashionMNIST fake;
    fake.images("train", 2);
    fake.write("train-labels-idx1-ubyte.gz", {2049, 20000000}, {});
    EXPECT_LIGHTNING_ERROR(
        L::FashionMNIST(fake.dir()),
        "claims 20000000 labels, more than any Fashion-MNIST file; the file is corrupt.");
  }
  {
    FakeFashionMNIST fake;
    fake.images("train", 2);
    fake.labels("train", 3);
    EXPECT_LIGHTNING_ERROR(
        L::FashionMNIST(fake.dir()),
        "train-labels-idx1-ubyte.gz' holds 3 labels but the image file holds 2 images");
  }
  {
    FakeFashionMNIST fake;
    fake.images("train", 2);
    fake.labels("train", 2, 2049, /*value=*/12);
    EXPECT_LIGHTNING_ERROR(
        L::FashionMNIST(fake.dir()),
        "holds label 12; Fashion-MNIST labels are 0..9, so the file is corrupt.");
  }
  {
    FakeFashionMNIST fake;
    // A gzip header followed by an invalid deflate stream.
    std::vector<unsigned char> bytes = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    bytes.insert(bytes.end(), 64, 0xff);
    fake.write("train-images-idx3-ubyte.gz", {}, bytes);
    fake.labels("train", 2);
    EXPECT_LIGHTNING_ERROR(L::FashionMNIST(fake.dir()), "train-images-idx3-ubyte.gz' is corrupt (");
  }
}

// ---------------------------------------------------------------- data module

TEST(FashionMNISTDataModuleTest, SplitsAndLoaders) {
  REQUIRE_FASHION_MNIST();
  L::FashionMNISTDataModule data;
  data.prepare_data();
  data.setup(L::Stage::Fit);
  L::DataLoaders train = data.train_dataloader();
  L::DataLoaders val = data.val_dataloader();
  ASSERT_EQ(train.size(), 1u);
  ASSERT_EQ(val.size(), 1u);
  EXPECT_EQ(train[0].dataset()->size(), 55000);
  EXPECT_EQ(val[0].dataset()->size(), 5000);
  EXPECT_EQ(train[0].size(), 860);  // ceil(55000 / 64)
  EXPECT_EQ(val[0].size(), 79);
  EXPECT_TRUE(train[0].options().shuffle());
  EXPECT_FALSE(val[0].options().shuffle());

  data.setup(L::Stage::Validate);  // loaded once: the same datasets
  EXPECT_EQ(data.val_dataloader()[0].dataset(), val[0].dataset());

  data.setup(L::Stage::Test);
  L::DataLoaders test = data.test_dataloader();
  ASSERT_EQ(test.size(), 1u);
  EXPECT_EQ(test[0].dataset()->size(), 10000);
  EXPECT_EQ(test[0].size(), 157);
  EXPECT_FALSE(test[0].options().shuffle());
  data.setup(L::Stage::Predict);
  EXPECT_EQ(data.predict_dataloader()[0].dataset(), test[0].dataset());

  L::Batch batch = *train[0].begin();
  EXPECT_EQ(batch[0].sizes(), (std::vector<int64_t>{64, 1, 28, 28}));
  EXPECT_EQ(batch[1].scalar_type(), at::kLong);
  // [0, 1] by default, as ToTensor() (and as the FashionMNIST dataset's default).
  EXPECT_GE(batch[0].min().item<float>(), 0.0f);
  EXPECT_LE(batch[0].max().item<float>(), 1.0f);
  L::FashionMNISTDataModule standardised(L::FashionMNISTOptions().normalize(true));
  standardised.setup(L::Stage::Test);
  EXPECT_LT((*standardised.test_dataloader()[0].begin())[0].min().item<float>(), 0.0f);
}

TEST(FashionMNISTDataModuleTest, OptionsAndReproducibleSplit) {
  REQUIRE_FASHION_MNIST();
  auto opts = L::FashionMNISTOptions().batch_size(1000).num_workers(2).val_size(0);
  L::FashionMNISTDataModule no_val(opts);
  no_val.setup(L::Stage::Fit);
  EXPECT_EQ(no_val.train_dataloader()[0].size(), 60);
  EXPECT_EQ(no_val.train_dataloader()[0].options().num_workers(), 2);
  EXPECT_TRUE(no_val.val_dataloader().empty());

  auto val_set = [](uint64_t seed) {
    L::FashionMNISTDataModule data(L::FashionMNISTOptions().val_size(100).split_seed(seed));
    data.setup(L::Stage::Validate);
    L::Batch all =
        *data.val_dataloader()[0].with_options(L::DataLoaderOptions().batch_size(100)).begin();
    return all[0];
  };
  at::Tensor a = val_set(1), b = val_set(1), c = val_set(2);
  EXPECT_TRUE(a.equal(b));
  EXPECT_FALSE(a.equal(c));
}

TEST(FashionMNISTDataModuleTest, Errors) {
  EXPECT_LIGHTNING_ERROR(L::FashionMNISTDataModule(L::FashionMNISTOptions().batch_size(0)),
                         "FashionMNISTOptions batch_size must be >= 1, got 0.");
  EXPECT_LIGHTNING_ERROR(L::FashionMNISTDataModule(L::FashionMNISTOptions().num_workers(-2)),
                         "FashionMNISTOptions num_workers must be >= 0, got -2");
  EXPECT_LIGHTNING_ERROR(
      L::FashionMNISTDataModule(L::FashionMNISTOptions().val_size(60000)),
      "FashionMNISTOptions val_size must be in [0, 60000), got 60000 (the training set "
      "has 60000 images).");
  EXPECT_LIGHTNING_ERROR(L::FashionMNISTDataModule(L::FashionMNISTOptions().val_size(-1)),
                         "FashionMNISTOptions val_size must be in [0, 60000), got -1");

  L::FashionMNISTDataModule data;
  EXPECT_LIGHTNING_ERROR(
      data.train_dataloader(),
      "FashionMNISTDataModule::train_dataloader() was called before setup(Stage::Fit); "
      "the Trainer calls setup, or call data.setup(L::Stage::Fit) yourself.");
  EXPECT_LIGHTNING_ERROR(data.val_dataloader(),
                         "val_dataloader() was called before setup(Stage::Fit)");
  EXPECT_LIGHTNING_ERROR(data.test_dataloader(),
                         "test_dataloader() was called before setup(Stage::Test)");
  EXPECT_LIGHTNING_ERROR(data.predict_dataloader(),
                         "predict_dataloader() was called before setup(Stage::Predict)");

  L::FashionMNISTDataModule missing(L::FashionMNISTOptions().data_dir("/nonexistent/fmnist"));
  EXPECT_LIGHTNING_ERROR(missing.prepare_data(), "apt-get install dataset-fashion-mnist");
  EXPECT_LIGHTNING_ERROR(missing.setup(L::Stage::Fit),
                         "Fashion-MNIST directory '/nonexistent/fmnist'");
  EXPECT_LIGHTNING_ERROR(missing.setup(L::Stage::Test), "dataset-fashion-mnist");

  FakeFashionMNIST partial;
  partial.images("train", 2);
  partial.labels("train", 2);
  L::FashionMNISTDataModule small(L::FashionMNISTOptions().data_dir(partial.dir()).val_size(5));
  EXPECT_LIGHTNING_ERROR(small.prepare_data(), "t10k-images-idx3-ubyte.gz' not found");
  EXPECT_LIGHTNING_ERROR(
      small.setup(L::Stage::Fit),
      "FashionMNISTOptions val_size (5) must be smaller than the training set (2 "
      "images).");
}
