// Internal: Python's formatting where the library must print what Python
// prints (ModelCheckpoint's file names, Lightning's messages).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace lightning::detail {

/// Python's repr(str): single quotes unless the text holds ' and no ".
std::string py_repr(const std::string& s);
/// repr of an optional str: None when empty.
std::string py_repr(const std::optional<std::string>& s);

/// format(value, spec) with Python's format-spec mini-language
/// ([[fill]align][sign][z][#][0][width][grouping][.precision][type]);
/// `lightning::Error` with Python's ValueError text for a spec Python rejects.
std::string python_format(int64_t value, const std::string& spec);
std::string python_format(double value, const std::string& spec);

/// str(datetime.timedelta) and repr(datetime.timedelta) of a millisecond count >= 0.
std::string timedelta_str(std::chrono::milliseconds ms);
std::string timedelta_repr(std::chrono::milliseconds ms);

}  // namespace lightning::detail
