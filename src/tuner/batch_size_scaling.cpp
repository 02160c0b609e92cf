// The batch-size search (Lightning's tuner/batch_size_scaling.py): trials of
// steps_per_trial training steps, doubling the batch size until a trial runs
// out of memory ("power"), then bisecting ("binsearch"). Out of memory means
// the errors Lightning recognises (CUDA, cuDNN, CPU allocator) and, with
// max_memory_bytes, lightning.cpp's CPU ceiling: an allocator wrapper that
// fails like the CPU allocator when a trial's live allocations exceed it.
#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>

#include <atomic>
#include <cstring>
#include <tuple>
#include <utility>

#include "lightning/error.h"
#include "lightning/tuner.h"
#include "tuner/tuning.h"

namespace lightning {

namespace detail {
namespace {

// Wraps the CPU allocator while a trial runs. Installed with the highest
// priority (255) so that it wins over any allocator already set; the
// previous one goes back with the same priority afterwards. Never destroyed:
// tensors allocated through it may outlive the search.
class CeilingAllocator final : public c10::Allocator {
 public:
  static CeilingAllocator& instance() {
    static auto* allocator = new CeilingAllocator();
    return *allocator;
  }

  // libtorch 1.13 declares allocate const, 2.x not: both are defined, and
  // the one the base class declares overrides it.
  c10::DataPtr allocate(size_t n) const { return const_cast<CeilingAllocator*>(this)->take(n); }
  c10::DataPtr allocate(size_t n) { return take(n); }
  // Pure virtual in libtorch 2.x, absent in 1.13.
  void copy_data(void* dest, const void* src, std::size_t count) const {
    if (count > 0) std::memcpy(dest, src, count);
  }

  void install(int64_t limit) {
    limit_ = limit;
    in_use_ = 0;
    ++generation_;
    inner_ = c10::GetCPUAllocator();
    c10::SetCPUAllocator(this, /*priority=*/255);
  }
  void uninstall() {
    c10::SetCPUAllocator(inner_, /*priority=*/255);
    ++generation_;  // what the trial left allocated no longer counts
  }

 private:
  struct Tracked {
    c10::DataPtr inner;
    size_t bytes;
    int64_t generation;
  };

  c10::DataPtr take(size_t n) {
    const auto bytes = static_cast<int64_t>(n);
    const int64_t now = in_use_.fetch_add(bytes) + bytes;
    if (now > limit_) {
      in_use_ -= bytes;
      // The message Lightning's is_out_of_cpu_memory recognises.
      throw Error(c10::str("DefaultCPUAllocator: can't allocate memory: you tried to allocate ", n,
                           " bytes, which would bring this trial's allocations to ", now,
                           " bytes, over BatchSizeFinderOptions::max_memory_bytes (", limit_,
                           ")."));
    }
    c10::DataPtr inner = inner_->allocate(n);
    void* data = inner.get();
    const c10::Device device = inner.device();
    auto* tracked = new Tracked{std::move(inner), n, generation_.load()};
    return c10::DataPtr(data, tracked, &CeilingAllocator::release, device);
  }

  static void release(void* context) {
    auto* tracked = static_cast<Tracked*>(context);
    CeilingAllocator& self = instance();
    if (tracked->generation == self.generation_.load()) {
      self.in_use_ -= static_cast<int64_t>(tracked->bytes);
    }
    delete tracked;
  }

  c10::Allocator* inner_ = nullptr;
  int64_t limit_ = 0;
  std::atomic<int64_t> in_use_{0};
  std::atomic<int64_t> generation_{0};
};

// Lightning's is_oom_error: CUDA out of memory, cuDNN's NOT_SUPPORTED, the
// CPU allocator's failure.
bool is_oom_error(const std::exception& error) {
  const std::string message = error.what();
  auto has = [&](const char* s) { return message.find(s) != std::string::npos; };
  return (has("CUDA") && has("out of memory")) || has("cuDNN error: CUDNN_STATUS_NOT_SUPPORTED.") ||
         has("DefaultCPUAllocator: can't allocate memory");
}

class Search {
 public:
  Search(TrainerImpl& t, LightningModule& model, TuningRun& run, const BatchSizeFinderOptions& o)
      : t_(t), model_(model), run_(run), o_(o) {}

  // Lightning's _adjust_batch_size: returns the new size and whether it changed.
  std::pair<int64_t, bool> adjust(double factor, std::optional<int64_t> value, const char* desc) {
    const int64_t batch_size = get_hparam(t_, model_, o_.batch_arg_name())
                                   .as<int64_t>("hparams['" + o_.batch_arg_name() + "']");
    t_.setup_train_data(model_);
    const int64_t length = t_.loaders_.train[0].dataset()->size();
    if (batch_size >= length) {
      tuner_info(t_, "The batch size " + std::to_string(batch_size) +
                         " is greater or equal than the length of your dataset: " +
                         std::to_string(length) + ".");
      return {batch_size, false};
    }
    int64_t new_size =
        value ? *value : static_cast<int64_t>(static_cast<double>(batch_size) * factor);
    if (new_size > o_.max_val()) {
      if (desc) {
        tuner_info(t_, "Batch size " + std::to_string(new_size) + " exceeds max_val limit " +
                           std::to_string(o_.max_val()) + ", capping at " +
                           std::to_string(o_.max_val()));
      }
      new_size = o_.max_val();
    }
    if (desc) {
      tuner_info(t_, "Batch size " + std::to_string(batch_size) + " " + desc +
                         ", trying batch size " + std::to_string(new_size));
    }
    set_hparam(t_, model_, o_.batch_arg_name(), new_size);
    return {new_size, new_size != batch_size};
  }

  // Lightning's _reset_dataloaders: the loaders again from their hooks.
  void reset_dataloaders() {
    t_.loaders_.train = DataLoaders();
    t_.train_data_ready_ = false;
    t_.setup_train_data(model_);
    t_.loaders_.val = DataLoaders();
  }

  // One trial; false when it ran out of memory (other errors propagate).
  bool trial() {
    const Hook hook = t_.current_hook_;
    CeilingAllocator* ceiling = o_.max_memory_bytes() ? &CeilingAllocator::instance() : nullptr;
    if (ceiling) ceiling->install(*o_.max_memory_bytes());
    try {
      run_.run_loop();
    } catch (const std::exception& error) {
      if (ceiling) ceiling->uninstall();
      t_.current_hook_ = hook;
      t_.training_ = false;
      if (!is_oom_error(error)) throw;
      return false;
    }
    if (ceiling) ceiling->uninstall();
    return true;
  }

  // Lightning stops once the size to try reaches max_val (without trying it).
  bool at_max_val(int64_t size) {
    if (size < o_.max_val()) return false;
    tuner_info(t_, "Reached the maximum batch size limit of " + std::to_string(o_.max_val()) +
                       ". Stopping search.");
    return true;
  }

  int64_t power(int64_t new_size) {
    bool any_success = false;
    for (int64_t i = 0; i < o_.max_trials(); ++i) {
      if (at_max_val(new_size)) break;
      if (trial()) {
        if (i + 1 >= o_.max_trials()) break;
        bool changed = false;
        std::tie(new_size, changed) = adjust(2.0, std::nullopt, "succeeded");
        if (!changed) break;
        reset_dataloaders();
        any_success = true;
      } else {
        new_size = adjust(0.5, std::nullopt, "failed").first;
        reset_dataloaders();
        if (any_success) break;
      }
    }
    return new_size;
  }

  int64_t binsearch(int64_t new_size) {
    int64_t low = 1;
    std::optional<int64_t> high;
    int64_t count = 0;
    while (true) {
      if (at_max_val(new_size)) break;
      if (trial()) {
        if (++count >= o_.max_trials()) break;
        low = new_size;
        bool changed = false;
        if (high) {
          if (*high - low <= 1) break;
          std::tie(new_size, changed) = adjust(1.0, (*high + low) / 2, "succeeded");
        } else {
          std::tie(new_size, changed) = adjust(2.0, std::nullopt, "succeeded");
        }
        if (!changed) break;
        reset_dataloaders();
      } else {
        high = new_size;
        new_size = adjust(1.0, (*high + low) / 2, "failed").first;
        reset_dataloaders();
        if (*high - low <= 1) break;
      }
    }
    if (o_.margin() > 0) {
      const int64_t reduced = std::max<int64_t>(
          1, static_cast<int64_t>(static_cast<double>(new_size) * (1 - o_.margin())));
      if (reduced != new_size) {
        tuner_info(t_, "Applying margin of " + std::to_string(o_.margin() * 100) +
                           "%, reducing batch size from " + std::to_string(new_size) + " to " +
                           std::to_string(reduced));
        new_size = reduced;
        set_hparam(t_, model_, o_.batch_arg_name(), new_size);
      }
    }
    return new_size;
  }

 private:
  TrainerImpl& t_;
  LightningModule& model_;
  TuningRun& run_;
  const BatchSizeFinderOptions& o_;
};

}  // namespace

void check_batch_size_finder(const BatchSizeFinderOptions& o) {
  checked_batch_size_mode(o.mode());
  check_margin(o.margin());
  LIGHTNING_CHECK(o.steps_per_trial() >= 1,
                  "the batch size finder's steps_per_trial must be >= 1, got ", o.steps_per_trial(),
                  ".");
  LIGHTNING_CHECK(o.init_val() >= 1, "the batch size finder's init_val must be >= 1, got ",
                  o.init_val(), ".");
  LIGHTNING_CHECK(o.max_trials() >= 1, "the batch size finder's max_trials must be >= 1, got ",
                  o.max_trials(), ".");
  LIGHTNING_CHECK(o.max_val() >= 1, "the batch size finder's max_val must be >= 1, got ",
                  o.max_val(), ".");
  LIGHTNING_CHECK(!o.max_memory_bytes() || *o.max_memory_bytes() > 0,
                  "the batch size finder's max_memory_bytes must be > 0 (or unset), got ",
                  o.max_memory_bytes().value_or(0), ".");
}

void check_batch_size_setup(Trainer& trainer, LightningModule& model, const std::string& name) {
  TrainerImpl& t = TrainerAccess::impl(trainer);
  LIGHTNING_CHECK(t.world_size() == 1,
                  "The batch size finder is not supported with distributed strategies (world size ",
                  t.world_size(), ").");
  LIGHTNING_CHECK(t.loaders_.train.empty(),
                  "The batch size finder cannot be used with dataloaders passed directly to fit(). "
                  "Return the loader from train_dataloader() of the module or a datamodule, built "
                  "from the \"",
                  name, "\" hparam.");
  LIGHTNING_CHECK(has_hparam(t, model, name), "Field \"", name,
                  "\" not found in the module's hparams nor the datamodule's. Save it with "
                  "save_hyperparameters (and build the train loader from it), or pass another "
                  "batch_arg_name.");
}

std::optional<int64_t> run_scale_batch_size(Trainer& trainer, LightningModule& model,
                                            const BatchSizeFinderOptions& options) {
  TrainerImpl& t = TrainerAccess::impl(trainer);
  check_batch_size_finder(options);
  const std::string mode = checked_batch_size_mode(options.mode());
  if (t.options_.fast_dev_run().enabled()) {
    t.warn_once("Skipping batch size scaler since `fast_dev_run` is enabled.");
    return std::nullopt;
  }
  LIGHTNING_CHECK(t.stage_ == Stage::Fit,
                  "lightning.cpp's batch size finder runs in fit only (called during ",
                  to_string(t.stage_), ").");
  if (t.fit_loop_.resuming()) {
    t.warn_once(
        "Skipping the batch size finder: this fit resumes from a checkpoint, and the trials "
        "would replace the position it resumes from.");
    return std::nullopt;
  }

  TuningRun run(t, model, "scale_batch_size");
  int64_t new_size = 0;
  try {
    // Lightning's __scale_batch_reset_params.
    t.options_.limit_train_batches(BatchLimit(1.0));
    t.options_.limit_val_batches(BatchLimit(options.steps_per_trial()));
    t.fit_loop_.max_steps = t.fit_loop_.counters().global_step + options.steps_per_trial();
    Search search(t, model, run, options);
    new_size = search.adjust(1.0, options.init_val(), nullptr).first;
    search.reset_dataloaders();
    new_size = mode == "power" ? search.power(new_size) : search.binsearch(new_size);
    tuner_info(t, "Finished batch size finder, will continue with full run using batch size " +
                      std::to_string(new_size));
  } catch (...) {
    run.restore(/*reload_data=*/true);
    throw;
  }
  run.restore(/*reload_data=*/true);
  return new_size;
}

}  // namespace detail

}  // namespace lightning
