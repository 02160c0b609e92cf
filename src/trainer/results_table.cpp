// The results table of validate() and test() (trainer/results_table.h).
#include "trainer/results_table.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "util/float_format.h"

namespace lightning::detail {

namespace {

// Python's format(text, "^width"): the extra space of an odd padding goes right.
std::string centered(const std::string& text, size_t width) {
  if (text.size() >= width) return text;
  const size_t left = (width - text.size()) / 2;
  return std::string(left, ' ') + text + std::string(width - text.size() - left, ' ');
}

std::string rstrip(std::string s) {
  s.erase(s.find_last_not_of(' ') + 1);
  return s;
}

std::string row(const std::vector<std::string>& cells, size_t width) {
  std::string out;
  for (const auto& c : cells) out += centered(c, width);
  return rstrip(out);
}

}  // namespace

int terminal_columns() {
  if (const char* env = std::getenv("COLUMNS")) {
    char* end = nullptr;
    const long v = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && v > 0) return static_cast<int>(v);
  }
  winsize size{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return 120;
}

std::string results_table(const std::vector<Metrics>& results, const std::string& stage,
                          int columns) {
  // The metric names without the dataloader suffix, per dataloader.
  std::vector<Metrics> stripped;
  std::set<std::string> names;
  for (const auto& result : results) {
    Metrics m;
    for (const auto& [key, value] : result) {
      const std::string name = key.substr(0, key.find("/dataloader_idx_"));
      m[name] = value;
      names.insert(name);
    }
    stripped.push_back(std::move(m));
  }
  if (names.empty()) return "";
  if (columns <= 0) columns = 120;

  std::vector<std::string> headers;
  for (size_t i = 0; i < results.size(); ++i) headers.push_back("DataLoader " + std::to_string(i));
  size_t longest = 0;
  for (const auto& n : names) longest = std::max(longest, n.size());
  for (const auto& h : headers) longest = std::max(longest, h.size());
  const auto width =
      static_cast<size_t>(std::min<double>(std::max<size_t>(longest, 25), columns / 2.0));
  const size_t half = static_cast<size_t>(columns / 2);
  const size_t per_table =
      std::max<size_t>(1, static_cast<size_t>((columns - static_cast<double>(width)) / width));

  std::string bar;
  for (int i = 0; i < columns; ++i) bar += "\u2500";
  std::string title = stage + " metric";
  title[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(title[0])));

  std::string out;
  for (size_t first = 0; first < headers.size(); first += per_table) {
    const size_t last = std::min(headers.size(), first + per_table);
    std::vector<std::string> head = {title};
    head.insert(head.end(), headers.begin() + first, headers.begin() + last);
    std::string lines = bar + "\n" + row(head, width) + "\n" + bar + "\n";
    for (const auto& name : names) {
      std::vector<std::string> cells;
      for (size_t i = first; i < last; ++i) {
        auto it = stripped[i].find(name);
        cells.push_back(it == stripped[i].end() ? " " : format_float_repr(it->second));
      }
      if (name.size() > half) {
        // A name longer than half the width is cut into lines, as Lightning does.
        std::string metric = name;
        while (metric.size() > half) {
          std::vector<std::string> part = {metric.substr(0, half)};
          part.insert(part.end(), cells.begin(), cells.end());
          lines += row(part, width) + "\n";
          metric = metric.substr(half);
        }
        lines += row({metric, " "}, width) + "\n";
      } else {
        std::vector<std::string> full = {name};
        full.insert(full.end(), cells.begin(), cells.end());
        lines += row(full, width) + "\n";
      }
    }
    out += lines + bar + "\n";
  }
  return out;
}

}  // namespace lightning::detail
