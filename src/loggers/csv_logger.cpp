#include "lightning/loggers/csv_logger.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "lightning/error.h"
#include "lightning/loggers/report.h"
#include "lightning/tuner.h"
#include "util/float_format.h"

namespace lightning {
namespace detail {

// RFC 4180 / Python csv QUOTE_MINIMAL: quoted only when needed, quotes doubled.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace detail

namespace {

namespace fs = std::filesystem;

const char* const kHint =
    "Pass a writable save_dir to CSVLoggerOptions (or a writable "
    "TrainerOptions().default_root_dir for the default logger).";

[[noreturn]] void cannot_write(const std::string& path) {
  LIGHTNING_FAIL("CSVLogger cannot write '", path, "': ", std::strerror(errno), ". ", kHint);
}

// "step" and "epoch" are ints in Lightning's rows, so they are written as ints.
std::string format_cell(double v, bool integer_column) {
  if (integer_column && std::isfinite(v) && v == std::trunc(v) && std::abs(v) < 9.2e18) {
    return std::to_string(static_cast<int64_t>(v));
  }
  return detail::format_float_repr(v);
}

std::string local_time_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S %z", &tm);
  return buf;
}

}  // namespace

CSVLogger::CSVLogger(CSVLoggerOptions options)
    : options_(std::move(options)),
      folder_(options_.save_dir(), options_.name(), options_.version()) {
  LIGHTNING_CHECK(options_.flush_logs_every_n_steps() >= 1,
                  "CSVLoggerOptions.flush_logs_every_n_steps must be >= 1, got ",
                  options_.flush_logs_every_n_steps(),
                  ". Use 1 to write metrics.csv after every log_metrics call.");
}

CSVLogger::~CSVLogger() {
  // Rows logged without a final save() (no finalize) still reach metrics.csv;
  // a destructor must not throw, so a failure here is only reported. The
  // calls are CSVLogger's own on purpose (no virtual dispatch in a destructor).
  if (pending_.empty()) return;
  try {
    CSVLogger::save();
  } catch (const std::exception& e) {
    detail::warn(c10::str("CSVLogger could not write its last rows: ", e.what()));
  }
}

std::string CSVLogger::version() const { return folder_.version(); }

std::string CSVLogger::log_dir() const { return folder_.path(); }

void CSVLogger::mark_started() {
  if (!started_.empty()) return;
  started_ = local_time_now();
  started_at_ = std::chrono::steady_clock::now();
}

void CSVLogger::ensure_dir() {
  if (dir_ready_) return;
  const std::string dir = log_dir();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    LIGHTNING_FAIL("CSVLogger cannot create its run folder '", dir, "': ", ec.message(), ". ",
                   kHint);
  }
  LIGHTNING_CHECK(fs::is_directory(dir, ec), "CSVLogger cannot use its run folder '", dir,
                  "': it exists and is not a folder. ", kHint);
  // Root passes permission bits, but not a read-only file system: access()
  // checks both, so an unwritable folder fails here, before any training.
  if (::access(dir.c_str(), W_OK) != 0) {
    LIGHTNING_FAIL("CSVLogger cannot write to its run folder '", dir, "': ", std::strerror(errno),
                   ". ", kHint);
  }
  // As Lightning's _ExperimentWriter: a metrics.csv from an earlier run in the
  // same version folder is replaced, with a warning.
  const fs::path metrics = fs::path(dir) / "metrics.csv";
  if (fs::exists(metrics, ec)) {
    detail::warn(c10::str("CSVLogger: '", metrics.string(),
                          "' exists and will be replaced by this run's metrics. Use another "
                          "version (or none, for the next free version_N) to keep it."));
    fs::remove(metrics, ec);
  }
  // Nor are an earlier run's learning-rate sweeps this run's.
  fs::remove(fs::path(dir) / "lr_find.csv", ec);
  dir_ready_ = true;
}

void CSVLogger::log_lr_find(const LRFinder& finder, int64_t step) {
  mark_started();
  ensure_dir();
  const std::string path = (fs::path(log_dir()) / "lr_find.csv").string();
  std::ofstream out(path,
                    std::ios::binary | (lr_find_sweeps_ == 0 ? std::ios::trunc : std::ios::app));
  if (!out) cannot_write(path);
  if (lr_find_sweeps_ == 0) out << "sweep,step,exponential,lr,loss,suggested\n";
  const std::optional<int64_t> suggested = finder.suggestion_index();
  const int exponential = finder.mode() == "exponential" ? 1 : 0;
  for (size_t i = 0; i < finder.lrs().size(); ++i) {
    out << lr_find_sweeps_ << ',' << step << ',' << exponential << ','
        << detail::format_float_repr(finder.lrs()[i]) << ','
        << detail::format_float_repr(finder.losses()[i]) << ','
        << (suggested && *suggested == static_cast<int64_t>(i) ? 1 : 0) << '\n';
  }
  out.flush();
  if (!out) cannot_write(path);
  ++lr_find_sweeps_;
}

void CSVLogger::write_hparams() {
  const std::string path = (fs::path(log_dir()) / "hparams.yaml").string();
  try {
    save_hparams_to_yaml(path, hparams_);
  } catch (const Error& e) {
    LIGHTNING_FAIL("CSVLogger cannot write '", path, "': ", e.what(), " ", kHint);
  }
  hparams_written_ = true;
}

void CSVLogger::log_hyperparams(const HParams& hparams) {
  mark_started();
  hparams_.update(hparams);
  ensure_dir();
  write_hparams();
}

void CSVLogger::log_metrics(const Metrics& metrics, int64_t step) {
  mark_started();
  Row row;
  for (const auto& [key, value] : metrics) {
    row[options_.prefix().empty() ? key : options_.prefix() + "-" + key] = value;
  }
  // As Lightning: "step" is added after the prefix, and wins over a metric of that name.
  row["step"] = static_cast<double>(step);
  for (const auto& entry : row) {
    const auto it = std::lower_bound(columns_.begin(), columns_.end(), entry.first);
    if (it == columns_.end() || *it != entry.first) columns_.insert(it, entry.first);
  }
  pending_.push_back(std::move(row));
  if (++calls_since_flush_ >= options_.flush_logs_every_n_steps()) save();
}

void CSVLogger::save() {
  const bool header_changed = file_written_ && columns_ != written_columns_;
  if (pending_.empty() && !header_changed) return;
  ensure_dir();
  if (!hparams_written_) write_hparams();
  write_file();
}

void CSVLogger::write_file() {
  const std::string path = (fs::path(log_dir()) / "metrics.csv").string();
  const std::string epoch_column =
      options_.prefix().empty() ? "epoch" : options_.prefix() + "-epoch";
  auto write_row = [&](std::ostream& out, const Row& row) {
    for (size_t c = 0; c < columns_.size(); ++c) {
      if (c) out << ',';
      const auto it = row.find(columns_[c]);
      if (it != row.end()) {
        out << format_cell(it->second, columns_[c] == "step" || columns_[c] == epoch_column);
      }
    }
    out << '\n';
  };

  std::error_code ec;
  // Appending needs the file as last written; one deleted meanwhile is rewritten.
  if (file_written_ && columns_ == written_columns_ && fs::exists(path, ec)) {
    std::ofstream out(path, std::ios::binary | std::ios::app);
    if (!out) cannot_write(path);
    for (const Row& row : pending_) write_row(out, row);
    out.flush();
    if (!out) cannot_write(path);
  } else {
    // A new header: the rows already on disk are read back (exact, since every
    // value is written in round-trip form) and the whole file is rewritten
    // through a temporary file, so a crash never leaves a half-written CSV.
    // Rows are not kept in memory once written: a long run logs millions.
    std::vector<Row> old_rows;
    if (file_written_ && fs::exists(path, ec)) {
      const MetricsTable old = read_metrics_csv(path);
      old_rows.reserve(old.values.size());
      for (size_t r = 0; r < old.values.size(); ++r) {
        Row row;
        for (size_t c = 0; c < old.columns.size(); ++c) {
          if (old.present[r][c]) row[old.columns[c]] = old.values[r][c];
        }
        old_rows.push_back(std::move(row));
      }
    }
    const std::string tmp = path + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      if (!out) cannot_write(tmp);
      for (size_t c = 0; c < columns_.size(); ++c) {
        out << (c ? "," : "") << detail::csv_field(columns_[c]);
      }
      out << '\n';
      for (const Row& row : old_rows) write_row(out, row);
      for (const Row& row : pending_) write_row(out, row);
      out.flush();
      if (!out) cannot_write(tmp);
    }
    fs::rename(tmp, path, ec);
    if (ec) {
      LIGHTNING_FAIL("CSVLogger cannot replace '", path, "': ", ec.message(), ". ", kHint);
    }
    written_columns_ = columns_;
    file_written_ = true;
  }
  pending_.clear();
  calls_since_flush_ = 0;
}

void CSVLogger::finalize(const std::string& status) {
  if (!dir_ready_ && pending_.empty()) return;  // nothing was ever logged
  save();
  if (!options_.report() || !file_written_) return;
  const auto seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at_);
  char duration[32];
  std::snprintf(duration, sizeof(duration), "%.1f s", seconds.count());
  const std::string dir = log_dir();
  // The report is a convenience: failing to draw it must not turn a finished
  // run into a failed one, so its error becomes a warning.
  try {
    write_run_report({dir}, (fs::path(dir) / "report.html").string(),
                     {{"start", started_},
                      {"end", local_time_now()},
                      {"duration", duration},
                      {"status", status}});
  } catch (const std::exception& e) {
    detail::warn(c10::str("CSVLogger could not write report.html: ", e.what()));
  }
}

}  // namespace lightning
