// lightning/callbacks/stochastic_weight_averaging.h — Lightning's
// StochasticWeightAveraging callback (Izmailov et al., "Averaging Weights
// Leads to Wider Optima and Better Generalization", UAI 2018).
//
//   # StochasticWeightAveraging(swa_lrs=1e-2, swa_epoch_start=0.75, annealing_epochs=5)
//   auto swa = std::make_shared<L::StochasticWeightAveraging>(
//       L::StochasticWeightAveragingOptions(1e-2).swa_epoch_start(0.75).annealing_epochs(5));
//   L::Trainer trainer(L::TrainerOptions().max_epochs(20).callbacks({swa}));
//
// What it does, when (Lightning 2.6's timing):
//   - setup: a copy of the module's weights (the averaged model);
//   - on_fit_start: one optimizer and at most one scheduler, else an error;
//     a fractional swa_epoch_start becomes int(max_epochs * fraction); with
//     batch norm in the module, max_epochs grows by one (the statistics epoch);
//   - on_train_epoch_start of epoch swa_start (swa_epoch_start - 1, 0-based):
//     the scheduler is replaced by SWALR(swa_lrs, annealing_epochs,
//     annealing_strategy), stepped every epoch;
//   - on_train_epoch_start of every epoch from swa_start to max_epochs - 1:
//     the module's weights are averaged in (so the average holds the weights
//     at the start of those epochs; the last epoch's own updates are not in it);
//   - on_train_end: the averaged weights are copied into the module;
//   - with batch norm: the averaged weights go into the module at the start
//     of the extra epoch, the running statistics are reset (momentum None:
//     a cumulative average) and that epoch runs the training batches forward
//     only (no backward, no optimizer step); the momenta come back at train end.
// Its state (n_averaged, latest_update_epoch, the SWALR state, the averaged
// weights) is checkpointed under Lightning's keys and resumes exactly.
// Not supported: several optimizers or schedulers, manual optimization.
#pragma once

#include <c10/core/Device.h>
#include <torch/arg.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lightning/callbacks/callback.h"
#include "lightning/export.h"
#include "lightning/optim/swa_utils.h"

namespace lightning {

class SWALR;

/// swa_epoch_start: an epoch (int, 1-based, >= 1) or a fraction of max_epochs
/// (a double in [0, 1]), as Lightning's `Union[int, float]`.
struct LIGHTNING_API SWAEpochStart {
  SWAEpochStart(int epoch) : SWAEpochStart(static_cast<int64_t>(epoch)) {}   // NOLINT
  SWAEpochStart(int64_t epoch) : epoch(epoch) {}                             // NOLINT
  SWAEpochStart(double fraction) : is_fraction(true), fraction(fraction) {}  // NOLINT
  bool is_fraction = false;
  int64_t epoch = 0;
  double fraction = 0.0;
};

/// Options of StochasticWeightAveraging, with Lightning's names and defaults.
struct LIGHTNING_API StochasticWeightAveragingOptions {
  /// The SWA learning rate: one value for every parameter group, or one per group.
  StochasticWeightAveragingOptions(double swa_lrs) : swa_lrs_({swa_lrs}) {}  // NOLINT
  StochasticWeightAveragingOptions(std::vector<double> swa_lrs)              // NOLINT
      : swa_lrs_(std::move(swa_lrs)) {}
  TORCH_ARG(std::vector<double>, swa_lrs);
  /// The epoch averaging starts: an int (1-based) or a fraction of max_epochs. Default 0.8.
  TORCH_ARG(SWAEpochStart, swa_epoch_start) = 0.8;
  /// Epochs of SWALR's annealing to swa_lrs. Default 10.
  TORCH_ARG(int64_t, annealing_epochs) = 10;
  /// "cos" or "linear". Default "cos".
  TORCH_ARG(std::string, annealing_strategy) = "cos";
  /// How a model is averaged in; default (null) equal weights:
  /// averaged + (current - averaged) / (n_averaged + 1).
  TORCH_ARG(AvgFn, avg_fn) = nullptr;
  /// Where the averaged model lives; Lightning's default is the CPU; nullopt:
  /// the module's device.
  TORCH_ARG(std::optional<c10::Device>, device) = c10::Device(c10::kCPU);
};

class LIGHTNING_API StochasticWeightAveraging : public Callback {
 public:
  /// `lightning::Error` (Lightning's MisconfigurationException messages) for
  /// an int swa_epoch_start < 1, a fractional one outside [0, 1], swa_lrs
  /// empty or not all > 0; also (SWALR's checks, made here rather than at
  /// swa start) annealing_epochs < 0 and an annealing_strategy other than
  /// "cos" / "linear".
  explicit StochasticWeightAveraging(StochasticWeightAveragingOptions options);
  ~StochasticWeightAveraging() override;

  void setup(Trainer& trainer, LightningModule& module, Stage stage) override;
  void on_fit_start(Trainer& trainer, LightningModule& module) override;
  void on_train_epoch_start(Trainer& trainer, LightningModule& module) override;
  void on_train_epoch_end(Trainer& trainer, LightningModule& module) override;
  void on_train_end(Trainer& trainer, LightningModule& module) override;
  /// {"n_averaged", "latest_update_epoch", "scheduler_state",
  /// "average_model_state"} (None where not started yet).
  StateDict state_dict() const override;
  void load_state_dict(const StateDict& state) override;

  /// 0-based first averaged epoch (valid from on_fit_start on).
  int64_t swa_start() const;
  /// 0-based last averaged epoch (max_epochs - 1; -1 when max_epochs is -1).
  int64_t swa_end() const;
  /// Models averaged so far (0 before swa start).
  int64_t n_averaged() const;
  /// The averaged weights, in the module's state_dict layout (empty before setup).
  StateDict average_model_state() const;
  /// The SWALR in use (nullptr before swa start).
  std::shared_ptr<SWALR> swa_scheduler() const;
  const StochasticWeightAveragingOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lightning
