// Throughput: Fabric's rolling throughput over a window of running totals.
#include <algorithm>
#include <numeric>

#include "lightning/callbacks/throughput_monitor.h"
#include "lightning/error.h"

namespace lightning {
namespace {

// Fabric's _MonotonicWindow.append: values must increase; the oldest drops
// out once the window is full.
template <typename T>
void append_increasing(std::deque<T>& window, T value, int64_t max_length, const char* what) {
  LIGHTNING_CHECK(window.empty() || window.back() < value, "Throughput.update: expected ", what,
                  " to increase, last: ", window.back(), ", current: ", value,
                  ". Pass running totals since the start, not per-batch values.");
  window.push_back(value);
  if (static_cast<int64_t>(window.size()) > max_length) window.pop_front();
}

}  // namespace

Throughput::Throughput(ThroughputOptions options) : options_(std::move(options)) {
  LIGHTNING_CHECK(options_.world_size() > 0, "Throughput: world_size must be > 0, got ",
                  options_.world_size(), ".");
  LIGHTNING_CHECK(options_.window_size() > 1,
                  "Throughput: window_size must be > 1 (the rates use the difference between "
                  "the first and last values of the window), got ",
                  options_.window_size(), ".");
}

void Throughput::update(double time, int64_t batches, int64_t samples,
                        std::optional<int64_t> lengths, std::optional<double> flops) {
  const int64_t n = options_.window_size();
  append_increasing(time_, time, n, "the time");
  LIGHTNING_CHECK(samples >= batches, "Throughput.update: expected samples (", samples,
                  ") to be greater or equal than batches (", batches, ").");
  append_increasing(batches_, batches, n, "the batches");
  append_increasing(samples_, samples, n, "the samples");
  if (lengths) {
    LIGHTNING_CHECK(*lengths >= samples, "Throughput.update: expected lengths (", *lengths,
                    ") to be greater or equal than samples (", samples, ").");
    append_increasing(lengths_, *lengths, n, "the lengths");
    LIGHTNING_CHECK(samples_.size() == lengths_.size(), "Throughput.update: lengths were passed (",
                    lengths_.size(), " times) but not with every samples update (", samples_.size(),
                    "); pass lengths on every call or never.");
  }
  if (flops) {
    // The sum over the processes.
    flops_.push_back(*flops * static_cast<double>(options_.world_size()));
    if (static_cast<int64_t>(flops_.size()) > n) flops_.pop_front();
  }
}

Metrics Throughput::compute() const {
  Metrics metrics;
  if (time_.empty()) return metrics;
  const std::string device = "device" + options_.separator();
  const auto world = static_cast<double>(options_.world_size());
  const bool global = options_.world_size() > 1;
  metrics["time"] = time_.back();
  metrics["batches"] = static_cast<double>(batches_.back());
  metrics["samples"] = static_cast<double>(samples_.back());
  if (!lengths_.empty()) metrics["lengths"] = static_cast<double>(lengths_.back());
  const auto n = static_cast<size_t>(options_.window_size());
  const double elapsed_time = time_.back() - time_.front();
  if (time_.size() == n) {
    const auto elapsed_batches = static_cast<double>(batches_.back() - batches_.front());
    const auto elapsed_samples = static_cast<double>(samples_.back() - samples_.front());
    const double dev_batches_per_sec = elapsed_batches / elapsed_time;
    const double dev_samples_per_sec = elapsed_samples / elapsed_time;
    metrics[device + "batches_per_sec"] = dev_batches_per_sec;
    metrics[device + "samples_per_sec"] = dev_samples_per_sec;
    if (global) {
      metrics["batches_per_sec"] = dev_batches_per_sec * world;
      metrics["samples_per_sec"] = dev_samples_per_sec * world;
    }
    if (lengths_.size() == n) {
      const double dev_items_per_sec =
          static_cast<double>(lengths_.back() - lengths_.front()) / elapsed_time;
      metrics[device + "items_per_sec"] = dev_items_per_sec;
      if (global) metrics["items_per_sec"] = dev_items_per_sec * world;
    }
  }
  if (flops_.size() == n) {
    // Fabric's sum(window) - window[0]: the FLOPs done after the window's first update.
    const double elapsed_flops =
        std::accumulate(flops_.begin(), flops_.end(), 0.0) - flops_.front();
    const double flops_per_sec = elapsed_flops / elapsed_time;
    const double dev_flops_per_sec = flops_per_sec / world;
    if (global) metrics["flops_per_sec"] = flops_per_sec;
    metrics[device + "flops_per_sec"] = dev_flops_per_sec;
    if (options_.available_flops() && *options_.available_flops() != 0.0) {
      metrics[device + "mfu"] = dev_flops_per_sec / *options_.available_flops();
    }
  }
  return metrics;
}

void Throughput::reset() {
  time_.clear();
  batches_.clear();
  samples_.clear();
  lengths_.clear();
  flops_.clear();
}

std::optional<double> Throughput::last_time() const {
  if (time_.empty()) return std::nullopt;
  return time_.back();
}

}  // namespace lightning
