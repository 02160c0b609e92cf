#include "lightning/loggers/report.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <set>
#include <sstream>
#include <system_error>
#include <variant>

#include "lightning/error.h"
#include "util/float_format.h"

namespace lightning {

int64_t MetricsTable::column_index(const std::string& column) const {
  const auto it = std::find(columns.begin(), columns.end(), column);
  return it == columns.end() ? -1 : static_cast<int64_t>(it - columns.begin());
}

namespace {

namespace fs = std::filesystem;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---------------------------------------------------------------------------
// metrics.csv parsing

struct Record {
  std::vector<std::string> fields;
  size_t line = 0;  // 1-based line where the record starts
};

// RFC 4180, plus what Python's csv module writes and reads: LF, CRLF or CR
// line ends; quoted fields may hold commas, quotes (doubled) and newlines.
std::vector<Record> parse_csv(const std::string& text, const std::string& path) {
  std::vector<Record> records;
  size_t i = 0, line = 1;
  const size_t n = text.size();
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) i = 3;  // UTF-8 byte order mark
  while (i < n) {
    Record rec;
    rec.line = line;
    bool blank = true;  // a line with nothing on it is skipped, as csv.DictReader does
    while (true) {
      std::string field;
      if (i < n && text[i] == '"') {
        blank = false;
        const size_t open_line = line;
        ++i;
        while (true) {
          LIGHTNING_CHECK(i < n, "metrics file '", path, "' line ", open_line,
                          ": a quoted field is never closed. Fix or delete the file (it is "
                          "RFC 4180 CSV, as CSVLogger writes it).");
          if (text[i] == '"') {
            if (i + 1 < n && text[i + 1] == '"') {
              field += '"';
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          if (text[i] == '\n') ++line;
          field += text[i++];
        }
        LIGHTNING_CHECK(i >= n || text[i] == ',' || text[i] == '\n' || text[i] == '\r',
                        "metrics file '", path, "' line ", line,
                        ": unexpected character after the closing quote of a field. Fix or "
                        "delete the file (it is RFC 4180 CSV, as CSVLogger writes it).");
      } else {
        while (i < n && text[i] != ',' && text[i] != '\n' && text[i] != '\r') field += text[i++];
        if (!field.empty()) blank = false;
      }
      rec.fields.push_back(std::move(field));
      if (i < n && text[i] == ',') {
        blank = false;
        ++i;
        continue;
      }
      break;
    }
    if (i < n && text[i] == '\r') ++i;
    if (i < n && text[i] == '\n') ++i;
    ++line;
    if (!blank) records.push_back(std::move(rec));
  }
  return records;
}

bool parse_number(std::string s, double* out) {
  const auto not_space = [](char c) { return c != ' ' && c != '\t'; };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  if (!s.empty() && s[0] == '+') s.erase(0, 1);
  if (s.empty()) return false;
  // from_chars: locale-independent; accepts nan, inf, infinity in any case.
  const auto res = std::from_chars(s.data(), s.data() + s.size(), *out);
  return res.ec == std::errc() && res.ptr == s.data() + s.size();
}

// ---------------------------------------------------------------------------
// Formatting

std::string escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string printf_g(double v, int precision) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*g", precision, v);
  std::string s = buf;
  return s == "-0" ? "0" : s;
}

// For people: 6 significant digits (the exact value goes into a tooltip).
std::string short_number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return printf_g(v, 6);
}

std::string coordinate(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", v);
  return buf;
}

// Python's repr (HParamValue's operator<<), except that a top-level string is shown bare.
std::string hparam_text(const HParamValue& v) {
  if (v.is_string()) return v.as<std::string>();
  std::ostringstream o;
  o << v;
  return o.str();
}

// ---------------------------------------------------------------------------
// Runs

// One learning-rate sweep of lr_find.csv: the smoothed loss per rate.
struct LRSweep {
  int64_t index = 0;
  int64_t step = 0;
  bool exponential = true;
  std::vector<double> lrs, losses;
  std::optional<size_t> suggested;
};

struct Run {
  std::string dir;
  std::string label;
  MetricsTable table;
  int64_t step_col = -1;
  int64_t epoch_col = -1;
  bool has_hparams = false;
  HParams hparams;
  std::string hparams_note;        // why hparams.yaml is not shown
  std::vector<LRSweep> lr_sweeps;  // from lr_find.csv
  std::string lr_find_note;        // why lr_find.csv is not shown
};

std::string normal_path(const std::string& dir) {
  std::string s = fs::path(dir).lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s.empty() ? "." : s;
}

// The run's folder name; more of the path where two runs share a name
// (lightning_logs/version_0 and other/version_0).
std::vector<std::string> run_labels(const std::vector<std::string>& dirs) {
  std::vector<std::vector<std::string>> parts;
  for (const std::string& d : dirs) {
    std::error_code ec;
    fs::path p = fs::path(d);
    if (d == "." || d == "..") p = fs::absolute(p, ec).lexically_normal();
    std::vector<std::string> comps;
    for (const auto& c : p) {
      if (!c.empty() && c != "/") comps.push_back(c.string());
    }
    if (comps.empty()) comps.push_back(d);
    parts.push_back(comps);
  }
  std::vector<std::string> labels(dirs.size());
  for (size_t depth = 1;; ++depth) {
    bool unique = true;
    std::set<std::string> seen;
    for (size_t i = 0; i < dirs.size(); ++i) {
      const auto& c = parts[i];
      const size_t take = std::min(depth, c.size());
      std::string label;
      for (size_t k = c.size() - take; k < c.size(); ++k)
        label += (label.empty() ? "" : "/") + c[k];
      labels[i] = label;
      unique = seen.insert(label).second && unique;
    }
    size_t longest = 0;
    for (const auto& c : parts) longest = std::max(longest, c.size());
    if (unique || depth >= longest) break;
  }
  return labels;
}

// lr_find.csv as CSVLogger::log_lr_find writes it: columns sweep, step,
// exponential, lr, loss, suggested; one row per rate, sweeps one after another.
std::vector<LRSweep> read_lr_sweeps(const std::string& path) {
  const MetricsTable t = read_metrics_csv(path);
  const char* const names[] = {"sweep", "step", "exponential", "lr", "loss", "suggested"};
  int64_t col[6];
  for (int i = 0; i < 6; ++i) {
    col[i] = t.column_index(names[i]);
    LIGHTNING_CHECK(col[i] >= 0, "'", path, "' has no column '", names[i],
                    "'; expected sweep, step, exponential, lr, loss, suggested.");
  }
  std::vector<LRSweep> sweeps;
  for (size_t r = 0; r < t.values.size(); ++r) {
    const auto& v = t.values[r];
    LIGHTNING_CHECK(t.present[r][col[0]] && t.present[r][col[3]], "'", path, "' row ", r + 2,
                    " has no sweep or lr value.");
    const auto index = static_cast<int64_t>(v[col[0]]);
    if (sweeps.empty() || sweeps.back().index != index) {
      LRSweep sweep;
      sweep.index = index;
      sweep.step = static_cast<int64_t>(v[col[1]]);
      sweep.exponential = v[col[2]] != 0;
      sweeps.push_back(std::move(sweep));
    }
    LRSweep& sweep = sweeps.back();
    if (t.present[r][col[5]] && v[col[5]] != 0) sweep.suggested = sweep.lrs.size();
    sweep.lrs.push_back(v[col[3]]);
    sweep.losses.push_back(t.present[r][col[4]] ? v[col[4]] : kNaN);
  }
  return sweeps;
}

Run load_run(const std::string& dir, const std::string& label) {
  Run run;
  run.dir = dir;
  run.label = label;
  const fs::path metrics = fs::path(dir) / "metrics.csv";
  std::error_code ec;
  LIGHTNING_CHECK(fs::is_regular_file(metrics, ec), "run report: no metrics.csv in '", dir,
                  "'. Pass a run folder written by CSVLogger (e.g. lightning_logs/version_0).");
  run.table = read_metrics_csv(metrics.string());
  run.step_col = run.table.column_index("step");
  run.epoch_col = run.table.column_index("epoch");
  if (run.epoch_col < 0) {
    // A CSVLogger with a prefix writes "<prefix>-epoch".
    for (size_t c = 0; c < run.table.columns.size(); ++c) {
      const std::string& name = run.table.columns[c];
      if (name.size() > 6 && name.compare(name.size() - 6, 6, "-epoch") == 0) {
        run.epoch_col = run.epoch_col < 0 ? static_cast<int64_t>(c) : -2;
      }
    }
    if (run.epoch_col == -2) run.epoch_col = -1;  // ambiguous: no epoch axis
  }
  const fs::path yaml = fs::path(dir) / "hparams.yaml";
  if (fs::is_regular_file(yaml, ec)) {
    try {
      run.hparams = load_hparams_from_yaml(yaml.string());
      run.has_hparams = true;
    } catch (const std::exception& e) {
      run.hparams_note = e.what();
    }
  } else {
    run.hparams_note = "no hparams.yaml";
  }
  const fs::path lr_find = fs::path(dir) / "lr_find.csv";
  if (fs::is_regular_file(lr_find, ec)) {
    try {
      run.lr_sweeps = read_lr_sweeps(lr_find.string());
    } catch (const std::exception& e) {
      run.lr_find_note = e.what();
    }
  }
  return run;
}

bool is_axis_column(const Run& run, size_t c) {
  return static_cast<int64_t>(c) == run.step_col || static_cast<int64_t>(c) == run.epoch_col;
}

// ---------------------------------------------------------------------------
// Charts

const char* const kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                               "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

struct Point {
  double x, y;
};

struct Series {
  size_t run = 0;
  std::vector<Point> points;  // row order; y may be NaN/Inf (not drawn)
};

struct Axis {
  double lo = 0, hi = 1;
  std::vector<double> ticks;
  std::vector<std::string> labels;
};

// 1-2-5 ticks covering [lo, hi], about five of them, labelled with the fewest
// digits that tell them apart.
Axis make_axis(double lo, double hi, bool integer) {
  Axis a;
  if (!(hi > lo)) {
    double pad = lo == 0 ? 1 : std::abs(lo) * 0.1;
    if (integer) pad = std::max(pad, 1.0);
    const bool non_negative = lo >= 0;
    lo -= pad;
    hi += pad;
    if (non_negative && integer) lo = std::max(lo, 0.0);
  }
  // Padding or rounding outwards may pass the largest double (values near
  // +-1.8e308): the axis stays finite, so that `fraction` is.
  constexpr double kMax = std::numeric_limits<double>::max();
  lo = std::max(lo, -kMax);
  hi = std::min(hi, kMax);
  double step = (hi - lo) / 5;
  const auto whole_range = [&] {
    a.lo = lo;
    a.hi = hi;
    a.ticks = {lo, hi};
  };
  if (!std::isfinite(step) || step <= 0) {
    whole_range();
  } else {
    const double mag = std::pow(10, std::floor(std::log10(step)));
    const double norm = step / mag;
    step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
    if (integer) step = std::max(1.0, std::round(step));
    a.lo = std::floor(lo / step) * step;
    a.hi = std::ceil(hi / step) * step;
    if (!(a.hi > a.lo)) a.hi = a.lo + step;
    for (int i = 0; i < 50; ++i) {
      double t = a.lo + i * step;
      if (t > a.hi + step * 1e-9) break;
      if (std::abs(t) < step * 1e-9) t = 0;
      a.ticks.push_back(t);
    }
    if (!std::isfinite(a.lo) || !std::isfinite(a.hi)) whole_range();  // rounded past the max
  }
  const double largest = std::max(std::abs(a.lo), std::abs(a.hi));
  if (a.ticks.size() > 1 && largest < 1e6 && step >= 1e-5) {
    // Plain decimals, as many as the tick spacing needs: 100 200, 0.05 0.10.
    const int decimals = std::max(0, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
    for (double t : a.ticks) {
      char buf[64];
      std::snprintf(buf, sizeof(buf), "%.*f", decimals, t);
      a.labels.push_back(buf);
    }
    return a;
  }
  for (int precision = 1; precision <= 17; ++precision) {
    a.labels.clear();
    for (double t : a.ticks) a.labels.push_back(printf_g(t, precision));
    bool distinct = true;
    for (size_t i = 1; i < a.labels.size(); ++i)
      distinct = distinct && a.labels[i] != a.labels[i - 1];
    if (distinct) break;
  }
  return a;
}

// Where `v` lies between `lo` and `hi` (0 to 1). `hi - lo` of two finite
// doubles may overflow to inf (an axis from -1e308 to 1e308), and inf / inf
// is NaN: their halves are used then.
double fraction(double v, double lo, double hi) {
  if (std::isfinite(hi - lo)) return (v - lo) / (hi - lo);
  return (v / 2 - lo / 2) / (hi / 2 - lo / 2);
}

// Plot area inside the SVG's 640 x 300 viewBox.
constexpr double kLeft = 64, kRight = 616, kTop = 14, kBottom = 252;
// Beyond this many points a line keeps, per pixel column, the first, lowest,
// highest and last point: the same picture, a far smaller file.
constexpr size_t kMaxPointsPerSeries = 2400;

std::vector<Point> decimate(const std::vector<Point>& pts, const std::vector<double>& px) {
  if (pts.size() <= kMaxPointsPerSeries) return pts;
  std::vector<Point> out;
  size_t i = 0;
  while (i < pts.size()) {
    size_t j = i;
    size_t lo = i, hi = i;
    // j == i: a NaN pixel (equal to nothing, itself included) still
    // advances, instead of looping for ever.
    while (j < pts.size() && (j == i || std::floor(px[j]) == std::floor(px[i]))) {
      if (pts[j].y < pts[lo].y) lo = j;
      if (pts[j].y > pts[hi].y) hi = j;
      ++j;
    }
    std::vector<size_t> keep = {i, lo, hi, j - 1};
    std::sort(keep.begin(), keep.end());
    keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
    for (size_t k : keep) out.push_back(pts[k]);
    i = j;
  }
  return out;
}

struct SeriesStats {
  size_t finite = 0, nan = 0, pos_inf = 0, neg_inf = 0;
  Point min{0, 0}, max{0, 0}, last{0, kNaN};
  bool any_present = false;
};

SeriesStats stats_of(const Series& s) {
  SeriesStats st;
  for (const Point& p : s.points) {
    st.any_present = true;
    st.last = p;
    if (std::isnan(p.y)) {
      ++st.nan;
    } else if (std::isinf(p.y)) {
      ++(p.y > 0 ? st.pos_inf : st.neg_inf);
    } else {
      if (st.finite == 0 || p.y < st.min.y) st.min = p;
      if (st.finite == 0 || p.y > st.max.y) st.max = p;
      ++st.finite;
    }
  }
  return st;
}

std::string not_drawn_note(const SeriesStats& st) {
  std::vector<std::string> parts;
  if (st.nan) parts.push_back(std::to_string(st.nan) + " NaN");
  if (st.pos_inf) parts.push_back(std::to_string(st.pos_inf) + " +Inf");
  if (st.neg_inf) parts.push_back(std::to_string(st.neg_inf) + " -Inf");
  std::string s;
  for (size_t i = 0; i < parts.size(); ++i) s += (i ? ", " : "") + parts[i];
  return s;
}

// Decades 10^k covering [lo, hi] (given as log10 values), labelled 1e-5,
// 0.01, 0.1, 1, 10, 100, 1e3.
Axis make_log_axis(double lo, double hi) {
  Axis a;
  a.lo = std::floor(lo);
  a.hi = std::max(std::ceil(hi), a.lo + 1);
  const int64_t first = static_cast<int64_t>(a.lo), last = static_cast<int64_t>(a.hi);
  const int64_t stride = std::max<int64_t>(1, (last - first + 7) / 8);
  for (int64_t k = first; k <= last; k += stride) {
    a.ticks.push_back(static_cast<double>(k));
    if (k >= -2 && k <= 2) {
      a.labels.push_back(printf_g(std::pow(10.0, static_cast<double>(k)), 3));
    } else {
      a.labels.push_back("1e" + std::to_string(k));
    }
  }
  return a;
}

// How a chart is drawn beyond its series.
struct ChartStyle {
  bool x_integer = true;      // ticks at whole numbers (steps, epochs)
  bool x_log = false;         // log10 x axis (x <= 0 is not drawn)
  std::optional<Point> mark;  // one point ringed in red, e.g. a suggestion
  std::string mark_label;     // its name in the tooltip and the stats line
  std::string caption;        // replaces "<metric> vs <axis>" when set
  bool legend = true;         // name the runs (when there are several)
};

std::string render_chart(const std::string& metric, const std::string& axis_name,
                         const std::vector<Series>& series, const std::vector<Run>& runs, int id,
                         const ChartStyle& style = {}) {
  const bool name_runs = runs.size() > 1 && style.legend;
  // Where a value sits along the x axis: itself, or its log10 on a log axis.
  auto axis_x = [&](double x) {
    if (!style.x_log) return x;
    return x > 0 ? std::log10(x) : kNaN;
  };
  std::vector<SeriesStats> stats;
  double xlo = 0, xhi = 0, ylo = 0, yhi = 0;
  bool have_x = false, have_y = false;
  for (const Series& s : series) {
    stats.push_back(stats_of(s));
    for (const Point& point : s.points) {
      const Point p{axis_x(point.x), point.y};
      if (!std::isfinite(p.x)) continue;
      xlo = have_x ? std::min(xlo, p.x) : p.x;
      xhi = have_x ? std::max(xhi, p.x) : p.x;
      have_x = true;
      if (!std::isfinite(p.y)) continue;
      ylo = have_y ? std::min(ylo, p.y) : p.y;
      yhi = have_y ? std::max(yhi, p.y) : p.y;
      have_y = true;
    }
  }
  std::ostringstream o;
  o << "<figure class=\"chart\" data-metric=\"" << escape(metric) << "\" data-axis=\"" << axis_name
    << "\" id=\"chart-" << id << "\">\n<figcaption>";
  if (style.caption.empty()) {
    o << "<b>" << escape(metric) << "</b> vs " << axis_name;
  } else {
    o << style.caption;
  }
  o << "</figcaption>\n";
  if (name_runs) {
    o << "<ul class=\"legend\">";
    for (size_t k = 0; k < series.size(); ++k) {
      o << "<li><span class=\"swatch\" style=\"background:" << kColors[series[k].run % 10]
        << "\"></span>" << escape(runs[series[k].run].label) << "</li>";
    }
    o << "</ul>\n";
  }

  const Axis xa = style.x_log ? make_log_axis(xlo, xhi) : make_axis(xlo, xhi, style.x_integer);
  const Axis ya = make_axis(ylo, yhi, false);
  // A tick's position (already on the axis's scale), and a value's.
  auto tick_x = [&](double t) { return kLeft + fraction(t, xa.lo, xa.hi) * (kRight - kLeft); };
  auto sx = [&](double x) { return tick_x(axis_x(x)); };
  auto sy = [&](double y) { return kBottom - fraction(y, ya.lo, ya.hi) * (kBottom - kTop); };

  o << "<svg viewBox=\"0 0 640 300\" role=\"img\" aria-label=\"" << escape(metric) << " vs "
    << axis_name << "\">\n";
  if (!have_y) {
    o << "<rect class=\"frame\" x=\"" << kLeft << "\" y=\"" << kTop << "\" width=\""
      << kRight - kLeft << "\" height=\"" << kBottom - kTop << "\"/>"
      << "<text class=\"empty\" x=\"" << (kLeft + kRight) / 2 << "\" y=\"" << (kTop + kBottom) / 2
      << "\">no finite values to draw</text>\n";
  } else {
    o << "<g class=\"grid\">";
    for (double t : ya.ticks) {
      o << "<line x1=\"" << kLeft << "\" x2=\"" << kRight << "\" y1=\"" << coordinate(sy(t))
        << "\" y2=\"" << coordinate(sy(t)) << "\"/>";
    }
    o << "</g>\n<g class=\"ticks y\">";
    for (size_t i = 0; i < ya.ticks.size(); ++i) {
      o << "<text x=\"" << kLeft - 6 << "\" y=\"" << coordinate(sy(ya.ticks[i]) + 4) << "\">"
        << escape(ya.labels[i]) << "</text>";
    }
    o << "</g>\n<g class=\"ticks x\">";
    for (size_t i = 0; i < xa.ticks.size(); ++i) {
      const std::string x = coordinate(tick_x(xa.ticks[i]));
      o << "<line x1=\"" << x << "\" x2=\"" << x << "\" y1=\"" << kBottom << "\" y2=\""
        << kBottom + 5 << "\"/><text x=\"" << x << "\" y=\"" << kBottom + 19 << "\">"
        << escape(xa.labels[i]) << "</text>";
    }
    o << "</g>\n<path class=\"axis\" d=\"M" << kLeft << " " << kTop << "V" << kBottom << "H"
      << kRight << "\"/>\n<text class=\"xlabel\" x=\"" << (kLeft + kRight) / 2 << "\" y=\"294\">"
      << axis_name << "</text>\n";

    for (size_t k = 0; k < series.size(); ++k) {
      const Series& s = series[k];
      const std::string color = kColors[s.run % 10];
      // Segments of consecutive finite points; a NaN or Inf breaks the line.
      std::vector<std::vector<Point>> segments(1);
      std::vector<double> bad_x;
      for (const Point& p : s.points) {
        if (!std::isfinite(axis_x(p.x))) continue;
        if (std::isfinite(p.y)) {
          segments.back().push_back(p);
        } else {
          bad_x.push_back(p.x);
          if (!segments.back().empty()) segments.emplace_back();
        }
      }
      const bool dots = stats[k].finite <= 60;
      o << "<g class=\"series\" stroke=\"" << color << "\" fill=\"" << color << "\">";
      for (const auto& seg : segments) {
        if (seg.empty()) continue;
        std::vector<double> px;
        px.reserve(seg.size());
        for (const Point& p : seg) px.push_back(sx(p.x));
        const std::vector<Point> drawn = decimate(seg, px);
        if (drawn.size() > 1) {
          o << "<polyline points=\"";
          for (size_t i = 0; i < drawn.size(); ++i) {
            o << (i ? " " : "") << coordinate(sx(drawn[i].x)) << "," << coordinate(sy(drawn[i].y));
          }
          o << "\"/>";
        }
        if (dots || drawn.size() == 1) {
          for (const Point& p : drawn) {
            o << "<circle r=\"2.5\" cx=\"" << coordinate(sx(p.x)) << "\" cy=\""
              << coordinate(sy(p.y)) << "\"/>";
          }
        }
      }
      o << "</g>\n";
      if (stats[k].finite > 0) {
        const SeriesStats& st = stats[k];
        for (const auto& [label, p] : {std::pair<const char*, Point>{"min", st.min},
                                       std::pair<const char*, Point>{"max", st.max}}) {
          o << "<circle class=\"extreme\" r=\"4.5\" stroke=\"" << color << "\" cx=\""
            << coordinate(sx(p.x)) << "\" cy=\"" << coordinate(sy(p.y)) << "\"><title>" << label
            << " " << escape(detail::format_float_repr(p.y)) << " at " << axis_name << " "
            << printf_g(p.x, 15) << "</title></circle>";
        }
        o << "\n";
      }
      // Where values were not finite: red ticks along the top edge.
      if (!bad_x.empty()) {
        o << "<g class=\"bad\"><title>" << not_drawn_note(stats[k]) << " not drawn</title>";
        for (size_t i = 0; i < bad_x.size() && i < 500; ++i) {
          const std::string x = coordinate(sx(bad_x[i]));
          o << "<line x1=\"" << x << "\" x2=\"" << x << "\" y1=\"" << kTop << "\" y2=\"" << kTop + 7
            << "\"/>";
        }
        o << "</g>\n";
      }
    }
    if (style.mark && std::isfinite(axis_x(style.mark->x)) && std::isfinite(style.mark->y)) {
      o << "<circle class=\"mark\" r=\"5\" cx=\"" << coordinate(sx(style.mark->x)) << "\" cy=\""
        << coordinate(sy(style.mark->y)) << "\"><title>" << escape(style.mark_label) << " "
        << axis_name << " " << escape(detail::format_float_repr(style.mark->x)) << ", "
        << escape(metric) << " " << escape(detail::format_float_repr(style.mark->y))
        << "</title></circle>\n";
    }
  }
  o << "</svg>\n<div class=\"stats\">";
  for (size_t k = 0; k < series.size(); ++k) {
    const SeriesStats& st = stats[k];
    o << "<div>";
    if (name_runs) {
      o << "<span class=\"swatch\" style=\"background:" << kColors[series[k].run % 10]
        << "\"></span>" << escape(runs[series[k].run].label) << ": ";
    }
    if (st.finite > 0) {
      o << "min <span title=\"" << detail::format_float_repr(st.min.y) << "\">"
        << short_number(st.min.y) << "</span> at " << axis_name << " " << printf_g(st.min.x, 15)
        << " · max <span title=\"" << detail::format_float_repr(st.max.y) << "\">"
        << short_number(st.max.y) << "</span> at " << axis_name << " " << printf_g(st.max.x, 15)
        << " · last <span title=\"" << detail::format_float_repr(st.last.y) << "\">"
        << short_number(st.last.y) << "</span> at " << axis_name << " " << printf_g(st.last.x, 15);
    } else if (!st.any_present) {
      o << "no values";
    }
    const std::string note = not_drawn_note(st);
    if (!note.empty()) {
      o << (st.finite > 0 ? " · " : "") << "<span class=\"note\">not drawn: " << note
        << " (red marks on the top edge)</span>";
    }
    o << "</div>";
  }
  if (style.mark) {
    o << "<div><span class=\"mark-swatch\"></span>" << escape(style.mark_label) << ": " << axis_name
      << " <span title=\"" << detail::format_float_repr(style.mark->x) << "\">"
      << short_number(style.mark->x) << "</span>, " << escape(metric) << " <span title=\""
      << detail::format_float_repr(style.mark->y) << "\">" << short_number(style.mark->y)
      << "</span></div>";
  }
  o << "</div>\n</figure>\n";
  return o.str();
}

// The metric's points against `axis` ("step" or "epoch") in one run.
Series series_of(const Run& run, size_t run_index, int64_t col, bool by_epoch) {
  Series s;
  s.run = run_index;
  const int64_t xcol = by_epoch ? run.epoch_col : run.step_col;
  const auto& t = run.table;
  for (size_t r = 0; r < t.values.size(); ++r) {
    if (!t.present[r][col]) continue;
    double x = static_cast<double>(r);  // no step column: the row index
    if (xcol >= 0) {
      if (!t.present[r][xcol]) continue;
      x = t.values[r][xcol];
    }
    s.points.push_back({x, t.values[r][col]});
  }
  return s;
}

// Epoch-level: every value has an epoch, and no epoch has two values.
bool is_epoch_level(const Run& run, int64_t col) {
  if (run.epoch_col < 0) return false;
  std::set<double> epochs;
  for (size_t r = 0; r < run.table.values.size(); ++r) {
    if (!run.table.present[r][col]) continue;
    if (!run.table.present[r][run.epoch_col]) return false;
    const double e = run.table.values[r][run.epoch_col];
    if (!std::isfinite(e) || !epochs.insert(e).second) return false;
  }
  return true;
}

const char* const kStyle = R"css(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1400px;padding:0 24px;color:#222;background:#fafafa}
h1{font-size:22px;margin:0 0 6px}
h2{font-size:17px;margin:28px 0 10px;padding-bottom:4px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;background:#fff}
th,td{border:1px solid #e3e3e3;padding:3px 10px;text-align:left;vertical-align:top}
th{background:#f1f1f1;font-weight:600}
td.num{text-align:right;font-family:ui-monospace,Menlo,Consolas,monospace;font-variant-numeric:tabular-nums}
td.key{font-family:ui-monospace,Menlo,Consolas,monospace}
tr.differs td{background:#fff5d1}
dl.info{display:grid;grid-template-columns:max-content auto;gap:2px 14px;margin:8px 0}
dl.info dt{color:#666}dl.info dd{margin:0}
.muted{color:#777}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:16px}
figure.chart{margin:0;background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:10px 12px}
figure.chart figcaption{font-size:15px;margin-bottom:2px}
svg{display:block;width:100%;height:auto}
.grid line{stroke:#ececec}
.axis{stroke:#888;fill:none}
.ticks line{stroke:#888}
.ticks text,.xlabel{font-size:11px;fill:#555}
.ticks.y text{text-anchor:end}
.ticks.x text,.xlabel,.empty{text-anchor:middle}
.xlabel{font-style:italic}
.empty{fill:#999;font-size:13px}
.frame{fill:none;stroke:#ddd}
.series polyline{fill:none;stroke-width:1.6;stroke-linejoin:round}
.series circle{stroke:none}
circle.extreme{fill:none;stroke-width:1.2}
circle.mark{fill:none;stroke:#d00;stroke-width:2}
.mark-swatch{display:inline-block;width:9px;height:9px;border:2px solid #d00;border-radius:50%;margin-right:5px;vertical-align:-1px}
.bad line{stroke:#d00;stroke-width:1.5}
.stats{font-size:12px;color:#555}
.note{color:#b00}
.legend{list-style:none;padding:0;margin:2px 0 4px;display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px}
.swatch{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:5px;vertical-align:-1px}
a{color:#1a5fb4;text-decoration:none}
)css";

// A table's opening and header row: `first`, then the single run's
// `single_run_columns`, or one column per run when runs are overlaid.
void table_header(std::ostream& o, const char* css_class, const char* first,
                  const char* single_run_columns, const std::vector<Run>& runs) {
  o << "<table class=\"" << css_class << "\"><tr><th>" << first << "</th>";
  if (runs.size() == 1) {
    o << single_run_columns;
  } else {
    for (const Run& run : runs) o << "<th>" << escape(run.label) << "</th>";
  }
  o << "</tr>\n";
}

void write_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    LIGHTNING_CHECK(out.good(), "run report: cannot write '", tmp, "': ", std::strerror(errno),
                    ". Pass an output path in a writable folder that exists.");
    out << text;
    out.flush();
    LIGHTNING_CHECK(out.good(), "run report: cannot write '", tmp, "': ", std::strerror(errno),
                    ". Pass an output path in a writable folder that exists.");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    LIGHTNING_FAIL("run report: cannot write '", path, "': ", ec.message(),
                   ". Pass an output path in a writable folder that exists.");
  }
}

}  // namespace

MetricsTable read_metrics_csv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  LIGHTNING_CHECK(in.good(), "cannot read metrics file '", path, "': ", std::strerror(errno),
                  ". Pass the metrics.csv of a run folder (e.g. lightning_logs/version_0/).");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::vector<Record> records = parse_csv(text, path);
  MetricsTable table;
  if (records.empty()) return table;
  table.columns = records[0].fields;
  const size_t width = table.columns.size();
  for (size_t r = 1; r < records.size(); ++r) {
    const Record& rec = records[r];
    LIGHTNING_CHECK(rec.fields.size() == width, "metrics file '", path, "' line ", rec.line, ": ",
                    rec.fields.size(), " fields where the header has ", width,
                    ". Fix or delete the row (the file may have been cut short or edited).");
    std::vector<double> values(width, kNaN);
    std::vector<bool> present(width, false);
    for (size_t c = 0; c < width; ++c) {
      const std::string& cell = rec.fields[c];
      if (cell.find_first_not_of(" \t") == std::string::npos) continue;
      LIGHTNING_CHECK(parse_number(cell, &values[c]), "metrics file '", path, "' line ", rec.line,
                      ", column '", table.columns[c], "': cannot read '", cell,
                      "' as a number. Cells must be numbers, nan, inf, -inf or empty.");
      present[c] = true;
    }
    table.values.push_back(std::move(values));
    table.present.push_back(std::move(present));
  }
  return table;
}

void write_run_report(const std::vector<std::string>& run_dirs, const std::string& output_path,
                      const std::map<std::string, std::string>& info) {
  LIGHTNING_CHECK(!run_dirs.empty(),
                  "write_run_report needs at least one run folder, got none. Pass e.g. "
                  "{\"lightning_logs/version_0\"}.");
  std::vector<std::string> dirs;
  dirs.reserve(run_dirs.size());
  for (const std::string& d : run_dirs) dirs.push_back(normal_path(d));
  const std::vector<std::string> labels = run_labels(dirs);
  std::vector<Run> runs;
  for (size_t i = 0; i < dirs.size(); ++i) runs.push_back(load_run(dirs[i], labels[i]));

  // Metrics: the sorted union of the runs' columns, without the axes.
  std::set<std::string> metric_set;
  for (const Run& run : runs) {
    for (size_t c = 0; c < run.table.columns.size(); ++c) {
      if (!is_axis_column(run, c)) metric_set.insert(run.table.columns[c]);
    }
  }
  const std::vector<std::string> metrics(metric_set.begin(), metric_set.end());

  std::string title;
  for (const Run& run : runs) title += (title.empty() ? "" : ", ") + run.label;

  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    << "<title>Run report: " << escape(title) << "</title>\n<style>" << kStyle
    << "</style>\n</head>\n<body>\n<h1>Run report: " << escape(title) << "</h1>\n";

  // Header: the info entries in a reading order, then the runs.
  std::vector<std::pair<std::string, std::string>> entries;
  for (const char* key : {"start", "end", "duration", "status"}) {
    const auto it = info.find(key);
    if (it != info.end()) entries.push_back(*it);
  }
  for (const auto& entry : info) {
    const bool listed = std::any_of(entries.begin(), entries.end(),
                                    [&](const auto& e) { return e.first == entry.first; });
    if (!listed) entries.push_back(entry);
  }
  if (!entries.empty()) {
    o << "<dl class=\"info\">";
    for (const auto& [key, value] : entries) {
      o << "<dt>" << escape(key) << "</dt><dd>" << escape(value) << "</dd>";
    }
    o << "</dl>\n";
  }
  o << "<table class=\"runs\"><tr><th>run</th><th>folder</th><th>rows</th><th>last step</th>"
       "<th>last epoch</th></tr>\n";
  for (size_t i = 0; i < runs.size(); ++i) {
    const Run& run = runs[i];
    auto last_of = [&](int64_t col) -> std::string {
      if (col < 0) return "";
      for (size_t r = run.table.values.size(); r-- > 0;) {
        if (run.table.present[r][col]) return printf_g(run.table.values[r][col], 15);
      }
      return "";
    };
    o << "<tr><td>";
    if (runs.size() > 1) {
      o << "<span class=\"swatch\" style=\"background:" << kColors[i % 10] << "\"></span>";
    }
    o << escape(run.label) << "</td><td class=\"key\">" << escape(run.dir)
      << "</td><td class=\"num\">" << run.table.values.size() << "</td><td class=\"num\">"
      << last_of(run.step_col) << "</td><td class=\"num\">" << last_of(run.epoch_col)
      << "</td></tr>\n";
  }
  o << "</table>\n";

  // Charts are numbered first so the final-values table can link to them.
  struct ChartRef {
    std::string metric;
    bool epoch;
  };
  std::vector<ChartRef> charts;
  std::vector<bool> epoch_level(metrics.size());
  for (size_t m = 0; m < metrics.size(); ++m) {
    bool any = false, all = true;
    for (const Run& run : runs) {
      const int64_t col = run.table.column_index(metrics[m]);
      if (col < 0 || is_axis_column(run, col)) continue;
      bool has_values = false;
      for (const auto& row : run.table.present) has_values = has_values || row[col];
      if (!has_values) continue;
      any = true;
      all = all && is_epoch_level(run, col);
    }
    epoch_level[m] = any && all;
  }

  o << "<h2>Final values</h2>\n";
  if (metrics.empty()) {
    o << "<p class=\"muted\">No metrics were logged.</p>\n";
  } else {
    table_header(o, "final", "metric", "<th>last</th><th>at step</th><th>min</th><th>max</th>",
                 runs);
    int chart_id = 0;
    for (size_t m = 0; m < metrics.size(); ++m) {
      o << "<tr><td class=\"key\"><a href=\"#chart-" << chart_id << "\">" << escape(metrics[m])
        << "</a></td>";
      chart_id += epoch_level[m] ? 2 : 1;
      for (size_t i = 0; i < runs.size(); ++i) {
        const Run& run = runs[i];
        const int64_t col = run.table.column_index(metrics[m]);
        SeriesStats st;
        if (col >= 0 && !is_axis_column(run, col)) st = stats_of(series_of(run, i, col, false));
        auto cell = [&](bool has, double v) {
          o << "<td class=\"num\"";
          if (has) {
            o << " title=\"" << detail::format_float_repr(v) << "\">" << short_number(v);
          } else {
            o << ">";
          }
          o << "</td>";
        };
        cell(st.any_present, st.last.y);
        if (runs.size() == 1) {
          o << "<td class=\"num\">" << (st.any_present ? printf_g(st.last.x, 15) : "") << "</td>";
          cell(st.finite > 0, st.min.y);
          cell(st.finite > 0, st.max.y);
        }
      }
      o << "</tr>\n";
    }
    o << "</table>\n";
  }

  o << "<h2>Hyperparameters</h2>\n";
  std::vector<std::string> keys;
  for (const Run& run : runs) {
    for (const auto& [key, value] : run.hparams) {
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
    }
  }
  if (keys.empty()) {
    o << "<p class=\"muted\">None recorded.</p>\n";
  } else {
    table_header(o, "hparams", "name", "<th>value</th>", runs);
    for (const std::string& key : keys) {
      std::vector<std::string> cells;
      cells.reserve(runs.size());
      for (const Run& run : runs) {
        cells.push_back(run.hparams.contains(key) ? hparam_text(run.hparams.at(key)) : "");
      }
      const bool differs =
          std::adjacent_find(cells.begin(), cells.end(), std::not_equal_to<>()) != cells.end();
      o << "<tr" << (differs ? " class=\"differs\"" : "") << "><td class=\"key\">" << escape(key)
        << "</td>";
      for (const std::string& c : cells) o << "<td>" << escape(c) << "</td>";
      o << "</tr>\n";
    }
    o << "</table>\n";
  }
  for (const Run& run : runs) {
    if (!run.has_hparams && run.hparams_note != "no hparams.yaml") {
      o << "<p class=\"note\">" << escape(run.label)
        << ": hparams.yaml could not be read: " << escape(run.hparams_note) << "</p>\n";
    }
  }

  o << "<h2>Charts</h2>\n";
  if (metrics.empty()) o << "<p class=\"muted\">No metrics were logged.</p>\n";
  o << "<div class=\"charts\">\n";
  int chart_id = 0;
  for (size_t m = 0; m < metrics.size(); ++m) {
    for (bool by_epoch : {false, true}) {
      if (by_epoch && !epoch_level[m]) continue;
      std::vector<Series> series;
      for (size_t i = 0; i < runs.size(); ++i) {
        const int64_t col = runs[i].table.column_index(metrics[m]);
        if (col < 0 || is_axis_column(runs[i], col)) continue;
        series.push_back(series_of(runs[i], i, col, by_epoch));
      }
      o << render_chart(metrics[m], by_epoch ? "epoch" : "step", series, runs, chart_id++);
    }
  }
  o << "</div>\n";

  // Learning-rate sweeps (lr_find.csv): the smoothed loss against the rate,
  // one chart per sweep, the suggestion ringed.
  const bool any_sweeps = std::any_of(runs.begin(), runs.end(), [](const Run& run) {
    return !run.lr_sweeps.empty() || !run.lr_find_note.empty();
  });
  if (any_sweeps) {
    o << "<h2>Learning-rate finder</h2>\n<div class=\"charts\">\n";
    for (size_t i = 0; i < runs.size(); ++i) {
      const Run& run = runs[i];
      if (!run.lr_find_note.empty()) {
        o << "<p class=\"note\">" << escape(run.label)
          << ": lr_find.csv could not be read: " << escape(run.lr_find_note) << "</p>\n";
      }
      for (const LRSweep& sweep : run.lr_sweeps) {
        Series s;
        s.run = i;
        for (size_t k = 0; k < sweep.lrs.size(); ++k)
          s.points.push_back({sweep.lrs[k], sweep.losses[k]});
        ChartStyle style;
        style.x_integer = false;
        style.x_log = sweep.exponential;
        if (sweep.suggested) {
          style.mark = Point{sweep.lrs[*sweep.suggested], sweep.losses[*sweep.suggested]};
          style.mark_label = "suggestion";
        }
        style.caption = "<b>loss</b> (smoothed) vs lr: " +
                        std::string(sweep.exponential ? "exponential" : "linear") + " sweep " +
                        std::to_string(sweep.index) + " at step " + std::to_string(sweep.step) +
                        (runs.size() > 1 ? ", " + escape(run.label) : "");
        style.legend = false;  // the caption names the run
        o << render_chart("loss", "lr", {s}, runs, chart_id++, style);
      }
    }
    o << "</div>\n";
  }
  o << "<p class=\"muted\">Written by lightning.cpp from metrics.csv, hparams.yaml"
    << " and lr_find.csv; rebuild with <code>lightning-report RUN_DIR...</code></p>\n"
    << "</body>\n</html>\n";

  write_atomically(output_path, o.str());
}

}  // namespace lightning
