// lightning/error.h — the one error type of lightning.cpp.
//
// Every mistake a user can make (a bad option, a missing file, a hook that
// returns the wrong thing) raises `lightning::Error`. Its message says what was
// wrong, the offending value, and what to do:
//
//   try {
//     L::Trainer trainer(L::TrainerOptions().max_epochs(-5));
//   } catch (const L::Error& e) {
//     // "max_epochs must be >= -1 (-1 means no limit), got -5."
//   }
//
// `Error` derives from `std::runtime_error`; errors raised by libtorch itself
// (shape mismatches inside a user's `forward`) stay `c10::Error` and pass
// through the Trainer unchanged.
#pragma once

#include <c10/util/StringUtil.h>

#include <stdexcept>
#include <string>

#include "lightning/export.h"

namespace lightning {

/// The exception raised for every user error detected by lightning.cpp.
class LIGHTNING_API Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

namespace detail {
/// Throws `Error` with the pieces of `args` concatenated (c10::str formatting).
[[noreturn]] LIGHTNING_API void throw_error(const std::string& message);
/// Prints a warning once per distinct message ("[lightning] warning: ...").
LIGHTNING_API void warn_once(const std::string& message);
/// Prints a warning every time.
LIGHTNING_API void warn(const std::string& message);
}  // namespace detail

}  // namespace lightning

/// Checks a condition a user controls; on failure throws `lightning::Error`
/// whose message is the remaining arguments concatenated with `c10::str`.
#define LIGHTNING_CHECK(cond, ...)                               \
  do {                                                           \
    if (!(cond)) {                                               \
      ::lightning::detail::throw_error(::c10::str(__VA_ARGS__)); \
    }                                                            \
  } while (0)

/// Unconditionally throws `lightning::Error` with the concatenated message.
#define LIGHTNING_FAIL(...) ::lightning::detail::throw_error(::c10::str(__VA_ARGS__))
