// lightning/metrics/metric.h — the Metric base: states that accumulate over
// batches, are reduced over the ranks of a distributed run, and are computed
// once per epoch. torchmetrics' `Metric`, in C++.
//
//   // Python: self.val_acc = MulticlassAccuracy(num_classes=10)
//   val_acc_ = register_module("val_acc", std::make_shared<LM::MulticlassAccuracy>(10));
//   // Python: self.val_acc(logits, y); self.log("val_acc", self.val_acc)
//   val_acc_->forward(logits, y);
//   log("val_acc", val_acc_);
//
// A metric is a torch::nn::Module without parameters. Register it as a
// submodule of the LightningModule: it then moves with `.to(device)`, the
// Trainer hands it the run's Strategy (so `compute()` returns the value over
// every rank), and `log(name, metric)` computes and resets it at the epoch end.
//
// Writing a metric: declare states in the constructor with `add_state` /
// `add_list_state`, implement `update_states` (read the inputs, change the
// states with `set_state` / `append`) and `compute_states` (the value from
// the states; under DDP the states seen there are the reduced ones).
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <string>
#include <vector>

#include "lightning/export.h"

namespace lightning {
class Strategy;
}

namespace lightning::metrics {

/// How a state is combined over ranks (torchmetrics' `dist_reduce_fx`), and
/// how `forward` merges a batch's state into the accumulated one.
enum class Reduction {
  Sum,   // element-wise sum
  Mean,  // element-wise mean (forward: weighted by the number of updates)
  Max,   // element-wise maximum
  Min,   // element-wise minimum
  Cat,   // list states: every rank's items, concatenated along dim 0
};

class LIGHTNING_API Metric : public torch::nn::Module {
 public:
  /// `name` is the class name used in messages ("MulticlassAccuracy").
  explicit Metric(std::string name);
  ~Metric() override;

  /// Accumulates one batch. The number of tensors depends on the metric:
  /// (preds, target) for classification and regression, (value) or
  /// (value, weight) for aggregation.
  void update(const at::Tensor& a);
  void update(const at::Tensor& a, const at::Tensor& b);
  void update(double value);

  /// The metric of this batch alone, and accumulates it (torchmetrics'
  /// `forward` / `__call__`). The value is what `log(name, metric)` logs on step.
  at::Tensor forward(const at::Tensor& a);
  at::Tensor forward(const at::Tensor& a, const at::Tensor& b);
  at::Tensor forward(double value);
  at::Tensor operator()(const at::Tensor& a) { return forward(a); }
  at::Tensor operator()(const at::Tensor& a, const at::Tensor& b) { return forward(a, b); }

  /// The value over everything accumulated since the last reset, over every
  /// rank in a distributed run (all ranks must call it together). Cached
  /// until the next update. Metrics with several outputs (curves) raise
  /// `lightning::Error` here: use `compute_outputs()`.
  at::Tensor compute();
  /// Every output of `compute()` (one tensor for most metrics).
  std::vector<at::Tensor> compute_outputs();
  /// Back to the default states.
  void reset();

  /// The last value `forward` returned, undefined when there was none since
  /// the last reset (torchmetrics' `_forward_cache`).
  const at::Tensor& forward_cache() const { return forward_cache_; }
  /// Number of `update`/`forward` calls since the last reset.
  int64_t update_count() const { return update_count_; }
  /// True once `update` or `forward` ran since the last reset.
  bool update_called() const { return update_count_ > 0; }
  /// The class name given to the constructor.
  const std::string& metric_name() const { return metric_name_; }

  /// Saves every state in the module's state dict (and so in checkpoints),
  /// under "<metric>.<state>" as torchmetrics. Default off, as torchmetrics.
  /// A libtorch module cannot drop a buffer, so persistent(false) after
  /// persistent(true) raises `lightning::Error`; list states cannot be
  /// persistent (their size changes with every update).
  void persistent(bool mode = true);
  /// Reduce the states over ranks in `compute()` (default true, as
  /// torchmetrics' `sync_on_compute`).
  void sync_on_compute(bool enabled) {
    sync_on_compute_ = enabled;
    computed_.clear();
  }

  /// The processes to reduce over. The Trainer sets its Strategy on every
  /// Metric submodule while a stage runs and clears it afterwards; set it
  /// yourself only when you use a metric outside the Trainer.
  void set_strategy(Strategy* strategy) { strategy_ = strategy; }
  Strategy* strategy() const { return strategy_; }

  /// The device of the states.
  at::Device device() const { return device_; }
  /// Moves the states (and the defaults). Metric states keep their dtype.
  void to(at::Device device, at::ScalarType dtype, bool non_blocking = false) override;
  void to(at::Device device, bool non_blocking = false) override;
  void to(at::ScalarType dtype, bool non_blocking = false) override;

  /// States, for writing metrics and for MetricCollection's shared states.
  struct State {
    std::string name;
    Reduction reduce = Reduction::Sum;
    bool persistent = false;
    bool is_list = false;
    at::Tensor value;               // tensor states
    at::Tensor default_value;       // tensor states
    std::vector<at::Tensor> items;  // list states
    at::Tensor buffer;              // the registered buffer, when persistent
  };
  const std::vector<State>& states() const { return states_; }
  /// Replaces every state by `other`'s (same metric class and arguments).
  void copy_states_from(const Metric& other);

 protected:
  /// Declares a tensor state with its default (copied) and its reduction.
  void add_state(const std::string& name, const at::Tensor& default_value, Reduction reduce,
                 bool persistent = false);
  /// Declares a list state (reduced with Cat): `append` adds to it.
  void add_list_state(const std::string& name, bool persistent = false);

  /// A tensor state's current value.
  const at::Tensor& state(const std::string& name) const;
  /// Replaces a tensor state's value (same dtype; any shape for Max/Min/Sum).
  void set_state(const std::string& name, const at::Tensor& value);
  /// A list state's items.
  const std::vector<at::Tensor>& list_state(const std::string& name) const;
  /// Adds an item (detached) to a list state.
  void append(const std::string& name, const at::Tensor& item);
  /// A list state's items concatenated along dim 0; `empty_like` (shape and
  /// dtype) when it has none.
  at::Tensor cat_state(const std::string& name, const at::Tensor& empty_like) const;

  /// Checks the number of inputs and throws `lightning::Error` naming the
  /// metric and what it takes, e.g. expect_inputs(inputs, 2, "(preds, target)").
  void expect_inputs(const std::vector<at::Tensor>& inputs, size_t count,
                     const char* signature) const;

  /// true for metrics whose states cannot be merged with their Reduction
  /// (torchmetrics' `full_state_update`): `forward` then updates the
  /// accumulated states and, separately, fresh states for the batch value.
  virtual bool full_state_update() const { return false; }
  /// One batch into the states.
  virtual void update_states(const std::vector<at::Tensor>& inputs) = 0;
  /// The outputs from the (reduced) states.
  virtual std::vector<at::Tensor> compute_states() = 0;

 private:
  void run_update(const std::vector<at::Tensor>& inputs);
  at::Tensor run_forward(const std::vector<at::Tensor>& inputs);
  State& find(const std::string& name);
  const State& find(const std::string& name) const;
  void sync_states();
  void reset_states();
  void link_buffers();

  std::string metric_name_;
  std::vector<State> states_;
  std::vector<at::Tensor> computed_;  // compute() cache
  at::Tensor forward_cache_;
  int64_t update_count_ = 0;
  bool sync_on_compute_ = true;
  Strategy* strategy_ = nullptr;
  at::Device device_ = at::kCPU;
};

}  // namespace lightning::metrics
