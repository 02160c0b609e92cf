// The profilers' report text: Lightning's layout and Python's number format.
#include "profilers/report_text.h"

#include <algorithm>
#include <cmath>

#include "util/python_format.h"

namespace lightning::detail {

std::string report_title(const std::optional<Stage>& stage) {
  std::string title;
  if (stage) {
    title = to_string(*stage);
    std::transform(title.begin(), title.end(), title.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    title += ' ';
  }
  return title + "Profiler Report\n";
}

std::string simple_report(const std::optional<Stage>& stage, const ActionDurations& durations,
                          double elapsed, bool extended) {
  std::string out = report_title(stage);
  if (durations.empty()) return out + "\n";
  struct Row {
    const std::string* action;
    double mean;
    size_t calls;
    double total;
    double share;
  };
  std::vector<Row> rows;
  size_t total_calls = 0;
  for (const auto& [action, d] : durations) {
    const double sum = compensated_sum(d);
    rows.push_back(
        {&action, sum / static_cast<double>(d.size()), d.size(), sum, 100.0 * sum / elapsed});
    total_calls += d.size();
  }
  // Python sorts stably: equal keys keep the first-recorded order.
  if (extended) {
    std::stable_sort(rows.begin(), rows.end(),
                     [](const Row& a, const Row& b) { return a.share > b.share; });
    ProfilerTable table(
        {"Action", "Mean duration (s)", "Num calls", "Total time (s)", "Percentage %"});
    for (const auto& entry : durations) table.widen(entry.first);
    table.row({"Total", "-", std::to_string(total_calls), g5(elapsed), "100 %"});
    table.rule();
    for (const Row& r : rows) {
      table.row({*r.action, g5(r.mean), std::to_string(r.calls), g5(r.total), g5(r.share)});
    }
    out += table.text();
  } else {
    std::stable_sort(rows.begin(), rows.end(),
                     [](const Row& a, const Row& b) { return a.mean > b.mean; });
    ProfilerTable table({"Action", "Mean duration (s)", "Total time (s)"});
    for (const auto& entry : durations) table.widen(entry.first);
    for (const Row& r : rows) table.row({*r.action, g5(r.mean), g5(r.total)});
    out += table.text();
  }
  return out + "\n";
}

std::string g5(double value) { return python_format(value, ".5"); }

double compensated_sum(const std::vector<double>& values) {
  // Neumaier's variant of Kahan summation.
  double sum = 0.0, compensation = 0.0;
  for (double v : values) {
    const double t = sum + v;
    compensation += std::fabs(sum) >= std::fabs(v) ? (sum - t) + v : (v - t) + sum;
    sum = t;
  }
  return sum + compensation;
}

double percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const double rank = q / 100.0 * static_cast<double>(values.size() - 1);
  const auto below = static_cast<size_t>(std::floor(rank));
  const size_t above = std::min(below + 1, values.size() - 1);
  const double fraction = rank - static_cast<double>(below);
  return values[below] + (values[above] - values[below]) * fraction;
}

ProfilerTable::ProfilerTable(std::vector<std::string> header) : header_(std::move(header)) {}

void ProfilerTable::widen(const std::string& action) {
  first_width_ = std::max(first_width_, action.size());
}

void ProfilerTable::row(std::vector<std::string> cells) { rows_.emplace_back(std::move(cells)); }

void ProfilerTable::rule() { rows_.emplace_back(std::nullopt); }

std::string ProfilerTable::line(const std::vector<std::string>& cells) const {
  // Python's f"|  {cell:<width}\t|  ...": the tabs stay in the text.
  std::string out = "|";
  for (size_t i = 0; i < cells.size(); ++i) {
    std::string cell = cells[i];
    const size_t width = i == 0 ? first_width_ : 15;
    if (cell.size() < width) cell.append(width - cell.size(), ' ');
    out += "  " + cell + "\t|";
  }
  return out;
}

namespace {

// len(("\n" + line).expandtabs()): tabs to 8-column stops, plus the break.
size_t expanded_length(const std::string& line) {
  size_t column = 0;
  for (char c : line) column = c == '\t' ? column + 8 - column % 8 : column + 1;
  return column + 1;
}

}  // namespace

std::string ProfilerTable::text() const {
  const std::string header = line(header_);
  const std::string rule_line = "\n" + std::string(expanded_length(header), '-');
  std::string out = rule_line + "\n" + header + rule_line;
  for (const auto& r : rows_) out += r ? "\n" + line(*r) : rule_line;
  return out + rule_line;
}

}  // namespace lightning::detail
