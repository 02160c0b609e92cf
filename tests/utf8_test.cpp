// The library's one UTF-8 encoder and decoder (src/detail/utf8.h).
#include "util/utf8.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace {

namespace detail = lightning::detail;

std::string encoded(uint32_t cp) {
  std::string out;
  detail::append_utf8(out, cp);
  return out;
}

/// Every code point of `s`, or nullopt at the first invalid one.
std::optional<std::vector<uint32_t>> decoded(const std::string& s) {
  std::vector<uint32_t> cps;
  size_t i = 0;
  while (i < s.size()) {
    const size_t before = i;
    auto cp = detail::next_code_point(s, i);
    if (!cp) {
      EXPECT_EQ(i, before) << "a failed decode moved the position";
      return std::nullopt;
    }
    cps.push_back(*cp);
  }
  return cps;
}

TEST(Utf8, EncodesEachLengthAtItsBoundaries) {
  const std::vector<std::pair<uint32_t, std::string>> cases = {
      {0x00, std::string(1, '\0')},
      {0x41, "A"},
      {0x7F, "\x7F"},
      {0x80, "\xC2\x80"},
      {0xE9, "\xC3\xA9"},
      {0x7FF, "\xDF\xBF"},
      {0x800, "\xE0\xA0\x80"},
      {0x20AC, "\xE2\x82\xAC"},
      {0xD7FF, "\xED\x9F\xBF"},
      {0xE000, "\xEE\x80\x80"},
      {0xFFFF, "\xEF\xBF\xBF"},
      {0x10000, "\xF0\x90\x80\x80"},
      {0x1F600, "\xF0\x9F\x98\x80"},
      {0x10FFFF, "\xF4\x8F\xBF\xBF"},
  };
  for (const auto& [cp, bytes] : cases) {
    SCOPED_TRACE(cp);
    EXPECT_EQ(encoded(cp), bytes);
    EXPECT_EQ(decoded(bytes), std::vector<uint32_t>{cp});
    EXPECT_TRUE(detail::valid_utf8(bytes));
  }
}

TEST(Utf8, DecodesMixedText) {
  EXPECT_EQ(decoded("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80z"),
            (std::vector<uint32_t>{'a', 0xE9, 0x20AC, 0x1F600, 'z'}));
  EXPECT_EQ(decoded(""), std::vector<uint32_t>{});
  size_t end = 0;
  EXPECT_EQ(detail::next_code_point("", end), std::nullopt);
}

TEST(Utf8, RejectsWhatPythonsStrictDecoderRejects) {
  const std::vector<std::string> invalid = {
      "\x80",              // a continuation byte alone
      "\xBF",              //
      "\xC3",              // truncated 2-byte sequence
      "\xE2\x82",          // truncated 3-byte sequence
      "\xF0\x9F\x98",      // truncated 4-byte sequence
      "\xC3\x41",          // a lead byte followed by ASCII
      "\xC0\x80",          // overlong U+0000
      "\xC1\xBF",          // overlong U+007F
      "\xE0\x9F\xBF",      // overlong U+07FF
      "\xF0\x8F\xBF\xBF",  // overlong U+FFFF
      "\xED\xA0\x80",      // surrogate U+D800
      "\xED\xBF\xBF",      // surrogate U+DFFF
      "\xF4\x90\x80\x80",  // U+110000
      "\xF8\x88\x80\x80\x80",
      "\xFF",
  };
  for (const auto& bytes : invalid) {
    SCOPED_TRACE(::testing::PrintToString(bytes));
    EXPECT_EQ(decoded(bytes), std::nullopt);
    EXPECT_FALSE(detail::valid_utf8(bytes));
    EXPECT_FALSE(detail::valid_utf8("ok " + bytes + " ok"));
  }
}

}  // namespace
