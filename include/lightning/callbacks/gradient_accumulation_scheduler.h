// lightning/callbacks/gradient_accumulation_scheduler.h — change
// accumulate_grad_batches by epoch, as Lightning's GradientAccumulationScheduler.
//
//   // epochs 0-3: no accumulation; 4-7: 2 batches per step; from 8 on: 4.
//   auto gas = std::make_shared<L::GradientAccumulationScheduler>(
//       std::map<int64_t, int64_t>{{4, 2}, {8, 4}});
//   L::Trainer trainer(L::TrainerOptions().callbacks({gas}));
//
// An epoch before the first key uses 1. It cannot be combined with
// `TrainerOptions().accumulate_grad_batches(k > 1)` (a lightning::Error at
// train start says so). `trainer.estimated_stepping_batches()` follows the
// schedule exactly.
#pragma once

#include <cstdint>
#include <map>

#include "lightning/callbacks/callback.h"
#include "lightning/export.h"

namespace lightning {

/// Sets the Trainer's accumulate_grad_batches at the start of every epoch.
class LIGHTNING_API GradientAccumulationScheduler : public Callback {
 public:
  /// `scheduling`: first epoch -> batches per optimizer step. `lightning::Error`
  /// when it is empty, an epoch is negative or a factor is < 1.
  explicit GradientAccumulationScheduler(std::map<int64_t, int64_t> scheduling);

  void on_train_start(Trainer& trainer, LightningModule& module) override;
  void on_train_epoch_start(Trainer& trainer, LightningModule& module) override;

  /// Batches per optimizer step in `epoch`.
  int64_t factor(int64_t epoch) const;
  const std::map<int64_t, int64_t>& scheduling() const { return scheduling_; }

 private:
  std::map<int64_t, int64_t> scheduling_;
};

}  // namespace lightning
