// Cross-check of the hook order against PyTorch Lightning itself: the same
// fit (sanity check, gradient accumulation, two epochs, validation), then
// validate, test and predict on the same Trainer, run by lightning.cpp here and
// by Lightning in hook_order.py. A module and a Callback append every hook call
// to one list on each side; the two lists must be identical.
//
// Recorded on both sides: every hook of lightning.cpp's LightningModule and
// Callback (hook_order.py lists the same names). Left out on the Python side
// because lightning.cpp's module has no such hook: backward, optimizer_step,
// optimizer_zero_grad, lr_scheduler_step, configure_model,
// configure_sharded_model, on_validation_model_zero_grad,
// on_validation_model_eval/_train, on_test_model_eval/_train,
// on_predict_model_eval. Callback::state_dict/load_state_dict are left out on
// both sides (they run only when checkpointing, which is off).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "support/hook_recorder.h"
#include "support/python.h"

namespace L = lightning;

namespace {

using Calls = L::testing::HookCalls;
using L::testing::RecordingCallback;
using L::testing::RecordingModule;

// The run, given to hook_order.py as key=value arguments so that both sides
// use the same numbers.
struct Settings {
  int64_t train_samples = 8, val_samples = 6, test_samples = 4, predict_samples = 4;
  int64_t batch_size = 2;
  int64_t max_epochs = 2;
  // 3 of 4 batches with accumulate_grad_batches=2: the epoch's last window is
  // incomplete (Lightning steps at the last batch anyway).
  int64_t limit_train_batches = 3, limit_val_batches = 2, limit_test_batches = 2;
  int64_t limit_predict_batches = 2;
  int64_t num_sanity_val_steps = 1;
  int64_t accumulate_grad_batches = 2;

  std::vector<std::string> args() const {
    const std::map<std::string, int64_t> all = {
        {"train_samples", train_samples},
        {"val_samples", val_samples},
        {"test_samples", test_samples},
        {"predict_samples", predict_samples},
        {"batch_size", batch_size},
        {"max_epochs", max_epochs},
        {"limit_train_batches", limit_train_batches},
        {"limit_val_batches", limit_val_batches},
        {"limit_test_batches", limit_test_batches},
        {"limit_predict_batches", limit_predict_batches},
        {"num_sanity_val_steps", num_sanity_val_steps},
        {"accumulate_grad_batches", accumulate_grad_batches}};
    std::vector<std::string> out;
    for (const auto& [key, value] : all) out.push_back(key + "=" + std::to_string(value));
    return out;
  }

  L::testing::LoaderSizes loader_sizes() const {
    return {train_samples, val_samples, test_samples, predict_samples, batch_size};
  }
};

Calls lines(const std::string& text) {
  Calls out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// A line diff (longest common subsequence) of `want` and `got`, with three
// lines of context around each change: "- " only in `want`, "+ " only in
// `got`, "  " in both; each line shows its index in want|got.
std::string diff(const Calls& want, const Calls& got) {
  const size_t n = want.size(), m = got.size();
  std::vector<std::vector<size_t>> lcs(n + 1, std::vector<size_t>(m + 1, 0));
  for (size_t i = n; i-- > 0;) {
    for (size_t j = m; j-- > 0;) {
      lcs[i][j] =
          want[i] == got[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  struct Line {
    char tag;
    std::string where, text;
  };
  std::vector<Line> all;
  size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && want[i] == got[j]) {
      all.push_back({' ', std::to_string(i) + "|" + std::to_string(j), want[i]});
      ++i, ++j;
    } else if (j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j])) {
      all.push_back({'+', " |" + std::to_string(j), got[j]});
      ++j;
    } else {
      all.push_back({'-', std::to_string(i) + "| ", want[i]});
      ++i;
    }
  }
  constexpr size_t kContext = 3;
  std::vector<bool> shown(all.size(), false);
  for (size_t k = 0; k < all.size(); ++k) {
    if (all[k].tag == ' ') continue;
    const size_t from = k < kContext ? 0 : k - kContext;
    for (size_t c = from; c < std::min(all.size(), k + kContext + 1); ++c) shown[c] = true;
  }
  std::ostringstream out;
  for (size_t k = 0; k < all.size(); ++k) {
    if (shown[k]) {
      out << all[k].tag << " [" << all[k].where << "] " << all[k].text << "\n";
    } else if (k == 0 || shown[k - 1]) {
      out << "  ...\n";
    }
  }
  return out.str();
}

}  // namespace

TEST(LightningHookOrder, FitValidateTestPredictMatchLightning) {
  const Settings s;
  const auto python =
      L::testing::run_python(std::string(LIGHTNING_ORACLE_DIR) + "/hook_order.py", s.args());
  ASSERT_EQ(python.status, 0) << python.describe();
  const Calls lightning = lines(python.out);

  auto module = std::make_shared<RecordingModule>(s.loader_sizes());
  L::Trainer trainer(L::TrainerOptions()
                         .accelerator("cpu")
                         .devices(1)
                         .max_epochs(s.max_epochs)
                         .limit_train_batches(s.limit_train_batches)
                         .limit_val_batches(s.limit_val_batches)
                         .limit_test_batches(s.limit_test_batches)
                         .limit_predict_batches(s.limit_predict_batches)
                         .num_sanity_val_steps(s.num_sanity_val_steps)
                         .accumulate_grad_batches(s.accumulate_grad_batches)
                         .enable_progress_bar(false)
                         .enable_model_summary(false)
                         .enable_checkpointing(false)
                         .logger(false)
                         .callbacks({std::make_shared<RecordingCallback>(module->calls)}));
  trainer.fit(module);
  trainer.validate(module);
  trainer.test(module);
  const auto predictions = trainer.predict(module);
  EXPECT_EQ(static_cast<int64_t>(predictions.size()), s.limit_predict_batches);

  // Sanity of the recording itself: both sides ran every entry point.
  for (const std::string stage : {"fit", "validate", "test", "predict"}) {
    const std::string teardown = "teardown(" + stage + ")";
    EXPECT_NE(std::find(lightning.begin(), lightning.end(), teardown), lightning.end())
        << "Lightning did not record " << teardown << "\n"
        << python.describe();
    EXPECT_NE(std::find(module->calls.begin(), module->calls.end(), teardown), module->calls.end())
        << "lightning.cpp did not record " << teardown;
  }
  EXPECT_EQ(module->calls, lightning)
      << "Hook calls, Lightning (-) vs lightning.cpp (+), [index in Lightning's list|in "
         "lightning.cpp's]:\n"
      << diff(lightning, module->calls);
}
