// validate()/test() print Lightning's results table: the text equals what
// Lightning 2.6 prints for the same results (results_table_reference.txt,
// written by results_table_reference.py), and Trainer::validate/test print it
// unless verbose is false.
#include "trainer/results_table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "support/boring.h"

namespace L = lightning;
using ::testing::HasSubstr;

namespace {

// "=== <case> <columns>" -> the text printed under it.
std::map<std::string, std::string> reference() {
  std::ifstream in(std::string(LIGHTNING_TRAINER_TEST_DIR) + "/results_table_reference.txt");
  std::map<std::string, std::string> out;
  std::string line, key;
  while (std::getline(in, line)) {
    if (line.rfind("#", 0) == 0 || line.empty()) continue;  // no table: an empty block
    if (line.rfind("=== ", 0) == 0) {
      key = line.substr(4);
      out[key];
      continue;
    }
    out[key] += line + "\n";
  }
  return out;
}

double f32(float v) { return static_cast<double>(v); }  // a logged float32, as .item() gives it

TEST(ResultsTable, SameTextAsLightningAtTwoWidths) {
  const auto ref = reference();
  ASSERT_EQ(ref.size(), 8u);
  const std::vector<L::Metrics> one = {{{"test_loss", f32(0.25f)}, {"test_acc", f32(0.85f)}}};
  const std::vector<L::Metrics> two = {
      {{"val_loss/dataloader_idx_0", f32(0.5f)}, {"val_acc/dataloader_idx_0", f32(0.125f)}},
      {{"val_loss/dataloader_idx_1", f32(0.75f)}}};
  const std::vector<L::Metrics> long_name = {
      {{"a_rather_long_metric_name_that_goes_on_and_on_and_on", 1.5}}};
  for (int columns : {80, 60}) {
    const std::string w = " " + std::to_string(columns);
    EXPECT_EQ(L::detail::results_table(one, "test", columns), ref.at("one_loader" + w)) << w;
    EXPECT_EQ(L::detail::results_table(two, "validate", columns), ref.at("two_loaders" + w)) << w;
    EXPECT_EQ(L::detail::results_table(long_name, "test", columns), ref.at("long_name" + w)) << w;
    EXPECT_EQ(L::detail::results_table({{}}, "test", columns), ref.at("nothing_logged" + w));
  }
}

TEST(ResultsTable, TestAndValidatePrintItUnlessVerboseIsFalse) {
  setenv("COLUMNS", "80", 1);
  auto model = std::make_shared<L::testing::BoringModule>();
  L::Trainer trainer(L::testing::quiet());
  ::testing::internal::CaptureStdout();
  auto results = trainer.test(model, L::testing::loader(16, 8));
  const std::string printed = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(printed, L::detail::results_table(results, "test", 80));
  EXPECT_THAT(printed, HasSubstr("       Test metric             DataLoader 0\n"));
  EXPECT_THAT(printed, HasSubstr("test_loss"));

  ::testing::internal::CaptureStdout();
  trainer.validate(model, L::testing::loader(16, 8), std::nullopt, /*verbose=*/false);
  EXPECT_EQ(::testing::internal::GetCapturedStdout(), "");
  unsetenv("COLUMNS");
}

}  // namespace
