#include "lightning/callbacks/gradient_accumulation_scheduler.h"

#include "lightning/error.h"
#include "lightning/trainer.h"

namespace lightning {

GradientAccumulationScheduler::GradientAccumulationScheduler(std::map<int64_t, int64_t> scheduling)
    : scheduling_(std::move(scheduling)) {
  LIGHTNING_CHECK(!scheduling_.empty(),
                  "GradientAccumulationScheduler needs a non-empty scheduling, e.g. {{4, 2}} "
                  "(from epoch 4 on, 2 batches per optimizer step).");
  for (const auto& [epoch, factor] : scheduling_) {
    LIGHTNING_CHECK(epoch >= 0, "GradientAccumulationScheduler epochs must be >= 0, got ", epoch,
                    ".");
    LIGHTNING_CHECK(factor >= 1, "GradientAccumulationScheduler factors must be >= 1, got ", factor,
                    " for epoch ", epoch, ".");
  }
  scheduling_.emplace(0, 1);  // Lightning: epochs before the first key do not accumulate
}

int64_t GradientAccumulationScheduler::factor(int64_t epoch) const {
  auto it = scheduling_.upper_bound(epoch);
  return std::prev(it)->second;  // scheduling_ always has key 0
}

void GradientAccumulationScheduler::on_train_start(Trainer& trainer, LightningModule& module) {
  LIGHTNING_CHECK(trainer.options().accumulate_grad_batches() == 1,
                  "TrainerOptions().accumulate_grad_batches(",
                  trainer.options().accumulate_grad_batches(),
                  ") cannot be combined with a GradientAccumulationScheduler: remove one of them.");
  LIGHTNING_CHECK(module.automatic_optimization(),
                  "GradientAccumulationScheduler works with automatic optimization only.");
}

void GradientAccumulationScheduler::on_train_epoch_start(Trainer& trainer, LightningModule&) {
  trainer.set_accumulate_grad_batches(factor(trainer.current_epoch()));
}

}  // namespace lightning
