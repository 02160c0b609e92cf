// lightning/metrics/regression.h — regression metrics, torchmetrics.regression
// in C++: same class names, argument names, defaults and results.
//
//   // Python: self.val_rmse = MeanSquaredError(squared=False)
//   val_rmse_ = register_module("val_rmse",
//       std::make_shared<LM::MeanSquaredError>(LM::MeanSquaredErrorOptions().squared(false)));
//   val_r2_ = register_module("val_r2", std::make_shared<LM::R2Score>());
//   val_rmse_->forward(preds, target);   // update(preds, target) accumulates only
//
// Every metric takes (preds, target) and an options struct whose defaults are
// torchmetrics'. Inputs are 1-D (N) or 2-D (N, num_outputs) unless noted. A
// bad option raises `lightning::Error` in the constructor, a bad input (shapes
// that differ, the wrong number of dimensions or outputs) in `update`.
#pragma once

#include <torch/arg.h>

#include <cstdint>
#include <string>
#include <vector>

#include "lightning/export.h"
#include "lightning/metrics/metric.h"

namespace lightning::metrics {

/// Options of MeanSquaredError.
struct LIGHTNING_API MeanSquaredErrorOptions {
  /// true: the mean squared error; false: its square root (RMSE).
  TORCH_ARG(bool, squared) = true;
  /// Number of outputs (columns of 2-D inputs) scored separately; 1 flattens
  /// the inputs into one score.
  TORCH_ARG(int64_t, num_outputs) = 1;
};

/// mean((preds - target)^2), or its square root. Shape [] or [num_outputs].
class LIGHTNING_API MeanSquaredError : public Metric {
 public:
  explicit MeanSquaredError(MeanSquaredErrorOptions options = {});
  const MeanSquaredErrorOptions& options() const { return options_; }

 protected:
  void update_states(const std::vector<at::Tensor>& inputs) override;
  std::vector<at::Tensor> compute_states() override;

 private:
  MeanSquaredErrorOptions options_;
};

/// Options of MeanAbsoluteError.
struct LIGHTNING_API MeanAbsoluteErrorOptions {
  /// Number of outputs scored separately; 1 flattens the inputs.
  TORCH_ARG(int64_t, num_outputs) = 1;
};

/// mean(|preds - target|). Shape [] or [num_outputs].
class LIGHTNING_API MeanAbsoluteError : public Metric {
 public:
  explicit MeanAbsoluteError(MeanAbsoluteErrorOptions options = {});
  const MeanAbsoluteErrorOptions& options() const { return options_; }

 protected:
  void update_states(const std::vector<at::Tensor>& inputs) override;
  std::vector<at::Tensor> compute_states() override;

 private:
  MeanAbsoluteErrorOptions options_;
};

/// mean(|preds - target| / max(|target|, 1.17e-6)) over every element (a
/// target of 0 gives a huge, finite term, as torchmetrics).
class LIGHTNING_API MeanAbsolutePercentageError : public Metric {
 public:
  MeanAbsolutePercentageError();

 protected:
  void update_states(const std::vector<at::Tensor>& inputs) override;
  std::vector<at::Tensor> compute_states() override;
};

/// mean(2 |preds - target| / max(|target| + |preds|, 1.17e-6)), in [0, 2].
class LIGHTNING_API SymmetricMeanAbsolutePercentageError : public Metric {
 public:
  SymmetricMeanAbsolutePercentageError();

 protected:
  void update_states(const std::vector<at::Tensor>& inputs) override;
  std::vector<at::Tensor> compute_states() override;
};

/// Options of R2Score.
struct LIGHTNING_API R2ScoreOptions {
  /// Number of independent regressors for the adjusted score (0: plain R²).
  /// Must be >= 0; when it is >= samples - 1 the plain score is returned
  /// with a warning, as torchmetrics.
  TORCH_ARG(int64_t, adjusted) = 0;
  /// Over the columns of 2-D inputs: "uniform_average", "raw_values" (one
  /// score per column) or "variance_weighted".
  TORCH_ARG(std::string, multioutput) = "uniform_average";
};

/// Coefficient of determination 1 - RSS/TSS. A constant target gives 1 when
/// the predictions are exact and 0 otherwise (torchmetrics' rule). compute()
/// raises `lightning::Error` with fewer than two samples.
class LIGHTNING_API R2Score : public Metric {
 public:
  explicit R2Score(R2ScoreOptions options = {});
  const R2ScoreOptions& options() const { return options_; }

 protected:
  void update_states(const std::vector<at::Tensor>& inputs) override;
  std::vector<at::Tensor> compute_states() override;

 private:
  R2ScoreOptions options_;
};

/// Options of PearsonCorrCoef.
struct LIGHTNING_API PearsonCorrCoefOptions {
  /// Number of outputs (columns of 2-D inputs), each with its coefficient.
  TORCH_ARG(int64_t, num_outputs) = 1;
};

/// Pearson's correlation coefficient, accumulated with torchmetrics' running
/// (Welford) statistics. NaN (with a warning) when preds or target have
/// (almost) no variance, or a single sample. Shape [] or [num_outputs].
///
/// Each update appends the running statistics to a list state; compute()
/// reads the last row, or under DDP the last row of every rank and merges
/// them with the parallel-variance formula, as torchmetrics does.
class LIGHTNING_API PearsonCorrCoef : public Metric {
 public:
  explicit PearsonCorrCoef(PearsonCorrCoefOptions options = {});
  const PearsonCorrCoefOptions& options() const { return options_; }

 protected:
  bool full_state_update() const override { return true; }
  void update_states(const std::vector<at::Tensor>& inputs) override;
  std::vector<at::Tensor> compute_states() override;

 private:
  PearsonCorrCoefOptions options_;
};

/// Options of SpearmanCorrCoef.
struct LIGHTNING_API SpearmanCorrCoefOptions {
  /// Number of outputs (columns of 2-D inputs), each with its coefficient.
  TORCH_ARG(int64_t, num_outputs) = 1;
};

/// Spearman's rank correlation: Pearson's on the ranks, ties given their
/// mean rank. Keeps every input (float32) until compute().
class LIGHTNING_API SpearmanCorrCoef : public Metric {
 public:
  explicit SpearmanCorrCoef(SpearmanCorrCoefOptions options = {});
  const SpearmanCorrCoefOptions& options() const { return options_; }

 protected:
  void update_states(const std::vector<at::Tensor>& inputs) override;
  std::vector<at::Tensor> compute_states() override;

 private:
  SpearmanCorrCoefOptions options_;
};

/// Options of ExplainedVariance.
struct LIGHTNING_API ExplainedVarianceOptions {
  /// "uniform_average", "raw_values" or "variance_weighted".
  TORCH_ARG(std::string, multioutput) = "uniform_average";
};

/// 1 - Var(target - preds) / Var(target); 1 when both variances are 0, 0
/// when only the target's is.
class LIGHTNING_API ExplainedVariance : public Metric {
 public:
  explicit ExplainedVariance(ExplainedVarianceOptions options = {});
  const ExplainedVarianceOptions& options() const { return options_; }

 protected:
  void update_states(const std::vector<at::Tensor>& inputs) override;
  std::vector<at::Tensor> compute_states() override;

 private:
  ExplainedVarianceOptions options_;
};

/// Options of CosineSimilarity.
struct LIGHTNING_API CosineSimilarityOptions {
  /// Over the rows: "sum", "mean" or "none" (one value per row).
  TORCH_ARG(std::string, reduction) = "sum";
};

/// Cosine similarity of each row of 2-D (N, D) preds and target, reduced.
/// Keeps every input (float32) until compute().
class LIGHTNING_API CosineSimilarity : public Metric {
 public:
  explicit CosineSimilarity(CosineSimilarityOptions options = {});
  const CosineSimilarityOptions& options() const { return options_; }

 protected:
  void update_states(const std::vector<at::Tensor>& inputs) override;
  std::vector<at::Tensor> compute_states() override;

 private:
  CosineSimilarityOptions options_;
};

/// Options of KLDivergence.
struct LIGHTNING_API KLDivergenceOptions {
  /// true: p and q are log-probabilities; false: non-negative weights,
  /// normalized to sum 1 per row.
  TORCH_ARG(bool, log_prob) = false;
  /// Over the rows: "mean", "sum" or "none" (one value per row, kept until
  /// compute()).
  TORCH_ARG(std::string, reduction) = "mean";
};

/// KL(p || q) of each row of 2-D (N, D) inputs p and q, reduced. update(p, q).
class LIGHTNING_API KLDivergence : public Metric {
 public:
  explicit KLDivergence(KLDivergenceOptions options = {});
  const KLDivergenceOptions& options() const { return options_; }

 protected:
  void update_states(const std::vector<at::Tensor>& inputs) override;
  std::vector<at::Tensor> compute_states() override;

 private:
  KLDivergenceOptions options_;
};

}  // namespace lightning::metrics
