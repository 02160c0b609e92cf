// A BoringModule that logs a scripted value per epoch (ModelCheckpoint and
// EarlyStopping tests).
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "support/boring.h"

namespace lightning::testing {

/// Logs `name` = values[current_epoch] (the last value once past the end),
/// from validation_step, or from training_step when `in_training`.
class Scripted : public BoringModule {
 public:
  explicit Scripted(std::vector<double> values, std::string name = "val_metric",
                    bool in_training = false)
      : values_(std::move(values)), name_(std::move(name)), in_training_(in_training) {}
  double value() const {
    const auto e = static_cast<size_t>(current_epoch());
    return values_[std::min(e, values_.size() - 1)];
  }
  StepOutput training_step(Batch& batch, int64_t) override {
    if (in_training_) log(name_, value());
    return loss(batch);
  }
  StepOutput validation_step(Batch&, int64_t) override {
    log(name_, value());
    return {};
  }

 private:
  std::vector<double> values_;
  std::string name_;
  bool in_training_;
};

}  // namespace lightning::testing
