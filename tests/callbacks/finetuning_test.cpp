// BaseFinetuning and BackboneFinetuning: the static helpers, freezing and
// unfreezing at Lightning's hooks, the backbone's learning rates (Lightning's
// formula), resuming after the unfreeze epoch, and the errors.
#include <gtest/gtest.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/sgd.h>

#include "lightning/lightning.h"
#include "support/boring.h"
#include "support/errors.h"
#include "support/temp_dir.h"

namespace L = lightning;
using L::testing::quiet;
using L::testing::TempDir;

namespace {

class BackboneModule : public L::LightningModule {
 public:
  explicit BackboneModule(const std::string& backbone_name = "backbone") {
    backbone = register_module(
        backbone_name, torch::nn::Sequential(torch::nn::Linear(4, 8), torch::nn::BatchNorm1d(8),
                                             torch::nn::ReLU()));
    head = register_module("head", torch::nn::Linear(8, 1));
  }
  L::StepOutput training_step(L::Batch& batch, int64_t) override {
    auto [x, y] = batch.unpack<2>();
    return torch::nn::functional::mse_loss(head->forward(backbone->forward(x)), y);
  }
  // Only the trainable parameters, as Lightning's finetuning docs ask.
  L::OptimizerConfig configure_optimizers() override {
    std::vector<at::Tensor> params;
    for (const auto& p : parameters()) {
      if (p.requires_grad()) params.push_back(p);
    }
    return std::make_shared<torch::optim::SGD>(params, torch::optim::SGDOptions(0.1).momentum(0.9));
  }
  torch::nn::Sequential backbone{nullptr};
  torch::nn::Linear head{nullptr};
};

L::DataLoader data() {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  auto x = at::randn({16, 4}, gen);
  auto y = at::randn({16, 1}, gen);
  return L::DataLoader(std::make_shared<L::TensorDataset>(std::vector<at::Tensor>{x, y}),
                       L::DataLoaderOptions().batch_size(4));
}

std::shared_ptr<BackboneModule> make_model() {
  torch::manual_seed(0);
  return std::make_shared<BackboneModule>();
}

// What the next callback sees at each training epoch start.
struct EpochView {
  bool linear_trainable, bn_trainable;
  std::vector<double> lrs;
  std::vector<size_t> group_sizes;
  at::Tensor backbone_weight;
};

class Probe : public L::Callback {
 public:
  void on_train_epoch_start(L::Trainer& trainer, L::LightningModule& module) override {
    auto& m = static_cast<BackboneModule&>(module);
    EpochView v;
    v.linear_trainable = m.backbone[0]->parameters()[0].requires_grad();
    v.bn_trainable = m.backbone[1]->parameters()[0].requires_grad();
    for (const auto& g : trainer.optimizers()[0]->param_groups()) {
      v.lrs.push_back(g.options().get_lr());
      v.group_sizes.push_back(g.params().size());
    }
    v.backbone_weight = m.backbone[0]->parameters()[0].detach().clone();
    views.push_back(v);
  }
  std::vector<EpochView> views;
};

at::Tensor all_weights(L::LightningModule& module) {
  std::vector<at::Tensor> flat;
  for (const auto& p : module.parameters()) flat.push_back(p.detach().flatten());
  return at::cat(flat);
}

}  // namespace

TEST(BaseFinetuning, FlattenFilterFreezeAndMakeTrainable) {
  torch::nn::Sequential inner(torch::nn::Linear(2, 2));
  torch::nn::ModuleList seq(torch::nn::Linear(3, 2), torch::nn::BatchNorm1d(2), inner);
  const L::FinetuneModules flat = L::BaseFinetuning::flatten_modules({seq.ptr()});
  // The two Linears and the BatchNorm: containers without parameters of their own are left out.
  ASSERT_EQ(flat.size(), 3u);
  EXPECT_EQ(flat[0].get(), seq[0].get());
  EXPECT_EQ(flat[1].get(), seq[1].get());
  EXPECT_EQ(flat[2].get(), inner[0].get());

  L::BaseFinetuning::freeze({seq.ptr()});  // train_bn=true: BatchNorm stays trainable
  EXPECT_EQ(L::BaseFinetuning::filter_params({seq.ptr()}, true, false).size(), 4u);
  const auto trainable = L::BaseFinetuning::filter_params({seq.ptr()}, true, true);
  ASSERT_EQ(trainable.size(), 2u);
  EXPECT_TRUE(trainable[0].is_same(seq[1]->parameters()[0]));
  EXPECT_TRUE(L::BaseFinetuning::filter_params({seq.ptr()}, /*train_bn=*/false, true).empty());

  L::BaseFinetuning::freeze({seq.ptr()}, /*train_bn=*/false);
  EXPECT_TRUE(L::BaseFinetuning::filter_params({seq.ptr()}, true, true).empty());
  L::BaseFinetuning::make_trainable({inner.ptr()});
  EXPECT_EQ(L::BaseFinetuning::filter_params({seq.ptr()}, true, true).size(), 2u);
}

TEST(BaseFinetuning, UnfreezeAndAddParamGroup) {
  torch::nn::Linear head(2, 1), body(2, 2), more(2, 2);
  L::BaseFinetuning::freeze({body.ptr(), more.ptr()});
  torch::optim::SGD sgd(head->parameters(), torch::optim::SGDOptions(0.3).momentum(0.5));
  // Without lr: the first group's lr / initial_denom_lr; the defaults for the rest.
  L::BaseFinetuning::unfreeze_and_add_param_group({body.ptr()}, sgd, std::nullopt, 10.0);
  ASSERT_EQ(sgd.param_groups().size(), 2u);
  EXPECT_DOUBLE_EQ(sgd.param_groups()[1].options().get_lr(), 0.03);
  EXPECT_DOUBLE_EQ(
      static_cast<torch::optim::SGDOptions&>(sgd.param_groups()[1].options()).momentum(), 0.5);
  EXPECT_TRUE(body->weight.requires_grad());
  // With lr: that lr (the denominator is not applied); params already there are skipped.
  L::BaseFinetuning::unfreeze_and_add_param_group({body.ptr(), more.ptr()}, sgd, 0.5, 10.0);
  ASSERT_EQ(sgd.param_groups().size(), 3u);
  EXPECT_DOUBLE_EQ(sgd.param_groups()[2].options().get_lr(), 0.5);
  ASSERT_EQ(sgd.param_groups()[2].params().size(), 2u);
  EXPECT_TRUE(sgd.param_groups()[2].params()[0].is_same(more->weight));
  // Nothing left to add: no new group.
  L::BaseFinetuning::unfreeze_and_add_param_group({body.ptr()}, sgd, 0.5);
  EXPECT_EQ(sgd.param_groups().size(), 3u);
}

TEST(BackboneFinetuning, FreezesThenUnfreezesWithLightningsLearningRates) {
  auto finetuning = std::make_shared<L::BackboneFinetuning>(
      L::BackboneFinetuningOptions().unfreeze_backbone_at_epoch(2));
  auto probe = std::make_shared<Probe>();
  L::Trainer trainer(quiet().max_epochs(7).callbacks({finetuning, probe}));
  trainer.fit(make_model(), data());

  const auto& v = probe->views;
  ASSERT_EQ(v.size(), 7u);
  for (int e = 0; e < 2; ++e) {
    EXPECT_FALSE(v[e].linear_trainable) << e;
    EXPECT_TRUE(v[e].bn_trainable) << e;  // freeze() keeps BatchNorm trainable
    EXPECT_EQ(v[e].lrs.size(), 1u) << e;
  }
  // Frozen: the backbone's Linear did not move during epochs 0 and 1.
  EXPECT_TRUE(at::equal(v[0].backbone_weight, v[2].backbone_weight));
  EXPECT_FALSE(at::equal(v[2].backbone_weight, v[3].backbone_weight));
  // Lightning: initial backbone lr = 0.1 * backbone_initial_ratio_lr (0.1), then
  // lambda_func(epoch + 1) = 2 times the previous one, capped at the head's lr 0.1.
  // The values Python Lightning 2.6's BackboneFinetuning sets for this schedule
  // (repr of its floats), compared exactly.
  const std::vector<double> backbone_lrs = {0.010000000000000002, 0.020000000000000004,
                                            0.04000000000000001, 0.08000000000000002, 0.1};
  for (int e = 2; e < 7; ++e) {
    EXPECT_TRUE(v[e].linear_trainable) << e;
    ASSERT_EQ(v[e].lrs.size(), 2u) << e;
    EXPECT_DOUBLE_EQ(v[e].lrs[0], 0.1);
    EXPECT_EQ(v[e].lrs[1], backbone_lrs[e - 2]) << e;
    // The BatchNorm's parameters were in the optimizer already: only the Linear's.
    EXPECT_EQ(v[e].group_sizes[1], 2u);
  }
  EXPECT_DOUBLE_EQ(*finetuning->previous_backbone_lr(), 0.1);

  // The checkpoint holds the groups by parameter name.
  const L::StateDict state = finetuning->state_dict();
  const auto metadata = state.at("internal_optimizer_metadata").toGenericDict();
  const auto groups = metadata.at(int64_t{0}).toListRef();
  ASSERT_EQ(groups.size(), 2u);
  const auto first = groups[0].toGenericDict().at("params").toListRef();
  ASSERT_EQ(first.size(), 4u);  // Lightning's names and order for the configured group
  EXPECT_EQ(first[0].toStringRef(), "backbone.1.weight");
  EXPECT_EQ(first[3].toStringRef(), "head.bias");
  const auto names = groups[1].toGenericDict().at("params").toListRef();
  ASSERT_EQ(names.size(), 2u);
  EXPECT_EQ(names[0].toStringRef(), "backbone.0.weight");
  EXPECT_EQ(names[1].toStringRef(), "backbone.0.bias");
  EXPECT_EQ(groups[1].toGenericDict().at("lr").toDouble(), 0.010000000000000002);  // as recorded
  EXPECT_DOUBLE_EQ(groups[0].toGenericDict().at("momentum").toDouble(), 0.9);
  EXPECT_DOUBLE_EQ(state.at("previous_backbone_lr").toDouble(), 0.1);
}

TEST(BackboneFinetuning, OptionsChangeTheLearningRates) {
  auto finetuning = std::make_shared<L::BackboneFinetuning>(
      L::BackboneFinetuningOptions()
          .unfreeze_backbone_at_epoch(1)
          .backbone_initial_lr(0.2)
          .should_align(false)
          .lambda_func([](int64_t epoch) { return 0.5 * static_cast<double>(epoch); }));
  auto probe = std::make_shared<Probe>();
  L::Trainer trainer(quiet().max_epochs(4).callbacks({finetuning, probe}));
  trainer.fit(make_model(), data());
  ASSERT_EQ(probe->views.size(), 4u);
  // 0.2 at epoch 1 (above the head's 0.1: not aligned); then 0.5 * (e + 1) times the previous.
  EXPECT_DOUBLE_EQ(probe->views[1].lrs[1], 0.2);
  EXPECT_EQ(probe->views[2].lrs[1], 0.30000000000000004);  // Python Lightning's values
  EXPECT_EQ(probe->views[3].lrs[1], 0.6000000000000001);
}

TEST(BackboneFinetuning, ResumeAfterTheUnfreezeEpochContinuesExactly) {
  TempDir dir("finetuning_resume");
  auto options = L::BackboneFinetuningOptions().unfreeze_backbone_at_epoch(1);

  // One uninterrupted run of 4 epochs.
  auto straight = make_model();
  {
    L::Trainer trainer(
        quiet().max_epochs(4).callbacks({std::make_shared<L::BackboneFinetuning>(options)}));
    trainer.fit(straight, data());
  }
  // 2 epochs (the backbone unfrozen at epoch 1, its momentum buffers filled), saved...
  const std::string ckpt = dir.file("epoch2.ckpt");
  {
    L::Trainer trainer(
        quiet().max_epochs(2).callbacks({std::make_shared<L::BackboneFinetuning>(options)}));
    trainer.fit(make_model(), data());
    trainer.save_checkpoint(ckpt);
  }
  // ... and resumed into a fresh model, optimizer and callback up to epoch 4.
  auto resumed = make_model();
  auto finetuning = std::make_shared<L::BackboneFinetuning>(options);
  auto probe = std::make_shared<Probe>();
  L::Trainer trainer(quiet().max_epochs(4).callbacks({finetuning, probe}));
  trainer.fit(resumed, data(), {}, ckpt);

  // The groups existed again when the optimizer state was loaded into them.
  ASSERT_EQ(probe->views.size(), 2u);
  EXPECT_TRUE(probe->views[0].linear_trainable);
  ASSERT_EQ(probe->views[0].lrs.size(), 2u);
  EXPECT_DOUBLE_EQ(probe->views[0].lrs[1], 0.02);  // epoch 2: 0.01 (epoch 1) * 2
  EXPECT_EQ(probe->views[0].group_sizes, (std::vector<size_t>{4, 2}));
  // Still unfrozen after the resume (Lightning's issue #21901): the backbone trains on.
  EXPECT_FALSE(at::equal(probe->views[0].backbone_weight, probe->views[1].backbone_weight));
  EXPECT_TRUE(at::equal(all_weights(*straight), all_weights(*resumed)));
}

TEST(BackboneFinetuning, Errors) {
  EXPECT_LIGHTNING_ERROR(
      L::BackboneFinetuning(L::BackboneFinetuningOptions().unfreeze_backbone_at_epoch(-1)),
      "unfreeze_backbone_at_epoch must be >= 0, got -1");
  EXPECT_LIGHTNING_ERROR(
      L::BackboneFinetuning(L::BackboneFinetuningOptions().backbone_initial_ratio_lr(0)),
      "backbone_initial_ratio_lr must be > 0, got 0");

  torch::manual_seed(0);
  auto no_backbone = std::make_shared<BackboneModule>("features");
  L::Trainer trainer(quiet().max_epochs(1).callbacks({std::make_shared<L::BackboneFinetuning>()}));
  EXPECT_LIGHTNING_ERROR(trainer.fit(no_backbone, data()),
                         "should have a submodule registered as \"backbone\" (Lightning: an "
                         "nn.Module `backbone` attribute); its submodules are [features, head]");

  L::Trainer base(quiet().max_epochs(1).callbacks({std::make_shared<L::BaseFinetuning>()}));
  EXPECT_LIGHTNING_ERROR(base.fit(make_model(), data()),
                         "BaseFinetuning::freeze_before_training is not overridden");
}
