// lightning/metrics/aggregation.h — aggregations of values, torchmetrics.aggregation
// in C++: same class names, argument names, defaults and results.
//
//   // Python: self.train_loss = MeanMetric(); self.train_loss(loss)
//   train_loss_ = register_module("train_loss", std::make_shared<LM::MeanMetric>());
//   train_loss_->forward(loss);             // or update(value, weight), update(0.25)
//   log("train_loss", train_loss_);
//   auto best = std::make_shared<LM::MaxMetric>(LM::MaxMetricOptions().nan_strategy("ignore"));
//   auto smooth = std::make_shared<LM::RunningMean>(LM::RunningMeanOptions().window(10));
//
// Values are tensors of any shape or numbers (`update(double)`); every element
// counts, in float32. States are float32 as torchmetrics' default dtype.
#pragma once

#include <torch/arg.h>

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "lightning/export.h"
#include "lightning/metrics/metric.h"

namespace lightning::metrics {

/// What an aggregation does with NaN in a value (or a weight), as torchmetrics'
/// `nan_strategy`: "error" raises `lightning::Error`, "warn" drops them with a
/// warning, "ignore" drops them silently, "disable" does no check (NaN flows
/// into the result), and a number replaces them (their weight becomes 1).
/// Dropping flattens the value.
using NanStrategy = std::variant<std::string, double>;

/// Options of MeanMetric, SumMetric, MaxMetric, MinMetric and CatMetric.
struct LIGHTNING_API AggregationOptions {
  /// Default "warn", as torchmetrics' aggregation classes.
  TORCH_ARG(NanStrategy, nan_strategy) = "warn";
};
using MeanMetricOptions = AggregationOptions;
using SumMetricOptions = AggregationOptions;
using MaxMetricOptions = AggregationOptions;
using MinMetricOptions = AggregationOptions;
using CatMetricOptions = AggregationOptions;

/// Options of RunningMean and RunningSum.
struct LIGHTNING_API RunningOptions {
  /// The number of most recent updates aggregated. Must be positive.
  TORCH_ARG(int64_t, window) = 5;
  TORCH_ARG(NanStrategy, nan_strategy) = "warn";
};
using RunningMeanOptions = RunningOptions;
using RunningSumOptions = RunningOptions;

/// The (weighted) mean of every value seen: update(value) or
/// update(value, weight) with a weight that broadcasts to the value.
///
/// As torchmetrics, nan_strategy "disable" ignores the weights (every
/// element weighs 1).
class LIGHTNING_API MeanMetric : public Metric {
 public:
  explicit MeanMetric(MeanMetricOptions options = {});
  const MeanMetricOptions& options() const { return options_; }

 protected:
  void update_states(const std::vector<at::Tensor>& inputs) override;
  std::vector<at::Tensor> compute_states() override;

 private:
  MeanMetricOptions options_;
};

/// The sum of every value seen.
class LIGHTNING_API SumMetric : public Metric {
 public:
  explicit SumMetric(SumMetricOptions options = {});
  const SumMetricOptions& options() const { return options_; }

 protected:
  void update_states(const std::vector<at::Tensor>& inputs) override;
  std::vector<at::Tensor> compute_states() override;

 private:
  SumMetricOptions options_;
};

/// The largest value seen; -inf before any.
class LIGHTNING_API MaxMetric : public Metric {
 public:
  explicit MaxMetric(MaxMetricOptions options = {});
  const MaxMetricOptions& options() const { return options_; }

 protected:
  void update_states(const std::vector<at::Tensor>& inputs) override;
  std::vector<at::Tensor> compute_states() override;

 private:
  MaxMetricOptions options_;
};

/// The smallest value seen; inf before any.
class LIGHTNING_API MinMetric : public Metric {
 public:
  explicit MinMetric(MinMetricOptions options = {});
  const MinMetricOptions& options() const { return options_; }

 protected:
  void update_states(const std::vector<at::Tensor>& inputs) override;
  std::vector<at::Tensor> compute_states() override;

 private:
  MinMetricOptions options_;
};

/// Every value seen, concatenated along dim 0 (numbers and 0-dim values
/// become one row each); an empty tensor before any. A single element is
/// returned 0-dim, as torchmetrics.
class LIGHTNING_API CatMetric : public Metric {
 public:
  explicit CatMetric(CatMetricOptions options = {});
  const CatMetricOptions& options() const { return options_; }

 protected:
  void update_states(const std::vector<at::Tensor>& inputs) override;
  std::vector<at::Tensor> compute_states() override;

 private:
  CatMetricOptions options_;
};

/// MeanMetric over the last `window` updates (torchmetrics' RunningMean).
/// forward() returns the batch's own mean, compute() the window's.
class LIGHTNING_API RunningMean : public Metric {
 public:
  explicit RunningMean(RunningMeanOptions options = {});
  const RunningMeanOptions& options() const { return options_; }

 protected:
  bool full_state_update() const override { return true; }
  void update_states(const std::vector<at::Tensor>& inputs) override;
  std::vector<at::Tensor> compute_states() override;

 private:
  RunningMeanOptions options_;
};

/// SumMetric over the last `window` updates (torchmetrics' RunningSum).
class LIGHTNING_API RunningSum : public Metric {
 public:
  explicit RunningSum(RunningSumOptions options = {});
  const RunningSumOptions& options() const { return options_; }

 protected:
  bool full_state_update() const override { return true; }
  void update_states(const std::vector<at::Tensor>& inputs) override;
  std::vector<at::Tensor> compute_states() override;

 private:
  RunningSumOptions options_;
};

}  // namespace lightning::metrics
