// TimeLimit: Lightning's "DD:HH:MM:SS" strings and durations.
#include "lightning/time_limit.h"

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "lightning/error.h"

namespace lightning {

namespace {

// One "DD:HH:MM:SS" field: digits with an optional fraction (seconds only).
double parse_field(const std::string& field, const std::string& text, bool fraction_allowed) {
  LIGHTNING_CHECK(!field.empty(), "max_time/TimeLimit: \"", text,
                  "\" has an empty field; expected \"DD:HH:MM:SS\", e.g. \"00:12:00:00\" for 12 "
                  "hours");
  bool dot = false;
  for (char c : field) {
    if (c == '.' && fraction_allowed && !dot) {
      dot = true;
      continue;
    }
    LIGHTNING_CHECK(c >= '0' && c <= '9', "max_time/TimeLimit: \"", text, "\" has the field \"",
                    field,
                    "\", which is not a non-negative number; expected \"DD:HH:MM:SS\", e.g. "
                    "\"00:12:00:00\" for 12 hours");
  }
  return std::stod(field);
}

}  // namespace

TimeLimit::TimeLimit(const std::string& text) {
  std::vector<std::string> fields;
  std::string current;
  for (char c : text) {
    if (c == ':') {
      fields.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  fields.push_back(current);
  LIGHTNING_CHECK(fields.size() == 4, "max_time/TimeLimit: \"", text, "\" has ", fields.size(),
                  " field(s); expected \"DD:HH:MM:SS\" (4 fields), e.g. \"00:12:00:00\" for 12 "
                  "hours or \"01:00:00:00\" for one day");
  const double days = parse_field(fields[0], text, false);
  const double hours = parse_field(fields[1], text, false);
  const double minutes = parse_field(fields[2], text, false);
  const double seconds = parse_field(fields[3], text, true);
  seconds_ = ((days * 24.0 + hours) * 60.0 + minutes) * 60.0 + seconds;
  check();
}

TimeLimit TimeLimit::from_parts(double days, double hours, double minutes, double seconds) {
  return TimeLimit(
      std::chrono::duration<double>(((days * 24.0 + hours) * 60.0 + minutes) * 60.0 + seconds));
}

void TimeLimit::check() const {
  LIGHTNING_CHECK(std::isfinite(seconds_) && seconds_ >= 0.0, "max_time/TimeLimit: ", seconds_,
                  " seconds is not a non-negative finite duration");
}

std::string TimeLimit::to_string() const {
  const double whole = std::floor(seconds_);
  const auto total = static_cast<long long>(whole);
  const long long days = total / 86400;
  const long long hours = (total / 3600) % 24;
  const long long minutes = (total / 60) % 60;
  const double secs = static_cast<double>(total % 60) + (seconds_ - whole);
  char buffer[64];
  if (seconds_ == whole) {
    std::snprintf(buffer, sizeof(buffer), "%02lld:%02lld:%02lld:%02lld", days, hours, minutes,
                  static_cast<long long>(secs));
  } else {
    std::snprintf(buffer, sizeof(buffer), "%02lld:%02lld:%02lld:%06.3f", days, hours, minutes,
                  secs);
  }
  return buffer;
}

}  // namespace lightning
