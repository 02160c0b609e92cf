// Internal: the text of the profilers' reports, as Lightning prints them.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lightning/export.h"
#include "lightning/stage.h"

namespace lightning::detail {

/// Recorded durations (seconds) per action, actions in first-recorded order.
using ActionDurations = std::vector<std::pair<std::string, std::vector<double>>>;

/// SimpleProfiler's report: Lightning's table for these durations, with
/// `elapsed` seconds since the profiler was made as the 100 % (extended).
LIGHTNING_INTERNAL_API std::string simple_report(const std::optional<Stage>& stage,
                                                 const ActionDurations& durations, double elapsed,
                                                 bool extended);

/// "FIT Profiler Report\n" ("Profiler Report\n" outside a stage).
std::string report_title(const std::optional<Stage>& stage);
/// Python's format(value, ".5"): five significant digits.
std::string g5(double value);
/// The sum of `values` with compensation (close to Python's math.fsum).
double compensated_sum(const std::vector<double>& values);
/// The q-th percentile (0..100) with linear interpolation between the two
/// nearest ranks (numpy's default); `values` need not be sorted.
LIGHTNING_INTERNAL_API double percentile(std::vector<double> values, double q);

/// SimpleProfiler's table: '|'-separated cells, the first padded to the
/// longest action name, the others to 15, each followed by a tab; rules of
/// dashes as wide as the tab-expanded header line.
class ProfilerTable {
 public:
  explicit ProfilerTable(std::vector<std::string> header);
  /// Makes the first column at least as wide as `action`.
  void widen(const std::string& action);
  void row(std::vector<std::string> cells);
  void rule();
  /// Rule, header, rule, the rows (and rules) in order, rule.
  std::string text() const;

 private:
  std::string line(const std::vector<std::string>& cells) const;
  std::vector<std::string> header_;
  size_t first_width_ = 0;
  std::vector<std::optional<std::vector<std::string>>> rows_;  // nullopt: a rule
};

}  // namespace lightning::detail
