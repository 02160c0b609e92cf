#include "lightning/callbacks/prediction_writer.h"

#include <ATen/core/Dict.h>
#include <ATen/core/List.h>

#include <filesystem>

#include "data/epoch_order.h"
#include "lightning/checkpoint/checkpoint_io.h"
#include "lightning/error.h"
#include "lightning/trainer.h"
#include "trainer/trainer_impl.h"

namespace lightning {
namespace {

// Lightning keeps epoch predictions on the CPU (move_data_to_device(..., "cpu")).
c10::IValue to_cpu(const c10::IValue& value) {
  if (value.isTensor()) {
    const at::Tensor& t = value.toTensor();
    return t.defined() ? c10::IValue(t.cpu()) : value;
  }
  if (value.isList()) {
    c10::impl::GenericList out(value.toList().elementType());
    for (const c10::IValue& v : value.toListRef()) out.push_back(to_cpu(v));
    return out;
  }
  if (value.isTuple()) {
    std::vector<c10::IValue> elements;
    for (const c10::IValue& v : value.toTupleRef().elements()) elements.push_back(to_cpu(v));
    return c10::ivalue::Tuple::create(std::move(elements));
  }
  if (value.isGenericDict()) {
    const c10::impl::GenericDict dict = value.toGenericDict();
    c10::impl::GenericDict out(dict.keyType(), dict.valueType());
    for (const auto& entry : dict) out.insert(entry.key(), to_cpu(entry.value()));
    return out;
  }
  return value;
}

c10::IValue int_list(const std::vector<int64_t>& values) {
  c10::List<int64_t> list;
  list.reserve(values.size());
  for (int64_t v : values) list.push_back(v);
  return list;
}

c10::IValue generic_list(std::vector<c10::IValue> values) {
  c10::impl::GenericList list(c10::AnyType::get());
  list.reserve(values.size());
  for (auto& v : values) list.push_back(std::move(v));
  return list;
}

}  // namespace

BasePredictionWriter::BasePredictionWriter(const std::string& write_interval)
    : interval_(write_interval) {
  LIGHTNING_CHECK(interval_ == "batch" || interval_ == "epoch" || interval_ == "batch_and_epoch",
                  "BasePredictionWriter write_interval should be one of [\"batch\", \"epoch\", "
                  "\"batch_and_epoch\"], got \"",
                  interval_, "\".");
}

void BasePredictionWriter::write_on_batch_end(Trainer&, LightningModule&, const c10::IValue&,
                                              const std::vector<int64_t>&, const Batch&, int64_t,
                                              int64_t) {
  LIGHTNING_FAIL("BasePredictionWriter with write_interval \"", interval_,
                 "\" writes after each batch, but write_on_batch_end is not overridden. Override "
                 "it, or use write_interval \"epoch\".");
}

void BasePredictionWriter::write_on_epoch_end(Trainer&, LightningModule&,
                                              const std::vector<c10::IValue>&,
                                              const EpochBatchIndices&) {
  LIGHTNING_FAIL("BasePredictionWriter with write_interval \"", interval_,
                 "\" writes at the epoch end, but write_on_epoch_end is not overridden. Override "
                 "it, or use write_interval \"batch\".");
}

void BasePredictionWriter::on_predict_epoch_start(Trainer& trainer, LightningModule&) {
  const size_t loaders = detail::TrainerAccess::impl(trainer).loaders_.predict.size();
  orders_.assign(loaders, {});
  predictions_.assign(on_epoch() ? loaders : 0, {});
  batch_indices_.assign(on_epoch() ? loaders : 0, {});
}

std::vector<int64_t> BasePredictionWriter::indices_of(Trainer& trainer, int64_t batch_idx,
                                                      int64_t dataloader_idx) {
  DataLoaders& loaders = detail::TrainerAccess::impl(trainer).loaders_.predict;
  const auto dl = static_cast<size_t>(dataloader_idx);
  LIGHTNING_CHECK(dl < loaders.size() && dl < orders_.size(),
                  "BasePredictionWriter: dataloader_idx ", dataloader_idx,
                  " is not one of the Trainer's ", loaders.size(),
                  " predict dataloader(s); its hooks are meant to be called by Trainer::predict.");
  // The loader's epoch is fixed once its first batch exists: compute its
  // order once rather than per batch.
  if (batch_idx == 0 || orders_[dl].empty()) orders_[dl] = detail::current_epoch_order(loaders[dl]);
  const int64_t bs = loaders[dl].options().batch_size();
  const auto& order = orders_[dl];
  const int64_t first = batch_idx * bs;
  const int64_t last = std::min<int64_t>(first + bs, static_cast<int64_t>(order.size()));
  if (first >= last) return {};
  return {order.begin() + first, order.begin() + last};
}

void BasePredictionWriter::on_predict_batch_end(Trainer& trainer, LightningModule& module,
                                                const c10::IValue& outputs, Batch& batch,
                                                int64_t batch_idx, int64_t dataloader_idx) {
  std::vector<int64_t> indices = indices_of(trainer, batch_idx, dataloader_idx);
  if (on_epoch()) {
    const auto dl = static_cast<size_t>(dataloader_idx);
    predictions_.at(dl).push_back(to_cpu(outputs));
    batch_indices_.at(dl).push_back(indices);
  }
  if (on_batch()) {
    write_on_batch_end(trainer, module, outputs, indices, batch, batch_idx, dataloader_idx);
  }
}

void BasePredictionWriter::on_predict_epoch_end(Trainer& trainer, LightningModule& module) {
  if (!on_epoch()) return;
  // The shape Trainer::predict returns: flat with one loader, nested with several.
  std::vector<c10::IValue> predictions;
  if (predictions_.size() == 1) {
    predictions = predictions_[0];
  } else {
    for (auto& outputs : predictions_) predictions.push_back(generic_list(outputs));
  }
  write_on_epoch_end(trainer, module, predictions, batch_indices_);
}

void BasePredictionWriter::on_predict_end(Trainer&, LightningModule&) {
  orders_.clear();
  predictions_.clear();
  batch_indices_.clear();
}

PredictionWriter::PredictionWriter(std::string output_dir, const std::string& write_interval)
    : BasePredictionWriter(write_interval), output_dir_(std::move(output_dir)) {
  LIGHTNING_CHECK(!output_dir_.empty(),
                  "PredictionWriter output_dir is empty: pass the folder to write the "
                  "predictions into.");
}

void PredictionWriter::write_on_batch_end(Trainer& trainer, LightningModule&,
                                          const c10::IValue& prediction,
                                          const std::vector<int64_t>& batch_indices, const Batch&,
                                          int64_t batch_idx, int64_t dataloader_idx) {
  StateDict file = make_state_dict();
  file.insert("prediction", prediction);
  file.insert("batch_indices", int_list(batch_indices));
  const std::string name = "predictions_" + std::to_string(trainer.global_rank()) + "_" +
                           std::to_string(dataloader_idx) + "_" + std::to_string(batch_idx) + ".pt";
  save_checkpoint_file(file, (std::filesystem::path(output_dir_) / name).string(),
                       SaveCheckpointOptions{{}});
}

void PredictionWriter::write_on_epoch_end(Trainer& trainer, LightningModule&,
                                          const std::vector<c10::IValue>& predictions,
                                          const EpochBatchIndices& batch_indices) {
  std::vector<c10::IValue> per_loader;
  for (const auto& batches : batch_indices) {
    std::vector<c10::IValue> lists;
    for (const auto& indices : batches) lists.push_back(int_list(indices));
    per_loader.push_back(generic_list(std::move(lists)));
  }
  StateDict file = make_state_dict();
  file.insert("predictions", generic_list(predictions));
  file.insert("batch_indices", generic_list(std::move(per_loader)));
  const std::string name = "predictions_" + std::to_string(trainer.global_rank()) + ".pt";
  save_checkpoint_file(file, (std::filesystem::path(output_dir_) / name).string(),
                       SaveCheckpointOptions{{}});
}

}  // namespace lightning
