// lightning/callbacks/prediction_writer.h — writing predictions as
// `trainer.predict` produces them, as Lightning's BasePredictionWriter.
//
//   class CustomWriter : public L::BasePredictionWriter {
//    public:
//     CustomWriter() : BasePredictionWriter("epoch") {}
//     void write_on_epoch_end(L::Trainer& trainer, L::LightningModule&,
//                             const std::vector<c10::IValue>& predictions,
//                             const L::EpochBatchIndices& batch_indices) override { ... }
//   };
//
// or the ready-made writer, whose files Python's `torch.load` opens:
//
//   auto writer = std::make_shared<L::PredictionWriter>("pred_path", "batch");
//   L::Trainer trainer(L::TrainerOptions().callbacks({writer}));
//   trainer.predict(model, data);
//
// `batch_indices` are the dataset indices of each batch's samples, in the
// order the loader drew them (shuffled or not; under DDP this rank's shard),
// as Lightning's `trainer.predict_loop.current_batch_indices` /
// `epoch_batch_indices`.
#pragma once

#include <ATen/core/ivalue.h>

#include <cstdint>
#include <string>
#include <vector>

#include "lightning/callbacks/callback.h"
#include "lightning/export.h"

namespace lightning {

/// Per dataloader, per batch, the dataset indices of the batch's samples
/// (Lightning's `epoch_batch_indices`: always one list per dataloader).
using EpochBatchIndices = std::vector<std::vector<std::vector<int64_t>>>;

/// Base class of callbacks that write predictions: override
/// `write_on_batch_end` and/or `write_on_epoch_end`, as the interval needs.
class LIGHTNING_API BasePredictionWriter : public Callback {
 public:
  /// `write_interval`: "batch" (default), "epoch" or "batch_and_epoch".
  /// `lightning::Error` for any other value.
  explicit BasePredictionWriter(const std::string& write_interval = "batch");

  /// Called after each predict batch (`on_predict_batch_end`) when the
  /// interval includes "batch". `batch_indices`: the dataset indices of the
  /// batch's samples. The default raises `lightning::Error` (override it).
  virtual void write_on_batch_end(Trainer& trainer, LightningModule& module,
                                  const c10::IValue& prediction,
                                  const std::vector<int64_t>& batch_indices, const Batch& batch,
                                  int64_t batch_idx, int64_t dataloader_idx);
  /// Called at `on_predict_epoch_end` when the interval includes "epoch".
  /// `predictions` has the shape `Trainer::predict` returns: one output per
  /// batch with one dataloader, one list per dataloader with several (the
  /// outputs moved to the CPU, as Lightning keeps them). The default raises
  /// `lightning::Error` (override it).
  virtual void write_on_epoch_end(Trainer& trainer, LightningModule& module,
                                  const std::vector<c10::IValue>& predictions,
                                  const EpochBatchIndices& batch_indices);

  /// "batch", "epoch" or "batch_and_epoch".
  const std::string& write_interval() const { return interval_; }
  bool on_batch() const { return interval_ != "epoch"; }
  bool on_epoch() const { return interval_ != "batch"; }

  void on_predict_epoch_start(Trainer& trainer, LightningModule& module) override;
  void on_predict_batch_end(Trainer& trainer, LightningModule& module, const c10::IValue& outputs,
                            Batch& batch, int64_t batch_idx, int64_t dataloader_idx) override;
  void on_predict_epoch_end(Trainer& trainer, LightningModule& module) override;
  void on_predict_end(Trainer& trainer, LightningModule& module) override;

 private:
  std::vector<int64_t> indices_of(Trainer& trainer, int64_t batch_idx, int64_t dataloader_idx);

  std::string interval_;
  // While a predict epoch runs: each loader's sample order (computed at its
  // first batch), and with an "epoch" interval the outputs and indices so far.
  std::vector<std::vector<int64_t>> orders_;
  std::vector<std::vector<c10::IValue>> predictions_;
  EpochBatchIndices batch_indices_;
};

/// A BasePredictionWriter that writes `torch.save`-format files into
/// `output_dir` (created when missing), named with the global rank:
///
/// - each batch ("batch" interval): `predictions_<rank>_<dataloader_idx>_<batch_idx>.pt`,
///   a dict {"prediction": the output, "batch_indices": [ints]};
/// - the epoch ("epoch" interval): `predictions_<rank>.pt`, a dict
///   {"predictions": as Trainer::predict returns them, "batch_indices":
///   per dataloader, per batch, [ints]}.
///
/// Python reads them with `torch.load(path)` (also with weights_only=True);
/// lightning.cpp with `L::load_checkpoint_file(path)`. Outputs may be
/// tensors, lists, tuples, dicts (str or int keys), strings, numbers and None.
class LIGHTNING_API PredictionWriter : public BasePredictionWriter {
 public:
  PredictionWriter(std::string output_dir, const std::string& write_interval = "batch");

  void write_on_batch_end(Trainer& trainer, LightningModule& module, const c10::IValue& prediction,
                          const std::vector<int64_t>& batch_indices, const Batch& batch,
                          int64_t batch_idx, int64_t dataloader_idx) override;
  void write_on_epoch_end(Trainer& trainer, LightningModule& module,
                          const std::vector<c10::IValue>& predictions,
                          const EpochBatchIndices& batch_indices) override;

  const std::string& output_dir() const { return output_dir_; }

 private:
  std::string output_dir_;
};

}  // namespace lightning
