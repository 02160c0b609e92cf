// lightning/precision.h — precision modes: what dtype the forward pass and the
// weights use, and the dynamic loss scaler of fp16 mixed precision.
//
//   L::Trainer trainer(L::TrainerOptions().precision("bf16-mixed"));
//
// | precision      | weights | forward/loss                  | backward/step                |
// |----------------|---------|-------------------------------|------------------------------|
// | "32-true"      | fp32    | fp32                          | fp32                         |
// | "64-true"      | fp64    | fp64 (inputs converted)       | fp64                         |
// | "bf16-mixed"   | fp32    | autocast to bf16 (CPU, CUDA)  | outside autocast, fp32 master|
// | "bf16-true"    | bf16    | bf16 (inputs converted)       | bf16                         |
// | "16-mixed"     | fp32    | CUDA autocast to fp16         | scaled loss, GradScaler      |
// | "16-true"      | fp16    | fp16 (inputs converted)       | fp16                         |
//
// Lightning's legacy spellings are accepted: "32"/32, "64"/64, "16"/16
// (= "16-mixed"), "bf16" (= "bf16-mixed").
#pragma once

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>
#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "lightning/data/batch.h"
#include "lightning/export.h"
#include "lightning/state_dict.h"

namespace lightning {

enum class PrecisionMode { k32True, k64True, kBf16Mixed, kBf16True, k16Mixed, k16True };

/// Parses Lightning's precision strings, legacy spellings included.
/// `lightning::Error` listing the accepted values otherwise.
LIGHTNING_API PrecisionMode parse_precision(const std::string& value);
/// The canonical name: "32-true", "bf16-mixed", ...
LIGHTNING_API std::string precision_name(PrecisionMode mode);

/// PyTorch's GradScaler defaults.
struct LIGHTNING_API GradScalerOptions {
  TORCH_ARG(double, init_scale) = 65536.0;
  TORCH_ARG(double, growth_factor) = 2.0;
  TORCH_ARG(double, backoff_factor) = 0.5;
  TORCH_ARG(int64_t, growth_interval) = 2000;
  TORCH_ARG(bool, enabled) = true;
};

/// Dynamic loss scaling as torch.cuda.amp.GradScaler: multiply the loss by
/// `scale`, unscale the gradients before clipping/stepping, skip the step when
/// a gradient is inf/NaN and halve the scale; double it after
/// `growth_interval` clean steps in a row. Works on any device and dtype (the
/// unit tests run it on CPU with fp32).
class LIGHTNING_API GradScaler {
 public:
  /// `lightning::Error` on init_scale <= 0, growth_factor <= 1,
  /// backoff_factor outside (0, 1), growth_interval < 1.
  explicit GradScaler(GradScalerOptions options = {});

  /// loss * scale (disabled: loss). As in PyTorch, whose scale is a float32
  /// tensor, the product is at least float32: an fp16/bf16 loss gives a
  /// float32 scaled loss (65536 does not fit in fp16), an fp64 loss stays fp64.
  at::Tensor scale(const at::Tensor& loss) const;
  /// Divides `optimizer`'s gradients by the scale and records whether any is
  /// inf/NaN (without a device sync: `step` reads the record). Once per
  /// optimizer between updates; a second call, or one after `step`, is a
  /// `lightning::Error` (as PyTorch).
  void unscale_(torch::optim::Optimizer& optimizer);
  /// Unscales if not done yet, then steps unless inf/NaN was found. Returns
  /// true when the optimizer stepped. `lightning::Error` when called twice for
  /// the same optimizer between updates, or when none of its parameters has a
  /// gradient (PyTorch: "No inf checks were recorded for this optimizer.").
  bool step(torch::optim::Optimizer& optimizer);
  /// Adjusts the scale from what the steps since the last update found and
  /// forgets the per-optimizer records. `lightning::Error` when no optimizer
  /// was unscaled since the last update. The scale stays a float32 value, as
  /// PyTorch's scale tensor; a growth that would overflow float32 is skipped.
  void update();

  double get_scale() const { return scale_; }
  int64_t growth_tracker() const { return growth_tracker_; }
  bool is_enabled() const { return options_.enabled(); }
  const GradScalerOptions& options() const { return options_; }

  /// PyTorch's keys: "scale", "growth_factor", "backoff_factor",
  /// "growth_interval", "_growth_tracker". Disabled: an empty dict.
  StateDict state_dict() const;
  /// Restores the scale, the growth tracker and the options. `lightning::Error`
  /// naming a missing or mistyped key, or on an empty state (saved by a
  /// disabled scaler). A disabled scaler ignores the call, as PyTorch.
  void load_state_dict(const StateDict& state);

 private:
  friend class Precision;
  enum class Stage { kReady, kUnscaled, kStepped };
  struct OptimizerState {
    Stage stage = Stage::kReady;
    // 0-dim bool tensor on the gradients' device, read (one sync) by step().
    at::Tensor found_inf;
    std::optional<bool> found_inf_value;
    bool found_inf_now();
  };
  bool is_unscaled(const torch::optim::Optimizer& optimizer) const;

  GradScalerOptions options_;
  double scale_;  // a float32 value, as PyTorch's scale tensor
  int64_t growth_tracker_ = 0;
  // Per optimizer since the last update().
  std::map<const torch::optim::Optimizer*, OptimizerState> per_optimizer_;
};

/// The precision plugin the Trainer (and manual optimization) goes through.
class LIGHTNING_API Precision {
 public:
  explicit Precision(PrecisionMode mode = PrecisionMode::k32True,
                     GradScalerOptions scaler_options = {});

  PrecisionMode mode() const { return mode_; }
  /// The weights' dtype: kDouble, kBFloat16, kHalf for the "-true" modes, else kFloat.
  c10::ScalarType param_dtype() const;
  /// The autocast dtype of the "-mixed" modes; nullopt otherwise.
  std::optional<c10::ScalarType> autocast_dtype() const;

  /// `lightning::Error` when `device` cannot run the mode: "16-mixed" needs
  /// CUDA (on CPU the message suggests "bf16-mixed"). The Trainer calls it in
  /// its constructor.
  void check_device(const c10::Device& device) const;
  /// `check_device`, then, in the "-true" modes,
  /// converts the module's floating parameters and buffers to `param_dtype()`
  /// (integer buffers are left alone, as Python's `module.to(dtype)`).
  void setup(torch::nn::Module& module, const c10::Device& device);
  /// "-true" modes: floating tensors of the batch converted to param_dtype().
  Batch convert_input(Batch batch) const;

  /// RAII, around the forward pass (the step methods): in the "-mixed" modes,
  /// autocast to `autocast_dtype()` on `device_type` (kCPU or kCUDA) while
  /// alive, as `torch.autocast`; in "64-true", "bf16-true" and "16-true", the
  /// default dtype (`torch.get_default_dtype()`, what `torch::zeros({n})`
  /// creates) is `param_dtype()` while alive, as Lightning's forward_context;
  /// in "32-true", nothing. Nests; the previous state is restored on exit.
  /// `lightning::Error` for "16-mixed" on a non-CUDA device type.
  class ForwardContext {
   public:
    ForwardContext(const Precision& precision, c10::DeviceType device_type);
    ~ForwardContext();
    ForwardContext(const ForwardContext&) = delete;
    ForwardContext& operator=(const ForwardContext&) = delete;

   private:
    enum class Kind { kNone, kAutocast, kDefaultDtype };
    Kind kind_ = Kind::kNone;
    c10::DeviceType device_type_;
    bool prev_enabled_ = false;
    bool prev_cache_enabled_ = true;
    c10::ScalarType prev_dtype_ = c10::kFloat;
  };
  ForwardContext forward_context(c10::DeviceType device_type) const {
    return ForwardContext(*this, device_type);
  }

  /// The tensor to call backward on: scaled under "16-mixed", else `loss`.
  at::Tensor pre_backward(const at::Tensor& loss) const;
  /// Before clipping: unscales the gradients ("16-mixed"); no-op otherwise,
  /// and no-op when this optimizer's gradients are already unscaled since the
  /// last update (so the Trainer and manual optimization may both call it).
  void unscale_gradients(torch::optim::Optimizer& optimizer);
  /// Steps the optimizer unless the scaler finds inf/NaN, then updates the
  /// scale. Returns whether the optimizer stepped.
  bool optimizer_step(torch::optim::Optimizer& optimizer);

  /// The loss scaler ("16-mixed" only; null otherwise).
  GradScaler* scaler() { return scaler_.get(); }
  const GradScaler* scaler() const { return scaler_.get(); }

 private:
  PrecisionMode mode_;
  std::unique_ptr<GradScaler> scaler_;
};

}  // namespace lightning
