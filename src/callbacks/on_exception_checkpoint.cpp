// OnExceptionCheckpoint: a checkpoint written when a stage raises.
#include "lightning/callbacks/on_exception_checkpoint.h"

#include <filesystem>
#include <utility>

#include "lightning/error.h"
#include "lightning/trainer.h"

namespace lightning {

OnExceptionCheckpoint::OnExceptionCheckpoint(std::string dirpath, std::string filename)
    : dirpath_(std::move(dirpath)), filename_(std::move(filename)) {
  LIGHTNING_CHECK(!filename_.empty(),
                  "OnExceptionCheckpoint: the filename cannot be empty; pass a name without "
                  "the .ckpt extension, e.g. \"on_exception\" (the default).");
}

std::string OnExceptionCheckpoint::ckpt_path() const {
  return (std::filesystem::path(dirpath_) / (filename_ + ".ckpt")).string();
}

void OnExceptionCheckpoint::on_exception(Trainer& trainer, LightningModule&,
                                         const std::exception&) {
  // Every rank takes part (save_checkpoint has a barrier); rank 0 writes.
  trainer.save_checkpoint(ckpt_path());
}

void OnExceptionCheckpoint::teardown(Trainer& trainer, LightningModule&, Stage) {
  // Lightning's strategy.remove_checkpoint: rank 0 deletes the file if present.
  if (!trainer.is_global_zero()) return;
  std::error_code ignored;
  std::filesystem::remove(ckpt_path(), ignored);
}

}  // namespace lightning
