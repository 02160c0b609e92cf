// Internal: constants as Python's math module has them.
#pragma once

namespace lightning::detail {

inline constexpr double kPi = 3.141592653589793;  // math.pi

}  // namespace lightning::detail
