// lightning/checkpoint/checkpoint.h — the checkpoint dict and loading a module
// from a `.ckpt` file (docs/checkpoints.md).
//
//   // def on_save_checkpoint(self, checkpoint): checkpoint['custom_state'] = self.custom_data
//   void on_save_checkpoint(L::Checkpoint& checkpoint) override {
//     checkpoint.set("custom_state", custom_data_);
//   }
//   // def on_load_checkpoint(self, checkpoint):
//   //     self.custom_data = checkpoint.get('custom_state', default)
//   void on_load_checkpoint(L::Checkpoint& checkpoint) override {
//     custom_data_ = checkpoint.get<at::Tensor>("custom_state", default_value);
//   }
//
//   // model = MyModel.load_from_checkpoint("path.ckpt", learning_rate=1e-4)
//   auto model = L::load_from_checkpoint<MyModel>("path.ckpt", {{"learning_rate", 1e-4}});
#pragma once

#include <ATen/ATen.h>
#include <ATen/core/ivalue.h>
#include <c10/core/Device.h>
#include <torch/nn/module.h>

#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "lightning/export.h"
#include "lightning/hparams.h"
#include "lightning/state_dict.h"

namespace lightning {

class LightningModule;
class LightningDataModule;

/// Lightning's checkpoint dict: "epoch", "global_step",
/// "pytorch-lightning_version", "state_dict", "loops", "callbacks",
/// "optimizer_states", "lr_schedulers", "hparams_name", "hyper_parameters",
/// plus whatever `on_save_checkpoint` hooks add.
class LIGHTNING_API Checkpoint {
 public:
  Checkpoint();
  explicit Checkpoint(StateDict dict);

  bool contains(const std::string& key) const;
  /// Sets `key` (an int, double, bool, string, tensor, list, tuple, nested
  /// StateDict, ...). Replaces an existing value.
  void set(const std::string& key, c10::IValue value);
  /// The value of `key`; `lightning::Error` listing the keys when missing.
  const c10::IValue& at(const std::string& key) const;
  /// The value of `key` as T (int64_t, int, double, bool, std::string,
  /// at::Tensor, StateDict, std::vector<double>, std::vector<int64_t>,
  /// c10::IValue). `lightning::Error` naming the key and the stored type
  /// when it is missing or of another type.
  template <typename T>
  T get(const std::string& key) const;
  /// Python's `checkpoint.get(key, default)`.
  template <typename T>
  T get(const std::string& key, T fallback) const {
    return contains(key) ? get<T>(key) : fallback;
  }
  bool erase(const std::string& key);
  std::vector<std::string> keys() const;

  StateDict& dict() { return dict_; }
  const StateDict& dict() const { return dict_; }

 private:
  StateDict dict_;
};

// The types get<T> reads, defined in the library; declared here so that every
// translation unit uses these and none instantiates the undefined primary.
template <>
c10::IValue Checkpoint::get<c10::IValue>(const std::string& key) const;
template <>
int64_t Checkpoint::get<int64_t>(const std::string& key) const;
template <>
int Checkpoint::get<int>(const std::string& key) const;
template <>
double Checkpoint::get<double>(const std::string& key) const;
template <>
bool Checkpoint::get<bool>(const std::string& key) const;
template <>
std::string Checkpoint::get<std::string>(const std::string& key) const;
template <>
at::Tensor Checkpoint::get<at::Tensor>(const std::string& key) const;
template <>
StateDict Checkpoint::get<StateDict>(const std::string& key) const;
template <>
std::vector<double> Checkpoint::get<std::vector<double>>(const std::string& key) const;
template <>
std::vector<int64_t> Checkpoint::get<std::vector<int64_t>>(const std::string& key) const;

/// The version written as "pytorch-lightning_version": the Lightning release
/// whose checkpoint layout this library writes.
inline constexpr const char* kLightningCheckpointVersion = "2.1.0";

/// A module's parameters and buffers in PyTorch's `state_dict()` order
/// (each module's own parameters, then its buffers, then its children),
/// detached, as a dict of tensors.
LIGHTNING_API StateDict module_state_dict(const torch::nn::Module& module);
/// Copies `state` into the module's parameters and buffers. Strict: any
/// missing key, unexpected key or shape difference is a `lightning::Error`
/// that lists all of them (`source` names the file in the message).
LIGHTNING_API void load_module_state_dict(torch::nn::Module& module, const StateDict& state,
                                          const std::string& source = "the state dict");

/// HParams as a checkpoint value ("hyper_parameters") and back. Lists become
/// lists, nested HParams dicts. Values read from Python that HParams cannot
/// hold (tensors, Python objects) are skipped with a warning naming the key.
LIGHTNING_API c10::IValue hparams_to_ivalue(const HParams& hparams);
LIGHTNING_API HParams hparams_from_ivalue(const c10::IValue& value, const std::string& source);

/// Reads a `.ckpt` (see checkpoint_io.h) as a Checkpoint.
LIGHTNING_API Checkpoint read_checkpoint(
    const std::string& path, const std::optional<c10::Device>& map_location = std::nullopt);

namespace detail {
/// The saved "hyper_parameters" (or "datamodule_hyper_parameters") with
/// `overrides` applied; empty when the checkpoint has none.
LIGHTNING_API HParams checkpoint_hparams(const Checkpoint& checkpoint, const HParams& overrides,
                                         bool datamodule, const std::string& path);
/// Loads weights strictly and calls `on_load_checkpoint`.
LIGHTNING_API void restore_module(LightningModule& module, Checkpoint& checkpoint,
                                  const std::string& path);
/// The datamodule's state and `on_load_checkpoint`.
LIGHTNING_API void restore_datamodule(LightningDataModule& datamodule, Checkpoint& checkpoint,
                                      const std::string& path);
}  // namespace detail

/// Lightning's `MyModel.load_from_checkpoint(path, **overrides)`: builds T from
/// the saved hyperparameters with `overrides` applied (T(HParams) when T has
/// that constructor, else T() then `save_hyperparameters`), loads the
/// weights strictly (a mismatch lists missing keys, unexpected keys and shape
/// differences), moves it to `map_location`, calls `on_load_checkpoint`.
/// For a LightningDataModule T, the same from "datamodule_hyper_parameters"
/// and its saved state.
template <typename T>
std::shared_ptr<T> load_from_checkpoint(
    const std::string& path, const HParams& overrides = {},
    const std::optional<c10::Device>& map_location = std::nullopt) {
  constexpr bool is_datamodule = std::is_base_of_v<LightningDataModule, T>;
  static_assert(
      is_datamodule || std::is_base_of_v<LightningModule, T>,
      "load_from_checkpoint<T>: T must derive from LightningModule or LightningDataModule");
  static_assert(std::is_constructible_v<T, HParams> || std::is_default_constructible_v<T>,
                "load_from_checkpoint<T>: T needs a T(L::HParams) or a T() constructor");
  Checkpoint checkpoint = read_checkpoint(path, map_location);
  HParams hparams = detail::checkpoint_hparams(checkpoint, overrides, is_datamodule, path);
  std::shared_ptr<T> object;
  if constexpr (std::is_constructible_v<T, HParams>) {
    object = std::make_shared<T>(hparams);
  } else {
    object = std::make_shared<T>();
    object->save_hyperparameters(hparams);
  }
  if constexpr (is_datamodule) {
    detail::restore_datamodule(*object, checkpoint, path);
  } else {
    if (map_location) object->to(*map_location);
    detail::restore_module(*object, checkpoint, path);
  }
  return object;
}

}  // namespace lightning
