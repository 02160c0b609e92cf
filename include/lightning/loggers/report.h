// lightning/loggers/report.h — report.html: a picture of every run.
//
//   L::write_run_report({"lightning_logs/version_0"}, "lightning_logs/version_0/report.html");
//   L::write_run_report({"runs/a", "runs/b"}, "compare.html");   // runs overlaid
//
// The page is self-contained (inline SVG and CSS, no scripts, no network): one
// line chart per metric against step and, for epoch-level metrics (at most
// one value per epoch), a second chart against epoch; the hyperparameters;
// start/end time and the final value of every metric. CSVLogger writes it at
// `finalize`; the `lightning-report <run_dir>...` tool rebuilds it from
// metrics.csv and hparams.yaml.
#pragma once

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "lightning/export.h"
#include "lightning/hparams.h"

namespace lightning {

/// A metrics.csv as read back: column names, and one value per column per row
/// (NaN where the row has no value; real NaN values are kept in `present`).
struct LIGHTNING_API MetricsTable {
  std::vector<std::string> columns;
  std::vector<std::vector<double>> values;  // [row][column]
  std::vector<std::vector<bool>> present;   // [row][column]: the cell was not empty
  /// Index of `column`, or -1.
  int64_t column_index(const std::string& column) const;
};

/// Parses a metrics.csv (RFC 4180 quoting; nan, inf, -inf accepted).
/// `lightning::Error` naming the path and line on malformed input.
LIGHTNING_API MetricsTable read_metrics_csv(const std::string& path);

/// Renders the runs found in `run_dirs` (each holding metrics.csv and
/// optionally hparams.yaml) into one HTML page at `output_path`. Extra
/// `info` entries (e.g. "start", "end", "status") are shown in the header.
/// `lightning::Error` when a run folder has no readable metrics.csv.
LIGHTNING_API void write_run_report(const std::vector<std::string>& run_dirs,
                                    const std::string& output_path,
                                    const std::map<std::string, std::string>& info = {});

}  // namespace lightning
