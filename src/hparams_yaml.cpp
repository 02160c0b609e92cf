// hparams.yaml: HParams to YAML text and back, read the way Python's
// `yaml.safe_load` (PyYAML 6, YAML 1.1 resolver) reads it.
//
// Writing is done by hand rather than with YAML::Emitter because every scalar
// needs a form that PyYAML resolves to the same type and value: floats always
// carry a '.', strings are always double-quoted. Reading uses yaml-cpp for the
// syntax and resolves untagged plain scalars here with PyYAML's regular
// expressions, since yaml-cpp leaves scalars as text; quoted scalars are
// rescanned where yaml-cpp 0.7 (YAML 1.2) and PyYAML (YAML 1.1) disagree.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

// yaml-cpp 0.7's node headers trip GCC 12's -Wdangling-pointer (a false
// positive in code this file does not control).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>
#pragma GCC diagnostic pop
#else
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>
#endif

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/utf8.h"
#include "lightning/error.h"
#include "lightning/hparams.h"

namespace lightning {

namespace {

using detail::next_code_point;

// ---------------------------------------------------------------- writing --

// PyYAML's scanner gives up on implicit keys longer than 1024 characters;
// longer keys are written with the explicit `? key` form.
constexpr size_t kMaxImplicitKeyBytes = 1000;

void append_hex(std::string& out, uint32_t value, int digits) {
  static const char kHex[] = "0123456789ABCDEF";
  for (int shift = 4 * (digits - 1); shift >= 0; shift -= 4) out += kHex[(value >> shift) & 0xF];
}

// `s` as a YAML double-quoted scalar. Characters PyYAML's reader rejects
// (controls, DEL, C1, U+FFFE/U+FFFF) and the ones YAML 1.1 treats as line
// breaks inside quotes (U+0085, U+2028, U+2029) or strips (BOM) are escaped.
std::string quoted(std::string_view s, const std::string& what) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    const size_t start = i;
    const std::optional<uint32_t> cp = next_code_point(s, i);
    if (!cp) {
      std::string byte;
      append_hex(byte, static_cast<unsigned char>(s[start]), 2);
      LIGHTNING_FAIL(what, " is not valid UTF-8 (byte 0x", byte, " at offset ", start,
                     "); hparams.yaml holds text only. Encode binary data (e.g. as hex) "
                     "before saving it as a hyperparameter.");
    }
    switch (*cp) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\0':
        out += "\\0";
        continue;
      default:
        break;
    }
    if (*cp < 0x20 || (*cp >= 0x7F && *cp <= 0x9F)) {
      out += "\\x";
      append_hex(out, *cp, 2);
    } else if (*cp == 0x2028 || *cp == 0x2029 || *cp == 0xFEFF || *cp == 0xFFFE || *cp == 0xFFFF) {
      out += "\\u";
      append_hex(out, *cp, 4);
    } else {
      out.append(s.substr(start, i - start));
    }
  }
  out += '"';
  return out;
}

bool is_plain_key_char(char c, bool first) {
  const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  if (first) return alpha;
  return alpha || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '/';
}

HParamValue resolve_plain(const std::string& text);

// Identifier-like keys are written plain, as Lightning's files have them;
// everything else (and words such as `yes`, `null`) is quoted.
std::string format_key(const std::string& key, const std::string& what) {
  bool plain = !key.empty() && key.size() <= kMaxImplicitKeyBytes;
  for (size_t i = 0; plain && i < key.size(); ++i) plain = is_plain_key_char(key[i], i == 0);
  if (plain && resolve_plain(key).is_string()) return key;
  return quoted(key, what);
}

std::string format_float(double v) {
  if (std::isnan(v)) return ".nan";
  if (std::isinf(v)) return v > 0 ? ".inf" : "-.inf";
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof(buf), v);
  std::string s(buf, result.ptr);
  // PyYAML's float pattern needs a '.': 1e-05 -> 1.0e-05, 3 -> 3.0.
  if (s.find('.') == std::string::npos) {
    const size_t e = s.find('e');
    if (e == std::string::npos) {
      s += ".0";
    } else {
      s.insert(e, ".0");
    }
  }
  return s;
}

bool is_empty_collection(const HParamValue& v) {
  if (v.is_list()) return std::get<HParamValue::List>(v.variant()).empty();
  if (v.is_map()) return std::get<HParamValue::Map>(v.variant()).empty();
  return false;
}

// A value that fits on the line of its key or dash.
std::string format_inline(const HParamValue& value, const std::string& what) {
  const auto& v = value.variant();
  switch (v.index()) {
    case 0:
      return "null";
    case 1:
      return std::get<bool>(v) ? "true" : "false";
    case 2:
      return std::to_string(std::get<int64_t>(v));
    case 3:
      return format_float(std::get<double>(v));
    case 4:
      return quoted(std::get<std::string>(v), what);
    case 5:
      return "[]";
    default:
      return "{}";
  }
}

void emit_list(std::string& out, const HParamValue::List& list, size_t indent, bool inline_first,
               const std::string& what);

// Block mapping at `indent`; `inline_first` when the first key follows "- ".
void emit_map(std::string& out, const HParamValue::Map& map, size_t indent, bool inline_first,
              const std::string& what) {
  for (size_t i = 0; i < map.size(); ++i) {
    const auto& [key, value] = map[i];
    const std::string item = what + "['" + key + "']";
    if (i > 0 || !inline_first) out.append(indent, ' ');
    const std::string k = format_key(key, "the key of " + item);
    const bool explicit_key = k.size() > kMaxImplicitKeyBytes;
    if (explicit_key) {
      out += "? ";
      out += k;
      out += '\n';
      out.append(indent, ' ');
      out += ':';
    } else {
      out += k;
      out += ':';
    }
    if (value.is_map() && !is_empty_collection(value)) {
      out += '\n';
      emit_map(out, std::get<HParamValue::Map>(value.variant()), indent + 2, false, item);
    } else if (value.is_list() && !is_empty_collection(value)) {
      out += '\n';
      // PyYAML writes sequences in mappings without extra indentation.
      emit_list(out, std::get<HParamValue::List>(value.variant()),
                explicit_key ? indent + 2 : indent, false, item);
    } else {
      out += ' ';
      out += format_inline(value, item);
      out += '\n';
    }
  }
}

void emit_list(std::string& out, const HParamValue::List& list, size_t indent, bool inline_first,
               const std::string& what) {
  for (size_t i = 0; i < list.size(); ++i) {
    const HParamValue& value = list[i];
    const std::string item = what + "[" + std::to_string(i) + "]";
    if (i > 0 || !inline_first) out.append(indent, ' ');
    out += "- ";
    if (value.is_map() && !is_empty_collection(value)) {
      emit_map(out, std::get<HParamValue::Map>(value.variant()), indent + 2, true, item);
    } else if (value.is_list() && !is_empty_collection(value)) {
      emit_list(out, std::get<HParamValue::List>(value.variant()), indent + 2, true, item);
    } else {
      out += format_inline(value, item);
      out += '\n';
    }
  }
}

// ---------------------------------------------------- PyYAML's resolver --

bool is_digit(char c) { return c >= '0' && c <= '9'; }

size_t skip_digits_underscores(std::string_view s, size_t i) {
  while (i < s.size() && (is_digit(s[i]) || s[i] == '_')) ++i;
  return i;
}

// `(?::[0-5]?[0-9])+` from index `i`; false when not even one group matches.
bool skip_sexagesimal_groups(std::string_view s, size_t& i) {
  bool any = false;
  while (i < s.size() && s[i] == ':') {
    ++i;
    if (i + 1 < s.size() && s[i] >= '0' && s[i] <= '5' && is_digit(s[i + 1])) {
      i += 2;
    } else if (i < s.size() && is_digit(s[i])) {
      i += 1;
    } else {
      return false;
    }
    any = true;
  }
  return any;
}

// `(?:[eE][-+][0-9]+)?$` from index `i`.
bool optional_exponent_then_end(std::string_view s, size_t i) {
  if (i == s.size()) return true;
  if (s[i] != 'e' && s[i] != 'E') return false;
  ++i;
  if (i == s.size() || (s[i] != '-' && s[i] != '+')) return false;
  ++i;
  if (i == s.size() || !is_digit(s[i])) return false;
  while (i < s.size() && is_digit(s[i])) ++i;
  return i == s.size();
}

size_t sign_length(std::string_view s) {
  return !s.empty() && (s[0] == '-' || s[0] == '+') ? 1 : 0;
}

// PyYAML: ^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
//           |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
//           |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
//           |[-+]?\.(?:inf|Inf|INF)
//           |\.(?:nan|NaN|NAN))$
bool matches_float(std::string_view s) {
  if (s == ".nan" || s == ".NaN" || s == ".NAN") return true;
  const size_t j = sign_length(s);
  const std::string_view rest = s.substr(j);
  if (rest == ".inf" || rest == ".Inf" || rest == ".INF") return true;
  if (j == 0 && s.size() >= 2 && s[0] == '.' && is_digit(s[1])) {
    return optional_exponent_then_end(s, skip_digits_underscores(s, 2));
  }
  if (j >= s.size() || !is_digit(s[j])) return false;
  size_t i = skip_digits_underscores(s, j + 1);
  if (i < s.size() && s[i] == '.')
    return optional_exponent_then_end(s, skip_digits_underscores(s, i + 1));
  if (i < s.size() && s[i] == ':' && skip_sexagesimal_groups(s, i) && i < s.size() && s[i] == '.') {
    return skip_digits_underscores(s, i + 1) == s.size();
  }
  return false;
}

// PyYAML: ^(?:[-+]?0b[0-1_]+ |[-+]?0[0-7_]+ |[-+]?(?:0|[1-9][0-9_]*)
//           |[-+]?0x[0-9a-fA-F_]+ |[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$
bool matches_int(std::string_view s) {
  const std::string_view r = s.substr(sign_length(s));
  if (r.empty()) return false;
  const auto all = [&](size_t from, auto pred) {
    if (from >= r.size()) return false;
    for (size_t i = from; i < r.size(); ++i) {
      if (!pred(r[i])) return false;
    }
    return true;
  };
  if (r.substr(0, 2) == "0b")
    return all(2, [](char c) { return c == '0' || c == '1' || c == '_'; });
  if (r.substr(0, 2) == "0x") {
    return all(2, [](char c) {
      return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '_';
    });
  }
  if (r[0] == '0')
    return r.size() == 1 || all(1, [](char c) { return (c >= '0' && c <= '7') || c == '_'; });
  if (!is_digit(r[0])) return false;
  size_t i = skip_digits_underscores(r, 1);
  if (i == r.size()) return true;
  return r[i] == ':' && skip_sexagesimal_groups(r, i) && i == r.size();
}

bool is_bool_word(std::string_view s, bool& value) {
  static const char* const kTrue[] = {"yes",  "Yes", "YES", "true", "True",
                                      "TRUE", "on",  "On",  "ON"};
  static const char* const kFalse[] = {"no",    "No",  "NO",  "false", "False",
                                       "FALSE", "off", "Off", "OFF"};
  for (const char* w : kTrue) {
    if (s == w) return value = true, true;
  }
  for (const char* w : kFalse) {
    if (s == w) return value = false, true;
  }
  return false;
}

std::string without_underscores(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c != '_') out += c;
  }
  return out;
}

enum class IntStatus { kOk, kInvalid, kOverflow };

// Unsigned digits in `base`, all of `digits`.
IntStatus parse_unsigned(std::string_view digits, int base, uint64_t& value) {
  if (digits.empty()) return IntStatus::kInvalid;
  const auto result = std::from_chars(digits.data(), digits.data() + digits.size(), value, base);
  if (result.ptr != digits.data() + digits.size()) return IntStatus::kInvalid;
  if (result.ec == std::errc::result_out_of_range) return IntStatus::kOverflow;
  return result.ec == std::errc() ? IntStatus::kOk : IntStatus::kInvalid;
}

// PyYAML's construct_yaml_int: underscores dropped, 0b/0x/leading-0 octal,
// base-60 groups with ':'.
IntStatus construct_int(std::string_view text, int64_t& out) {
  std::string v = without_underscores(text);
  if (v.empty()) return IntStatus::kInvalid;
  const bool negative = v[0] == '-';
  if (v[0] == '-' || v[0] == '+') v.erase(0, 1);
  if (v.empty()) return IntStatus::kInvalid;
  uint64_t magnitude = 0;
  IntStatus status;
  if (v.rfind("0b", 0) == 0) {
    status = parse_unsigned(std::string_view(v).substr(2), 2, magnitude);
  } else if (v.rfind("0x", 0) == 0) {
    status = parse_unsigned(std::string_view(v).substr(2), 16, magnitude);
  } else if (v[0] == '0') {
    status = parse_unsigned(v, 8, magnitude);
  } else if (v.find(':') != std::string::npos) {
    size_t start = 0;
    while (true) {
      const size_t end = v.find(':', start);
      uint64_t part;
      status = parse_unsigned(std::string_view(v).substr(start, end - start), 10, part);
      if (status != IntStatus::kOk) return status;
      if (__builtin_mul_overflow(magnitude, uint64_t{60}, &magnitude) ||
          __builtin_add_overflow(magnitude, part, &magnitude)) {
        return IntStatus::kOverflow;
      }
      if (end == std::string::npos) break;
      start = end + 1;
    }
  } else {
    status = parse_unsigned(v, 10, magnitude);
  }
  if (status != IntStatus::kOk) return status;
  constexpr uint64_t kMaxPositive = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (negative) {
    if (magnitude > kMaxPositive + 1) return IntStatus::kOverflow;
    out = magnitude == kMaxPositive + 1 ? std::numeric_limits<int64_t>::min()
                                        : -static_cast<int64_t>(magnitude);
  } else {
    if (magnitude > kMaxPositive) return IntStatus::kOverflow;
    out = static_cast<int64_t>(magnitude);
  }
  return IntStatus::kOk;
}

// A decimal number as Python's float() reads it: out-of-range values become
// inf or 0 instead of failing.
std::optional<double> parse_decimal(std::string_view s) {
  if (s.empty()) return std::nullopt;
  double value = 0;
  const auto result = std::from_chars(s.data(), s.data() + s.size(), value);
  if (result.ptr != s.data() + s.size()) return std::nullopt;
  if (result.ec == std::errc()) return value;
  if (result.ec != std::errc::result_out_of_range) return std::nullopt;
  // Out of range: overflow when the leading digit's decimal order is positive.
  const size_t e = s.find_first_of("eE");
  const std::string_view mantissa = s.substr(0, e);
  long long exponent = 0;
  if (e != std::string_view::npos) {
    std::string_view exp = s.substr(e + 1);
    const bool negative = !exp.empty() && exp[0] == '-';
    if (!exp.empty() && (exp[0] == '-' || exp[0] == '+')) exp.remove_prefix(1);
    for (char c : exp) exponent = std::min(exponent * 10 + (c - '0'), 1000000000LL);
    if (negative) exponent = -exponent;
  }
  const size_t dot = mantissa.find('.');
  const std::string_view int_part = mantissa.substr(0, dot);
  const size_t first_nonzero = int_part.find_first_not_of('0');
  long long order;
  if (first_nonzero != std::string_view::npos) {
    order = static_cast<long long>(int_part.size() - first_nonzero);
  } else {
    const std::string_view frac =
        dot == std::string_view::npos ? std::string_view() : mantissa.substr(dot + 1);
    order = -static_cast<long long>(std::min(frac.find_first_not_of('0'), frac.size()));
  }
  return exponent + order > 0 ? std::numeric_limits<double>::infinity() : 0.0;
}

// PyYAML's construct_yaml_float.
std::optional<double> construct_float(std::string_view text) {
  std::string v = without_underscores(text);
  for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (v.empty()) return std::nullopt;
  const double sign = v[0] == '-' ? -1.0 : 1.0;
  if (v[0] == '-' || v[0] == '+') v.erase(0, 1);
  if (v == ".inf") return sign * std::numeric_limits<double>::infinity();
  if (v == ".nan") return std::numeric_limits<double>::quiet_NaN();
  if (v.find(':') != std::string::npos) {
    std::vector<double> parts;
    size_t start = 0;
    while (true) {
      const size_t end = v.find(':', start);
      const std::optional<double> part =
          parse_decimal(std::string_view(v).substr(start, end - start));
      if (!part) return std::nullopt;
      parts.push_back(*part);
      if (end == std::string::npos) break;
      start = end + 1;
    }
    // Summed from the last group up, as PyYAML does, for the same rounding.
    double total = 0;
    double base = 1;
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
      total += *it * base;
      base *= 60;
    }
    return sign * total;
  }
  // Python's float() takes a sign only once; it was removed above.
  if (!v.empty() && (v[0] == '-' || v[0] == '+')) return std::nullopt;
  const std::optional<double> value = parse_decimal(v);
  if (!value) return std::nullopt;
  return sign * *value;
}

// What PyYAML's safe_load makes of an untagged plain scalar. Timestamps stay
// strings (HParams has no date type); ints beyond int64 are reported by the
// caller, which knows the key.
HParamValue resolve_plain(const std::string& text) {
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") {
    return {};
  }
  bool flag;
  if (is_bool_word(text, flag)) return flag;
  if (matches_float(text)) {
    if (const std::optional<double> v = construct_float(text)) return *v;
  }
  if (matches_int(text)) {
    int64_t v;
    if (construct_int(text, v) == IntStatus::kOk) return v;
  }
  return text;
}

// ---------------------------------------------------------------- reading --

constexpr const char* kYamlTagPrefix = "tag:yaml.org,2002:";
// Deep enough for any real configuration; stops recursive aliases (`&a [*a]`),
// which yaml-cpp turns into cyclic nodes.
constexpr int kMaxDepth = 200;
// Aliases share nodes, so a few lines can stand for billions of values
// (`a: &a [1, 1, 1, 1]`, `b: &b [*a, *a, *a, *a]`, ... ten times). Without
// aliases a value takes at least a byte of text, so reading stops past
// kMinValueLimit values or two per byte, whichever is more, instead of
// taking all memory and time.
constexpr size_t kMinValueLimit = 10000;

std::string display_tag(const std::string& tag) {
  const std::string prefix = kYamlTagPrefix;
  return tag.rfind(prefix, 0) == 0 ? "!!" + tag.substr(prefix.size()) : tag;
}

bool is_yaml_tag(const std::string& tag, const char* name) {
  return tag == std::string(kYamlTagPrefix) + name;
}

const char* node_kind(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Scalar:
      return "a scalar";
    default:
      return "null";
  }
}

std::string position(const YAML::Mark& mark) {
  if (mark.is_null()) return "";
  return c10::str(" at line ", mark.line + 1, ", column ", mark.column + 1);
}

// yaml-cpp 0.7 decodes the escapes \N and \_ to the Latin-1 bytes 0x85 and
// 0xA0 instead of UTF-8 (PyYAML writes them for U+0085 and U+00A0 unless
// allow_unicode is set). In valid UTF-8 those bytes only continue a sequence,
// so a stray one came from such an escape.
std::string fix_latin1_escapes(const std::string& text) {
  if (text.find_first_of("\x85\xA0") == std::string::npos) return text;
  std::string out;
  out.reserve(text.size() + 4);
  size_t i = 0;
  while (i < text.size()) {
    const size_t start = i;
    if (next_code_point(text, i)) {
      out.append(text, start, i - start);
      continue;
    }
    const char byte = text[start];
    if (byte == '\x85' || byte == '\xA0') out += '\xC2';
    out += byte;
    i = start + 1;
  }
  return out;
}

// Bytes of the YAML 1.1 line break at `i` (\r\n, \r, \n, U+0085, U+2028,
// U+2029), 0 when there is none. yaml-cpp follows YAML 1.2, where only \r
// and \n break lines.
size_t break_length(std::string_view t, size_t i) {
  if (i >= t.size()) return 0;
  if (t[i] == '\r') return i + 1 < t.size() && t[i + 1] == '\n' ? 2 : 1;
  if (t[i] == '\n') return 1;
  if (t.substr(i, 2) == "\xC2\x85") return 2;
  if (t.substr(i, 3) == "\xE2\x80\xA8" || t.substr(i, 3) == "\xE2\x80\xA9") return 3;
  return 0;
}

// What PyYAML keeps of a line break: LS and PS themselves, '\n' otherwise.
std::string_view break_value(std::string_view t, size_t i) {
  return break_length(t, i) == 3 ? t.substr(i, 3) : std::string_view("\n");
}

using detail::append_utf8;

// PyYAML's scan_flow_scalar_breaks: blank lines after a line break, each
// kept as a break; false at a document marker.
bool scan_flow_breaks(std::string_view t, size_t& i, std::string& out) {
  while (true) {
    const std::string_view marker = t.substr(i, 3);
    if ((marker == "---" || marker == "...") &&
        (i + 3 == t.size() || t[i + 3] == ' ' || t[i + 3] == '\t' || break_length(t, i + 3))) {
      return false;
    }
    while (i < t.size() && (t[i] == ' ' || t[i] == '\t')) ++i;
    const size_t n = break_length(t, i);
    if (n == 0) return true;
    out += break_value(t, i);
    i += n;
  }
}

// The quoted scalar starting at t[i] as PyYAML's scan_flow_scalar reads it;
// nullopt when it is malformed (yaml-cpp's reading is used then).
std::optional<std::string> scan_quoted(std::string_view t, size_t i) {
  const char quote = t[i++];
  const bool dbl = quote == '"';
  std::string out;
  while (true) {
    // Non-space characters, quotes and escapes.
    while (true) {
      const size_t start = i;
      while (i < t.size() && t[i] != '\'' && t[i] != '"' && t[i] != '\\' && t[i] != ' ' &&
             t[i] != '\t' && t[i] != '\0' && !break_length(t, i)) {
        ++i;
      }
      out.append(t.substr(start, i - start));
      if (i >= t.size()) return std::nullopt;
      const char c = t[i];
      if (!dbl && c == '\'' && i + 1 < t.size() && t[i + 1] == '\'') {
        out += '\'';
        i += 2;
      } else if ((dbl && c == '\'') || (!dbl && (c == '"' || c == '\\'))) {
        out += c;
        ++i;
      } else if (dbl && c == '\\') {
        if (++i >= t.size()) return std::nullopt;
        static const std::string_view kFrom = "0abt\tnvfre \"\\/";
        static const std::string_view kTo("\0\a\b\t\t\n\v\f\r\x1b \"\\/", 14);
        const char e = t[i];
        const size_t replacement = kFrom.find(e);
        const int digits = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
        if (replacement != std::string_view::npos) {
          out += kTo[replacement];
          ++i;
        } else if (e == 'N' || e == '_' || e == 'L' || e == 'P') {
          append_utf8(out, e == 'N' ? 0x85 : e == '_' ? 0xA0 : e == 'L' ? 0x2028 : 0x2029);
          ++i;
        } else if (digits > 0) {
          uint32_t cp = 0;
          const std::string_view hex = t.substr(i + 1, digits);
          const auto r = std::from_chars(hex.data(), hex.data() + hex.size(), cp, 16);
          if (hex.size() != static_cast<size_t>(digits) || r.ptr != hex.data() + hex.size() ||
              r.ec != std::errc() || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return std::nullopt;
          }
          append_utf8(out, cp);
          i += 1 + digits;
        } else if (const size_t n = break_length(t, i)) {
          i += n;  // an escaped line break joins the lines
          if (!scan_flow_breaks(t, i, out)) return std::nullopt;
        } else {
          return std::nullopt;
        }
      } else {
        break;
      }
    }
    if (t[i] == quote) return out;
    // Spaces: kept within a line, folded across lines.
    const size_t start = i;
    while (i < t.size() && (t[i] == ' ' || t[i] == '\t')) ++i;
    if (i >= t.size() || t[i] == '\0') return std::nullopt;
    if (const size_t n = break_length(t, i)) {
      const std::string_view line_break = break_value(t, i);
      i += n;
      std::string breaks;
      if (!scan_flow_breaks(t, i, breaks)) return std::nullopt;
      if (line_break != "\n") {
        out += line_break;
      } else if (breaks.empty()) {
        out += ' ';
      }
      out += breaks;
    } else {
      out.append(t.substr(start, i - start));
    }
  }
}

// `s` without YAML 1.1 whitespace and line breaks, to check that two
// readings of a scalar differ only there.
std::string without_white(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (s[i] == ' ' || s[i] == '\t') {
      ++i;
    } else if (const size_t n = break_length(s, i)) {
      i += n;
    } else {
      out += s[i++];
    }
  }
  return out;
}

class Reader {
 public:
  // `text` must outlive the Reader. A UTF-8 byte order mark is dropped so
  // that yaml-cpp's marks (which do not count it) index text_.
  Reader(std::string origin, std::string_view text) : origin_(std::move(origin)), text_(text) {
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") text_.remove_prefix(3);
  }

  HParams document() const {
    YAML::Node root;
    try {
      const std::string text(text_);
      const size_t documents = count_documents(text);
      if (documents == 0) return {};
      LIGHTNING_CHECK(documents == 1, origin_, " holds ", documents,
                      " YAML documents (separated by '---'); a hparams.yaml holds one mapping. "
                      "Keep only one document.");
      root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      LIGHTNING_FAIL(origin_, " is not valid YAML", position(e.mark), ": ", e.msg,
                     ". Fix the YAML syntax there (quote strings that contain ': ' or ' #').");
    }
    if (root.IsNull() && is_untagged(root)) return {};
    LIGHTNING_CHECK(root.IsMap(), origin_,
                    " must be a mapping of names to values (`lr: 0.001`, one "
                    "per line), got ",
                    node_kind(root), position(root.Mark()),
                    ". Write the hyperparameters as `key: value` lines at the top level.");
    return mapping(root, "hparams", 0);
  }

 private:
  // Where each document starts; the events inside are not needed.
  struct DocumentStarts : YAML::EventHandler {
    std::vector<YAML::Mark> starts;
    void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
  };

  // The number of YAML documents in `text`. yaml-cpp 0.7 never consumes a
  // ',', ']' or '}' that no flow collection is open for: YAML::LoadAll then
  // returns null documents without end (all starting at that character) and
  // takes all memory. A document starting where the previous one did is
  // reported instead.
  size_t count_documents(const std::string& text) const {
    std::istringstream in(text);
    YAML::Parser parser(in);
    DocumentStarts handler;
    while (parser.HandleNextDocument(handler)) {
      const size_t n = handler.starts.size();
      if (n >= 2 && handler.starts[n - 1].pos == handler.starts[n - 2].pos) {
        const YAML::Mark& mark = handler.starts[n - 1];
        const size_t pos = static_cast<size_t>(std::max(mark.pos, 0));
        const std::string found = pos < text.size() ? "'" + text.substr(pos, 1) + "'" : "this";
        LIGHTNING_FAIL(origin_, " is not valid YAML", position(mark), ": ", found,
                       " does not belong to any list or mapping. Remove it, or quote the "
                       "string it is part of.");
      }
    }
    return handler.starts.size();
  }

  static bool is_untagged(const YAML::Node& node) {
    const std::string& tag = node.Tag();
    return tag.empty() || tag == "?" || tag == "!";
  }

  [[noreturn]] void tag_error(const YAML::Node& node, const std::string& where) const {
    const std::string tag = display_tag(node.Tag());
    const bool python = tag.find("python/") != std::string::npos;
    LIGHTNING_FAIL(origin_, ": ", where, " has the tag ", tag, position(node.Mark()),
                   ", which lightning.cpp cannot read; it reads null, bool, int, float, str, "
                   "lists and mappings only. ",
                   python ? "The tag comes from yaml.dump of a Python object: convert it to plain "
                            "values (a list for a tuple, vars() of a Namespace, str() of an enum) "
                            "before saving, or edit the file."
                          : "Remove the tag or replace the value with a plain one.");
  }

  // Every value and mapping read passes here: bounds the nesting (the
  // recursion) and the number of values aliases expand to.
  void count_value(const YAML::Node& node, const std::string& where, int depth) const {
    LIGHTNING_CHECK(depth < kMaxDepth, origin_, ": ", where, position(node.Mark()),
                    " is nested more than ", kMaxDepth,
                    " levels deep (a recursive alias such as `&a [*a]`, or a mapping that merges "
                    "itself, `&a {<<: *a}`?). Flatten it.");
    const size_t limit = std::max(kMinValueLimit, 2 * text_.size());
    LIGHTNING_CHECK(++values_ <= limit, origin_, ": ", where, position(node.Mark()),
                    " makes it more than ", limit, " values for ", text_.size(),
                    " bytes of YAML: aliases (`*name`) repeat lists or mappings that repeat "
                    "aliases again. Write the values out, or alias them fewer times.");
  }

  HParamValue value(const YAML::Node& node, const std::string& where, int depth) const {
    count_value(node, where, depth);
    const std::string& tag = node.Tag();
    switch (node.Type()) {
      case YAML::NodeType::Sequence: {
        if (!is_untagged(node) && !is_yaml_tag(tag, "seq")) tag_error(node, where);
        HParamValue::List list;
        list.reserve(node.size());
        for (size_t i = 0; i < node.size(); ++i) {
          list.push_back(value(node[i], where + "[" + std::to_string(i) + "]", depth + 1));
        }
        return list;
      }
      case YAML::NodeType::Map:
        if (!is_untagged(node) && !is_yaml_tag(tag, "map")) tag_error(node, where);
        return mapping(node, where, depth + 1);
      case YAML::NodeType::Scalar:
        return scalar(node, where);
      default:  // yaml-cpp turns untagged ~, null, Null, NULL and empty into Null nodes.
        if (!is_untagged(node) && !is_yaml_tag(tag, "null")) tag_error(node, where);
        return {};
    }
  }

  HParamValue scalar(const YAML::Node& node, const std::string& where) const {
    const std::string& tag = node.Tag();
    const std::string text = scalar_text(node);
    // yaml-cpp tags plain scalars "?", quoted ones and ones marked `! ` "!";
    // PyYAML resolves the last kind as if plain.
    if (is_yaml_tag(tag, "str") || (tag == "!" && !properties(node.Mark()).non_specific)) {
      return text;
    }
    if (tag.empty() || tag == "?" || tag == "!") {
      HParamValue v = resolve_plain(text);
      if (v.is_string() && matches_int(text)) int_error(node, where, text);
      return v;
    }
    if (is_yaml_tag(tag, "null")) return {};
    if (is_yaml_tag(tag, "bool")) {
      std::string lower = text;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      bool flag;
      if (is_bool_word(lower, flag)) return flag;
      LIGHTNING_FAIL(origin_, ": ", where, " = !!bool '", text, "'", position(node.Mark()),
                     " is not a YAML bool. Write true/false (or yes/no, on/off).");
    }
    if (is_yaml_tag(tag, "int")) {
      int64_t v;
      if (construct_int(text, v) == IntStatus::kOk) return v;
      int_error(node, where, text);
    }
    if (is_yaml_tag(tag, "float")) {
      if (const std::optional<double> v = construct_float(text)) return *v;
      LIGHTNING_FAIL(origin_, ": ", where, " = !!float '", text, "'", position(node.Mark()),
                     " is not a number. Write it as e.g. 0.001, 1.0e-05, .inf or .nan.");
    }
    tag_error(node, where);
  }

  [[noreturn]] void int_error(const YAML::Node& node, const std::string& where,
                              const std::string& text) const {
    int64_t unused;
    if (construct_int(text, unused) == IntStatus::kOverflow) {
      LIGHTNING_FAIL(origin_, ": ", where, " = ", text, position(node.Mark()),
                     " does not fit a 64-bit integer. Write it as a float (add '.0') or quote it "
                     "to keep it as a string.");
    }
    LIGHTNING_FAIL(origin_, ": ", where, " = '", text, "'", position(node.Mark()),
                   " is not an integer. Write the digits without a stray '_' or prefix.");
  }

  std::string key(const YAML::Node& node, const std::string& where) const {
    LIGHTNING_CHECK(node.IsScalar(), origin_, ": a key of ", where, position(node.Mark()), " is ",
                    node_kind(node),
                    "; hparams keys must be names. Write the key as a plain or quoted string.");
    return scalar_text(node);
  }

  struct Properties {
    size_t end;         // where the node's content starts in text_, npos if unknown
    bool non_specific;  // whether the tag is `!`
  };

  // yaml-cpp's mark of a node points at its properties (anchor, tag), which
  // precede the content.
  Properties properties(const YAML::Mark& mark) const {
    const auto space = [&](size_t k) {
      return text_[k] == ' ' || text_[k] == '\t' || break_length(text_, k);
    };
    if (mark.is_null() || mark.pos < 0) return {std::string::npos, false};
    size_t i = static_cast<size_t>(mark.pos);
    bool non_specific = false;
    for (int property = 0; property < 2 && i < text_.size(); ++property) {
      if (text_[i] != '&' && text_[i] != '!') break;
      non_specific = non_specific || (text_[i] == '!' && (i + 1 == text_.size() || space(i + 1)));
      while (i < text_.size() && !space(i)) ++i;
      while (i < text_.size() && space(i)) ++i;
    }
    return {i < text_.size() ? i : std::string::npos, non_specific};
  }

  // The scalar's text. Quoted scalars are rescanned with PyYAML's rules
  // where yaml-cpp 0.7 differs: it clips trailing line breaks ('\n\n  '
  // reads as "" instead of "\n"), keeps U+0085/U+2028/U+2029 as ordinary
  // characters, and decodes \N and \_ to Latin-1. Both readings must agree
  // but for whitespace, or yaml-cpp's is kept.
  std::string scalar_text(const YAML::Node& node) const {
    std::string text = fix_latin1_escapes(node.Scalar());
    const size_t start = properties(node.Mark()).end;
    if (start == std::string::npos || (text_[start] != '"' && text_[start] != '\'')) return text;
    std::optional<std::string> rescanned = scan_quoted(text_, start);
    if (rescanned && without_white(*rescanned) == without_white(text)) return *std::move(rescanned);
    return text;
  }

  // Mapping entries in document order. Merge keys (`<<: *base`) are applied
  // as PyYAML does: merged entries first, the mapping's own keys override.
  HParams mapping(const YAML::Node& node, const std::string& where, int depth) const {
    count_value(node, where, depth);
    HParamValue::Map merged;
    HParamValue::Map own;
    // `entry` holds the pair: yaml-cpp's `it->first` is a member of a
    // temporary proxy, and a reference to it dangles after the statement.
    for (const auto& entry : node) {
      const YAML::Node& k = entry.first;
      const YAML::Node& v = entry.second;
      if (k.IsScalar() && k.Tag() == "?" && k.Scalar() == "<<") {
        merge(v, where, depth, merged);
        continue;
      }
      std::string name = key(k, where);
      HParamValue item = value(v, where + "['" + name + "']", depth + 1);
      own.emplace_back(std::move(name), std::move(item));
    }
    HParams out;
    for (auto& [k, v] : merged) out.set(k, std::move(v));
    for (auto& [k, v] : own) out.set(k, std::move(v));
    return out;
  }

  void merge(const YAML::Node& source, const std::string& where, int depth,
             HParamValue::Map& merged) const {
    const std::string item = where + "['<<']";
    if (source.IsMap()) {
      for (const auto& entry : mapping(source, item, depth + 1)) merged.push_back(entry);
      return;
    }
    LIGHTNING_CHECK(source.IsSequence(), origin_, ": the merge key ", item, position(source.Mark()),
                    " needs a mapping or a list of mappings, got ", node_kind(source),
                    ". Point it at an anchored mapping (`<<: *base`).");
    // Earlier mappings in the list win, so PyYAML inserts them last.
    for (size_t i = source.size(); i-- > 0;) {
      const YAML::Node& sub = source[i];
      LIGHTNING_CHECK(sub.IsMap(), origin_, ": the merge key ", item, position(sub.Mark()),
                      " lists ", node_kind(sub), "; every entry must be a mapping.");
      for (const auto& entry : mapping(sub, item, depth + 1)) merged.push_back(entry);
    }
  }

  std::string origin_;
  std::string_view text_;
  mutable size_t values_ = 0;  // read so far (count_value)
};

std::string errno_text(int err) { return std::strerror(err); }

}  // namespace

std::string to_yaml(const HParams& hparams) {
  if (hparams.empty()) return "{}\n";
  std::string out;
  emit_map(out, hparams.items(), 0, false, "hparams");
  return out;
}

HParams hparams_from_yaml(const std::string& text) {
  return Reader("hparams_from_yaml() input", text).document();
}

void save_hparams_to_yaml(const std::string& path, const HParams& hparams) {
  const std::string text = to_yaml(hparams);
  // A crash mid-write leaves the previous file intact: write a sibling, then rename.
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const auto fail = [&](int err) {
    ::unlink(tmp.c_str());
    LIGHTNING_FAIL("cannot write hparams.yaml to ", path, ": ", errno_text(err),
                   ". Check that the directory exists and is writable.");
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(errno);
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      fail(err);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    fail(err);
  }
  if (::close(fd) != 0) fail(errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail(errno);
  // Persist the rename too; failing here loses durability, not data.
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

HParams load_hparams_from_yaml(const std::string& path) {
  const auto fail = [&](int err) {
    LIGHTNING_FAIL("cannot read hparams.yaml from ", path, ": ", errno_text(err),
                   ". Check the path; Lightning writes it as <log_dir>/hparams.yaml.");
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(errno);
  std::string text;
  char buf[1 << 16];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      fail(err);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return Reader("hparams file " + path, text).document();
}

}  // namespace lightning
