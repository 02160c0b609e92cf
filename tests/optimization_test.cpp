// configure_optimizers forms, scheduler stepping in the Trainer, the parity of
// automatic optimization with a hand-written loop, and manual optimization.
#include <torch/nn/functional/loss.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

#include "lightning/lightning.h"
#include "support/boring.h"
#include "support/errors.h"

namespace L = lightning;
using L::testing::BoringModule;
using L::testing::loader;
using L::testing::quiet;

namespace {

using OptPtr = std::shared_ptr<torch::optim::Optimizer>;

std::shared_ptr<torch::optim::SGD> sgd(torch::nn::Module& m, double lr = 0.1) {
  return std::make_shared<torch::optim::SGD>(m.parameters(), torch::optim::SGDOptions(lr));
}

// A BoringModule whose configure_optimizers is a std::function, and which
// records the learning rate at each epoch and batch start.
struct Configurable : BoringModule {
  std::function<L::OptimizerConfig(Configurable&)> configure;
  std::vector<double> epoch_lrs, batch_lrs;
  bool log_val = true;
  L::OptimizerConfig configure_optimizers() override { return configure(*this); }
  void on_train_epoch_start() override {
    epoch_lrs.push_back(L::get_lr(*trainer().optimizers()[0]));
  }
  int64_t on_train_batch_start(L::Batch&, int64_t) override {
    batch_lrs.push_back(L::get_lr(*trainer().optimizers()[0]));
    return 0;
  }
  L::StepOutput validation_step(L::Batch& batch, int64_t) override {
    if (log_val) log("val_loss", 1.0);  // never improves: drives ReduceLROnPlateau
    return {};
  }
};

std::shared_ptr<Configurable> configurable(std::function<L::OptimizerConfig(Configurable&)> f) {
  auto m = std::make_shared<Configurable>();
  m->configure = std::move(f);
  return m;
}

}  // namespace

// ---- The return forms --------------------------------------------------------

TEST(OptimizerConfig, EveryLightningReturnForm) {
  BoringModule m;
  auto o1 = sgd(m), o2 = sgd(m);
  auto s1 = std::make_shared<L::StepLR>(o1, L::StepLROptions(1));
  auto s2 = std::make_shared<L::ExponentialLR>(o2, L::ExponentialLROptions(0.9));

  L::OptimizerConfig single = o1;  // return optimizer
  EXPECT_EQ(single.optimizers().size(), 1u);
  EXPECT_TRUE(single.lr_schedulers().empty());

  L::OptimizerConfig several = {o1, o2};  // return [o1, o2]
  EXPECT_EQ(several.optimizers().size(), 2u);

  L::OptimizerConfig lists = {{o1}, {s1}};  // return [o1], [s1]
  ASSERT_EQ(lists.lr_schedulers().size(), 1u);
  EXPECT_EQ(lists.lr_schedulers()[0].scheduler, s1);
  EXPECT_EQ(lists.lr_schedulers()[0].config.interval(), "epoch");

  // return [o1], [{"scheduler": s1, "interval": "step", "frequency": 2}]
  L::OptimizerConfig dict_in_list = {{o1},
                                     {{s1, L::SchedulerConfig().interval("step").frequency(2)}}};
  EXPECT_EQ(dict_in_list.lr_schedulers()[0].config.interval(), "step");
  EXPECT_EQ(dict_in_list.lr_schedulers()[0].config.frequency(), 2);

  // return {"optimizer": o1, "lr_scheduler": {"scheduler": s1, "monitor": "val_loss"}}
  auto dict = L::OptimizerConfig(o1).lr_scheduler(s1, L::SchedulerConfig().monitor("val_loss"));
  EXPECT_EQ(*dict.lr_schedulers()[0].config.monitor(), "val_loss");
  EXPECT_TRUE(dict.lr_schedulers()[0].config.strict());

  // return ({"optimizer": o1, "lr_scheduler": s1}, {"optimizer": o2, "lr_scheduler": s2})
  L::OptimizerConfig two = {L::OptimizerConfig(o1).lr_scheduler(s1),
                            L::OptimizerConfig(o2).lr_scheduler(s2)};
  ASSERT_EQ(two.optimizers().size(), 2u);
  EXPECT_EQ(two.optimizers()[1], o2);
  ASSERT_EQ(two.lr_schedulers().size(), 2u);
  EXPECT_EQ(two.lr_schedulers()[1].scheduler, s2);
}

// ---- Scheduler stepping --------------------------------------------------------

TEST(SchedulerStepping, EpochIntervalStepsAfterEachEpoch) {
  auto m = configurable([](Configurable& self) -> L::OptimizerConfig {
    auto opt = sgd(self, 0.1);
    return {{opt}, {std::make_shared<L::StepLR>(opt, L::StepLROptions(1).gamma(0.5))}};
  });
  L::Trainer trainer(quiet().max_epochs(3).num_sanity_val_steps(0));
  trainer.fit(m, loader(16, 4), loader(8, 4));
  EXPECT_EQ(m->epoch_lrs, (std::vector<double>{0.1, 0.05, 0.025}));
  EXPECT_DOUBLE_EQ(trainer.lr_scheduler_configs()[0].scheduler->get_last_lr()[0], 0.0125);
}

TEST(SchedulerStepping, EpochFrequencyCountsEpochs) {
  auto m = configurable([](Configurable& self) -> L::OptimizerConfig {
    auto opt = sgd(self, 0.1);
    return {{opt},
            {{std::make_shared<L::StepLR>(opt, L::StepLROptions(1).gamma(0.5)),
              L::SchedulerConfig().frequency(2)}}};
  });
  L::Trainer trainer(quiet().max_epochs(5).num_sanity_val_steps(0));
  trainer.fit(m, loader(8, 4));
  EXPECT_EQ(m->epoch_lrs, (std::vector<double>{0.1, 0.1, 0.05, 0.05, 0.025}));
}

TEST(SchedulerStepping, StepIntervalFrequencyCountsOptimizerSteps) {
  auto m = configurable([](Configurable& self) -> L::OptimizerConfig {
    auto opt = sgd(self, 1.0);
    auto exp = std::make_shared<L::ExponentialLR>(opt, L::ExponentialLROptions(0.5));
    return L::OptimizerConfig(opt).lr_scheduler(exp,
                                                L::SchedulerConfig().interval("step").frequency(2));
  });
  // 2 batches per optimizer step: steps after batches 1, 3, 5, 7; the
  // scheduler every second step (after batches 3 and 7).
  L::Trainer trainer(quiet().max_epochs(1).accumulate_grad_batches(2));
  trainer.fit(m, loader(32, 4));
  EXPECT_EQ(m->batch_lrs, (std::vector<double>{1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5}));
  EXPECT_EQ(trainer.global_step(), 4);
}

TEST(SchedulerStepping, ReduceLROnPlateauStepsOnTheMonitoredMetric) {
  auto m = configurable([](Configurable& self) -> L::OptimizerConfig {
    auto opt = sgd(self, 0.1);
    auto plateau = std::make_shared<L::ReduceLROnPlateau>(
        opt, L::ReduceLROnPlateauOptions().factor(0.5).patience(0));
    return L::OptimizerConfig(opt).lr_scheduler(plateau, L::SchedulerConfig().monitor("val_loss"));
  });
  L::Trainer trainer(quiet().max_epochs(4).num_sanity_val_steps(0));
  trainer.fit(m, loader(8, 4), loader(8, 4));
  // val_loss stays 1.0: the first epoch sets the best, each later one reduces.
  EXPECT_EQ(m->epoch_lrs, (std::vector<double>{0.1, 0.1, 0.05, 0.025}));
}

TEST(SchedulerStepping, MissingMonitorIsAnErrorListingTheMetricsWhenStrict) {
  auto m = configurable([](Configurable& self) -> L::OptimizerConfig {
    auto opt = sgd(self, 0.1);
    auto plateau = std::make_shared<L::ReduceLROnPlateau>(opt);
    return L::OptimizerConfig(opt).lr_scheduler(plateau, L::SchedulerConfig().monitor("val_acc"));
  });
  L::Trainer trainer(quiet().max_epochs(2).num_sanity_val_steps(0));
  const std::string msg = L::testing::error_of([&] { trainer.fit(m, loader(8, 4), loader(8, 4)); });
  EXPECT_THAT(msg, ::testing::HasSubstr("ReduceLROnPlateau conditioned on metric \"val_acc\", "
                                        "which is not available. Available metrics are: "
                                        "[val_loss]."));
  EXPECT_THAT(msg, ::testing::HasSubstr("strict(false)"));
}

TEST(SchedulerStepping, MissingMonitorWarnsAndSkipsWhenNotStrict) {
  auto m = configurable([](Configurable& self) -> L::OptimizerConfig {
    auto opt = sgd(self, 0.1);
    auto plateau = std::make_shared<L::ReduceLROnPlateau>(
        opt, L::ReduceLROnPlateauOptions().factor(0.5).patience(0));
    return L::OptimizerConfig(opt).lr_scheduler(
        plateau, L::SchedulerConfig().monitor("val_acc").strict(false));
  });
  L::Trainer trainer(quiet().max_epochs(3).num_sanity_val_steps(0));
  ::testing::internal::CaptureStderr();
  trainer.fit(m, loader(8, 4), loader(8, 4));
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(err, ::testing::HasSubstr("conditioned on metric \"val_acc\""));
  EXPECT_THAT(err, ::testing::HasSubstr("the learning-rate update is skipped"));
  EXPECT_EQ(m->epoch_lrs, (std::vector<double>{0.1, 0.1, 0.1}));
}

TEST(SchedulerStepping, BadConfigsAreClearErrors) {
  auto fit_with = [](std::function<L::OptimizerConfig(Configurable&)> f) {
    L::Trainer trainer(quiet().max_epochs(1));
    trainer.fit(configurable(std::move(f)), loader(8, 4));
  };
  EXPECT_LIGHTNING_ERROR(fit_with([](Configurable& self) -> L::OptimizerConfig {
                           auto opt = sgd(self);
                           return {{opt},
                                   {{std::make_shared<L::StepLR>(opt, L::StepLROptions(1)),
                                     L::SchedulerConfig().interval("batch")}}};
                         }),
                         "The interval of lr_schedulers[0] (StepLR) must be \"epoch\" or "
                         "\"step\", got \"batch\".");
  EXPECT_LIGHTNING_ERROR(fit_with([](Configurable& self) -> L::OptimizerConfig {
                           auto opt = sgd(self);
                           return {{opt},
                                   {{std::make_shared<L::StepLR>(opt, L::StepLROptions(1)),
                                     L::SchedulerConfig().frequency(0)}}};
                         }),
                         "The frequency of lr_schedulers[0] (StepLR) must be >= 1 (step every N "
                         "epochs or optimizer steps), got 0.");
  EXPECT_LIGHTNING_ERROR(fit_with([](Configurable& self) -> L::OptimizerConfig {
                           auto opt = sgd(self);
                           return {{opt}, {std::make_shared<L::ReduceLROnPlateau>(opt)}};
                         }),
                         "lr_schedulers[0] (ReduceLROnPlateau) needs a metric to monitor");
  EXPECT_LIGHTNING_ERROR(
      fit_with([](Configurable& self) -> L::OptimizerConfig {
        auto opt = sgd(self);
        auto other = std::make_shared<torch::optim::Adam>(self.parameters(),
                                                          torch::optim::AdamOptions(1e-3));
        return {{opt}, {std::make_shared<L::StepLR>(other, L::StepLROptions(1))}};
      }),
      "lr_schedulers[0] (StepLR) is bound to an optimizer (Adam) that "
      "configure_optimizers did not return");
}

// ---- Parity with a hand-written loop ----------------------------------------

namespace {

constexpr int64_t kBatches = 10, kBatchSize = 8, kAccumulate = 4, kEpochs = 2;
constexpr double kClip = 0.5;

struct OneCycleModule : BoringModule {
  std::vector<double> losses;
  L::StepOutput training_step(L::Batch& batch, int64_t) override {
    auto l = loss(batch);
    losses.push_back(l.item<double>());
    return l;
  }
  L::OptimizerConfig configure_optimizers() override {
    auto opt = std::make_shared<torch::optim::SGD>(parameters(),
                                                   torch::optim::SGDOptions(0.1).momentum(0.9));
    auto one_cycle = std::make_shared<L::OneCycleLR>(
        opt, L::OneCycleLROptions(0.5).total_steps(trainer().estimated_stepping_batches()));
    return {{opt}, {{one_cycle, L::SchedulerConfig().interval("step")}}};
  }
};

}  // namespace

TEST(Parity, OneCycleAccumulationAndClippingMatchAPlainLoopBitForBit) {
  torch::manual_seed(7);
  auto module = std::make_shared<OneCycleModule>();
  torch::manual_seed(7);
  OneCycleModule plain;  // same initial weights

  L::Trainer trainer(quiet()
                         .max_epochs(kEpochs)
                         .accumulate_grad_batches(kAccumulate)
                         .gradient_clip_val(kClip)
                         .gradient_clip_algorithm("norm"));
  trainer.fit(module, loader(kBatches * kBatchSize, kBatchSize));
  ASSERT_EQ(trainer.estimated_stepping_batches(), 6);  // ceil(10 / 4) * 2
  EXPECT_EQ(trainer.global_step(), 6);

  // The same training, written out by hand.
  auto opt = std::make_shared<torch::optim::SGD>(plain.parameters(),
                                                 torch::optim::SGDOptions(0.1).momentum(0.9));
  L::OneCycleLR sched(opt, L::OneCycleLROptions(0.5).total_steps(6));
  std::vector<double> losses;
  L::DataLoader data = loader(kBatches * kBatchSize, kBatchSize);
  for (int64_t epoch = 0; epoch < kEpochs; ++epoch) {
    int64_t batch_idx = 0;
    for (L::Batch batch : data) {
      if (batch_idx % kAccumulate == 0) opt->zero_grad();
      auto l = plain.loss(batch);
      losses.push_back(l.item<double>());
      (l / static_cast<double>(kAccumulate)).backward();
      if ((batch_idx + 1) % kAccumulate == 0 || batch_idx + 1 == kBatches) {
        std::vector<at::Tensor> params;
        for (const auto& p : opt->param_groups()[0].params()) params.push_back(p);
        torch::nn::utils::clip_grad_norm_(params, kClip, 2.0);
        opt->step();
        sched.step();
      }
      ++batch_idx;
    }
  }

  ASSERT_EQ(module->losses.size(), losses.size());
  for (size_t i = 0; i < losses.size(); ++i)
    EXPECT_EQ(module->losses[i], losses[i]) << "batch " << i;
  EXPECT_TRUE(torch::equal(module->layer->weight, plain.layer->weight));
  EXPECT_TRUE(torch::equal(module->layer->bias, plain.layer->bias));
  EXPECT_EQ(trainer.lr_scheduler_configs()[0].scheduler->get_last_lr(), sched.get_last_lr());
  // The momentum was cycled too.
  EXPECT_EQ(L::momentum_of(trainer.optimizers()[0]->param_groups()[0].options()),
            L::momentum_of(opt->param_groups()[0].options()));
}

// ---- Manual optimization ----------------------------------------------------

namespace {

// Two "networks" with one optimizer each, stepped by hand as in the seed's GAN.
struct TwoNets : L::LightningModule {
  TwoNets() {
    set_automatic_optimization(false);
    g = register_module("g", torch::nn::Linear(32, 2));
    d = register_module("d", torch::nn::Linear(32, 2));
  }
  L::StepOutput training_step(L::Batch& batch, int64_t) override {
    auto [x, y] = batch.unpack<2>();
    auto [opt_g, opt_d] = optimizers<2>();

    toggle_optimizer(opt_g);
    g_requires_grad.push_back(g->weight.requires_grad());
    d_requires_grad.push_back(d->weight.requires_grad());
    opt_g.zero_grad();
    auto g_loss = torch::nn::functional::mse_loss(g->forward(x), y);
    manual_backward(g_loss);
    opt_g.step();
    untoggle_optimizer(opt_g);
    d_requires_grad_after.push_back(d->weight.requires_grad());

    opt_d.zero_grad();
    auto d_loss = torch::nn::functional::mse_loss(d->forward(x), y);
    manual_backward(d_loss);
    clip_gradients(opt_d, 0.01, "value");
    opt_d.step();
    steps_seen.push_back(global_step());
    log_dict(std::map<std::string, at::Tensor>{{"g_loss", g_loss}, {"d_loss", d_loss}});
    return {};
  }
  L::OptimizerConfig configure_optimizers() override {
    auto opt_g =
        std::make_shared<torch::optim::Adam>(g->parameters(), torch::optim::AdamOptions(0.01));
    auto opt_d =
        std::make_shared<torch::optim::SGD>(d->parameters(), torch::optim::SGDOptions(0.1));
    auto sched = std::make_shared<L::StepLR>(opt_g, L::StepLROptions(1).gamma(0.5));
    return {L::OptimizerConfig(opt_g).lr_scheduler(sched), L::OptimizerConfig(opt_d)};
  }
  void on_train_epoch_end() override {
    auto scheds = lr_schedulers();
    ASSERT_EQ(scheds.size(), 1u);
    scheds[0]->step();  // manual optimization steps its schedulers itself
  }
  void on_before_backward(const at::Tensor&) override { ++before_backward; }
  void on_after_backward() override { ++after_backward; }
  void on_before_optimizer_step(torch::optim::Optimizer&) override { ++before_step; }
  torch::nn::Linear g{nullptr}, d{nullptr};
  std::vector<bool> g_requires_grad, d_requires_grad, d_requires_grad_after;
  std::vector<int64_t> steps_seen;
  int before_backward = 0, after_backward = 0, before_step = 0;
};

}  // namespace

TEST(ManualOptimization, GlobalStepCountsEveryOptimizerStep) {
  auto m = std::make_shared<TwoNets>();
  auto d_before = m->d->weight.clone();
  auto g_before = m->g->weight.clone();
  L::Trainer trainer(quiet().max_epochs(2));
  trainer.fit(m, loader(20, 4));  // 5 batches per epoch, 2 optimizer steps per batch
  EXPECT_EQ(trainer.global_step(), 20);
  EXPECT_EQ(m->steps_seen, (std::vector<int64_t>{2, 4, 6, 8, 10, 12, 14, 16, 18, 20}));
  EXPECT_EQ(m->before_backward, 20);
  EXPECT_EQ(m->after_backward, 20);
  EXPECT_EQ(m->before_step, 20);
  EXPECT_FALSE(torch::equal(m->g->weight, g_before));
  // clip_gradients by value 0.01 with SGD lr 0.1: no element moves more than 0.001 per step.
  EXPECT_LE((m->d->weight - d_before).abs().max().item<double>(), 10 * 0.001 + 1e-7);
  // toggle_optimizer: only opt_g's parameters required grad in between.
  for (size_t i = 0; i < m->g_requires_grad.size(); ++i) {
    EXPECT_TRUE(m->g_requires_grad[i]);
    EXPECT_FALSE(m->d_requires_grad[i]);
    EXPECT_TRUE(m->d_requires_grad_after[i]);
  }
  // The module stepped its scheduler at each epoch end; the Trainer did not.
  EXPECT_DOUBLE_EQ(L::get_lr(*trainer.optimizers()[0]), 0.01 * 0.25);
  EXPECT_TRUE(trainer.callback_metrics().count("g_loss"));
}

TEST(ManualOptimization, MisuseIsAClearError) {
  struct Automatic : BoringModule {
    L::StepOutput training_step(L::Batch& batch, int64_t) override {
      manual_backward(loss(batch));
      return {};
    }
  };
  L::Trainer t1(quiet().max_epochs(1));
  EXPECT_LIGHTNING_ERROR(t1.fit(std::make_shared<Automatic>(), loader(8, 4)),
                         "manual_backward is for manual optimization: call "
                         "set_automatic_optimization(false)");

  struct WrongCount : TwoNets {
    L::StepOutput training_step(L::Batch&, int64_t) override {
      optimizers<3>();
      return {};
    }
  };
  L::Trainer t2(quiet().max_epochs(1));
  EXPECT_LIGHTNING_ERROR(t2.fit(std::make_shared<WrongCount>(), loader(8, 4)),
                         "optimizers<3>() asked for 3 optimizer(s), but configure_optimizers "
                         "returned 2. Use optimizers<2>()");

  L::Trainer t3(quiet().max_epochs(1).accumulate_grad_batches(2));
  EXPECT_LIGHTNING_ERROR(t3.fit(std::make_shared<TwoNets>(), loader(8, 4)),
                         "accumulate_grad_batches=2 is not supported with manual optimization");
  L::Trainer t4(quiet().max_epochs(1).gradient_clip_val(1.0));
  EXPECT_LIGHTNING_ERROR(t4.fit(std::make_shared<TwoNets>(), loader(8, 4)),
                         "gradient_clip_val=1 is not supported with manual optimization: call "
                         "clip_gradients(opt, ...)");
}

TEST(ManualOptimization, OneOptimizerWithoutAutomaticOptimization) {
  struct Manual : BoringModule {
    Manual() { set_automatic_optimization(false); }
    L::StepOutput training_step(L::Batch& batch, int64_t) override {
      auto opt = optimizers()[0];
      opt.zero_grad();
      manual_backward(loss(batch));
      opt.step();
      lrs.push_back(opt.lr());
      return {};
    }
    std::vector<double> lrs;
  };
  auto m = std::make_shared<Manual>();
  L::Trainer trainer(quiet().max_epochs(1));
  trainer.fit(m, loader(12, 4));
  EXPECT_EQ(trainer.global_step(), 3);
  EXPECT_EQ(m->lrs, (std::vector<double>{0.01, 0.01, 0.01}));
}

// The seed's training_step: self.log("learning_rate", self.optimizers().param_groups[0]['lr']).
TEST(SeedPatterns, LogTheLearningRateFromOptimizers) {
  struct LogsLr : BoringModule {
    L::StepOutput training_step(L::Batch& batch, int64_t) override {
      auto l = loss(batch);
      log("train_loss", l, L::LogOptions().on_step(true).on_epoch(true).prog_bar(true));
      log("learning_rate", optimizers()[0].param_groups()[0].options().get_lr());
      return l;
    }
    L::OptimizerConfig configure_optimizers() override {
      auto opt = std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.1));
      return {{opt}, {std::make_shared<L::StepLR>(opt, L::StepLROptions(1).gamma(0.5))}};
    }
  };
  auto m = std::make_shared<LogsLr>();
  L::Trainer trainer(quiet().max_epochs(2));
  trainer.fit(m, loader(8, 4));
  EXPECT_FLOAT_EQ(trainer.callback_metrics().at("learning_rate").item<float>(), 0.05f);
  EXPECT_TRUE(trainer.callback_metrics().count("train_loss_epoch"));
}
