// Test support: replays the reference files that tests/metrics/*_reference.py
// write with torchmetrics, against the C++ metrics.
//
// A reference file is plain text, one record per line ('#' starts a comment):
//
//   case ID CLASS key=value ...     construct CLASS (torchmetrics' class name)
//   update T [T]                    metric.update(...)
//   forward T [T] -> T              metric.forward(...) returns the last T
//   compute T ...                   compute_outputs() equals the Ts, in order
//   reject CLASS key=value ... :: TEXT      constructing throws lightning::Error containing TEXT
//   reject_update T [T] :: TEXT     update(...) on the current case throws it
//
// A tensor T is DTYPE[D0,D1,...]:V0,V1,...  with DTYPE f32, f64, i64, i32, b
// (bool, values 0/1); "[]" is a 0-dim tensor; values may be nan, inf, -inf.
// A value is none, true, false, an integer, a float, a list [a,b,...] or a
// word. Floating outputs must match within 1e-6 relative (1e-7 absolute near
// zero), integer outputs exactly, NaN where torchmetrics gives NaN.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "lightning/metrics/metric.h"

namespace lightning::metrics::testing {

/// A case's constructor arguments. Every key must be read by the factory.
class Kwargs {
 public:
  explicit Kwargs(std::map<std::string, std::string> values) : values_(std::move(values)) {}

  bool has(const std::string& key) const;
  /// true when the key is absent or "none".
  bool is_none(const std::string& key) const;
  int64_t integer(const std::string& key, int64_t fallback);
  std::optional<int64_t> optional_integer(const std::string& key);
  double number(const std::string& key, double fallback);
  std::optional<double> optional_number(const std::string& key);
  std::string text(const std::string& key, const std::string& fallback);
  bool flag(const std::string& key, bool fallback);
  std::vector<double> numbers(const std::string& key);
  /// The raw text of a value ("[0.1,0.5]", "3", "none").
  std::string raw(const std::string& key);
  /// Keys never read (a factory that forgot an argument).
  std::vector<std::string> unused() const;

 private:
  const std::string* get(const std::string& key);
  std::map<std::string, std::string> values_;
  std::set<std::string> used_;
};

/// Builds CLASS from its arguments; nullptr for a class it does not know.
using Factory = std::function<std::shared_ptr<Metric>(const std::string& cls, Kwargs& kwargs)>;

/// Replays every record of the file (gtest expectations per record). Returns
/// the worst relative difference seen over the floating outputs.
double run_reference_file(const std::string& path, const Factory& factory);

/// Parses one tensor in the format above (for hand-written tests).
at::Tensor parse_tensor(const std::string& text);

}  // namespace lightning::metrics::testing
