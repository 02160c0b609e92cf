// lightning/optim/swa_utils.h — PyTorch's torch.optim.swa_utils averaging:
// AveragedModel (a running average of a module's weights, for Stochastic
// Weight Averaging or an exponential moving average) and the averaging
// functions it takes. SWALR is in lightning/optim/swalr.h.
//
//   # swa_model = AveragedModel(model)
//   # ema_model = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.999), use_buffers=True)
//   L::AveragedModel swa_model(*model);
//   L::AveragedModel ema_model(*model, L::AveragedModelOptions()
//                                          .multi_avg_fn(L::get_ema_multi_avg_fn(0.999))
//                                          .use_buffers(true));
//   swa_model.update_parameters(*model);  // after each epoch (or step)
//   swa_model.copy_to(*model);            // the averaged weights into the model
//
// The averaged copy holds tensors only (not a second module): its entries
// follow the model's state_dict keys, and the model given to
// update_parameters / copy_to must have the same parameters and buffers.
#pragma once

#include <ATen/ATen.h>
#include <c10/core/Device.h>
#include <torch/arg.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "lightning/export.h"
#include "lightning/state_dict.h"

namespace lightning {

/// avg_fn(averaged, current, num_averaged) -> the new averaged value.
using AvgFn = std::function<at::Tensor(const at::Tensor& averaged, const at::Tensor& current,
                                       const at::Tensor& num_averaged)>;
/// multi_avg_fn(averaged, current, num_averaged): updates `averaged` in place
/// (tensors of one device and dtype).
using MultiAvgFn =
    std::function<void(const std::vector<at::Tensor>& averaged,
                       const std::vector<at::Tensor>& current, const at::Tensor& num_averaged)>;

/// Equal weights: averaged + (current - averaged) / (num_averaged + 1).
LIGHTNING_API AvgFn get_swa_avg_fn();
/// decay * averaged + (1 - decay) * current. `lightning::Error` unless decay
/// is in [0, 1].
LIGHTNING_API AvgFn get_ema_avg_fn(double decay = 0.999);
/// In place: lerp toward current with weight 1 / (num_averaged + 1).
LIGHTNING_API MultiAvgFn get_swa_multi_avg_fn();
/// In place: lerp toward current with weight 1 - decay. `lightning::Error`
/// unless decay is in [0, 1].
LIGHTNING_API MultiAvgFn get_ema_multi_avg_fn(double decay = 0.999);

struct LIGHTNING_API AveragedModelOptions {
  /// Where the averaged copy lives; default: the model's device.
  TORCH_ARG(std::optional<c10::Device>, device) = std::nullopt;
  /// At most one of avg_fn / multi_avg_fn; neither: equal weights (SWA).
  TORCH_ARG(AvgFn, avg_fn) = nullptr;
  TORCH_ARG(MultiAvgFn, multi_avg_fn) = nullptr;
  /// Average the buffers too (e.g. batch-norm statistics); otherwise they are
  /// copied from the model at each update.
  TORCH_ARG(bool, use_buffers) = false;
};

class LIGHTNING_API AveragedModel {
 public:
  /// Copies the model's parameters and buffers (to `device` when given).
  /// `lightning::Error` when both avg_fn and multi_avg_fn are given.
  explicit AveragedModel(const torch::nn::Module& model, AveragedModelOptions options = {});

  /// PyTorch's update_parameters: the first call copies the model's values,
  /// later ones average them in; then n_averaged += 1. `lightning::Error`
  /// when the model's parameters or buffers differ in number or shape from
  /// the copy's.
  void update_parameters(const torch::nn::Module& model);
  /// Updates done so far (a long tensor, as PyTorch's buffer `n_averaged`).
  const at::Tensor& n_averaged() const { return n_averaged_; }
  /// Sets the count (e.g. restored from a checkpoint kept elsewhere).
  void set_n_averaged(int64_t n);

  /// The averaged values, in the model's parameters() / buffers() order.
  const std::vector<at::Tensor>& parameters() const { return params_; }
  const std::vector<at::Tensor>& buffers() const { return buffers_; }
  /// Copies the averaged parameters (and buffers when `buffers`) into `model`.
  void copy_to(torch::nn::Module& model, bool buffers = true) const;
  /// Swaps the averaged parameters and buffers with the model's.
  void swap_with(torch::nn::Module& model);

  /// PyTorch's AveragedModel.state_dict(): "module.<key>" for each key of
  /// the model's state_dict, then "n_averaged".
  StateDict state_dict() const;
  /// Restores state_dict() output. `lightning::Error` naming `source` and the
  /// keys when a key is missing, unexpected or of another shape.
  void load_state_dict(const StateDict& state, const std::string& source = "the state dict");
  /// The averaged copy's own state_dict (AveragedModel.module.state_dict()).
  StateDict module_state_dict() const;
  /// Loads into the averaged copy; `strict` false ignores missing and
  /// unexpected keys (shapes must still match).
  void load_module_state_dict(const StateDict& state, const std::string& source, bool strict);

 private:
  AveragedModelOptions options_;
  std::vector<std::string> keys_;    // the model's state_dict keys, in order
  std::vector<at::Tensor> values_;   // the averaged copy, same order
  std::vector<at::Tensor> params_;   // aliases of values_, in parameters() order
  std::vector<at::Tensor> buffers_;  // aliases of values_, in buffers() order
  at::Tensor n_averaged_;
};

}  // namespace lightning
