// SWALR, AveragedModel and StochasticWeightAveraging: SWALR's rates and the
// averaged weights of a fit against PyTorch's swa_utils (swa_reference.py run
// by the build leg's Python), exact resume, the batch-norm epoch, and the
// errors a user can cause.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <sstream>

#include "lightning/data/datasets/fashion_mnist.h"
#include "support/errors.h"
#include "support/python.h"
#include "support/temp_dir.h"
#include "weight_averaging/swa_fixtures.h"

namespace L = lightning;
using L::testing::SwaMlp;
using ::testing::HasSubstr;

namespace {

const std::string kScript = std::string(LIGHTNING_WEIGHT_AVERAGING_TEST_DIR) + "/swa_reference.py";

std::shared_ptr<torch::optim::SGD> two_group_sgd(std::vector<at::Tensor>& keep) {
  keep = {torch::zeros({1}, torch::requires_grad()), torch::zeros({1}, torch::requires_grad())};
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<at::Tensor>{keep[0]},
                      std::make_unique<torch::optim::SGDOptions>(0.1));
  groups.emplace_back(std::vector<at::Tensor>{keep[1]},
                      std::make_unique<torch::optim::SGDOptions>(0.2));
  return std::make_shared<torch::optim::SGD>(std::move(groups), torch::optim::SGDOptions(0.1));
}

// Records the first group's learning rate at each training epoch start
// (after the SWA callback's own hook, which may have swapped the scheduler).
class LrRecorder : public L::Callback {
 public:
  void on_train_epoch_start(L::Trainer& t, L::LightningModule&) override {
    lrs.push_back(t.optimizers()[0]->param_groups()[0].options().get_lr());
  }
  std::vector<double> lrs;
};

}  // namespace

TEST(SWALR, MatchesPyTorch) {
  auto r = L::testing::run_python(kScript, {"swalr"});
  ASSERT_EQ(r.status, 0) << L::testing::kPythonSetup << "\n" << r.describe();
  std::istringstream lines(r.out);
  std::string line;
  int settings = 0;
  while (std::getline(lines, line)) {
    std::istringstream in(line);
    std::string strategy;
    int64_t anneal_epochs = 0;
    in >> strategy >> anneal_epochs;
    std::vector<double> expected;
    for (std::string v; in >> v;) expected.push_back(std::strtod(v.c_str(), nullptr));
    ASSERT_EQ(expected.size(), 12u) << line;
    std::vector<at::Tensor> params;
    auto opt = two_group_sgd(params);
    L::SWALR sched(opt, L::SWALROptions(std::vector<double>{0.05, 0.01})
                            .anneal_epochs(anneal_epochs)
                            .anneal_strategy(strategy));
    std::vector<double> got = sched.get_last_lr();
    for (int step = 0; step < 5; ++step) {
      sched.step();
      for (double lr : sched.get_last_lr()) got.push_back(lr);
    }
    ASSERT_EQ(got.size(), expected.size());
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_DOUBLE_EQ(got[i], expected[i])
          << strategy << " anneal_epochs=" << anneal_epochs << " value " << i;
    }
    ++settings;
  }
  EXPECT_EQ(settings, 4);
}

TEST(SWALR, StateDictRoundTripAndErrors) {
  std::vector<at::Tensor> params;
  auto opt = two_group_sgd(params);
  L::SWALR a(opt, L::SWALROptions(0.05).anneal_epochs(4).anneal_strategy("linear"));
  a.step();
  a.step();
  const L::SchedulerState state = a.state_dict();
  EXPECT_EQ(L::state_int(state, "anneal_epochs", "t"), 4);
  EXPECT_EQ(L::state_string(state, "_anneal_strategy", "t"), "linear");
  EXPECT_EQ(L::state_int(state, "_step_count", "t"), 3);
  std::vector<at::Tensor> params2;
  auto opt2 = two_group_sgd(params2);
  L::SWALR b(opt2, L::SWALROptions(0.05));  // cos, 10 epochs until loaded
  b.load_state_dict(state);
  a.step();
  b.step();
  EXPECT_EQ(a.get_last_lr(), b.get_last_lr());

  EXPECT_LIGHTNING_ERROR(L::SWALR(opt, L::SWALROptions(0.05).anneal_strategy("exp")),
                         "anneal_strategy must be one of 'cos' or 'linear', instead got 'exp'");
  EXPECT_LIGHTNING_ERROR(L::SWALR(opt, L::SWALROptions(0.05).anneal_epochs(-1)),
                         "anneal_epochs must be equal or greater than 0, got -1");
  EXPECT_LIGHTNING_ERROR(L::SWALR(opt, L::SWALROptions(std::vector<double>{0.1, 0.2, 0.3})),
                         "swa_lr must have the same length as optimizer.param_groups: swa_lr "
                         "has 3, optimizer.param_groups has 2");
}

TEST(AveragedModel, SwaAndEmaArithmetic) {
  torch::nn::Linear m(3, 2);
  L::AveragedModel swa(*m);
  L::AveragedModel ema(*m, L::AveragedModelOptions().avg_fn(L::get_ema_avg_fn(0.5)));
  std::vector<at::Tensor> seen;
  for (int i = 0; i < 3; ++i) {
    {
      torch::NoGradGuard g;
      m->weight.add_(1.0);
    }
    seen.push_back(m->weight.detach().clone());
    swa.update_parameters(*m);
    ema.update_parameters(*m);
  }
  EXPECT_EQ(swa.n_averaged().item<int64_t>(), 3);
  EXPECT_TRUE(at::allclose(swa.parameters()[0], (seen[0] + seen[1] + seen[2]) / 3));
  // First update copies; then ema = 0.5 * ema + 0.5 * w.
  EXPECT_TRUE(
      at::allclose(ema.parameters()[0], (seen[0] * 0.5 + seen[1] * 0.5) * 0.5 + seen[2] * 0.5));
  const L::StateDict state = swa.state_dict();
  EXPECT_TRUE(state.contains("module.weight"));
  EXPECT_TRUE(state.contains("n_averaged"));
  L::AveragedModel other(*m);
  other.load_state_dict(state);
  EXPECT_EQ(other.n_averaged().item<int64_t>(), 3);
  EXPECT_TRUE(at::equal(other.parameters()[0], swa.parameters()[0]));
  L::StateDict bad = L::make_state_dict();
  bad.insert("module.weight", at::zeros({5}));
  bad.insert("module.bias", at::zeros({2}));
  bad.insert("n_averaged", at::zeros({}, at::kLong));
  EXPECT_LIGHTNING_ERROR(other.load_state_dict(bad, "x.ckpt"),
                         "Error loading the averaged model from x.ckpt: weight has shape [5]");
  EXPECT_LIGHTNING_ERROR(L::get_ema_avg_fn(1.5), "Invalid decay value 1.5");
  EXPECT_LIGHTNING_ERROR(L::AveragedModel(*m, L::AveragedModelOptions()
                                                  .avg_fn(L::get_swa_avg_fn())
                                                  .multi_avg_fn(L::get_swa_multi_avg_fn())),
                         "Only one of avg_fn and multi_avg_fn should be provided");
}

// The done-when of issue 17: the callback's averaged weights are PyTorch's
// AveragedModel + SWALR's for the same run (max |diff| <= 1e-6), on the
// first 256 Fashion-MNIST training images (normalized, flattened, in order;
// the Python side reads them from the input file).
TEST(StochasticWeightAveraging, MatchesTorchSwaUtils) {
  const L::FashionMNIST fashion(L::kFashionMNISTDefaultDir, /*train=*/true, /*normalize=*/true);
  const std::vector<at::Tensor> data = {
      fashion.images().narrow(0, 0, 256).reshape({256, 784}).contiguous(),
      fashion.targets().narrow(0, 0, 256).contiguous()};
  for (const std::string strategy : {"cos", "linear"}) {
    L::testing::TempDir dir("swa_oracle");
    auto model = std::make_shared<SwaMlp>();
    const int64_t max_epochs = 6;
    L::StateDict config = L::make_state_dict();
    config.insert("hidden", int64_t{32});
    config.insert("lr", 0.1);
    config.insert("momentum", 0.9);
    config.insert("gamma", 0.7);
    config.insert("max_epochs", max_epochs);
    config.insert("swa_epoch_start", int64_t{3});
    config.insert("annealing_epochs", int64_t{2});
    config.insert("annealing_strategy", strategy);
    config.insert("swa_lr", 0.05);
    config.insert("batch_size", int64_t{32});
    L::StateDict input = L::make_state_dict();
    input.insert("x", data[0]);
    input.insert("y", data[1]);
    input.insert("init", L::module_state_dict(*model));
    input.insert("config", config);
    L::save_checkpoint_file(input, dir.file("input.pt"));
    auto r = L::testing::run_python(kScript, {"swa", dir.file("input.pt"), dir.file("out.pt")});
    ASSERT_EQ(r.status, 0) << L::testing::kPythonSetup << "\n" << r.describe();
    const L::StateDict expected = L::load_checkpoint_file(dir.file("out.pt"));

    auto swa =
        std::make_shared<L::StochasticWeightAveraging>(L::StochasticWeightAveragingOptions(0.05)
                                                           .swa_epoch_start(3)
                                                           .annealing_epochs(2)
                                                           .annealing_strategy(strategy));
    auto lrs = std::make_shared<LrRecorder>();
    L::Trainer trainer(L::testing::quiet_fit(max_epochs).callbacks({swa, lrs}));
    trainer.fit(model, {L::testing::mlp_loader(data)});

    std::map<std::string, at::Tensor> want;
    for (const auto& e : L::state_dict_at(expected, "state_dict", "out.pt")) {
      want[e.key().toStringRef()] = e.value().toTensor();
    }
    const double diff = L::testing::max_abs_diff(L::testing::weights_of(*model), want);
    EXPECT_LE(diff, 1e-6) << strategy;
    std::cout << strategy << ": max |weight diff| against torch.optim.swa_utils: " << diff << "\n";
    EXPECT_EQ(swa->n_averaged(), L::state_int(expected, "n_averaged", "out.pt"));
    EXPECT_EQ(swa->n_averaged(), 4);  // epochs 2..5 (swa_start = swa_epoch_start - 1)
    const std::vector<double> want_lrs = L::state_doubles(expected, "lrs", "out.pt");
    ASSERT_EQ(lrs->lrs.size(), want_lrs.size());
    for (size_t i = 0; i < want_lrs.size(); ++i) {
      EXPECT_DOUBLE_EQ(lrs->lrs[i], want_lrs[i]) << strategy << " epoch " << i;
    }
    ASSERT_NE(swa->swa_scheduler(), nullptr);
    EXPECT_EQ(trainer.lr_scheduler_configs()[0].scheduler->name(), "SWALR");
  }
}

namespace {

// A full fit with a checkpoint after every epoch; returns the final weights.
std::map<std::string, at::Tensor> fit_swa(const std::string& dirpath, int64_t max_epochs,
                                          const std::optional<std::string>& ckpt_path,
                                          L::testing::MlpConfig config = {},
                                          int64_t* n_averaged = nullptr) {
  auto model = std::make_shared<SwaMlp>(config, ckpt_path ? 99 : 7);  // resumed: other init
  auto swa = std::make_shared<L::StochasticWeightAveraging>(
      L::StochasticWeightAveragingOptions(0.05).swa_epoch_start(0.5).annealing_epochs(2));
  auto ckpt = std::make_shared<L::ModelCheckpoint>(
      L::ModelCheckpointOptions().dirpath(dirpath).filename("{epoch}").save_top_k(-1));
  L::Trainer trainer(
      L::testing::quiet_fit(max_epochs).enable_checkpointing(true).callbacks({swa, ckpt}));
  trainer.fit(model, {L::testing::mlp_loader(L::testing::mlp_data(), 64)}, {}, ckpt_path);
  if (n_averaged) *n_averaged = swa->n_averaged();
  return L::testing::weights_of(*model);
}

}  // namespace

// Resuming from a checkpoint written before swa start, and from ones written
// after it (SWALR state, averaged weights, n_averaged restored), ends with
// the weights of the uninterrupted run, bit for bit.
TEST(StochasticWeightAveraging, ResumesExactly) {
  L::testing::TempDir dir("swa_resume");
  int64_t n_full = 0;
  const auto full = fit_swa(dir.file("full"), 6, std::nullopt, {}, &n_full);
  EXPECT_EQ(n_full, 4);  // swa_epoch_start 0.5 -> int(6 * 0.5) = 3 -> epochs 2..5
  for (const char* name : {"epoch=1.ckpt", "epoch=3.ckpt", "epoch=4.ckpt"}) {
    const std::string path = dir.file("full") + "/" + name;
    ASSERT_TRUE(std::filesystem::exists(path)) << path;
    int64_t n = 0;
    const auto resumed = fit_swa(dir.file(std::string("resumed_") + name), 6, path, {}, &n);
    EXPECT_TRUE(L::testing::bitwise_equal(full, resumed))
        << name << ": max |diff| " << L::testing::max_abs_diff(full, resumed);
    EXPECT_EQ(n, n_full) << name;
  }
  // Lightning's keys in the checkpoint.
  const L::Checkpoint c = L::read_checkpoint(dir.file("full") + "/epoch=3.ckpt");
  const L::StateDict state =
      L::state_dict_at(c.get<L::StateDict>("callbacks"), "StochasticWeightAveraging", "ckpt");
  EXPECT_EQ(L::state_int(state, "n_averaged", "swa"), 2);
  EXPECT_EQ(L::state_int(state, "latest_update_epoch", "swa"), 3);
  EXPECT_EQ(
      L::state_string(L::state_dict_at(state, "scheduler_state", "swa"), "_anneal_strategy", "swa"),
      "cos");
  EXPECT_TRUE(L::state_dict_at(state, "average_model_state", "swa").contains("model.0.weight"));
}

// With batch norm: one extra epoch, forward only, recomputes the running
// statistics of the averaged weights as a cumulative average; the optimizer
// does not step in it, and max_epochs and the momentum are restored.
TEST(StochasticWeightAveraging, BatchNormEpochRecomputesStatistics) {
  L::testing::MlpConfig config;
  config.batch_norm = true;
  auto model = std::make_shared<SwaMlp>(config);
  const auto data = L::testing::mlp_data();
  auto swa = std::make_shared<L::StochasticWeightAveraging>(
      L::StochasticWeightAveragingOptions(0.05).swa_epoch_start(2));
  L::Trainer trainer(L::testing::quiet_fit(4).callbacks({swa}));
  trainer.fit(model, {L::testing::mlp_loader(data)});
  EXPECT_EQ(trainer.current_epoch(), 5);    // 4 epochs + the statistics epoch
  EXPECT_EQ(trainer.global_step(), 4 * 8);  // no optimizer step in the extra epoch
  EXPECT_EQ(trainer.max_epochs(), 4);
  EXPECT_EQ(trainer.accumulate_grad_batches(), 1);
  auto* bn = model->model[2]->as<torch::nn::BatchNorm1d>();
  ASSERT_NE(bn, nullptr);
  ASSERT_TRUE(bn->options.momentum().has_value());
  EXPECT_DOUBLE_EQ(*bn->options.momentum(), 0.1);

  // The weights are the averaged ones (no step after the transfer).
  const L::StateDict avg = swa->average_model_state();
  for (const auto& p : model->named_parameters()) {
    EXPECT_TRUE(at::equal(p.value(), avg.at(p.key()).toTensor())) << p.key();
  }
  // The statistics: the cumulative average over the training batches of the
  // averaged weights (PyTorch's update_bn).
  auto copy = std::make_shared<SwaMlp>(config);
  L::load_module_state_dict(*copy, L::module_state_dict(*model));
  auto* bn2 = copy->model[2]->as<torch::nn::BatchNorm1d>();
  {
    torch::NoGradGuard g;
    bn2->running_mean.zero_();
    bn2->running_var.fill_(1);
    bn2->num_batches_tracked.zero_();
    bn2->options.momentum(c10::nullopt);
    copy->train();
    for (int64_t i = 0; i < 256; i += 32) copy->forward(data[0].slice(0, i, i + 32));
  }
  EXPECT_TRUE(at::allclose(bn->running_mean, bn2->running_mean, 1e-6, 1e-7));
  EXPECT_TRUE(at::allclose(bn->running_var, bn2->running_var, 1e-6, 1e-7));
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 8);
}

TEST(StochasticWeightAveraging, ResumesExactlyWithBatchNorm) {
  L::testing::TempDir dir("swa_bn_resume");
  L::testing::MlpConfig config;
  config.batch_norm = true;
  const auto full = fit_swa(dir.file("full"), 4, std::nullopt, config);
  for (const char* name : {"epoch=2.ckpt", "epoch=3.ckpt"}) {
    const auto resumed =
        fit_swa(dir.file(std::string("r_") + name), 4, dir.file("full") + "/" + name, config);
    EXPECT_TRUE(L::testing::bitwise_equal(full, resumed))
        << name << ": max |diff| " << L::testing::max_abs_diff(full, resumed);
  }
}

TEST(StochasticWeightAveraging, Errors) {
  using Opts = L::StochasticWeightAveragingOptions;
  EXPECT_LIGHTNING_ERROR(L::StochasticWeightAveraging(Opts(0.0)),
                         "The `swa_lrs` should a positive float, or a list of positive floats, "
                         "got [0.0]");
  EXPECT_LIGHTNING_ERROR(L::StochasticWeightAveraging(Opts(std::vector<double>{0.1, -1.0})),
                         "The `swa_lrs` should a positive float");
  EXPECT_LIGHTNING_ERROR(L::StochasticWeightAveraging(Opts(std::vector<double>{})),
                         "The `swa_lrs` should a positive float");
  EXPECT_LIGHTNING_ERROR(L::StochasticWeightAveraging(Opts(0.1).swa_epoch_start(0)),
                         "swa_epoch_start should be a >0 integer or a float between 0 and 1, "
                         "got 0");
  EXPECT_LIGHTNING_ERROR(L::StochasticWeightAveraging(Opts(0.1).swa_epoch_start(1.5)),
                         "swa_epoch_start should be a >0 integer or a float between 0 and 1, "
                         "got 1.5");
  EXPECT_LIGHTNING_ERROR(L::StochasticWeightAveraging(Opts(0.1).annealing_strategy("exp")),
                         "annealing_strategy must be one of 'cos' or 'linear', instead got 'exp'");
  EXPECT_LIGHTNING_ERROR(L::StochasticWeightAveraging(Opts(0.1).annealing_epochs(-2)),
                         "annealing_epochs must be >= 0");

  // At fit start: a fractional start without max_epochs; a swa_lrs list of the wrong length.
  {
    auto swa = std::make_shared<L::StochasticWeightAveraging>(Opts(0.1));
    L::Trainer trainer(L::testing::quiet_fit(-1).max_steps(4).callbacks({swa}));
    EXPECT_LIGHTNING_ERROR(
        trainer.fit(std::make_shared<SwaMlp>(), {L::testing::mlp_loader(L::testing::mlp_data())}),
        "SWA with `swa_epoch_start` as a float is not supported when "
        "`max_epochs=-1`");
  }
  {
    auto swa = std::make_shared<L::StochasticWeightAveraging>(
        Opts(std::vector<double>{0.1, 0.2}).swa_epoch_start(1));
    L::Trainer trainer(L::testing::quiet_fit(2).callbacks({swa}));
    EXPECT_LIGHTNING_ERROR(
        trainer.fit(std::make_shared<SwaMlp>(), {L::testing::mlp_loader(L::testing::mlp_data())}),
        "swa_lr must have the same length as optimizer.param_groups: swa_lr "
        "has 2, optimizer.param_groups has 1");
  }
}
