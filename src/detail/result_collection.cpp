#include "detail/result_collection.h"

#include "lightning/error.h"

namespace lightning::detail {

Reduce parse_reduce(const std::string& reduce_fx, const std::string& metric) {
  if (reduce_fx == "mean") return Reduce::Mean;
  if (reduce_fx == "sum") return Reduce::Sum;
  if (reduce_fx == "max") return Reduce::Max;
  if (reduce_fx == "min") return Reduce::Min;
  LIGHTNING_FAIL("self.log('", metric,
                 "'): reduce_fx must be \"mean\", \"sum\", \"max\" or \"min\", ", "got \"",
                 reduce_fx, "\".");
}

ResultCollection::Entry& ResultCollection::find_or_add(const std::string& name) {
  // Few metrics per loop: a linear scan beats hashing at this size.
  for (auto& e : entries_) {
    if (e.name == name) return e;
  }
  entries_.emplace_back();
  entries_.back().name = name;
  return entries_.back();
}

void ResultCollection::log(const std::string& name, const at::Tensor& value, bool on_step,
                           bool on_epoch, bool prog_bar, bool logger, Reduce reduce,
                           int64_t batch_size, int64_t dataloader_idx, bool training,
                           const MetricSinks& sinks) {
  Entry& e = find_or_add(name);
  if (e.accumulator.defined() || e.step_value.defined()) {
    LIGHTNING_CHECK(e.on_step == on_step && e.on_epoch == on_epoch && e.reduce == reduce,
                    "self.log('", name,
                    "') was called again with different on_step/on_epoch/reduce_fx in the same ",
                    "loop. Log one name with one set of options.");
  }
  e.on_step = on_step;
  e.on_epoch = on_epoch;
  e.prog_bar = prog_bar;
  e.logger = logger;
  e.reduce = reduce;
  e.dataloader_idx = dataloader_idx;

  const bool forked = on_step && on_epoch;
  if (on_step) {
    e.step_value = value.scalar_type() == at::kFloat ? value : value.to(at::kFloat);
    e.step_fresh = true;
    const std::string step_name = forked ? name + "_step" : name;
    if (training) {
      (*sinks.callback)[name] = e.step_value;
      if (forked) (*sinks.callback)[step_name] = e.step_value;
    }
    if (prog_bar) (*sinks.progress_bar)[step_name] = e.step_value;
  }
  if (on_epoch) {
    const at::Tensor v = value.to(at::kDouble);
    switch (reduce) {
      case Reduce::Mean:
        e.accumulator = e.accumulator.defined()
                            ? e.accumulator.add(v, static_cast<double>(batch_size))
                            : v.mul(static_cast<double>(batch_size));
        e.weight += static_cast<double>(batch_size);
        break;
      case Reduce::Sum:
        e.accumulator = e.accumulator.defined() ? e.accumulator.add(v) : v.clone();
        break;
      case Reduce::Max:
        e.accumulator = e.accumulator.defined() ? at::maximum(e.accumulator, v) : v.clone();
        break;
      case Reduce::Min:
        e.accumulator = e.accumulator.defined() ? at::minimum(e.accumulator, v) : v.clone();
        break;
    }
  }
}

TensorMetrics ResultCollection::take_step_metrics() {
  TensorMetrics out;
  for (auto& e : entries_) {
    if (!e.step_fresh) continue;
    e.step_fresh = false;
    if (!e.logger) continue;
    out[e.on_epoch ? e.name + "_step" : e.name] = e.step_value;
  }
  return out;
}

std::vector<TensorMetrics> ResultCollection::epoch_metrics(const MetricSinks& sinks,
                                                           size_t num_dataloaders) const {
  std::vector<TensorMetrics> per_loader(std::max<size_t>(num_dataloaders, 1));
  for (const auto& e : entries_) {
    if (!e.on_epoch || !e.accumulator.defined()) continue;
    at::Tensor value = e.reduce == Reduce::Mean
                           ? e.accumulator.div(e.weight > 0 ? e.weight : 1.0).to(at::kFloat)
                           : e.accumulator.to(at::kFloat);
    const std::string epoch_name = e.on_step ? e.name + "_epoch" : e.name;
    (*sinks.callback)[e.name] = value;
    if (e.on_step) (*sinks.callback)[epoch_name] = value;
    if (e.prog_bar) (*sinks.progress_bar)[epoch_name] = value;
    if (e.logger && e.dataloader_idx < static_cast<int64_t>(per_loader.size()))
      per_loader[e.dataloader_idx][epoch_name] = value;
  }
  return per_loader;
}

}  // namespace lightning::detail
