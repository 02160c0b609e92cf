// Compares two canonical text dumps line by line, so that a failure names the
// values that differ instead of printing two whole documents.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

namespace lightning::testing {

inline ::testing::AssertionResult same_values(const std::string& actual,
                                              const std::string& expected) {
  const auto lines = [](const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  };
  const std::vector<std::string> a = lines(actual), e = lines(expected);
  std::ostringstream diff;
  int shown = 0;
  for (size_t i = 0; i < std::max(a.size(), e.size()) && shown < 8; ++i) {
    const std::string got = i < a.size() ? a[i] : "<missing>";
    const std::string want = i < e.size() ? e[i] : "<missing>";
    if (got == want) continue;
    diff << "\n  line " << i + 1 << ": got      " << got.substr(0, 240) << "\n  "
         << std::string(std::to_string(i + 1).size() + 6, ' ') << "expected "
         << want.substr(0, 240);
    ++shown;
  }
  if (shown == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "values differ:" << diff.str();
}

}  // namespace lightning::testing
