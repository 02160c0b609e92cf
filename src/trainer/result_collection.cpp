#include "trainer/result_collection.h"

#include <cstring>
#include <limits>
#include <map>
#include <sstream>

#include "lightning/error.h"
#include "lightning/metrics/metric.h"
#include "lightning/strategies/strategy.h"

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

namespace {

// A logged metric object's value as a 0-dim float32; `what` says where it
// came from in the message ("its forward value has", "compute() returned").
at::Tensor scalar_metric_value(const std::string& name, const metrics::Metric& metric,
                               const at::Tensor& value, const char* what) {
  LIGHTNING_CHECK(value.numel() == 1, "self.log('", name, "', ", metric.metric_name(), "): ", what,
                  " shape ", value.sizes(),
                  ", but a logged value must be a scalar. Log a metric that reduces to one "
                  "number (e.g. average=\"macro\" instead of \"none\"), or log its elements "
                  "under their own names.");
  return value.detach().reshape({}).to(at::kFloat);
}

}  // namespace

void ResultCollection::log(const std::string& name, const at::Tensor& value, bool on_step,
                           bool on_epoch, bool prog_bar, bool logger, Reduce reduce,
                           int64_t batch_size, int64_t dataloader_idx, bool training,
                           const MetricSinks& sinks, const char* hook) {
  Entry& e = find_or_add(name);
  LIGHTNING_CHECK(e.metric == nullptr, "self.log('", name, "') got a ", e.metric->metric_name(),
                  " object in `", e.hook, "` and a value in `", hook,
                  "`. Under one name, log either the metric object or its value, not both "
                  "(e.g. log the computed value under another name).");
  if (e.hook.empty()) e.hook = hook;
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

  if (on_step) {
    publish_step(e, value.scalar_type() == at::kFloat ? value : value.to(at::kFloat), training,
                 sinks);
  }
  if (on_epoch) {
    e.global = false;
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

void ResultCollection::log_metric(const std::string& name, metrics::Metric& metric, bool on_step,
                                  bool on_epoch, bool prog_bar, bool logger, int64_t dataloader_idx,
                                  bool training, const MetricSinks& sinks, const char* hook) {
  Entry& e = find_or_add(name);
  const bool fresh = e.metric == nullptr && !e.accumulator.defined() && !e.step_value.defined();
  LIGHTNING_CHECK(fresh || e.metric != nullptr, "self.log('", name, "') got a value in `", e.hook,
                  "` and a ", metric.metric_name(), " object in `", hook,
                  "`. Under one name, log either the metric object or its value, not both "
                  "(e.g. log the computed value under another name).");
  LIGHTNING_CHECK(fresh || e.metric == &metric, "self.log('", name, "') got two different ",
                  "metric objects in one loop (", e.metric ? e.metric->metric_name() : "", " in `",
                  e.hook, "`, ", metric.metric_name(), " in `", hook,
                  "`). Log each metric object under its own name.");
  LIGHTNING_CHECK(fresh || (e.on_step == on_step && e.on_epoch == on_epoch), "self.log('", name,
                  "') was called again with different on_step/on_epoch in the same loop. Log one ",
                  "name with one set of options.");
  if (fresh) e.hook = hook;
  e.metric = &metric;
  e.on_step = on_step;
  e.on_epoch = on_epoch;
  e.prog_bar = prog_bar;
  e.logger = logger;
  e.dataloader_idx = dataloader_idx;
  if (on_step && metric.forward_cache().defined()) {
    publish_step(e,
                 scalar_metric_value(name, metric, metric.forward_cache(), "its forward value has"),
                 training, sinks);
  }
}

void ResultCollection::publish_step(Entry& e, const at::Tensor& value, bool training,
                                    const MetricSinks& sinks) {
  // Lightning's forked names: with on_epoch too, the step value is "<name>_step".
  e.step_value = value;
  e.step_fresh = true;
  const bool forked = e.on_step && e.on_epoch;
  const std::string step_name = forked ? e.name + "_step" : e.name;
  if (training) {
    (*sinks.callback)[e.name] = e.step_value;
    if (forked) (*sinks.callback)[step_name] = e.step_value;
  }
  if (e.prog_bar) (*sinks.progress_bar)[step_name] = e.step_value;
}

void ResultCollection::compute_metrics() {
  for (auto& e : entries_) {
    if (e.metric == nullptr || !e.on_epoch || e.metric_value.defined()) continue;
    e.metric_value =
        scalar_metric_value(e.name, *e.metric, e.metric->compute(), "compute() returned");
  }
}

void ResultCollection::reset_metrics() {
  for (auto& e : entries_) {
    if (e.metric == nullptr) continue;
    e.metric->reset();
    e.metric_value = at::Tensor();
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
    at::Tensor value;
    if (e.metric != nullptr) {
      if (!e.on_epoch || !e.metric_value.defined()) continue;
      value = e.metric_value;
    } else {
      if (!e.on_epoch || !(e.global || e.accumulator.defined())) continue;
      const at::Tensor& sum = e.global ? e.global_accumulator : e.accumulator;
      const double weight = e.global ? e.global_weight : e.weight;
      value = e.reduce == Reduce::Mean ? sum.div(weight > 0 ? weight : 1.0).to(at::kFloat)
                                       : sum.to(at::kFloat);
    }
    const std::string epoch_name = e.on_step ? e.name + "_epoch" : e.name;
    (*sinks.callback)[e.name] = value;
    if (e.on_step) (*sinks.callback)[epoch_name] = value;
    if (e.prog_bar) (*sinks.progress_bar)[epoch_name] = value;
    if (e.logger && e.dataloader_idx < static_cast<int64_t>(per_loader.size()))
      per_loader[e.dataloader_idx][epoch_name] = value;
  }
  return per_loader;
}

namespace {

// What a rank tells the others about one epoch entry: enough to create it
// where it was never logged. One line per entry, fields separated by \x1f.
struct EntryMeta {
  int reduce = 0;
  bool on_step = false, prog_bar = false, logger = true;
  int64_t dataloader_idx = 0;
};

std::string encode(const std::vector<ResultCollection::Entry>& entries) {
  std::ostringstream out;
  for (const auto& e : entries) {
    if (!e.on_epoch || !e.accumulator.defined()) continue;
    out << e.name << '\x1f' << static_cast<int>(e.reduce) << '\x1f' << e.on_step << '\x1f'
        << e.prog_bar << '\x1f' << e.logger << '\x1f' << e.dataloader_idx << '\n';
  }
  return out.str();
}

void decode(const std::string& text, int64_t rank, std::map<std::string, EntryMeta>& out) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::vector<std::string> f;
    size_t start = 0;
    for (size_t i = 0; i <= line.size(); ++i) {
      if (i == line.size() || line[i] == '\x1f') {
        f.push_back(line.substr(start, i - start));
        start = i + 1;
      }
    }
    if (f.size() != 6) continue;
    EntryMeta m{std::stoi(f[1]), f[2] == "1", f[3] == "1", f[4] == "1", std::stoll(f[5])};
    auto [it, added] = out.emplace(f[0], m);
    LIGHTNING_CHECK(added || it->second.reduce == m.reduce, "self.log('", f[0],
                    "') uses a different reduce_fx on rank ", rank,
                    " than on a lower rank: every rank must log a metric with the same options.");
  }
}

}  // namespace

void ResultCollection::sync_epoch(Strategy& strategy) {
  if (strategy.world_size() <= 1) return;
  // The union of the ranks' epoch entries, in name order on every rank.
  std::map<std::string, EntryMeta> all;
  const auto texts = strategy.all_gather_string(encode(entries_));
  for (size_t r = 0; r < texts.size(); ++r) decode(texts[r], static_cast<int64_t>(r), all);
  if (all.empty()) return;

  // Sums (weighted means and their weights, sums) in one all_reduce; maxima
  // (max, and min as the max of the negation) in another.
  const double lowest = -std::numeric_limits<double>::infinity();
  std::vector<double> sums, maxima;
  std::vector<int64_t> local;  // index into entries_, -1 where this rank has none
  for (const auto& [name, meta] : all) {
    const Entry* e = nullptr;
    local.push_back(-1);
    for (size_t k = 0; k < entries_.size(); ++k) {
      if (entries_[k].name == name && entries_[k].on_epoch && entries_[k].accumulator.defined()) {
        e = &entries_[k];
        local.back() = static_cast<int64_t>(k);
      }
    }
    const double acc = e ? e->accumulator.item<double>() : 0.0;
    switch (static_cast<Reduce>(meta.reduce)) {
      case Reduce::Mean:
        sums.push_back(acc);
        sums.push_back(e ? e->weight : 0.0);
        break;
      case Reduce::Sum:
        sums.push_back(acc);
        break;
      case Reduce::Max:
        maxima.push_back(e ? acc : lowest);
        break;
      case Reduce::Min:
        maxima.push_back(e ? -acc : lowest);
        break;
    }
  }
  auto reduce = [&](std::vector<double>& values, const char* op) {
    if (values.empty()) return;
    at::Tensor t =
        at::from_blob(values.data(), {static_cast<int64_t>(values.size())}, at::kDouble).clone();
    t = strategy.all_reduce(t, op).contiguous();
    std::memcpy(values.data(), t.data_ptr<double>(), values.size() * sizeof(double));
  };
  reduce(sums, "sum");
  reduce(maxima, "max");

  size_t s = 0, m = 0, i = 0;
  for (const auto& [name, meta] : all) {
    const int64_t k = local[i++];
    Entry* e = k >= 0 ? &entries_[k] : nullptr;
    if (e == nullptr) {
      // Logged on other ranks only: it exists here from now on.
      e = &find_or_add(name);
      e->on_epoch = true;
      e->on_step = meta.on_step;
      e->prog_bar = meta.prog_bar;
      e->logger = meta.logger;
      e->reduce = static_cast<Reduce>(meta.reduce);
      e->dataloader_idx = meta.dataloader_idx;
    }
    double value = 0.0;
    e->global_weight = 0.0;
    switch (static_cast<Reduce>(meta.reduce)) {
      case Reduce::Mean:
        value = sums[s++];
        e->global_weight = sums[s++];
        break;
      case Reduce::Sum:
        value = sums[s++];
        break;
      case Reduce::Max:
        value = maxima[m++];
        break;
      case Reduce::Min:
        value = -maxima[m++];
        break;
    }
    e->global_accumulator = at::scalar_tensor(value, at::kDouble);
    e->global = true;
  }
}

namespace {

const char* reduce_name(Reduce r) {
  static const char* const names[] = {"mean", "sum", "max", "min"};  // Reduce's order
  return names[static_cast<int>(r)];
}

}  // namespace

StateDict ResultCollection::state_dict(bool global) const {
  StateDict out = make_state_dict();
  for (const auto& e : entries_) {
    // A Metric object's accumulation lives in its states (saved with the
    // module when persistent), not here.
    if (e.metric != nullptr) continue;
    StateDict d = make_state_dict();
    d.insert("on_step", e.on_step);
    d.insert("on_epoch", e.on_epoch);
    d.insert("prog_bar", e.prog_bar);
    d.insert("logger", e.logger);
    d.insert("reduce_fx", std::string(reduce_name(e.reduce)));
    d.insert("dataloader_idx", e.dataloader_idx);
    const bool synced = global && e.global;
    const at::Tensor& acc = synced ? e.global_accumulator : e.accumulator;
    // Plain numbers (every value is a scalar): readable anywhere, no device.
    d.insert("value", acc.defined() ? c10::IValue(acc.item<double>()) : c10::IValue());
    d.insert("cumulated_batch_size", synced ? e.global_weight : e.weight);
    d.insert("step_value",
             e.step_value.defined() ? c10::IValue(e.step_value.item<double>()) : c10::IValue());
    d.insert("step_fresh", e.step_fresh);
    out.insert(e.name, d);
  }
  return out;
}

void ResultCollection::load_state_dict(const StateDict& state, bool accumulations,
                                       const std::string& owner) {
  entries_.clear();
  for (const auto& item : state) {
    LIGHTNING_CHECK(item.key().isString() && item.value().isGenericDict(), owner,
                    ": a logged metric's entry is not a dict under its name.");
    const std::string& name = item.key().toStringRef();
    const std::string who = owner + "[\"" + name + "\"]";
    const StateDict d = item.value().toGenericDict();
    Entry e;
    e.name = name;
    e.on_step = state_bool(d, "on_step", who);
    e.on_epoch = state_bool(d, "on_epoch", who);
    e.prog_bar = state_bool(d, "prog_bar", who);
    e.logger = state_bool(d, "logger", who);
    e.reduce = parse_reduce(state_string(d, "reduce_fx", who), name);
    e.dataloader_idx = state_int(d, "dataloader_idx", who);
    const c10::IValue& value = state_value(d, "value", who);
    if (accumulations && !value.isNone()) {
      e.accumulator = at::scalar_tensor(state_double(d, "value", who), at::kDouble);
      e.weight = state_double(d, "cumulated_batch_size", who);
    }
    if (!state_value(d, "step_value", who).isNone()) {
      e.step_value = at::scalar_tensor(state_double(d, "step_value", who), at::kFloat);
      e.step_fresh = state_bool(d, "step_fresh", who);
    }
    entries_.push_back(std::move(e));
  }
}

}  // namespace lightning::detail
