// lightning/time_limit.h — a wall-clock limit, as `max_time` and Timer take it.
//
//   L::TrainerOptions().max_time("00:12:00:00");               // max_time="00:12:00:00"
//   L::TrainerOptions().max_time(std::chrono::minutes(90));    // max_time=timedelta(minutes=90)
//   L::TrainerOptions().max_time(L::TimeLimit::from_parts(0, 1, 30, 0));  // {"hours": 1, "minutes": 30}
#pragma once

#include <chrono>
#include <string>

#include "lightning/export.h"

namespace lightning {

/// A duration: "DD:HH:MM:SS" (Lightning's string form) or any std::chrono
/// duration. Negative or malformed values are a `lightning::Error`.
class LIGHTNING_API TimeLimit {
 public:
  TimeLimit(const char* text) : TimeLimit(std::string(text)) {}
  TimeLimit(const std::string& text);
  template <class Rep, class Period>
  TimeLimit(std::chrono::duration<Rep, Period> duration)
      : seconds_(std::chrono::duration<double>(duration).count()) {
    check();
  }
  /// Lightning's dict form: {"days": .., "hours": .., "minutes": .., "seconds": ..}.
  static TimeLimit from_parts(double days, double hours, double minutes, double seconds);

  double seconds() const { return seconds_; }
  /// "DD:HH:MM:SS" (fractions of a second kept as "SS.fff").
  std::string to_string() const;

 private:
  void check() const;
  double seconds_ = 0.0;
};

}  // namespace lightning
