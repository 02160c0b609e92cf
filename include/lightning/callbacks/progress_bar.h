// lightning/callbacks/progress_bar.h — the default progress bar (Lightning's TQDMProgressBar).
//
//   Epoch 3:  62%|██████▏   | 534/860 [00:04<00:02, 128.30it/s, train_loss=0.412, val_acc=0.871]
//
// On a terminal the line is redrawn in place every `refresh_rate` batches;
// when stdout is not a terminal (CI logs, pipes) it prints a plain line at
// each quarter of an epoch and at the end, so logs stay short. It shows the
// `prog_bar=true` metrics, it/s and the ETA. Added automatically when
// `TrainerOptions().enable_progress_bar(true)` (the default) and no
// ProgressBar is among the callbacks.
#pragma once

#include <torch/arg.h>

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>

#include "lightning/callbacks/callback.h"
#include "lightning/export.h"
#include "lightning/logging.h"

namespace lightning {

/// Options of the progress bar.
struct LIGHTNING_API ProgressBarOptions {
  /// Redraw every N batches on a terminal; 0 disables the bar (as Lightning). Default 1.
  TORCH_ARG(int64_t, refresh_rate) = 1;
  /// Force terminal (true) or plain-line (false) mode; unset detects with isatty. Default unset.
  TORCH_ARG(std::optional<bool>, interactive) = std::nullopt;
  /// Where to draw; nullptr means std::cout. The stream must outlive the bar.
  TORCH_ARG(OStreamPtr, stream) = nullptr;
};

/// Draws training/validation/test/predict progress with prog_bar metrics.
class LIGHTNING_API ProgressBar : public Callback {
 public:
  explicit ProgressBar(ProgressBarOptions options = {});

  void on_sanity_check_start(Trainer& trainer, LightningModule& module) override;
  void on_sanity_check_end(Trainer& trainer, LightningModule& module) override;
  void on_train_epoch_start(Trainer& trainer, LightningModule& module) override;
  void on_train_batch_end(Trainer& trainer, LightningModule& module, const StepOutput& outputs,
                          Batch& batch, int64_t batch_idx) override;
  void on_train_epoch_end(Trainer& trainer, LightningModule& module) override;
  void on_validation_start(Trainer& trainer, LightningModule& module) override;
  /// With several dataloaders: one bar per dataloader ("Validation DataLoader 1").
  void on_validation_batch_start(Trainer& trainer, LightningModule& module, Batch& batch,
                                 int64_t batch_idx, int64_t dataloader_idx) override;
  void on_validation_batch_end(Trainer& trainer, LightningModule& module, const StepOutput& outputs,
                               Batch& batch, int64_t batch_idx, int64_t dataloader_idx) override;
  void on_validation_end(Trainer& trainer, LightningModule& module) override;
  void on_test_start(Trainer& trainer, LightningModule& module) override;
  void on_test_batch_start(Trainer& trainer, LightningModule& module, Batch& batch,
                           int64_t batch_idx, int64_t dataloader_idx) override;
  void on_test_batch_end(Trainer& trainer, LightningModule& module, const StepOutput& outputs,
                         Batch& batch, int64_t batch_idx, int64_t dataloader_idx) override;
  void on_test_end(Trainer& trainer, LightningModule& module) override;
  void on_predict_start(Trainer& trainer, LightningModule& module) override;
  void on_predict_batch_start(Trainer& trainer, LightningModule& module, Batch& batch,
                              int64_t batch_idx, int64_t dataloader_idx) override;
  void on_predict_batch_end(Trainer& trainer, LightningModule& module, const c10::IValue& outputs,
                            Batch& batch, int64_t batch_idx, int64_t dataloader_idx) override;
  void on_predict_end(Trainer& trainer, LightningModule& module) override;
  /// Ends the open lines, so the error message starts on a line of its own.
  void on_exception(Trainer& trainer, LightningModule& module,
                    const std::exception& error) override;

  /// Formats one bar line as tqdm does (no carriage return); exposed for tests.
  /// `total` <= 0 (or `done` > `total`) means unknown: "45it [00:01, 38.21it/s]".
  /// `width` is tqdm's `ncols`: the bar fills the line up to `width` characters
  /// and longer lines are cut; `width` <= 0 gives tqdm's fixed 10-character bar.
  static std::string format_line(const std::string& description, int64_t done, int64_t total,
                                 double elapsed_seconds, const std::string& postfix,
                                 int width = 100);
  /// Formats metrics as the bar's postfix, "loss=0.123, acc=0.500": each value
  /// as tqdm's `format_num` (the shorter of `{:.3g}` and `str()`), floats padded
  /// to 5 characters as Lightning's `Tqdm.format_num`. One `.item()` per metric.
  static std::string format_postfix(const TensorMetrics& metrics);

 private:
  // One bar's state; see src/callbacks/progress_bar.cpp.
  struct Bar {
    std::string description;
    int64_t done = 0;
    int64_t total = -1;
    std::chrono::steady_clock::time_point start;
    int64_t last_plain_quarter = 0;  // quarters already printed in plain mode
    bool active = false;
    bool show_metrics = false;  // postfix = progress_bar_metrics (the training bar only)
    bool leave = true;          // keep the last line on a terminal (else erase it on close)
    std::string last_postfix;   // postfix of the last line drawn
  };
  void start(Trainer& trainer, Bar& bar, const std::string& description, int64_t total,
             bool show_metrics, bool leave);
  void advance(Trainer& trainer, Bar& bar);
  void close(Trainer& trainer, Bar& bar);
  void draw(Trainer& trainer, Bar& bar);
  // The evaluation bar of each dataloader in turn: `base` ("Validation"),
  // the batch count per loader, whether lines stay.
  void start_eval(Trainer& trainer, const std::string& base, std::vector<int64_t> totals,
                  bool leave);
  void switch_eval_loader(Trainer& trainer, int64_t dataloader_idx);
  std::string eval_label(int64_t dataloader_idx) const;
  bool enabled(const Trainer& trainer) const;
  std::ostream& out() const;
  int terminal_width() const;

  ProgressBarOptions options_;
  bool interactive_ = false;
  size_t screen_chars_ = 0;  // characters of the line now on screen (terminal mode)
  Bar main_, eval_;
  std::string eval_base_;
  std::vector<int64_t> eval_totals_;
  int64_t eval_loader_ = 0;
  bool eval_leave_ = true;
};

}  // namespace lightning
