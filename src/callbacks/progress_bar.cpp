#include "lightning/callbacks/progress_bar.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <numeric>

#include "lightning/error.h"
#include "lightning/trainer.h"

namespace lightning {
namespace {

// tqdm's UTF charset: blank, then 1/8 .. 8/8 blocks (U+258F down to U+2588).
const char* const kBarChars[] = {" ",      "\u258F", "\u258E", "\u258D", "\u258C",
                                 "\u258B", "\u258A", "\u2589", "\u2588"};
constexpr int kBarSymbols = 8;
// Lightning's Tqdm pads float postfix values to this many characters.
constexpr size_t kPadSize = 5;

template <typename... Args>
std::string printf_string(const char* format, Args... args) {
  int n = std::snprintf(nullptr, 0, format, args...);
  std::string s(static_cast<size_t>(std::max(n, 0)) + 1, '\0');
  std::snprintf(s.data(), s.size(), format, args...);
  s.pop_back();
  return s;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Characters on screen: UTF-8 code points (every bar glyph is one column wide).
size_t display_length(const std::string& s) {
  return static_cast<size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

std::string display_trim(const std::string& s, size_t width) {
  size_t chars = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((s[i] & 0xC0) != 0x80 && chars++ == width) return s.substr(0, i);
  }
  return s;
}

// tqdm.format_interval: "MM:SS", or "H:MM:SS" from one hour.
std::string format_interval(double seconds) {
  auto t = static_cast<int64_t>(seconds);
  int64_t h = t / 3600, m = t / 60 % 60, s = t % 60;
  if (h) return printf_string("%lld:%02lld:%02lld", (long long)h, (long long)m, (long long)s);
  return printf_string("%02lld:%02lld", (long long)m, (long long)s);
}

// Python's repr(float): the shortest digits that read back as `v`, fixed
// notation for exponents in [-4, 16), else "d.ddde+XX".
std::string python_float_repr(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v == 0) return std::signbit(v) ? "-0.0" : "0.0";
  std::string e;
  for (int precision = 0; precision < 17; ++precision) {
    e = printf_string("%.*e", precision, v);
    if (std::strtod(e.c_str(), nullptr) == v) break;
  }
  std::string sign = e[0] == '-' ? "-" : "";
  size_t epos = e.find('e');
  std::string digits;
  for (size_t i = sign.size(); i < epos; ++i) {
    if (e[i] != '.') digits += e[i];
  }
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  int exponent = std::atoi(e.c_str() + epos + 1);
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) return sign + "0." + std::string(-exponent - 1, '0') + digits;
    auto int_digits = static_cast<size_t>(exponent) + 1;
    if (digits.size() <= int_digits) {
      return sign + digits + std::string(int_digits - digits.size(), '0') + ".0";
    }
    return sign + digits.substr(0, int_digits) + "." + digits.substr(int_digits);
  }
  std::string mantissa = digits.substr(0, 1);
  if (digits.size() > 1) mantissa.append(".").append(digits, 1);
  return sign + mantissa + printf_string("e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
}

// tqdm.format_num: the shorter of f"{n:.3g}" (exponent without its leading 0) and str(n).
std::string tqdm_format_num(const std::string& g3, const std::string& str) {
  std::string f = g3;
  for (const char* from : {"e+0", "e-0"}) {
    size_t pos = f.find(from);
    if (pos != std::string::npos) f.erase(pos + 2, 1);
  }
  return f.size() < str.size() ? f : str;
}

// One postfix value as Lightning's Tqdm.format_num renders `tensor.item()`.
std::string format_metric_value(const at::Tensor& value) {
  if (!at::isFloatingType(value.scalar_type())) {
    auto n = value.item<int64_t>();
    return tqdm_format_num(printf_string("%.3g", static_cast<double>(n)), std::to_string(n));
  }
  auto v = value.item<double>();
  std::string n = tqdm_format_num(printf_string("%.3g", v), python_float_repr(v));
  if (n.find('e') == std::string::npos) {
    if (n.find('.') == std::string::npos && n.size() < kPadSize) n += ".";
    if (n.size() < kPadSize) n += std::string(kPadSize - n.size(), '0');
  }
  return n;
}

}  // namespace

ProgressBar::ProgressBar(ProgressBarOptions options) : options_(options) {
  LIGHTNING_CHECK(options_.refresh_rate() >= 0, "ProgressBar refresh_rate must be >= 0, got ",
                  options_.refresh_rate(), ". Use 0 to disable the bar.");
  if (options_.interactive()) {
    interactive_ = *options_.interactive();
  } else if (options_.stream() == nullptr || options_.stream() == &std::cout) {
    interactive_ = isatty(STDOUT_FILENO);
  } else if (options_.stream() == &std::cerr || options_.stream() == &std::clog) {
    interactive_ = isatty(STDERR_FILENO);
  }
}

// ---- Hooks --------------------------------------------------------------------

void ProgressBar::on_sanity_check_start(Trainer& trainer, LightningModule& module) {
  // The val loaders are asked for after this hook: the counts come in on_validation_start.
  start_eval(trainer, "Sanity Checking", trainer.num_sanity_val_batches(), /*leave=*/false);
}

void ProgressBar::on_sanity_check_end(Trainer& trainer, LightningModule& module) {
  close(trainer, eval_);
}

void ProgressBar::on_train_epoch_start(Trainer& trainer, LightningModule& module) {
  start(trainer, main_, "Epoch " + std::to_string(trainer.current_epoch()),
        trainer.num_training_batches(), /*show_metrics=*/true, /*leave=*/true);
}

void ProgressBar::on_train_batch_end(Trainer& trainer, LightningModule& module,
                                     const StepOutput& outputs, Batch& batch, int64_t batch_idx) {
  advance(trainer, main_);
}

void ProgressBar::on_train_epoch_end(Trainer& trainer, LightningModule& module) {
  close(trainer, main_);
}

void ProgressBar::on_validation_start(Trainer& trainer, LightningModule& module) {
  if (trainer.sanity_checking()) {
    // The sanity bar opened in on_sanity_check_start, before the val loaders
    // were asked for; the batch counts are known now (tqdm's reset(total)
    // redraws the bar at 0%).
    eval_totals_ = trainer.num_sanity_val_batches();
    if (eval_.active) {
      eval_.description = eval_label(0);
      eval_.total = eval_totals_.empty() ? 0 : eval_totals_[0];
      if (interactive_) draw(trainer, eval_);
      return;
    }
    start_eval(trainer, "Sanity Checking", eval_totals_, false);
    return;
  }
  // During fit the validation line is temporary, as Lightning's (leave=False).
  start_eval(trainer, "Validation", trainer.num_val_batches(),
             /*leave=*/trainer.state() != Stage::Fit);
}

void ProgressBar::on_validation_batch_start(Trainer& trainer, LightningModule& module, Batch& batch,
                                            int64_t batch_idx, int64_t dataloader_idx) {
  switch_eval_loader(trainer, dataloader_idx);
}

void ProgressBar::on_test_batch_start(Trainer& trainer, LightningModule& module, Batch& batch,
                                      int64_t batch_idx, int64_t dataloader_idx) {
  switch_eval_loader(trainer, dataloader_idx);
}

void ProgressBar::on_predict_batch_start(Trainer& trainer, LightningModule& module, Batch& batch,
                                         int64_t batch_idx, int64_t dataloader_idx) {
  switch_eval_loader(trainer, dataloader_idx);
}

void ProgressBar::on_validation_batch_end(Trainer& trainer, LightningModule& module,
                                          const StepOutput& outputs, Batch& batch,
                                          int64_t batch_idx, int64_t dataloader_idx) {
  advance(trainer, eval_);
}

void ProgressBar::on_validation_end(Trainer& trainer, LightningModule& module) {
  if (!trainer.sanity_checking()) close(trainer, eval_);
}

void ProgressBar::on_test_start(Trainer& trainer, LightningModule& module) {
  start_eval(trainer, "Testing", trainer.num_test_batches(), true);
}

void ProgressBar::on_test_batch_end(Trainer& trainer, LightningModule& module,
                                    const StepOutput& outputs, Batch& batch, int64_t batch_idx,
                                    int64_t dataloader_idx) {
  advance(trainer, eval_);
}

void ProgressBar::on_test_end(Trainer& trainer, LightningModule& module) { close(trainer, eval_); }

void ProgressBar::on_predict_start(Trainer& trainer, LightningModule& module) {
  start_eval(trainer, "Predicting", trainer.num_predict_batches(), true);
}

void ProgressBar::on_predict_batch_end(Trainer& trainer, LightningModule& module,
                                       const c10::IValue& outputs, Batch& batch, int64_t batch_idx,
                                       int64_t dataloader_idx) {
  advance(trainer, eval_);
}

void ProgressBar::on_predict_end(Trainer& trainer, LightningModule& module) {
  close(trainer, eval_);
}

// ---- Bars -----------------------------------------------------------------------

std::string ProgressBar::eval_label(int64_t dataloader_idx) const {
  // Lightning names the loader only when there are several.
  if (eval_totals_.size() <= 1) return eval_base_;
  return eval_base_ + " DataLoader " + std::to_string(dataloader_idx);
}

void ProgressBar::start_eval(Trainer& trainer, const std::string& base, std::vector<int64_t> totals,
                             bool leave) {
  eval_base_ = base;
  eval_totals_ = std::move(totals);
  eval_loader_ = 0;
  eval_leave_ = leave;
  start(trainer, eval_, eval_label(0), eval_totals_.empty() ? 0 : eval_totals_[0], false, leave);
}

void ProgressBar::switch_eval_loader(Trainer& trainer, int64_t dataloader_idx) {
  if (dataloader_idx == eval_loader_ || !eval_.active) return;
  if (dataloader_idx < 0 || dataloader_idx >= static_cast<int64_t>(eval_totals_.size())) return;
  close(trainer, eval_);
  eval_loader_ = dataloader_idx;
  start(trainer, eval_, eval_label(dataloader_idx), eval_totals_[dataloader_idx], false,
        eval_leave_);
}

bool ProgressBar::enabled(const Trainer& trainer) const {
  return options_.refresh_rate() > 0 && trainer.is_global_zero();
}

std::ostream& ProgressBar::out() const {
  return options_.stream() ? *options_.stream() : std::cout;
}

int ProgressBar::terminal_width() const {
  // Lightning's bar uses tqdm's dynamic_ncols: the width is read at every draw.
  int fd = -1;
  if (options_.stream() == nullptr || options_.stream() == &std::cout) fd = STDOUT_FILENO;
  if (options_.stream() == &std::cerr || options_.stream() == &std::clog) fd = STDERR_FILENO;
  winsize size{};
  if (fd >= 0 && ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return 100;
}

void ProgressBar::start(Trainer& trainer, Bar& bar, const std::string& description, int64_t total,
                        bool show_metrics, bool leave) {
  if (!enabled(trainer)) return;
  if (bar.active && interactive_ && screen_chars_ > 0) {
    // The previous bar of this kind was never closed (an exception): keep its line.
    out() << '\n';
    screen_chars_ = 0;
  }
  bar = Bar();
  bar.description = description;
  bar.total = total;
  bar.start = std::chrono::steady_clock::now();
  bar.active = true;
  bar.show_metrics = show_metrics;
  bar.leave = leave;
  if (interactive_) draw(trainer, bar);  // tqdm shows the empty bar at once
}

void ProgressBar::advance(Trainer& trainer, Bar& bar) {
  if (!bar.active) return;
  ++bar.done;
  if (interactive_) {
    if (bar.done % options_.refresh_rate() == 0 || bar.done == bar.total) draw(trainer, bar);
    return;
  }
  if (bar.total <= 0 || bar.done > bar.total) return;
  int64_t quarter = bar.done * 4 / bar.total;
  if (quarter > bar.last_plain_quarter) {
    bar.last_plain_quarter = quarter;
    draw(trainer, bar);
  }
}

void ProgressBar::on_exception(Trainer& trainer, LightningModule&, const std::exception&) {
  close(trainer, eval_);
  close(trainer, main_);
}

void ProgressBar::close(Trainer& trainer, Bar& bar) {
  if (!bar.active) return;
  bar.active = false;
  if (interactive_) {
    if (bar.leave) {
      draw(trainer, bar);
      out() << '\n' << std::flush;
    } else {
      out() << '\r' << std::string(screen_chars_, ' ') << '\r' << std::flush;
    }
    screen_chars_ = 0;
    // Back to the training line, now with the validation metrics (Lightning
    // updates the main bar's postfix on validation end).
    if (&bar == &eval_ && main_.active) draw(trainer, main_);
    return;
  }
  // Plain mode: one more line when the last one is stale — the bar stopped
  // before its total, or metrics changed since (validation ran after the last batch).
  bool stale = bar.done > 0 && bar.done != bar.total;
  if (!stale && bar.show_metrics) {
    stale = format_postfix(trainer.progress_bar_metrics()) != bar.last_postfix;
  }
  if (stale) draw(trainer, bar);
}

void ProgressBar::draw(Trainer& trainer, Bar& bar) {
  double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - bar.start).count();
  if (bar.show_metrics) bar.last_postfix = format_postfix(trainer.progress_bar_metrics());
  if (!interactive_) {
    out() << format_line(bar.description, bar.done, bar.total, elapsed, bar.last_postfix, 0)
          << std::endl;
    return;
  }
  std::string line = format_line(bar.description, bar.done, bar.total, elapsed, bar.last_postfix,
                                 terminal_width());
  size_t chars = display_length(line);
  std::string padding(screen_chars_ > chars ? screen_chars_ - chars : 0, ' ');
  out() << '\r' << line << padding << std::flush;
  screen_chars_ = chars;
}

// ---- Formatting (tqdm's format_meter) ---------------------------------------------

std::string ProgressBar::format_line(const std::string& description, int64_t done, int64_t total,
                                     double elapsed_seconds, const std::string& postfix,
                                     int width) {
  double rate = elapsed_seconds > 0 ? static_cast<double>(done) / elapsed_seconds : 0.0;
  std::string rate_text;
  if (rate > 0 && 1.0 / rate > 1.0) {
    rate_text = printf_string("%5.2f", 1.0 / rate) + "s/it";
  } else {
    rate_text = (rate > 0 ? printf_string("%5.2f", rate) : "?") + "it/s";
  }
  std::string tail = postfix.empty() ? "" : ", " + postfix;
  std::string elapsed = format_interval(elapsed_seconds);

  if (total <= 0 || done > total) {
    std::string prefix = description.empty() ? "" : description + ": ";
    return prefix + std::to_string(done) + "it [" + elapsed + ", " + rate_text + tail + "]";
  }

  std::string l_bar = description;
  if (!description.empty() && !ends_with(description, ": ")) l_bar += ": ";
  double frac = static_cast<double>(done) / static_cast<double>(total);
  l_bar += printf_string("%3.0f", frac * 100) + "%|";
  std::string remaining =
      rate > 0 ? format_interval(static_cast<double>(total - done) / rate) : "?";
  std::string r_bar = "| " + std::to_string(done) + "/" + std::to_string(total) + " [" + elapsed +
                      "<" + remaining + ", " + rate_text + tail + "]";

  int64_t bars = 10;
  if (width > 0) {
    bars = std::max<int64_t>(
        1, width - static_cast<int64_t>(display_length(l_bar) + display_length(r_bar)));
  }
  // tqdm's Bar.__format__: full blocks, one partial block, then blanks.
  auto eighths = static_cast<int64_t>(frac * static_cast<double>(bars) * kBarSymbols);
  int64_t full = eighths / kBarSymbols;
  std::string bar;
  for (int64_t i = 0; i < full; ++i) bar += kBarChars[kBarSymbols];
  if (full < bars) {
    bar += kBarChars[eighths % kBarSymbols];
    bar += std::string(static_cast<size_t>(bars - full - 1), ' ');
  }
  std::string line = l_bar + bar + r_bar;
  return width > 0 ? display_trim(line, static_cast<size_t>(width)) : line;
}

std::string ProgressBar::format_postfix(const TensorMetrics& metrics) {
  std::string postfix;
  for (const auto& [name, value] : metrics) {
    if (!value.defined() || value.numel() != 1) continue;
    if (!postfix.empty()) postfix += ", ";
    postfix += name + "=" + format_metric_value(value);
  }
  return postfix;
}

}  // namespace lightning
