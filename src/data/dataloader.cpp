#include "lightning/data/dataloader.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/cuda.h>

#include <condition_variable>
#include <exception>
#include <mutex>
#include <numeric>
#include <thread>

#include "data/epoch_order.h"
#include "data/worker_threads.h"
#include "lightning/error.h"

namespace lightning {
namespace {

// A seed for this epoch's shuffle: derived from `generator_seed` when set, else
// drawn from libtorch's default generator so that torch::manual_seed decides it.
uint64_t draw_shuffle_seed(const DataLoaderOptions& options, int64_t epoch) {
  if (options.generator_seed()) return *options.generator_seed() + static_cast<uint64_t>(epoch);
  at::Generator global = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(global.mutex());
  return global.get<at::CPUGeneratorImpl>()->random64();
}

// Samples in `shard` of an epoch of n samples: ceil(n / R) with padding, else
// the count of i in [0, n) with i % R == rank.
int64_t shard_size(int64_t n, const DataShard& shard) {
  const int64_t r = shard.num_replicas;
  return shard.pad ? (n + r - 1) / r : (n - shard.rank + r - 1) / r;
}

int64_t num_batches_of(int64_t samples, const DataLoaderOptions& options) {
  const int64_t bs = options.batch_size();
  return options.drop_last() ? samples / bs : (samples + bs - 1) / bs;
}

// The part of the epoch order `order` that `shard` yields, as torch 1.13's
// DistributedSampler(drop_last=False) cuts it: its padding appends the order's
// beginning, repeated as often as needed, so padded position i holds order[i % n];
// rank r takes positions r, r + R, r + 2R, ... Without padding those positions
// are all < n.
std::vector<int64_t> take_shard(std::vector<int64_t> order, const DataShard& shard) {
  if (shard.num_replicas == 1) return order;
  const int64_t n = static_cast<int64_t>(order.size());
  const int64_t count = shard_size(n, shard);
  std::vector<int64_t> out;
  out.reserve(count);
  for (int64_t j = 0; j < count; ++j) {
    out.push_back(order[(shard.rank + j * shard.num_replicas) % n]);
  }
  return out;
}

// Threads that build an epoch's batches ahead of the consumer: the workers, or
// with num_workers == 0 the one background_prefetch thread (or none).
int64_t background_threads(const DataLoaderOptions& options, const Dataset& dataset) {
  if (options.num_workers() > 0) return options.num_workers();
  if (options.background_prefetch()) return *options.background_prefetch() ? 1 : 0;
  return dataset.safe_to_prefetch() && !options.collate_fn() &&
                 detail::core_free_beside_intra_op_threads()
             ? 1
             : 0;
}

}  // namespace

namespace detail {

std::vector<int64_t> epoch_order(int64_t dataset_size, const DataLoaderOptions& options,
                                 const DataShard& shard, uint64_t shuffle_seed) {
  std::vector<int64_t> full;
  if (options.shuffle() && dataset_size > 0) {
    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(shuffle_seed);
    const at::Tensor perm = at::randperm(dataset_size, generator, at::TensorOptions(at::kLong));
    const int64_t* p = perm.data_ptr<int64_t>();
    full.assign(p, p + dataset_size);
  } else {
    full.resize(dataset_size);
    std::iota(full.begin(), full.end(), int64_t{0});
  }
  return take_shard(std::move(full), shard);
}

std::vector<int64_t> current_epoch_order(const DataLoader& loader) {
  return epoch_order(loader.dataset()->size(), loader.options(), loader.shard(),
                     loader.current_shuffle_seed());
}

}  // namespace detail

// One pass over the dataset. With workers (the num_workers worker threads, or
// the background_prefetch thread), batch k is built by worker
// k % num_workers into slot k % capacity; the consumer takes the slots in order,
// and a worker may start batch k only once batch k - capacity has been taken, so
// at most `capacity` batches exist ahead of the consumer. Workers hold a raw
// pointer to the Epoch: the last Iterator's destruction stops and joins them.
struct DataLoader::Epoch {
  struct Slot {
    Batch batch;
    std::exception_ptr error;
    bool ready = false;
  };

  Epoch(std::shared_ptr<Dataset> dataset_in, const DataLoaderOptions& options_in,
        const DataShard& shard, uint64_t shuffle_seed, int64_t first_batch)
      : dataset(std::move(dataset_in)), options(options_in) {
    order = detail::epoch_order(dataset->size(), options, shard, shuffle_seed);
    num_batches = num_batches_of(static_cast<int64_t>(order.size()), options);
    index = first_batch;
    consumed = first_batch;
    indices.reserve(options.batch_size());
    if (options.pin_memory()) {
      pin = torch::cuda::is_available();
      if (!pin) {
        detail::warn_once(
            "DataLoader pin_memory is true but this libtorch sees no CUDA device, so pinned "
            "memory is not used (the batches stay in ordinary memory).");
      }
    }
    const int64_t threads = background_threads(options, *dataset);
    if (threads > 0 && num_batches > first_batch) start_workers(threads);
  }

  ~Epoch() { shutdown(); }

  void shutdown() {
    if (workers.empty()) return;
    {
      std::lock_guard<std::mutex> lock(mutex);
      stop = true;
    }
    worker_cv.notify_all();
    for (auto& w : workers) w.join();
    workers.clear();
  }

  Epoch(const Epoch&) = delete;
  Epoch& operator=(const Epoch&) = delete;

  bool exhausted() const { return index >= num_batches; }

  Batch build(int64_t k, std::vector<int64_t>& buffer) const {
    const int64_t bs = options.batch_size();
    const int64_t first = k * bs;
    const int64_t last = std::min<int64_t>(first + bs, static_cast<int64_t>(order.size()));
    buffer.assign(order.begin() + first, order.begin() + last);
    Batch batch;
    if (!options.collate_fn()) {
      batch = dataset->get_batch(buffer);
    } else {
      std::vector<Batch> samples;
      samples.reserve(buffer.size());
      for (int64_t i : buffer) samples.push_back(dataset->get(i));
      batch = options.collate_fn()(samples);
    }
    return pin ? batch.pin_memory() : batch;
  }

  // Makes `current` hold batch `index`, or `error` the exception building it raised.
  void fetch() {
    fetched = true;
    if (workers.empty()) {
      try {
        current = build(index, indices);
      } catch (...) {
        error = std::current_exception();
      }
      return;
    }
    Slot& slot = slots[index % capacity];
    {
      std::unique_lock<std::mutex> lock(mutex);
      consumer_cv.wait(lock, [&] { return slot.ready; });
      current = std::move(slot.batch);
      error = slot.error;
      slot.batch = Batch();
      slot.error = nullptr;
      slot.ready = false;
      ++consumed;
    }
    worker_cv.notify_all();
  }

  Batch& get() {
    LIGHTNING_CHECK(!exhausted(), "dereferenced a DataLoader iterator past the end of the epoch.");
    if (!fetched) fetch();
    if (error) std::rethrow_exception(error);
    return current;
  }

  void advance() {
    LIGHTNING_CHECK(!exhausted(), "advanced a DataLoader iterator past the end of the epoch.");
    // A skipped batch still has to be taken off its worker's slot.
    if (!fetched && !workers.empty()) fetch();
    ++index;
    fetched = false;
    error = nullptr;
    current = Batch();
  }

  void start_workers(int64_t threads) {
    const int64_t remaining = num_batches - index;
    const int64_t num_workers = std::min(threads, remaining);
    capacity = std::min(threads * options.prefetch_factor(), remaining);
    slots.resize(capacity);
    workers.reserve(num_workers);
    try {
      for (int64_t w = 0; w < num_workers; ++w) {
        // The first batch is fixed now: the consumer may advance `index` before
        // the thread runs.
        const int64_t first = index + w;
        workers.emplace_back([this, first, num_workers] { work(first, num_workers); });
      }
    } catch (...) {
      // The destructor does not run for a half-built Epoch: join what started.
      shutdown();
      throw;
    }
  }

  // Worker threads run with libtorch's thread-local defaults (grad mode on,
  // inference mode off), so their tensors are ordinary tensors for autograd,
  // and with one intra-op thread, so that they leave the cores to the step.
  void work(int64_t first, int64_t num_workers) {
    detail::use_one_intra_op_thread();
    std::vector<int64_t> buffer;
    buffer.reserve(options.batch_size());
    for (int64_t k = first; k < num_batches; k += num_workers) {
      {
        std::unique_lock<std::mutex> lock(mutex);
        worker_cv.wait(lock, [&] { return stop || k < consumed + capacity; });
        if (stop) return;
      }
      Slot result;
      try {
        result.batch = build(k, buffer);
      } catch (...) {
        result.error = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (stop) return;
        Slot& slot = slots[k % capacity];
        // Moved, not copied: the worker keeps no reference to the batch or the
        // exception once it lets go of the lock, so the consumer's thread, the
        // one that looks at them, is also the one that destroys them.
        slot.batch = std::move(result.batch);
        slot.error = std::move(result.error);
        slot.ready = true;
      }
      consumer_cv.notify_one();
    }
  }

  std::shared_ptr<Dataset> dataset;
  DataLoaderOptions options;
  std::vector<int64_t> order;
  int64_t num_batches = 0;
  bool pin = false;  // pin_memory asked for and CUDA present

  // Consumer state.
  int64_t index = 0;
  bool fetched = false;
  Batch current;
  std::exception_ptr error;
  std::vector<int64_t> indices;

  // Worker state, guarded by `mutex`.
  std::vector<std::thread> workers;
  std::vector<Slot> slots;
  int64_t capacity = 0;
  int64_t consumed = 0;
  bool stop = false;
  std::mutex mutex;
  std::condition_variable consumer_cv;
  std::condition_variable worker_cv;
};

struct DataLoader::Progress {
  int64_t epochs_started = 0;
  uint64_t shuffle_seed = 0;
  // Set by resume_epoch, consumed by the next begin().
  bool resume = false;
  uint64_t resume_seed = 0;
  int64_t resume_first_batch = 0;
};

DataLoader::DataLoader(std::shared_ptr<Dataset> dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)),
      options_(std::move(options)),
      progress_(std::make_shared<Progress>()) {
  LIGHTNING_CHECK(dataset_ != nullptr, "DataLoader got a null dataset.");
  LIGHTNING_CHECK(options_.batch_size() >= 1, "DataLoader batch_size must be >= 1, got ",
                  options_.batch_size(), ".");
  LIGHTNING_CHECK(options_.num_workers() >= 0, "DataLoader num_workers must be >= 0, got ",
                  options_.num_workers(), " (0 loads batches in the calling thread).");
  LIGHTNING_CHECK(options_.prefetch_factor() >= 1, "DataLoader prefetch_factor must be >= 1, got ",
                  options_.prefetch_factor(), ".");
}

DataLoader::Iterator DataLoader::begin() {
  Progress& p = *progress_;
  const int64_t epoch = p.epochs_started++;
  int64_t first_batch = 0;
  if (p.resume) {
    p.resume = false;
    p.shuffle_seed = p.resume_seed;
    first_batch = p.resume_first_batch;
  } else {
    p.shuffle_seed =
        options_.shuffle() && dataset_->size() > 0 ? draw_shuffle_seed(options_, epoch) : 0;
  }
  return Iterator(std::make_shared<Epoch>(dataset_, options_, shard_, p.shuffle_seed, first_batch));
}

DataLoader::Iterator DataLoader::end() { return Iterator(); }

int64_t DataLoader::size() const {
  return num_batches_of(shard_size(dataset_->size(), shard_), options_);
}

bool DataLoader::builds_in_background() const {
  return background_threads(options_, *dataset_) > 0;
}

int64_t DataLoader::epochs_started() const { return progress_->epochs_started; }

uint64_t DataLoader::current_shuffle_seed() const { return progress_->shuffle_seed; }

void DataLoader::set_epoch(int64_t epoch) {
  LIGHTNING_CHECK(epoch >= 0, "DataLoader::set_epoch: epoch must be >= 0, got ", epoch, ".");
  progress_->epochs_started = epoch;
}

void DataLoader::resume_epoch(int64_t epoch_index, uint64_t shuffle_seed, int64_t first_batch) {
  LIGHTNING_CHECK(epoch_index >= 0, "DataLoader::resume_epoch: epoch_index must be >= 0, got ",
                  epoch_index, ".");
  LIGHTNING_CHECK(first_batch >= 0 && first_batch <= size(),
                  "DataLoader::resume_epoch: first_batch must be in [0, ", size(),
                  "] (the batches of an epoch), got ", first_batch,
                  ". Was the checkpoint written with another dataset or batch size?");
  Progress& p = *progress_;
  p.epochs_started = epoch_index;
  p.resume = true;
  p.resume_seed = shuffle_seed;
  p.resume_first_batch = first_batch;
}

DataLoader DataLoader::with_options(DataLoaderOptions options) const {
  DataLoader copy(dataset_, std::move(options));
  copy.shard_ = shard_;
  copy.progress_ = progress_;
  return copy;
}

DataLoader DataLoader::with_shard(int64_t num_replicas, int64_t rank, bool pad) const {
  LIGHTNING_CHECK(num_replicas >= 1, "DataLoader::with_shard: num_replicas must be >= 1, got ",
                  num_replicas, ". Pass the number of processes (the world size).");
  LIGHTNING_CHECK(rank >= 0 && rank < num_replicas, "DataLoader::with_shard: rank must be in [0, ",
                  num_replicas, ") (num_replicas = ", num_replicas, "), got ", rank,
                  ". Pass this process's global rank.");
  DataLoader copy(*this);
  copy.shard_ = DataShard{num_replicas, rank, pad};
  // The shard gets its own Progress, starting from this loader's (epochs
  // started, current seed), rather than sharing it as with_options copies do:
  // resume_epoch's first_batch counts the shard's batches, so a resume pending
  // on one must never be taken by the unsharded loader's begin() or by another
  // shard of it (the Trainer may shard the same user loader for training, with
  // padding, and for validation, without). The Trainer drives the shard it
  // keeps with set_epoch/resume_epoch, so nothing needs to flow back. A resume
  // pending on this loader is not carried: it counted unsharded batches.
  copy.progress_ = std::make_shared<Progress>(*progress_);
  copy.progress_->resume = false;
  return copy;
}

DataLoader::Iterator::Iterator(std::shared_ptr<Epoch> epoch) : epoch_(std::move(epoch)) {}

Batch& DataLoader::Iterator::operator*() {
  LIGHTNING_CHECK(epoch_ != nullptr, "dereferenced an end (or default) DataLoader iterator.");
  return epoch_->get();
}

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  LIGHTNING_CHECK(epoch_ != nullptr, "advanced an end (or default) DataLoader iterator.");
  epoch_->advance();
  return *this;
}

bool DataLoader::Iterator::operator==(const Iterator& other) const {
  const bool this_end = !epoch_ || epoch_->exhausted();
  const bool other_end = !other.epoch_ || other.epoch_->exhausted();
  if (this_end || other_end) return this_end == other_end;
  return epoch_ == other.epoch_;
}

}  // namespace lightning
