// lightning/callbacks/model_summary.h — the table printed at fit start, as
// Lightning 2.6's ModelSummary(max_depth=1):
//
//     | Name  | Type       | Params | Mode  | FLOPs
//   ----------------------------------------------------
//   0 | model | Sequential | 235 K  | train | 0
//   ----------------------------------------------------
//   235 K     Trainable params
//   0         Non-trainable params
//   235 K     Total params
//   0.941     Total estimated model params size (MB)
//   4         Modules in train mode
//   0         Modules in eval mode
//   0         Total Flops
//
// max_depth 2 adds the children's children ("model.0", ...), -1 every level;
// parameters registered on the module itself (no layer listed holds them) get
// an "other params" row. FLOPs are 0: Lightning counts them only in a forward
// pass on `example_input_array`, which C++ modules do not have.
//
// Added automatically when `TrainerOptions().enable_model_summary(true)` (the
// default) and no ModelSummary is among the callbacks.
#pragma once

#include <torch/arg.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <iosfwd>
#include <string>

#include "lightning/callbacks/callback.h"
#include "lightning/export.h"

namespace lightning {

/// Options of the model summary.
struct LIGHTNING_API ModelSummaryOptions {
  /// Depth of submodules listed; -1 every level; 0 turns the callback's
  /// summary off (as in Lightning). Default 1. Must be >= -1.
  TORCH_ARG(int64_t, max_depth) = 1;
  /// Where to print; nullptr means std::cout. The stream must outlive the callback.
  TORCH_ARG(OStreamPtr, stream) = nullptr;
};

/// Prints the module's layers, parameter counts and size on fit start (rank 0).
class LIGHTNING_API ModelSummary : public Callback {
 public:
  explicit ModelSummary(ModelSummaryOptions options = {});
  void on_fit_start(Trainer& trainer, LightningModule& module) override;

  /// The table for `module` as a string (what on_fit_start prints; at
  /// max_depth 0 the totals with an "other params" row, as Lightning's
  /// `ModelSummary(model, max_depth=0)`).
  static std::string summarize(const torch::nn::Module& module, int64_t max_depth = 1);
  /// Lightning's `get_human_readable_count`: "999  ", "1.2 K", "235 K", "3.4 M",
  /// "5.6 B", "7.8 T", "5,000 T" (the unit label is " " below a thousand).
  static std::string format_count(int64_t count);

 private:
  ModelSummaryOptions options_;
};

}  // namespace lightning
