// Internal: Python's arithmetic where it differs from C++'s, as PyTorch's
// schedulers compute with it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace lightning::detail {

inline constexpr double kPi = 3.141592653589793;  // math.pi

/// Python's `a % b`: the result takes the sign of b.
inline int64_t py_mod(int64_t a, int64_t b) {
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

/// Python's bisect.bisect_right, step for step (so that an unsorted list
/// gives what it gives in Python too).
inline int64_t py_bisect_right(const std::vector<int64_t>& a, int64_t x) {
  size_t lo = 0;
  size_t hi = a.size();
  while (lo < hi) {
    const size_t mid = (lo + hi) / 2;
    if (x < a[mid]) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return static_cast<int64_t>(lo);
}

}  // namespace lightning::detail
