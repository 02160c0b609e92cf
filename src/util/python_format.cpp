// Python's str.format mini-language for one int or float, repr(str) and
// str/repr of datetime.timedelta: what Lightning's file names and messages
// show, reproduced byte for byte.
#include "util/python_format.h"

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "lightning/error.h"
#include "util/float_format.h"
#include "util/utf8.h"

namespace lightning::detail {

namespace {

/// A Python format spec: [[fill]align][sign][z][#][0][width][grouping][.precision][type].
struct FormatSpec {
  std::string fill = " ";
  char align = 0;
  char sign = '-';
  bool z = false;
  bool alt = false;
  int64_t width = -1;
  char grouping = 0;
  int64_t precision = -1;
  char type = 0;
};

bool is_align(char c) { return c == '<' || c == '>' || c == '=' || c == '^'; }

FormatSpec parse_spec(const std::string& s) {
  FormatSpec f;
  size_t i = 0;
  auto check_grouping = [&f, &s]() {
    if (!f.grouping) return;
    const bool ok = f.type == 0 || f.type == 'd' ||
                    std::string("eEfFgG%").find(f.type) != std::string::npos ||
                    (f.grouping == '_' && std::string("boxX").find(f.type) != std::string::npos);
    LIGHTNING_CHECK(ok, "Cannot specify '", std::string(1, f.grouping), "' with '",
                    std::string(1, f.type), "'.");
  };
  const size_t n = s.size();
  bool explicit_fill = false;
  if (n >= 2 && is_align(s[1])) {
    f.fill = s.substr(0, 1);
    f.align = s[1];
    explicit_fill = true;
    i = 2;
  } else if (n >= 1 && is_align(s[0])) {
    f.align = s[0];
    i = 1;
  }
  if (i < n && (s[i] == '+' || s[i] == '-' || s[i] == ' ')) f.sign = s[i++];
  if (i < n && s[i] == 'z') {
    f.z = true;
    ++i;
  }
  if (i < n && s[i] == '#') {
    f.alt = true;
    ++i;
  }
  if (i < n && s[i] == '0') {
    // Sign-aware zero padding, unless a fill was given.
    if (!explicit_fill) f.fill = "0";
    if (!f.align) f.align = '=';
    ++i;
  }
  auto digits = [&](int64_t& out) {
    const size_t start = i;
    int64_t v = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') v = v * 10 + (s[i++] - '0');
    if (i > start) out = v;
    return i > start;
  };
  digits(f.width);
  if (i < n && (s[i] == ',' || s[i] == '_')) f.grouping = s[i++];
  if (i < n && s[i] == '.') {
    ++i;
    LIGHTNING_CHECK(digits(f.precision), "Format specifier missing precision in '", s, "'.");
  }
  if (i < n) f.type = s[i++];
  LIGHTNING_CHECK(i == n, "Invalid format specifier '", s, "'.");
  check_grouping();
  return f;
}

/// Inserts `sep` every `every` digits from the right of `digits`.
std::string group_digits(const std::string& digits, char sep, size_t every) {
  std::string out;
  const size_t n = digits.size();
  for (size_t i = 0; i < n; ++i) {
    out += digits[i];
    const size_t left = n - i - 1;
    if (left > 0 && left % every == 0) out += sep;
  }
  return out;
}

/// Pads sign + body to the width with the spec's fill and alignment
/// (numbers align right by default; '=' pads between sign and digits).
std::string pad(const FormatSpec& f, const std::string& sign, const std::string& body) {
  const int64_t len = static_cast<int64_t>(sign.size() + body.size());
  if (f.width <= len) return sign + body;
  const int64_t missing = f.width - len;
  auto fill = [&](int64_t count) {
    std::string out;
    for (int64_t i = 0; i < count; ++i) out += f.fill;
    return out;
  };
  switch (f.align ? f.align : '>') {
    case '<':
      return sign + body + fill(missing);
    case '^':
      return fill(missing / 2) + sign + body + fill(missing - missing / 2);
    case '=':
      return sign + fill(missing) + body;
    default:
      return fill(missing) + sign + body;
  }
}

/// Groups the integer digits and pads: with '0' fill and '=' alignment the
/// zeros are grouped too ("000,001"), as Python does.
std::string group_and_pad(const FormatSpec& f, const std::string& sign, std::string digits,
                          const std::string& rest, size_t every) {
  if (f.grouping) {
    if (!digits.empty() && f.fill == "0" && f.align == '=' && f.width > 0) {
      const int64_t min_width = f.width - static_cast<int64_t>(sign.size() + rest.size());
      while (static_cast<int64_t>(group_digits(digits, f.grouping, every).size()) < min_width) {
        digits.insert(0, "0");
      }
    }
    digits = group_digits(digits, f.grouping, every);
  }
  return pad(f, sign, digits + rest);
}

std::string sign_of(const FormatSpec& f, bool negative) {
  if (negative) return "-";
  if (f.sign == '+') return "+";
  if (f.sign == ' ') return " ";
  return "";
}

std::string printf_double(const char* conversion, bool alt, int64_t precision, double v) {
  std::string fmt = std::string("%") + (alt ? "#" : "") + ".*" + conversion;
  const int n = std::snprintf(nullptr, 0, fmt.c_str(), static_cast<int>(precision), v);
  std::string out(static_cast<size_t>(n) + 1, '\0');
  std::snprintf(out.data(), out.size(), fmt.c_str(), static_cast<int>(precision), v);
  out.resize(static_cast<size_t>(n));
  return out;
}

/// Python's 'g' of a finite value >= 0 with `p` significant digits: exponent
/// notation when the exponent (after rounding) is < -4 or >= p, trailing
/// zeros removed unless `alt`. `add_dot_0` (no type with a precision) keeps
/// one decimal and switches to exponents from p - 1 on. Written out rather
/// than "%#g" because glibc drops the zeros of "%#.3g" when rounding moves
/// the exponent (999.5 → "1.e+03", Python "1.00e+03").
std::string format_general(double a, int64_t p, bool alt, bool add_dot_0) {
  const std::string sci = printf_double("e", false, p - 1, a);
  const size_t e = sci.find('e');
  const int exponent = std::atoi(sci.c_str() + e + 1);
  auto trim = [&](std::string digits) {
    if (alt) {
      if (digits.find('.') == std::string::npos) digits += ".";
      return digits;
    }
    if (digits.find('.') != std::string::npos) {
      digits.erase(digits.find_last_not_of('0') + 1);
      if (digits.back() == '.') digits.pop_back();
    }
    return digits;
  };
  if (exponent < -4 || exponent >= (add_dot_0 ? p - 1 : p)) {
    return trim(sci.substr(0, e)) + sci.substr(e);
  }
  std::string body = trim(printf_double("f", false, p - 1 - exponent, a));
  if (add_dot_0) {
    if (body.find('.') == std::string::npos) body += ".";
    if (body.back() == '.') body += "0";
  }
  return body;
}

/// Python's format(float, spec).
std::string format_float(double v, const FormatSpec& f) {
  char type = f.type;
  LIGHTNING_CHECK(type == 0 || std::string("eEfFgGn%").find(type) != std::string::npos,
                  "Unknown format code '", std::string(1, type), "' for object of type 'float'.");
  bool negative = std::signbit(v) && !std::isnan(v);
  double a = std::fabs(v);
  std::string body;
  bool percent = false;
  if (type == '%') {
    a *= 100.0;
    type = 'f';
    percent = true;
  }
  if (type == 'n') type = 'g';
  if (std::isnan(a) || std::isinf(a)) {
    body = std::isnan(a) ? "nan" : "inf";
    if (type == 'E' || type == 'F' || type == 'G') body = std::isnan(a) ? "NAN" : "INF";
  } else if (type == 'f' || type == 'F') {
    body = printf_double("f", f.alt, f.precision < 0 ? 6 : f.precision, a);
  } else if (type == 'e' || type == 'E') {
    body = printf_double(type == 'e' ? "e" : "E", f.alt, f.precision < 0 ? 6 : f.precision, a);
  } else if (type == 'g' || type == 'G') {
    const int64_t p = f.precision < 0 ? 6 : std::max<int64_t>(f.precision, 1);
    body = format_general(a, p, f.alt, /*add_dot_0=*/false);
    if (type == 'G') {
      for (char& ch : body) ch = ch == 'e' ? 'E' : ch;
    }
  } else if (f.precision >= 0) {
    // No type with a precision: like 'g' with at least one decimal.
    body = format_general(a, std::max<int64_t>(f.precision, 1), f.alt, /*add_dot_0=*/true);
  } else {
    body = format_float_repr(a);
    if (f.alt && body.find('.') == std::string::npos) {
      const size_t e = body.find('e');
      body.insert(e == std::string::npos ? body.size() : e, ".");
    }
  }
  if (percent) body += "%";
  if (f.z && negative && std::isfinite(a)) {
    // 'z': a value that rounds to zero prints without its sign.
    if (body.find_first_of("123456789") == std::string::npos) negative = false;
  }
  size_t end = body.find_first_not_of("0123456789");
  if (end == std::string::npos) end = body.size();
  return group_and_pad(f, sign_of(f, negative), body.substr(0, end), body.substr(end), 3);
}

/// Python's format(int, spec).
std::string format_int(int64_t v, const FormatSpec& f) {
  if (f.type && std::string("eEfFgG%").find(f.type) != std::string::npos) {
    return format_float(static_cast<double>(v), f);
  }
  LIGHTNING_CHECK(f.type == 0 || std::string("bcdoxXn").find(f.type) != std::string::npos,
                  "Unknown format code '", std::string(1, f.type), "' for object of type 'int'.");
  LIGHTNING_CHECK(f.precision < 0, "Precision not allowed in integer format specifier.");
  const bool negative = v < 0;
  const uint64_t a = negative ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  std::string digits, prefix;
  auto in_base = [&](unsigned base, bool upper) {
    std::string out;
    uint64_t x = a;
    do {
      const unsigned d = static_cast<unsigned>(x % base);
      out += static_cast<char>(d < 10 ? '0' + d : (upper ? 'A' : 'a') + d - 10);
      x /= base;
    } while (x > 0);
    std::reverse(out.begin(), out.end());
    return out;
  };
  switch (f.type) {
    case 'b':
      digits = in_base(2, false);
      prefix = f.alt ? "0b" : "";
      break;
    case 'o':
      digits = in_base(8, false);
      prefix = f.alt ? "0o" : "";
      break;
    case 'x':
      digits = in_base(16, false);
      prefix = f.alt ? "0x" : "";
      break;
    case 'X':
      digits = in_base(16, true);
      prefix = f.alt ? "0X" : "";
      break;
    case 'c': {
      LIGHTNING_CHECK(v >= 0 && v <= 0x10FFFF, "%c arg not in range(0x110000)");
      LIGHTNING_CHECK(f.sign == '-' && !f.alt,
                      "Sign not allowed with integer format specifier 'c'");
      std::string ch;
      detail::append_utf8(ch, static_cast<uint32_t>(v));
      // Padded as one character (pad() counts bytes).
      std::string out = pad(f, "", "\x01");
      out.replace(out.find('\x01'), 1, ch);
      return out;
    }
    default:
      digits = in_base(10, false);
  }
  const bool decimal = f.type == 0 || f.type == 'd' || f.type == 'n';
  return group_and_pad(f, sign_of(f, negative) + prefix, digits, "", decimal ? 3 : 4);
}

}  // namespace

/// Python's repr(str): single quotes unless the text holds ' and no ".
std::string py_repr(const std::string& s) {
  const char quote =
      s.find('\'') != std::string::npos && s.find('"') == std::string::npos ? '"' : '\'';
  std::string out(1, quote);
  for (unsigned char ch : s) {
    if (ch == '\\' || ch == static_cast<unsigned char>(quote)) {
      out += '\\';
      out += static_cast<char>(ch);
    } else if (ch == '\n') {
      out += "\\n";
    } else if (ch == '\r') {
      out += "\\r";
    } else if (ch == '\t') {
      out += "\\t";
    } else if (ch < 0x20 || ch == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", ch);
      out += buf;
    } else {
      out += static_cast<char>(ch);
    }
  }
  return out + quote;
}

std::string py_repr(const std::optional<std::string>& s) { return s ? py_repr(*s) : "None"; }

std::string python_format(int64_t value, const std::string& spec) {
  return format_int(value, parse_spec(spec));
}

std::string python_format(double value, const std::string& spec) {
  return format_float(value, parse_spec(spec));
}

/// str(datetime.timedelta) and repr(datetime.timedelta) of a millisecond count >= 0.
std::string timedelta_str(std::chrono::milliseconds ms) {
  const int64_t total = ms.count();
  const int64_t days = total / 86400000, rest = total % 86400000;
  const int64_t h = rest / 3600000, m = rest / 60000 % 60, s = rest / 1000 % 60,
                us = rest % 1000 * 1000;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(h),
                static_cast<long long>(m), static_cast<long long>(s));
  std::string out = buf;
  if (us) {
    std::snprintf(buf, sizeof buf, ".%06lld", static_cast<long long>(us));
    out += buf;
  }
  if (days) out = std::to_string(days) + (days == 1 ? " day, " : " days, ") + out;
  return out;
}

std::string timedelta_repr(std::chrono::milliseconds ms) {
  const int64_t total = ms.count();
  const int64_t days = total / 86400000, seconds = total % 86400000 / 1000,
                us = total % 1000 * 1000;
  std::vector<std::string> parts;
  if (days) parts.push_back("days=" + std::to_string(days));
  if (seconds) parts.push_back("seconds=" + std::to_string(seconds));
  if (us) parts.push_back("microseconds=" + std::to_string(us));
  std::string out = "datetime.timedelta(";
  if (parts.empty()) return out + "0)";
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? ", " : "") + parts[i];
  return out + ")";
}

}  // namespace lightning::detail
