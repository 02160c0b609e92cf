// EarlyStopping, as Lightning 2.x's lightning/pytorch/callbacks/early_stopping.py:
// the same checks, in the metric's dtype, and the same messages.
#include "lightning/callbacks/early_stopping.h"

#include <cmath>
#include <cstdio>
#include <iostream>
#include <limits>

#include "util/float_format.h"
#include "lightning/error.h"
#include "lightning/trainer.h"

namespace lightning {

namespace {

/// Python's f"{x:.3f}".
std::string fixed3(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

/// Python's f"{tensor}" for a 0-dim tensor: format(tensor.item(), "").
std::string plain(const at::Tensor& t) {
  if (at::isFloatingType(t.scalar_type())) return detail::format_float_repr(t.item<double>());
  if (t.scalar_type() == at::kBool) return t.item<bool>() ? "True" : "False";
  return std::to_string(t.item<int64_t>());
}

bool truth(const at::Tensor& t) { return t.item<bool>(); }

at::Tensor score_tensor(double v) {
  const bool exact = std::isnan(v) || static_cast<double>(static_cast<float>(v)) == v;
  return at::scalar_tensor(v, exact ? at::kFloat : at::kDouble);
}

}  // namespace

EarlyStopping::EarlyStopping(EarlyStoppingOptions options) : options_(std::move(options)) {
  const std::string& mode = options_.mode();
  LIGHTNING_CHECK(mode == "min" || mode == "max", "`mode` can be min, max, got ", mode);
  LIGHTNING_CHECK(options_.patience() >= 0, "EarlyStopping patience must be >= 0, got ",
                  options_.patience(), ".");
  // Lightning flips the sign in "min" mode: improvement means current - min_delta < best.
  min_delta_ = options_.min_delta() * (mode == "max" ? 1.0 : -1.0);
  const double inf = std::numeric_limits<double>::infinity();
  best_score_ = at::scalar_tensor(mode == "min" ? inf : -inf, at::kFloat);
}

std::string EarlyStopping::state_key() const {
  // Python's repr of the dict {'monitor': ..., 'mode': ...}.
  auto repr = [](const std::string& s) {
    const char q =
        s.find('\'') != std::string::npos && s.find('"') == std::string::npos ? '"' : '\'';
    std::string out(1, q);
    for (char ch : s) {
      if (ch == '\\' || ch == q) out += '\\';
      out += ch;
    }
    return out + q;
  };
  return "EarlyStopping{'monitor': " + repr(options_.monitor()) +
         ", 'mode': " + repr(options_.mode()) + "}";
}

double EarlyStopping::best_score() const { return best_score_.item<double>(); }

void EarlyStopping::setup(Trainer& trainer, LightningModule&, Stage) {
  if (check_on_train_epoch_end_) return;
  if (options_.check_on_train_epoch_end()) {
    check_on_train_epoch_end_ = *options_.check_on_train_epoch_end();
    return;
  }
  // Validation several times per epoch, or not every epoch: check after
  // validation instead. Python's `val_check_interval == 1.0` (int 1 too).
  const BatchLimit& vci = trainer.options().val_check_interval();
  const bool once_per_epoch = vci.is_fraction() ? vci.fraction() == 1.0 : vci.count() == 1;
  check_on_train_epoch_end_ = once_per_epoch && trainer.options().check_val_every_n_epoch() == 1;
}

bool EarlyStopping::should_skip_check(const Trainer& trainer) const {
  return trainer.state() != Stage::Fit || trainer.sanity_checking();
}

void EarlyStopping::on_train_epoch_end(Trainer& trainer, LightningModule&) {
  if (!check_on_train_epoch_end_.value_or(false) || should_skip_check(trainer)) return;
  run_early_stopping_check(trainer);
}

void EarlyStopping::on_validation_end(Trainer& trainer, LightningModule&) {
  if (check_on_train_epoch_end_.value_or(false) || should_skip_check(trainer)) return;
  run_early_stopping_check(trainer);
}

void EarlyStopping::run_early_stopping_check(Trainer& trainer) {
  if (trainer.options().fast_dev_run().enabled()) return;
  const TensorMetrics& logs = trainer.callback_metrics();
  auto it = logs.find(options_.monitor());
  if (it == logs.end()) {
    std::string keys;
    for (const auto& [name, value] : logs) keys += (keys.empty() ? "" : "`, `") + name;
    const std::string message = "Early stopping conditioned on metric `" + options_.monitor() +
                                "` which is not available. Pass in or modify your "
                                "`EarlyStopping` callback to use any of the following: `" +
                                keys + "`";
    if (options_.strict()) LIGHTNING_FAIL(message);
    if (options_.verbose()) detail::warn(message);
    return;
  }
  LIGHTNING_CHECK(it->second.defined() && it->second.numel() == 1, "EarlyStopping: the metric `",
                  options_.monitor(), "` must hold one number, got a tensor of shape ",
                  it->second.defined() ? c10::str(it->second.sizes()) : std::string("[]"), ".");
  const at::Tensor current = it->second.detach().squeeze().cpu();
  auto [should_stop, reason] = evaluate_stopping_criteria(current);

  trainer.set_should_stop(trainer.should_stop() || should_stop);
  if (should_stop) {
    stopped_epoch_ = trainer.current_epoch();
    reason_ = reason;
  }
  if (!reason.empty() && options_.verbose() && trainer.is_global_zero()) {
    std::cerr << (reason + "\n") << std::flush;
  }
}

std::pair<bool, std::string> EarlyStopping::evaluate_stopping_criteria(const at::Tensor& current) {
  const bool min_mode = options_.mode() == "min";
  const char* order = min_mode ? "<" : ">";
  auto monitor_op = [&](const at::Tensor& a, const at::Tensor& b) {
    return truth(min_mode ? at::lt(a, b) : at::gt(a, b));
  };
  auto monitor_op_scalar = [&](const at::Tensor& a, double b) {
    return truth(min_mode ? at::lt(a, b) : at::gt(a, b));
  };
  const std::string& monitor = options_.monitor();
  if (options_.check_finite() && !truth(at::isfinite(current))) {
    return {true, "Monitored metric " + monitor + " = " + plain(current) +
                      " is not finite. Previous best value was " + fixed3(best_score()) +
                      ". Signaling Trainer to stop."};
  }
  if (options_.stopping_threshold() && monitor_op_scalar(current, *options_.stopping_threshold())) {
    return {true, "Stopping threshold reached: " + monitor + " = " + plain(current) + " " + order +
                      " " + detail::format_float_repr(*options_.stopping_threshold()) +
                      ". Signaling Trainer to stop."};
  }
  if (options_.divergence_threshold() &&
      monitor_op_scalar(at::neg(current), -*options_.divergence_threshold())) {
    return {true, "Divergence threshold reached: " + monitor + " = " + plain(current) + " " +
                      order + " " + detail::format_float_repr(*options_.divergence_threshold()) +
                      ". Signaling Trainer to stop."};
  }
  if (monitor_op(at::sub(current, min_delta_), best_score_)) {
    std::string message;
    if (truth(at::isfinite(best_score_))) {
      message = "Metric " + monitor + " improved by " +
                fixed3(at::abs(best_score_ - current).item<double>()) +
                " >= min_delta = " + detail::format_float_repr(std::fabs(min_delta_)) +
                ". New best score: " + fixed3(current.item<double>());
    } else {
      message =
          "Metric " + monitor + " improved. New best score: " + fixed3(current.item<double>());
    }
    best_score_ = current.clone();
    wait_count_ = 0;
    return {false, message};
  }
  ++wait_count_;
  if (wait_count_ >= options_.patience()) {
    return {true, "Monitored metric " + monitor + " did not improve in the last " +
                      std::to_string(wait_count_) + " records. Best score: " +
                      fixed3(best_score()) + ". Signaling Trainer to stop."};
  }
  return {false, ""};
}

StateDict EarlyStopping::state_dict() const {
  StateDict s = make_state_dict();
  s.insert("wait_count", wait_count_);
  s.insert("stopped_epoch", stopped_epoch_);
  s.insert("best_score", best_score_);
  s.insert("patience", options_.patience());
  return s;
}

void EarlyStopping::load_state_dict(const StateDict& state) {
  const std::string owner = "EarlyStopping";
  wait_count_ = state_int(state, "wait_count", owner);
  stopped_epoch_ = state_int(state, "stopped_epoch", owner);
  const c10::IValue& best = state_value(state, "best_score", owner);
  if (best.isTensor()) {
    LIGHTNING_CHECK(best.toTensor().numel() == 1,
                    "EarlyStopping.load_state_dict: \"best_score\" must hold one number, got a "
                    "tensor of shape ",
                    best.toTensor().sizes(), ".");
    best_score_ = best.toTensor().detach().reshape({}).cpu().clone();
  } else {
    best_score_ = score_tensor(state_double(state, "best_score", owner));
  }
  options_.patience(state_int(state, "patience", owner));
}

}  // namespace lightning
