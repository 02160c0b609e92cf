#include "util/float_format.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace lightning::detail {

// Python's repr(float): the shortest digits that round-trip, in fixed notation
// when -4 <= exponent < 16 and in exponent notation otherwise (1e-05, 1e+16);
// a fixed value always has a '.' (1.0). What Lightning's metrics.csv holds.
std::string format_float_repr(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string sci(buf, res.ptr);  // "-d.ddde-05"
  std::string out;
  if (sci[0] == '-') {
    out = "-";
    sci.erase(0, 1);
  }
  const size_t e = sci.find('e');
  const int exponent = std::atoi(sci.c_str() + e + 1);
  std::string digits;
  for (size_t i = 0; i < e; ++i) {
    if (sci[i] != '.') digits += sci[i];
  }
  const int n = static_cast<int>(digits.size());
  if (exponent >= -4 && exponent < 16) {
    const int point = exponent + 1;  // digits before the decimal point
    if (point <= 0) {
      out += "0." + std::string(-point, '0') + digits;
    } else if (point >= n) {
      out += digits + std::string(point - n, '0') + ".0";
    } else {
      out += digits.substr(0, point) + "." + digits.substr(point);
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (n > 1) out += "." + digits.substr(1);
  const int mag = std::abs(exponent);
  out += exponent < 0 ? "e-" : "e+";
  if (mag < 10) out += "0";
  return out + std::to_string(mag);
}

}  // namespace lightning::detail
