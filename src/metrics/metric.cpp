#include "lightning/metrics/metric.h"

#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <array>

#include "lightning/error.h"
#include "lightning/strategies/strategy.h"

namespace lightning::metrics {

namespace {

bool distributed(const Strategy* strategy) {
  return strategy != nullptr && strategy->world_size() > 1;
}

// Every rank's `local` (or nothing where a rank has no items) concatenated
// along dim 0, in rank order. Ranks hold different numbers of rows, so each
// pads to the longest before the all_gather; the rows past a rank's own count
// are dropped again. Returns an undefined tensor when no rank has items.
at::Tensor gather_rows(Strategy& strategy, const at::Tensor& local, const std::string& what) {
  constexpr int64_t kMaxDims = 8;
  // What each rank holds: [has items, dtype, ndim, sizes...].
  std::array<int64_t, 3 + kMaxDims> desc{};
  desc.fill(0);
  if (local.defined()) {
    LIGHTNING_CHECK(local.dim() >= 1 && local.dim() <= kMaxDims, what,
                    ": a list state's items must have 1 to ", kMaxDims, " dimensions, got ",
                    local.dim(), ".");
    desc[0] = 1;
    desc[1] = static_cast<int64_t>(local.scalar_type());
    desc[2] = local.dim();
    for (int64_t d = 0; d < local.dim(); ++d) desc[3 + d] = local.size(d);
  }
  const auto descs =
      strategy.all_gather(at::tensor(c10::ArrayRef<int64_t>(desc.data(), desc.size()), at::kLong));
  int64_t reference = -1, longest = 0;
  std::vector<int64_t> rows(descs.size(), 0);
  for (size_t r = 0; r < descs.size(); ++r) {
    const auto d = descs[r].contiguous();
    const int64_t* v = d.data_ptr<int64_t>();
    if (v[0] == 0) continue;
    rows[r] = v[3];
    longest = std::max(longest, v[3]);
    if (reference < 0) {
      reference = static_cast<int64_t>(r);
      continue;
    }
    const int64_t* ref = descs[reference].contiguous().data_ptr<int64_t>();
    bool same = ref[1] == v[1] && ref[2] == v[2];
    for (int64_t k = 1; same && k < v[2]; ++k) same = ref[3 + k] == v[3 + k];
    LIGHTNING_CHECK(same, what, ": rank ", r, " holds items of another dtype or shape than rank ",
                    reference, " (", static_cast<at::ScalarType>(v[1]), " vs ",
                    static_cast<at::ScalarType>(ref[1]),
                    "); every rank must update the metric with inputs of the same kind.");
  }
  if (reference < 0) return {};
  const at::Tensor ref = descs[reference].contiguous();
  const int64_t* v = ref.data_ptr<int64_t>();
  const auto dtype = static_cast<at::ScalarType>(v[1]);
  std::vector<int64_t> shape(v + 3, v + 3 + v[2]);
  shape[0] = longest;
  // Gloo has no bool all_gather: bools travel as bytes.
  const auto wire = dtype == at::kBool ? at::kByte : dtype;
  const at::Device device = local.defined() ? local.device() : at::Device(at::kCPU);
  at::Tensor padded = at::zeros(shape, at::TensorOptions().dtype(wire).device(device));
  if (local.defined() && local.size(0) > 0) padded.narrow(0, 0, local.size(0)).copy_(local);
  const auto gathered = strategy.all_gather(padded);
  std::vector<at::Tensor> parts;
  for (size_t r = 0; r < gathered.size(); ++r) {
    if (rows[r] > 0) parts.push_back(gathered[r].narrow(0, 0, rows[r]));
  }
  if (parts.empty()) return at::empty(shape, padded.options()).narrow(0, 0, 0).to(dtype);
  return at::cat(parts).to(dtype);
}

const char* reduction_op(Reduction reduce) {
  switch (reduce) {
    case Reduction::Sum:
      return "sum";
    case Reduction::Mean:
      return "mean";
    case Reduction::Max:
      return "max";
    case Reduction::Min:
      return "min";
    case Reduction::Cat:
      break;
  }
  return "sum";
}

}  // namespace

Metric::Metric(std::string name) : metric_name_(std::move(name)) {}

Metric::~Metric() = default;

// ---- update / forward / compute / reset -----------------------------------------

void Metric::update(const at::Tensor& a) { run_update({a}); }

void Metric::update(const at::Tensor& a, const at::Tensor& b) { run_update({a, b}); }

void Metric::update(double value) {
  run_update({at::scalar_tensor(value, at::TensorOptions().dtype(at::kDouble).device(device_))});
}

at::Tensor Metric::forward(const at::Tensor& a) { return run_forward({a}); }

at::Tensor Metric::forward(const at::Tensor& a, const at::Tensor& b) { return run_forward({a, b}); }

at::Tensor Metric::forward(double value) {
  return run_forward(
      {at::scalar_tensor(value, at::TensorOptions().dtype(at::kDouble).device(device_))});
}

namespace {

// Metric inputs leave autograd: a metric never holds the graph.
std::vector<at::Tensor> detached(const std::vector<at::Tensor>& inputs) {
  std::vector<at::Tensor> out;
  out.reserve(inputs.size());
  for (const auto& t : inputs) out.push_back(t.defined() ? t.detach() : t);
  return out;
}

}  // namespace

void Metric::run_update(const std::vector<at::Tensor>& inputs) {
  torch::NoGradGuard no_grad;
  update_states(detached(inputs));  // a rejected batch leaves the metric as it was
  computed_.clear();
  ++update_count_;
  link_buffers();
}

at::Tensor Metric::run_forward(const std::vector<at::Tensor>& inputs) {
  torch::NoGradGuard no_grad;
  const std::vector<at::Tensor> batch_inputs = detached(inputs);
  const int64_t count = update_count_;
  const std::vector<State> accumulated = states_;
  try {
    std::vector<at::Tensor> batch;
    if (full_state_update()) {
      // The accumulated states take the batch; fresh states give the batch's
      // own value; then the accumulated ones come back.
      update_states(batch_inputs);
      std::vector<State> updated = states_;
      reset_states();
      update_count_ = 1;
      update_states(batch_inputs);
      batch = compute_states();
      states_ = std::move(updated);
    } else {
      // The batch alone on fresh states (its value, never synced), then
      // merged into the accumulation with each state's reduction.
      reset_states();
      update_count_ = 1;
      update_states(batch_inputs);
      batch = compute_states();
      merge_into(accumulated, count);
    }
    LIGHTNING_CHECK(batch.size() == 1, metric_name_, ".forward() returns one tensor, but ",
                    metric_name_, " computes ", batch.size(),
                    ". Use update() and compute_outputs().");
    update_count_ = count + 1;
    computed_.clear();
    link_buffers();
    forward_cache_ = batch[0].numel() == 1 ? batch[0].reshape({}) : batch[0];
    return forward_cache_;
  } catch (...) {
    // A rejected batch leaves the metric as it was.
    states_ = accumulated;
    update_count_ = count;
    link_buffers();
    throw;
  }
}

void Metric::merge_into(const std::vector<State>& accumulated, int64_t count) {
  for (size_t i = 0; i < states_.size(); ++i) {
    State& now = states_[i];
    const State& before = accumulated[i];
    if (now.is_list) {
      std::vector<at::Tensor> items = before.items;
      items.insert(items.end(), now.items.begin(), now.items.end());
      now.items = std::move(items);
      continue;
    }
    switch (now.reduce) {
      case Reduction::Sum:
        now.value = before.value + now.value;
        break;
      case Reduction::Mean:
        now.value = (before.value * static_cast<double>(count) + now.value) /
                    static_cast<double>(count + 1);
        break;
      case Reduction::Max:
        now.value = at::maximum(before.value, now.value);
        break;
      case Reduction::Min:
        now.value = at::minimum(before.value, now.value);
        break;
      case Reduction::Cat:
        break;
    }
  }
}

at::Tensor Metric::compute() {
  const auto& outputs = compute_outputs();
  LIGHTNING_CHECK(outputs.size() == 1, metric_name_, ".compute() returns one tensor, but ",
                  metric_name_, " computes ", outputs.size(),
                  " (a curve, or one value per class as a list). Use compute_outputs().");
  return outputs[0];
}

std::vector<at::Tensor> Metric::compute_outputs() {
  if (!computed_.empty()) return computed_;
  const auto squeeze_scalars = [](std::vector<at::Tensor> outputs) {
    // One-element results are 0-dim, as torchmetrics returns them.
    for (auto& t : outputs) {
      if (t.defined() && t.numel() == 1 && t.dim() > 0) t = t.reshape({});
    }
    return outputs;
  };
  torch::NoGradGuard no_grad;
  if (sync_on_compute_ && distributed(strategy_)) {
    // The reduced states only for this computation: the local accumulation
    // goes on unchanged (torchmetrics' sync / unsync).
    std::vector<State> local = states_;
    try {
      sync_states();
      computed_ = squeeze_scalars(compute_states());
    } catch (...) {
      states_ = std::move(local);
      link_buffers();
      throw;
    }
    states_ = std::move(local);
    link_buffers();
  } else {
    computed_ = squeeze_scalars(compute_states());
  }
  return computed_;
}

void Metric::reset() {
  reset_states();
  update_count_ = 0;
  forward_cache_ = at::Tensor();
  computed_.clear();
  link_buffers();
}

void Metric::reset_states() {
  for (auto& s : states_) {
    if (s.is_list) {
      s.items.clear();
    } else {
      s.value = s.default_value.clone();
    }
  }
}

// ---- distributed ----------------------------------------------------------------

void Metric::sync_states() {
  for (auto& s : states_) {
    const std::string what = metric_name_ + " state '" + s.name + "'";
    if (s.is_list) {
      at::Tensor local;
      if (!s.items.empty()) local = s.items.size() == 1 ? s.items[0] : at::cat(s.items);
      at::Tensor all = gather_rows(*strategy_, local, what);
      s.items.clear();
      if (all.defined()) s.items.push_back(all);
      continue;
    }
    const bool is_bool = s.value.scalar_type() == at::kBool;
    at::Tensor wire = is_bool ? s.value.to(at::kByte) : s.value;
    at::Tensor reduced = strategy_->all_reduce(wire, reduction_op(s.reduce));
    s.value = is_bool ? reduced.to(at::kBool) : reduced.to(s.value.scalar_type());
  }
}

// ---- states -----------------------------------------------------------------------

Metric::State& Metric::find(const std::string& name) {
  for (auto& s : states_) {
    if (s.name == name) return s;
  }
  LIGHTNING_FAIL(metric_name_, " has no state named '", name, "'.");
}

const Metric::State& Metric::find(const std::string& name) const {
  return const_cast<Metric*>(this)->find(name);
}

void Metric::add_state(const std::string& name, const at::Tensor& default_value, Reduction reduce,
                       bool persistent) {
  LIGHTNING_CHECK(!name.empty() && name.find('.') == std::string::npos, metric_name_,
                  ": a state name must be non-empty and without '.', got '", name, "'.");
  for (const auto& s : states_) {
    LIGHTNING_CHECK(s.name != name, metric_name_, ": the state '", name, "' is declared twice.");
  }
  LIGHTNING_CHECK(default_value.defined(), metric_name_, ": the state '", name,
                  "' needs a defined default tensor.");
  LIGHTNING_CHECK(reduce != Reduction::Cat, metric_name_, ": the state '", name,
                  "' uses Reduction::Cat; declare it with add_list_state.");
  State s;
  s.name = name;
  s.reduce = reduce;
  s.default_value = default_value.detach().clone().to(device_);
  s.value = s.default_value.clone();
  states_.push_back(std::move(s));
  if (persistent) {
    State& added = states_.back();
    added.persistent = true;
    added.buffer = register_buffer(name, added.value.clone());
    link_buffers();
  }
}

void Metric::add_list_state(const std::string& name, bool persistent) {
  LIGHTNING_CHECK(!name.empty() && name.find('.') == std::string::npos, metric_name_,
                  ": a state name must be non-empty and without '.', got '", name, "'.");
  for (const auto& s : states_) {
    LIGHTNING_CHECK(s.name != name, metric_name_, ": the state '", name, "' is declared twice.");
  }
  LIGHTNING_CHECK(!persistent, metric_name_, ": the list state '", name,
                  "' cannot be persistent: its size changes with every update.");
  State s;
  s.name = name;
  s.reduce = Reduction::Cat;
  s.is_list = true;
  states_.push_back(std::move(s));
}

const at::Tensor& Metric::state(const std::string& name) const {
  const State& s = find(name);
  LIGHTNING_CHECK(!s.is_list, metric_name_, ": '", name, "' is a list state; use list_state().");
  return s.value;
}

void Metric::set_state(const std::string& name, const at::Tensor& value) {
  State& s = find(name);
  LIGHTNING_CHECK(!s.is_list, metric_name_, ": '", name, "' is a list state; use append().");
  LIGHTNING_CHECK(value.defined(), metric_name_, ": set_state('", name,
                  "') got an undefined tensor.");
  s.value = value.detach();
}

const std::vector<at::Tensor>& Metric::list_state(const std::string& name) const {
  const State& s = find(name);
  LIGHTNING_CHECK(s.is_list, metric_name_, ": '", name, "' is a tensor state; use state().");
  return s.items;
}

void Metric::append(const std::string& name, const at::Tensor& item) {
  State& s = find(name);
  LIGHTNING_CHECK(s.is_list, metric_name_, ": '", name, "' is a tensor state; use set_state().");
  s.items.push_back(item.detach());
}

at::Tensor Metric::cat_state(const std::string& name, const at::Tensor& empty_like) const {
  const auto& items = list_state(name);
  if (items.empty()) return empty_like;
  return items.size() == 1 ? items[0] : at::cat(items);
}

void Metric::expect_inputs(const std::vector<at::Tensor>& inputs, size_t count,
                           const char* signature) const {
  LIGHTNING_CHECK(inputs.size() == count, metric_name_, ".update takes ", signature, ", got ",
                  inputs.size(), " tensor", inputs.size() == 1 ? "" : "s", ".");
  for (size_t i = 0; i < inputs.size(); ++i) {
    LIGHTNING_CHECK(inputs[i].defined(), metric_name_, ".update", signature, ": input ", i + 1,
                    " is an undefined tensor.");
  }
}

void Metric::copy_states_from(const Metric& other) {
  LIGHTNING_CHECK(other.states_.size() == states_.size(), metric_name_,
                  ": cannot share the states of ", other.metric_name_,
                  " (a different set of states).");
  for (size_t i = 0; i < states_.size(); ++i) {
    LIGHTNING_CHECK(states_[i].name == other.states_[i].name, metric_name_,
                    ": cannot share the states of ", other.metric_name_, " ('", states_[i].name,
                    "' vs '", other.states_[i].name, "').");
    states_[i].value = other.states_[i].value;
    states_[i].items = other.states_[i].items;
  }
  update_count_ = other.update_count_;
  computed_.clear();
  link_buffers();
}

void Metric::persistent(bool mode) {
  for (auto& s : states_) {
    if (s.persistent == mode) continue;
    LIGHTNING_CHECK(mode, metric_name_, ".persistent(false): the state '", s.name,
                    "' is already a buffer of the module and libtorch cannot remove a buffer. "
                    "Construct the metric again instead.");
    LIGHTNING_CHECK(!s.is_list, metric_name_, ".persistent(true): the list state '", s.name,
                    "' cannot be saved in a state dict (its size changes with every update).");
    s.persistent = true;
    s.buffer = register_buffer(s.name, s.value.clone());
  }
  link_buffers();
}

void Metric::link_buffers() {
  // A persistent state's buffer is the tensor the module's state dict and
  // checkpoints see: it shares the current value's storage, so saving reads
  // the accumulation and loading writes into it.
  for (auto& s : states_) {
    if (s.persistent && s.buffer.defined() && !s.buffer.is_same(s.value)) s.buffer.set_(s.value);
  }
}

// ---- devices ------------------------------------------------------------------------

void Metric::to(at::Device device, at::ScalarType /*dtype*/, bool non_blocking) {
  to(device, non_blocking);
}

void Metric::to(at::Device device, bool non_blocking) {
  torch::nn::Module::to(device, non_blocking);  // child metrics and buffers
  for (auto& s : states_) {
    if (s.is_list) {
      for (auto& item : s.items) item = item.to(device, non_blocking);
    } else {
      s.value = s.value.to(device, non_blocking);
      s.default_value = s.default_value.to(device, non_blocking);
    }
  }
  for (auto& c : computed_) c = c.to(device, non_blocking);
  if (forward_cache_.defined()) forward_cache_ = forward_cache_.to(device, non_blocking);
  device_ = device;
  link_buffers();
}

void Metric::to(at::ScalarType /*dtype*/, bool /*non_blocking*/) {
  // States keep their dtype (torchmetrics: .half()/.double() leave them alone).
}

}  // namespace lightning::metrics
