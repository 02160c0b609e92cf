// lightning/metrics/metric_collection.h — several metrics fed the same inputs,
// logged with one `log_dict` (torchmetrics' MetricCollection).
//
//   // Python: self.val_metrics = MetricCollection([MulticlassAccuracy(10),
//   //                                              MulticlassF1Score(10)], prefix="val_")
//   val_metrics_ = register_module("val_metrics", std::make_shared<LM::MetricCollection>(
//       LM::MetricCollection::Named{{"acc", std::make_shared<LM::MulticlassAccuracy>(10)},
//                                   {"f1", std::make_shared<LM::MulticlassF1Score>(10)}},
//       LM::MetricCollectionOptions().prefix("val_")));
//   val_metrics_->update(logits, y);   // in validation_step
//   log_dict(val_metrics_);            // "val_acc", "val_f1" at the epoch end
//
// Compute groups: metrics whose states are equal after the first update (a
// precision and a recall over the same classes) are updated once per batch
// and share those states, as torchmetrics' `compute_groups=True`.
#pragma once

#include <torch/arg.h>
#include <torch/nn/module.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lightning/export.h"
#include "lightning/metrics/metric.h"

namespace lightning::metrics {

struct LIGHTNING_API MetricCollectionOptions {
  /// Put before every key ("val_").
  TORCH_ARG(std::string, prefix) = "";
  /// Put after every key ("_epoch").
  TORCH_ARG(std::string, postfix) = "";
  /// Share the states of metrics that compute them identically (detected
  /// after the first update). Default true.
  TORCH_ARG(bool, compute_groups) = true;
};

class LIGHTNING_API MetricCollection : public torch::nn::Module {
 public:
  using Named = std::vector<std::pair<std::string, std::shared_ptr<Metric>>>;

  /// Metrics under the given keys (torchmetrics' dict form).
  explicit MetricCollection(Named metrics, MetricCollectionOptions options = {});
  /// Metrics under their class names (torchmetrics' list form); two metrics
  /// of one class need the dict form.
  explicit MetricCollection(const std::vector<std::shared_ptr<Metric>>& metrics,
                            MetricCollectionOptions options = {});

  /// Every metric's `update`.
  void update(const at::Tensor& a);
  void update(const at::Tensor& a, const at::Tensor& b);
  /// Every metric's `forward`: the batch values under the prefixed keys.
  std::map<std::string, at::Tensor> forward(const at::Tensor& a);
  std::map<std::string, at::Tensor> forward(const at::Tensor& a, const at::Tensor& b);
  /// Every metric's `compute` under the prefixed keys.
  std::map<std::string, at::Tensor> compute();
  /// Every metric's `reset`.
  void reset();

  /// (prefixed key, metric), in the order given.
  Named items() const;
  /// The metric under its key as given (without prefix/postfix).
  std::shared_ptr<Metric> operator[](const std::string& key) const;
  size_t size() const { return metrics_.size(); }
  /// The groups that share states, by key (one key per group when none share).
  std::vector<std::vector<std::string>> compute_group_keys() const;

  const MetricCollectionOptions& options() const { return options_; }

 private:
  template <typename... T>
  void update_all(const T&... inputs);
  void detect_groups();
  std::string key(const std::string& name) const;

  Named metrics_;
  MetricCollectionOptions options_;
  // Indices into metrics_: groups_[g][0] is updated, the others copy its states.
  std::vector<std::vector<size_t>> groups_;
  bool groups_checked_ = false;
};

}  // namespace lightning::metrics
