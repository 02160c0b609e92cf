// Test helpers for lightning::Error messages.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "lightning/error.h"

namespace lightning::testing {

/// The message of the lightning::Error that `f` throws, or a marker when it throws none.
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const ::lightning::Error& e) {
    return e.what();
  }
  return "<no lightning::Error thrown>";
}

}  // namespace lightning::testing

/// Asserts that `statement` throws lightning::Error whose message contains `text`.
#define EXPECT_LIGHTNING_ERROR(statement, text) \
  EXPECT_THAT(::lightning::testing::error_of([&] { statement; }), ::testing::HasSubstr(text))
