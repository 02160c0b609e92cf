// WeightAveraging / EMAWeightAveraging: the average against a hand-computed
// EMA, when updates happen, the swap around validation, the checkpoint
// layout (state_dict = averaged, current_model_state = the module's), exact
// resume, and errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/errors.h"
#include "support/temp_dir.h"
#include "weight_averaging/swa_fixtures.h"

namespace L = lightning;
using L::testing::SwaMlp;

namespace {

// Snapshots the module's weights after every optimizer step, and what the
// module holds during validation and after it.
class Snapshots : public L::Callback {
 public:
  void on_train_batch_end(L::Trainer& t, L::LightningModule& m, const L::StepOutput&, L::Batch&,
                          int64_t) override {
    steps.push_back(L::testing::weights_of(m));
    step_idx.push_back(t.global_step() - 1);
  }
  void on_validation_batch_start(L::Trainer& t, L::LightningModule& m, L::Batch&, int64_t,
                                 int64_t) override {
    if (!t.sanity_checking()) in_validation.push_back(L::testing::weights_of(m));
  }
  void on_validation_end(L::Trainer& t, L::LightningModule& m) override {
    if (!t.sanity_checking()) after_validation.push_back(L::testing::weights_of(m));
  }
  std::vector<std::map<std::string, at::Tensor>> steps, in_validation, after_validation;
  std::vector<int64_t> step_idx;
};

class ValMlp : public SwaMlp {
 public:
  using SwaMlp::SwaMlp;
  L::StepOutput validation_step(L::Batch& batch, int64_t) override {
    auto [x, y] = batch.unpack<2>();
    log("val_loss", torch::nn::functional::cross_entropy(forward(x), y));
    return {};
  }
};

// ema = first snapshot, then decay * ema + (1 - decay) * w at each chosen step.
std::map<std::string, at::Tensor> hand_ema(const Snapshots& s, double decay,
                                           const std::function<bool(int64_t)>& chosen,
                                           size_t upto) {
  std::map<std::string, at::Tensor> ema;
  for (size_t i = 0; i < upto; ++i) {
    if (!chosen(s.step_idx[i])) continue;
    if (ema.empty()) {
      for (const auto& [k, v] : s.steps[i]) ema[k] = v.clone();
      continue;
    }
    for (auto& [k, v] : ema) {
      at::Tensor next = v.mul(decay) + s.steps[i].at(k).mul(1 - decay);
      v = v.is_floating_point() ? next : next.to(v.scalar_type());
    }
  }
  return ema;
}

}  // namespace

TEST(EMAWeightAveraging, MatchesHandComputedEmaAndSwapsForValidation) {
  auto model = std::make_shared<ValMlp>();
  const auto data = L::testing::mlp_data();
  auto snaps = std::make_shared<Snapshots>();
  auto ema = std::make_shared<L::EMAWeightAveraging>(
      L::EMAWeightAveragingOptions().decay(0.9).update_every_n_steps(2).update_starting_at_step(3));
  L::Trainer trainer(L::testing::quiet_fit(2).num_sanity_val_steps(0).callbacks({snaps, ema}));
  trainer.fit(model, {L::testing::mlp_loader(data)}, {L::testing::mlp_loader(data, 128)});
  ASSERT_EQ(snaps->steps.size(), 16u);
  auto chosen = [](int64_t idx) { return idx >= 3 && idx % 2 == 0; };
  // Steps 4, 6, ..., 14: 6 updates.
  EXPECT_EQ(ema->average_model()->n_averaged().item<int64_t>(), 6);
  const auto expected = hand_ema(*snaps, 0.9, chosen, 16);
  EXPECT_LE(L::testing::max_abs_diff(L::testing::weights_of(*model), expected), 1e-6);
  // Validation (after epoch 0's 8 steps) ran on the average, then the
  // training weights came back.
  ASSERT_EQ(snaps->in_validation.size(), 4u);  // 2 batches x 2 epochs
  EXPECT_LE(L::testing::max_abs_diff(snaps->in_validation[0], hand_ema(*snaps, 0.9, chosen, 8)),
            1e-6);
  ASSERT_EQ(snaps->after_validation.size(), 2u);
  EXPECT_TRUE(L::testing::bitwise_equal(snaps->after_validation[0], snaps->steps[7]));
}

TEST(WeightAveraging, DefaultUpdatesEveryStepWithEqualWeights) {
  auto model = std::make_shared<SwaMlp>();
  auto snaps = std::make_shared<Snapshots>();
  auto avg = std::make_shared<L::WeightAveraging>(L::WeightAveragingOptions().use_buffers(false));
  L::Trainer trainer(L::testing::quiet_fit(1).callbacks({snaps, avg}));
  trainer.fit(model, {L::testing::mlp_loader(L::testing::mlp_data())});
  ASSERT_EQ(snaps->steps.size(), 8u);
  EXPECT_EQ(avg->average_model()->n_averaged().item<int64_t>(), 8);
  for (const auto& [k, v] : L::testing::weights_of(*model)) {
    at::Tensor mean = at::zeros_like(v);
    for (const auto& s : snaps->steps) mean += s.at(k);
    EXPECT_TRUE(at::allclose(v, mean / 8, 1e-5, 1e-6)) << k;
  }
}

// Updates after epochs only (should_update overridden), as Lightning's example.
class EpochAveraging : public L::WeightAveraging {
 public:
  bool should_update(std::optional<int64_t> step_idx, std::optional<int64_t> epoch_idx) override {
    calls.emplace_back(step_idx.value_or(-1), epoch_idx.value_or(-1));
    return epoch_idx.has_value();
  }
  std::vector<std::pair<int64_t, int64_t>> calls;
};

TEST(WeightAveraging, ShouldUpdateIsAskedAfterEachStepAndEpoch) {
  auto model = std::make_shared<SwaMlp>();
  auto avg = std::make_shared<EpochAveraging>();
  L::Trainer trainer(L::testing::quiet_fit(2).callbacks({avg}));
  trainer.fit(model, {L::testing::mlp_loader(L::testing::mlp_data(), 128)});
  const std::vector<std::pair<int64_t, int64_t>> want = {{0, -1}, {1, -1}, {-1, 0},
                                                         {2, -1}, {3, -1}, {-1, 1}};
  EXPECT_EQ(avg->calls, want);
  EXPECT_EQ(avg->average_model()->n_averaged().item<int64_t>(), 2);
}

namespace {

std::map<std::string, at::Tensor> fit_ema(const std::string& dirpath,
                                          const std::optional<std::string>& ckpt_path) {
  auto model = std::make_shared<SwaMlp>(L::testing::MlpConfig{}, ckpt_path ? 99 : 7);
  auto ema = std::make_shared<L::EMAWeightAveraging>(L::EMAWeightAveragingOptions().decay(0.8));
  auto ckpt = std::make_shared<L::ModelCheckpoint>(
      L::ModelCheckpointOptions().dirpath(dirpath).filename("{epoch}").save_top_k(-1));
  L::Trainer trainer(L::testing::quiet_fit(4).enable_checkpointing(true).callbacks({ema, ckpt}));
  trainer.fit(model, {L::testing::mlp_loader(L::testing::mlp_data(), 64)}, {}, ckpt_path);
  return L::testing::weights_of(*model);
}

}  // namespace

TEST(EMAWeightAveraging, CheckpointHoldsTheAverageAndResumesExactly) {
  L::testing::TempDir dir("ema_resume");
  const auto full = fit_ema(dir.file("full"), std::nullopt);
  const L::Checkpoint c = L::read_checkpoint(dir.file("full") + "/epoch=1.ckpt");
  ASSERT_TRUE(c.contains("current_model_state"));
  ASSERT_TRUE(c.contains("averaging_state"));
  EXPECT_EQ(L::state_dict_at(c.dict(), "averaging_state", "ckpt")
                .at("n_averaged")
                .toTensor()
                .item<int64_t>(),
            8);  // 2 epochs x 4 steps
  const L::StateDict cb =
      L::state_dict_at(c.get<L::StateDict>("callbacks"), "EMAWeightAveraging", "ckpt");
  EXPECT_EQ(L::state_int(cb, "latest_update_step", "ema"), 8);
  EXPECT_FALSE(
      at::equal(c.get<L::StateDict>("state_dict").at("model.0.weight").toTensor(),
                c.get<L::StateDict>("current_model_state").at("model.0.weight").toTensor()));
  for (const char* name : {"epoch=0.ckpt", "epoch=2.ckpt"}) {
    const auto resumed = fit_ema(dir.file(std::string("r_") + name), dir.file("full") + "/" + name);
    EXPECT_TRUE(L::testing::bitwise_equal(full, resumed))
        << name << ": max |diff| " << L::testing::max_abs_diff(full, resumed);
  }
}

TEST(EMAWeightAveraging, Errors) {
  EXPECT_LIGHTNING_ERROR(
      L::EMAWeightAveraging(L::EMAWeightAveragingOptions().decay(1.5)),
      "Invalid decay value 1.5 provided. Please provide a value in [0,1] range.");
  EXPECT_LIGHTNING_ERROR(L::WeightAveraging(L::WeightAveragingOptions()
                                                .avg_fn(L::get_swa_avg_fn())
                                                .multi_avg_fn(L::get_swa_multi_avg_fn())),
                         "only one of avg_fn and multi_avg_fn should be provided");
}
