// lightning/callbacks/on_exception_checkpoint.h — saves a checkpoint when a
// Trainer entry point raises, as Lightning's OnExceptionCheckpoint.
//
//   auto on_error = std::make_shared<L::OnExceptionCheckpoint>("checkpoints");
//   L::Trainer trainer(L::TrainerOptions().callbacks({on_error}));
//   try { trainer.fit(model, data); } catch (...) { /* checkpoints/on_exception.ckpt */ }
//   trainer.fit(model, data, "checkpoints/on_exception.ckpt");   // resume from it
//
// The file is written by `on_exception` (global rank 0, overwriting an older
// one) and removed again by `teardown` when a later stage ends normally, as
// in Lightning.
#pragma once

#include <string>

#include "lightning/callbacks/callback.h"
#include "lightning/export.h"

namespace lightning {

/// Writes `<dirpath>/<filename>.ckpt` when fit/validate/test/predict raises.
class LIGHTNING_API OnExceptionCheckpoint : public Callback {
 public:
  /// `filename` without the ".ckpt" extension; empty is a `lightning::Error`.
  explicit OnExceptionCheckpoint(std::string dirpath, std::string filename = "on_exception");

  const std::string& dirpath() const { return dirpath_; }
  const std::string& filename() const { return filename_; }
  /// `<dirpath>/<filename>.ckpt`.
  std::string ckpt_path() const;

  void on_exception(Trainer& trainer, LightningModule& module,
                    const std::exception& error) override;
  void teardown(Trainer& trainer, LightningModule& module, Stage stage) override;

 private:
  std::string dirpath_;
  std::string filename_;
};

}  // namespace lightning
