// Internal: numbers printed the way Python prints them, for files that Python
// users read (metrics.csv, report.html, hparams rendering).
#pragma once

#include <string>

namespace lightning::detail {

/// Python's repr(float): shortest round-trip digits; "nan", "inf", "-inf".
std::string format_float_repr(double v);

}  // namespace lightning::detail
