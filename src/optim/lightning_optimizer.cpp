#include "lightning/optim/lightning_optimizer.h"

#include "lightning/error.h"
#include "lightning/optim/param_groups.h"
#include "trainer/trainer_impl.h"

namespace lightning {

void LightningOptimizer::step() {
  LightningModule& model = trainer_->lightning_module();
  detail::TrainerImpl& trainer = detail::TrainerAccess::impl(*trainer_);
  LIGHTNING_CHECK(trainer.training_, "optimizer.step() through optimizers() runs during fit's ",
                  "training loop only (called outside it, e.g. in a validation hook).");
  trainer.optimizer_step(model, *optimizer_, /*clip=*/false);
}

double LightningOptimizer::lr(size_t group) const { return get_lr(*optimizer_, group); }

}  // namespace lightning
