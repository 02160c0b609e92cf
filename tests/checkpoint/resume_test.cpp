// Trainer checkpoints: what they hold, load_from_checkpoint, and exact resume
// after a crash at any point of the fit loop.
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/sgd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "detail/torch_compat.h"
#include "lightning/lightning.h"
#include "support/boring.h"
#include "support/errors.h"
#include "support/python.h"
#include "support/temp_dir.h"

namespace L = lightning;
using L::testing::loader;
using L::testing::quiet;
using L::testing::TempDir;

namespace {

// Dropout draws from the global RNG and the loader shuffles from it, so only
// an exact restore of RNG, sampler, optimizer, scheduler and loop state gives
// the same weights.
class Net : public L::LightningModule {
 public:
  explicit Net(L::HParams hp = {{"hidden", int64_t{16}}, {"lr", 0.05}}) {
    save_hyperparameters(hp);
    const int64_t hidden = hparams().get<int64_t>("hidden");
    net = register_module(
        "net", torch::nn::Sequential(torch::nn::Linear(32, hidden), torch::nn::Dropout(0.3),
                                     torch::nn::Linear(hidden, 2)));
  }
  at::Tensor loss(L::Batch& batch) {
    auto [x, y] = batch.unpack<2>();
    return torch::nn::functional::mse_loss(net->forward(x), y);
  }
  L::StepOutput training_step(L::Batch& batch, int64_t) override {
    auto l = loss(batch);
    losses.push_back(l.item<double>());
    log("train_loss", l);
    return l;
  }
  L::StepOutput validation_step(L::Batch& batch, int64_t) override {
    log("val_loss", loss(batch));
    return {};
  }
  L::OptimizerConfig configure_optimizers() override {
    auto opt = std::make_shared<torch::optim::SGD>(
        parameters(), torch::optim::SGDOptions(hparams().get<double>("lr")).momentum(0.9));
    if (plateau) {
      auto s = std::make_shared<L::ReduceLROnPlateau>(
          opt, L::ReduceLROnPlateauOptions().factor(0.5).patience(0));
      return L::OptimizerConfig(opt).lr_scheduler(s, L::SchedulerConfig().monitor("val_loss"));
    }
    auto step = std::make_shared<L::StepLR>(opt, L::StepLROptions(1).gamma(0.8));
    auto cyc = std::make_shared<L::ExponentialLR>(opt, L::ExponentialLROptions(0.99));
    return {{opt}, {step, {cyc, L::SchedulerConfig().interval("step")}}};
  }
  void on_save_checkpoint(L::Checkpoint& checkpoint) override {
    checkpoint.set("custom_state", custom);
  }
  void on_load_checkpoint(L::Checkpoint& checkpoint) override {
    custom = checkpoint.get<int64_t>("custom_state", -1);
  }
  void on_train_epoch_start() override { lrs.push_back(L::get_lr(*trainer().optimizers()[0])); }
  torch::nn::Sequential net{nullptr};
  std::vector<double> lrs, losses;
  bool plateau = false;
  int64_t custom = 0;
};

struct Crash : std::runtime_error {
  Crash() : std::runtime_error("simulated crash") {}
};

// Saves a checkpoint at one point of the loop, then "crashes".
class Killer : public L::Callback {
 public:
  enum Where { kTrainBatchStart, kTrainBatchEnd, kValidationEnd, kTrainEpochEnd, kTrainEpochStart };
  Killer(Where where, int64_t epoch, int64_t batch, std::string path)
      : where_(where), epoch_(epoch), batch_(batch), path_(std::move(path)) {}
  void on_train_batch_start(L::Trainer& t, L::LightningModule&, L::Batch&,
                            int64_t batch_idx) override {
    if (where_ == kTrainBatchStart && t.current_epoch() == epoch_ && batch_idx == batch_) kill(t);
  }
  void on_train_batch_end(L::Trainer& t, L::LightningModule&, const L::StepOutput&, L::Batch&,
                          int64_t batch_idx) override {
    if (where_ == kTrainBatchEnd && t.current_epoch() == epoch_ && batch_idx == batch_) kill(t);
  }
  void on_validation_end(L::Trainer& t, L::LightningModule&) override {
    if (where_ == kValidationEnd && !t.sanity_checking() && t.current_epoch() == epoch_ &&
        t.loop_state().batch_idx == batch_) {
      kill(t);
    }
  }
  void on_train_epoch_end(L::Trainer& t, L::LightningModule&) override {
    if (where_ == kTrainEpochEnd && t.current_epoch() == epoch_) kill(t);
  }
  void on_train_epoch_start(L::Trainer& t, L::LightningModule&) override {
    if (where_ == kTrainEpochStart && t.current_epoch() == epoch_) kill(t);
  }

 protected:
  virtual void at_save_point(L::Trainer& t) {
    t.save_checkpoint(path_);
    throw Crash();
  }

 private:
  void kill(L::Trainer& t) { at_save_point(t); }
  Where where_;
  int64_t epoch_, batch_;
  std::string path_;
};

L::TrainerOptions options(int64_t epochs) {
  return quiet()
      .max_epochs(epochs)
      .accumulate_grad_batches(2)
      .val_check_interval(5)  // validation at batches 5 and 10 of 10 (mid-epoch too)
      .num_sanity_val_steps(1);
}

L::DataLoader train_loader(int64_t workers = 0) {
  return L::DataLoader(L::testing::random_dataset(40, 3),
                       L::DataLoaderOptions().batch_size(4).shuffle(true).num_workers(workers));
}

std::shared_ptr<Net> make_net(bool plateau) {
  // ReduceLROnPlateau decays slowly: a smaller rate keeps training finite.
  auto model = plateau ? std::make_shared<Net>(L::HParams{{"hidden", int64_t{16}}, {"lr", 0.01}})
                       : std::make_shared<Net>();
  model->plateau = plateau;
  return model;
}

std::shared_ptr<Net> uninterrupted(int64_t epochs, bool plateau, int64_t workers = 0) {
  L::seed_everything(7);
  auto model = make_net(plateau);
  L::Trainer trainer(options(epochs));
  trainer.fit(model, train_loader(workers), loader(8, 4));
  return model;
}

std::shared_ptr<Net> crashed_and_resumed(Killer::Where where, int64_t epoch, int64_t batch,
                                         int64_t epochs, bool plateau, int64_t workers = 0) {
  TempDir dir("resume");
  const std::string path = dir.file("crash.ckpt");
  {
    L::seed_everything(7);
    auto model = make_net(plateau);
    model->custom = 42;
    L::Trainer trainer(
        options(epochs).callbacks({std::make_shared<Killer>(where, epoch, batch, path)}));
    EXPECT_THROW(trainer.fit(model, train_loader(workers), loader(8, 4)), Crash);
  }
  // A fresh process would start from other weights and another RNG state.
  L::seed_everything(12345);
  auto model = make_net(plateau);
  L::Trainer trainer(options(epochs));
  trainer.fit(model, train_loader(workers), loader(8, 4), path);
  EXPECT_EQ(trainer.ckpt_path(), path);
  EXPECT_EQ(model->custom, 42);  // on_load_checkpoint saw on_save_checkpoint's entry
  return model;
}

// Runs the tests' Python (with torch) on `script` with one argument.
bool run_python(const std::string& script, const std::string& arg, std::string& out) {
  const std::string cmd =
      std::string(lightning::testing::kPython) + " " + script + " " + arg + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return false;
  char buf[512];
  while (fgets(buf, sizeof buf, pipe)) out += buf;
  if (pclose(pipe) == 0) return true;
  out += std::string("\n(") + lightning::testing::kPythonSetup + ")";
  return false;
}

void expect_same_weights(const Net& a, const Net& b) {
  // The epochs the resumed run started from their beginning (its first
  // record may be the re-entered epoch, mid-way).
  ASSERT_LE(a.lrs.size(), b.lrs.size());
  for (size_t i = 0; i + 1 < a.lrs.size(); ++i) {
    EXPECT_EQ(a.lrs[a.lrs.size() - 1 - i], b.lrs[b.lrs.size() - 1 - i]) << "epoch start -" << i;
  }
  // `a` is the resumed run: its batches are the last ones of `b`.
  ASSERT_LE(a.losses.size(), b.losses.size());
  for (size_t i = 1; i <= a.losses.size(); ++i) {
    ASSERT_EQ(a.losses[a.losses.size() - i], b.losses[b.losses.size() - i])
        << "batch " << a.losses.size() - i << " of the " << a.losses.size() << " resumed ones";
  }
  auto pa = a.named_parameters(), pb = b.named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (const auto& item : pb) ASSERT_TRUE(torch::isfinite(item.value()).all().item<bool>());
  for (const auto& item : pa) {
    EXPECT_TRUE(torch::equal(item.value(), pb[item.key()])) << item.key();
  }
}

}  // namespace

TEST(ExactResume, CrashAfterATrainingBatchMidEpoch) {
  auto expected = uninterrupted(3, false);
  expect_same_weights(*crashed_and_resumed(Killer::kTrainBatchEnd, 1, 6, 3, false), *expected);
}

TEST(ExactResume, CrashOnTheBatchThatEndsAnAccumulationWindow) {
  auto expected = uninterrupted(3, false);
  expect_same_weights(*crashed_and_resumed(Killer::kTrainBatchEnd, 1, 3, 3, false), *expected);
}

TEST(ExactResume, CrashAtTheStartOfABatchInsideAnAccumulationWindow) {
  // Batch 3 completes the window batch 2 opened: the checkpoint holds batch
  // 2's gradient, and the resume runs batch 3 again on top of it.
  auto expected = uninterrupted(3, false);
  expect_same_weights(*crashed_and_resumed(Killer::kTrainBatchStart, 1, 3, 3, false), *expected);
  expect_same_weights(*crashed_and_resumed(Killer::kTrainBatchStart, 1, 4, 3, false), *expected);
}

TEST(ExactResume, CrashAtTheLastBatchOfAnEpoch) {
  auto expected = uninterrupted(3, false);
  expect_same_weights(*crashed_and_resumed(Killer::kTrainBatchEnd, 0, 9, 3, false), *expected);
}

TEST(ExactResume, CrashAtValidationEndMidEpochAndAtEpochEnd) {
  auto expected = uninterrupted(3, true);  // ReduceLROnPlateau on val_loss
  expect_same_weights(*crashed_and_resumed(Killer::kValidationEnd, 1, 4, 3, true), *expected);
  expect_same_weights(*crashed_and_resumed(Killer::kValidationEnd, 1, 9, 3, true), *expected);
}

TEST(ExactResume, CrashInTrainEpochEndAndEpochStart) {
  auto expected = uninterrupted(3, true);
  expect_same_weights(*crashed_and_resumed(Killer::kTrainEpochEnd, 1, 0, 3, true), *expected);
  expect_same_weights(*crashed_and_resumed(Killer::kTrainEpochStart, 2, 0, 3, true), *expected);
}

TEST(ExactResume, WithLoaderWorkers) {
  auto expected = uninterrupted(2, false, /*workers=*/2);
  expect_same_weights(*crashed_and_resumed(Killer::kTrainBatchEnd, 0, 4, 2, false, 2), *expected);
}

// ---- Logged metrics after a resume ------------------------------------------------

// Logs epoch values of every reduction besides Net's step value.
struct EpochMetricsNet : Net {
  // A smaller step than Net's: the logged values stay finite for 3 epochs on
  // every libtorch version (with 0.05, libtorch 2.x's initial weights diverge).
  EpochMetricsNet() : Net({{"hidden", int64_t{16}}, {"lr", 0.01}}) {}
  L::StepOutput training_step(L::Batch& batch, int64_t batch_idx) override {
    auto out = Net::training_step(batch, batch_idx);
    const double l = losses.back();
    log("mean", l, L::LogOptions().on_epoch(true).batch_size(batch_idx % 3 + 1));
    log("sum", l, L::LogOptions().on_step(false).on_epoch(true).reduce_fx("sum"));
    log("min", l, L::LogOptions().on_step(false).on_epoch(true).reduce_fx("min"));
    return out;
  }
};

// Records how many rows the logger had when the Killer of the same place
// would have saved.
class RowMark : public Killer {
 public:
  RowMark(Where where, int64_t epoch, int64_t batch, const L::testing::RecordingLogger& logger)
      : Killer(where, epoch, batch, ""), logger_(logger) {}
  size_t rows = 0;

 private:
  void at_save_point(L::Trainer&) override { rows = logger_.rows.size(); }
  const L::testing::RecordingLogger& logger_;
};

// The same names and values, a NaN equal to a NaN (a diverging metric must
// diverge the same way after the resume).
::testing::AssertionResult same_row(const L::Metrics& actual, const L::Metrics& expected) {
  const auto same = [](const auto& a, const auto& b) {
    return a.first == b.first &&
           (a.second == b.second || (std::isnan(a.second) && std::isnan(b.second)));
  };
  if (actual.size() == expected.size() &&
      std::equal(actual.begin(), actual.end(), expected.begin(), same)) {
    return ::testing::AssertionSuccess();
  }
  const auto print = [](const L::Metrics& m) {
    std::ostringstream out;
    for (const auto& [k, v] : m) out << " " << k << "=" << v;
    return out.str();
  };
  return ::testing::AssertionFailure() << "got" << print(actual) << ", expected" << print(expected);
}

// The rows a fit saved at `where` and resumed logs after the resume equal
// those the uninterrupted fit logged after that point.
void expect_same_rows_after_resume(Killer::Where where, int64_t epoch, int64_t batch) {
  SCOPED_TRACE("save at " + std::to_string(where) + ", epoch " + std::to_string(epoch) +
               ", batch " + std::to_string(batch));
  auto reference = std::make_shared<L::testing::RecordingLogger>();
  auto mark = std::make_shared<RowMark>(where, epoch, batch, *reference);
  L::seed_everything(7);
  L::Trainer(options(3).log_every_n_steps(1).logger(reference).callbacks({mark}))
      .fit(std::make_shared<EpochMetricsNet>(), train_loader(), loader(8, 4));
  ASSERT_GT(mark->rows, 0u);
  ASSERT_LT(mark->rows, reference->rows.size());

  TempDir dir("resume_rows");
  const std::string path = dir.file("crash.ckpt");
  L::seed_everything(7);
  EXPECT_THROW(L::Trainer(options(3).log_every_n_steps(1).callbacks(
                              {std::make_shared<Killer>(where, epoch, batch, path)}))
                   .fit(std::make_shared<EpochMetricsNet>(), train_loader(), loader(8, 4)),
               Crash);
  auto resumed = std::make_shared<L::testing::RecordingLogger>();
  L::seed_everything(12345);
  L::Trainer(options(3).log_every_n_steps(1).logger(resumed))
      .fit(std::make_shared<EpochMetricsNet>(), train_loader(), loader(8, 4), path);
  const std::vector<std::pair<int64_t, L::Metrics>> expected(
      reference->rows.begin() + static_cast<long>(mark->rows), reference->rows.end());
  ASSERT_EQ(resumed->rows.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(resumed->rows[i].first, expected[i].first) << "row " << i << " after the resume";
    EXPECT_TRUE(same_row(resumed->rows[i].second, expected[i].second))
        << "row " << i << " after the resume";
  }
}

TEST(ResumedMetrics, EveryRowAfterTheSaveEqualsTheUninterruptedRuns) {
  expect_same_rows_after_resume(Killer::kTrainBatchEnd, 1, 6);
  expect_same_rows_after_resume(Killer::kValidationEnd, 1, 4);
  expect_same_rows_after_resume(Killer::kTrainEpochEnd, 1, 0);
  expect_same_rows_after_resume(Killer::kTrainEpochStart, 2, 0);
}

// ---- What a checkpoint holds --------------------------------------------------

TEST(SaveCheckpoint, HoldsLightningsKeys) {
  TempDir dir("ckpt");
  L::seed_everything(1);
  auto model = std::make_shared<Net>();
  L::Trainer trainer(options(1));
  trainer.fit(model, train_loader(), loader(8, 4));
  trainer.save_checkpoint(dir.file("a.ckpt"));
  trainer.save_checkpoint(dir.file("w.ckpt"), /*weights_only=*/true);
  L::Checkpoint full = L::read_checkpoint(dir.file("a.ckpt"));
  for (const char* key :
       {"epoch", "global_step", "pytorch-lightning_version", "state_dict", "loops", "callbacks",
        "optimizer_states", "lr_schedulers", "hparams_name", "hyper_parameters", "custom_state"}) {
    EXPECT_TRUE(full.contains(key)) << key;
  }
  EXPECT_EQ(full.get<int64_t>("global_step"), trainer.global_step());
  EXPECT_EQ(full.get<int64_t>("epoch"), 1);
  EXPECT_EQ(full.get<std::string>("hparams_name"), "kwargs");
  EXPECT_EQ(full.at("lr_schedulers").toListRef().size(), 2u);
  L::StateDict weights = full.get<L::StateDict>("state_dict");
  std::vector<std::string> keys;
  for (const auto& e : weights) keys.push_back(e.key().toStringRef());
  EXPECT_EQ(keys,
            (std::vector<std::string>{"net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias"}));
  L::Checkpoint light = L::read_checkpoint(dir.file("w.ckpt"));
  EXPECT_FALSE(light.contains("optimizer_states"));
  EXPECT_FALSE(light.contains("lr_schedulers"));
  EXPECT_TRUE(light.contains("state_dict"));
  // A weights-only file cannot resume a fit.
  L::Trainer again(options(2));
  EXPECT_LIGHTNING_ERROR(
      again.fit(std::make_shared<Net>(), train_loader(), loader(8, 4), dir.file("w.ckpt")),
      "was saved with weights_only: it has no optimizer state");
}

TEST(LoadFromCheckpoint, RebuildsFromHyperparametersWithOverrides) {
  TempDir dir("ckpt");
  auto model = std::make_shared<Net>(L::HParams{{"hidden", int64_t{8}}, {"lr", 0.1}});
  L::Trainer trainer(options(1));
  trainer.fit(model, train_loader(), loader(8, 4));
  trainer.save_checkpoint(dir.file("m.ckpt"));

  // model = Net.load_from_checkpoint("m.ckpt", lr=1e-4)
  auto loaded = L::load_from_checkpoint<Net>(dir.file("m.ckpt"), {{"lr", 1e-4}});
  EXPECT_EQ(loaded->hparams().get<int64_t>("hidden"), 8);
  EXPECT_DOUBLE_EQ(loaded->hparams().get<double>("lr"), 1e-4);
  expect_same_weights(*loaded, *model);

  // A module of another shape: every difference is listed.
  EXPECT_LIGHTNING_ERROR(
      L::load_from_checkpoint<Net>(dir.file("m.ckpt"), {{"hidden", int64_t{4}}}),
      "Size mismatch: [net.0.weight: checkpoint [8, 32], model [4, 32], net.0.bias: checkpoint "
      "[8], model [4], net.2.weight: checkpoint [2, 8], model [2, 4]]");
  struct Other : L::LightningModule {
    Other() { register_module("head", torch::nn::Linear(32, 8)); }
  };
  const std::string msg =
      L::testing::error_of([&] { L::load_from_checkpoint<Other>(dir.file("m.ckpt")); });
  EXPECT_THAT(msg, ::testing::HasSubstr("Missing key(s): [head.weight, head.bias]"));
  EXPECT_THAT(msg, ::testing::HasSubstr(
                       "Unexpected key(s): [net.0.weight, net.0.bias, net.2.weight, net.2.bias]"));
}

TEST(ResumeErrors, BadPaths) {
  L::Trainer trainer(options(1));
  EXPECT_LIGHTNING_ERROR(
      trainer.fit(std::make_shared<Net>(), train_loader(), loader(8, 4), "/nonexistent/x.ckpt"),
      "fit(ckpt_path=\"/nonexistent/x.ckpt\"): no such checkpoint file");
  EXPECT_LIGHTNING_ERROR(trainer.fit(std::make_shared<Net>(), train_loader(), loader(8, 4), "best"),
                         "fit(ckpt_path=\"best\") needs a ModelCheckpoint callback");
  EXPECT_LIGHTNING_ERROR(L::Trainer(options(1)).save_checkpoint("x.ckpt"),
                         "trainer.save_checkpoint(\"x.ckpt\") needs a module");
}

TEST(DataModuleCheckpoint, HyperparametersAndStateRoundTrip) {
  struct Data : L::LightningDataModule {
    explicit Data(L::HParams hp = {}) { save_hyperparameters(hp); }
    L::DataLoaders train_dataloader() override { return train_loader(); }
    L::StateDict state_dict() const override {
      L::StateDict s = L::make_state_dict();
      s.insert("seen", seen);
      return s;
    }
    void load_state_dict(const L::StateDict& s) override { seen = L::state_int(s, "seen", "Data"); }
    int64_t seen = 0;
  };
  TempDir dir("dm");
  Data data({{"batch_size", int64_t{4}}});
  data.seen = 5;
  auto model = std::make_shared<Net>();
  L::Trainer trainer(options(1));
  trainer.fit(model, data);
  trainer.save_checkpoint(dir.file("d.ckpt"));
  auto restored = L::load_from_checkpoint<Data>(dir.file("d.ckpt"));
  EXPECT_EQ(restored->hparams().get<int64_t>("batch_size"), 4);
  EXPECT_EQ(restored->seen, 5);
}

TEST(ExactResume, CrashInTrainEpochEndWithoutPlateau) {
  auto expected = uninterrupted(3, false);
  expect_same_weights(*crashed_and_resumed(Killer::kTrainEpochEnd, 1, 0, 3, false), *expected);
}

TEST(ExactResume, CrashAfterATrainingBatchWithPlateau) {
  auto expected = uninterrupted(3, true);
  expect_same_weights(*crashed_and_resumed(Killer::kTrainBatchEnd, 1, 6, 3, true), *expected);
}

// A Trainer checkpoint opens in Python: torch.load, and the optimizer state
// loads into Python's optimizer of the same type.
TEST(PythonInterop, TrainerCheckpointLoadsInPyTorch) {
  TempDir dir("py");
  L::seed_everything(3);
  auto model = std::make_shared<Net>();
  L::Trainer trainer(options(1));
  trainer.fit(model, train_loader(), loader(8, 4));
  const std::string path = dir.file("t.ckpt");
  trainer.save_checkpoint(path);
  const std::string script = dir.file("check.py");
  {
    std::ofstream py(script);
    py << "import sys, torch, collections\n"
          "ck = torch.load(sys.argv[1])\n"
          "assert isinstance(ck['state_dict'], collections.OrderedDict)\n"
          "params = [t.clone().requires_grad_(True) for t in ck['state_dict'].values()]\n"
          "opt = torch.optim.SGD(params, lr=1.0, momentum=0.5)\n"
          "opt.load_state_dict(ck['optimizer_states'][0])\n"
          "g = opt.param_groups[0]\n"
          "bufs = sum(float(s['momentum_buffer'].sum()) for s in opt.state.values())\n"
          "print(ck['epoch'], ck['global_step'], ck['hyper_parameters']['hidden'],\n"
          "      repr(ck['hyper_parameters']['lr']), repr(g['lr']), repr(g['momentum']),\n"
          "      repr(float(ck['state_dict']['net.0.weight'].double().sum())), repr(bufs))\n";
  }
  std::string out;
  ASSERT_TRUE(run_python(script, path, out)) << out;
  double buffers = 0;
  for (const auto& group : trainer.optimizers()[0]->param_groups()) {
    for (const auto& p : group.params()) {
      auto& state = trainer.optimizers()[0]->state();
      auto it = state.find(lightning::detail::torch_compat::optimizer_state_key(p));
      if (it != state.end()) {
        buffers += static_cast<torch::optim::SGDParamState&>(*it->second)
                       .momentum_buffer()
                       .sum()
                       .item<double>();
      }
    }
  }
  const double lr = L::get_lr(*trainer.optimizers()[0]);
  std::istringstream fields(out);
  std::string epoch, step, hidden, hp_lr, py_lr, momentum, wsum, bsum;
  fields >> epoch >> step >> hidden >> hp_lr >> py_lr >> momentum >> wsum >> bsum;
  EXPECT_EQ(epoch, "1");
  EXPECT_EQ(step, std::to_string(trainer.global_step()));
  EXPECT_EQ(hidden, "16");
  EXPECT_EQ(hp_lr, "0.05");
  EXPECT_DOUBLE_EQ(std::stod(py_lr), lr);
  EXPECT_EQ(momentum, "0.9");
  EXPECT_DOUBLE_EQ(
      std::stod(wsum),
      model->net[0]->as<torch::nn::Linear>()->weight.to(at::kDouble).sum().item<double>());
  EXPECT_NEAR(std::stod(bsum), buffers, 1e-6 * std::max(1.0, std::abs(buffers)));
}

// The "16-mixed" loss scaler's state goes through a .ckpt file (under
// "MixedPrecision", as Lightning 2.1) and continues identically. On CPU the
// Trainer refuses "16-mixed", so this drives the scaler directly.
TEST(ScalerCheckpoint, StateSurvivesACheckpointFile) {
  TempDir dir("scaler");
  auto run = [](L::GradScaler& scaler, torch::nn::Linear& layer, torch::optim::SGD& opt, int steps,
                int inf_at) {
    for (int i = 0; i < steps; ++i) {
      opt.zero_grad();
      scaler.scale(layer->forward(at::ones({2, 4})).sum()).backward();
      if (i == inf_at) layer->weight.mutable_grad().fill_(INFINITY);
      scaler.step(opt);
      scaler.update();
    }
  };
  torch::manual_seed(0);
  torch::nn::Linear layer(4, 2);
  torch::optim::SGD opt(layer->parameters(), torch::optim::SGDOptions(0.01));
  L::GradScaler scaler(L::GradScalerOptions().growth_interval(3));
  run(scaler, layer, opt, 5, 1);  // one skipped step, then clean ones
  L::StateDict ckpt = L::make_state_dict();
  ckpt.insert("MixedPrecision", scaler.state_dict());
  L::save_checkpoint_file(ckpt, dir.file("s.ckpt"));

  L::GradScaler restored(L::GradScalerOptions().growth_interval(3));
  restored.load_state_dict(
      L::state_dict_at(L::load_checkpoint_file(dir.file("s.ckpt")), "MixedPrecision", "test"));
  EXPECT_EQ(restored.get_scale(), scaler.get_scale());
  EXPECT_EQ(restored.growth_tracker(), scaler.growth_tracker());
  // Both continue through a growth boundary the same way.
  torch::nn::Linear layer2(4, 2);
  torch::optim::SGD opt2(layer2->parameters(), torch::optim::SGDOptions(0.01));
  run(scaler, layer, opt, 4, -1);
  run(restored, layer2, opt2, 4, -1);
  EXPECT_EQ(restored.get_scale(), scaler.get_scale());
  EXPECT_EQ(restored.growth_tracker(), scaler.growth_tracker());
}

// Python that makes Net's weights `sd` and their copies `params`, for the
// checkpoints the tests below write with Python.
const char* const kPythonNetWeights =
    "import sys, torch, collections\n"
    "torch.manual_seed(0)\n"
    "sd = collections.OrderedDict([('net.0.weight', torch.randn(16, 32)),\n"
    "  ('net.0.bias', torch.randn(16)), ('net.2.weight', torch.randn(2, 16)),\n"
    "  ('net.2.bias', torch.randn(2))])\n"
    "params = [t.clone().requires_grad_(True) for t in sd.values()]\n";

// Runs kPythonNetWeights then `body` (which saves to sys.argv[1]) with the
// tests' Python; its output in `out`.
bool make_python_checkpoint(const TempDir& dir, const std::string& path, const std::string& body,
                            std::string& out) {
  const std::string script = dir.file("make.py");
  {
    std::ofstream py(script);
    py << kPythonNetWeights << body;
  }
  return run_python(script, path, out);
}

// A checkpoint written by Python (Lightning's layout, SGD + OneCycleLR whose
// state pickles a bound method) resumes a C++ fit: weights, optimizer and
// scheduler state load, the Python-object entry is skipped with a warning.
TEST(PythonInterop, PythonLightningCheckpointResumesAFit) {
  TempDir dir("pyck");
  const std::string path = dir.file("py.ckpt");
  std::string out;
  ASSERT_TRUE(make_python_checkpoint(
      dir, path,
      "opt = torch.optim.SGD(params, lr=0.01, momentum=0.9)\n"
      "sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=50)\n"
      "for _ in range(3):\n"
      "    for p in params: p.grad = torch.ones_like(p)\n"
      "    opt.step(); sched.step()\n"
      "ck = {'epoch': 1, 'global_step': 3, 'pytorch-lightning_version': '2.1.0',\n"
      "      'state_dict': sd, 'optimizer_states': [opt.state_dict()],\n"
      "      'lr_schedulers': [sched.state_dict()],\n"
      "      'loops': {'fit_loop': {'epoch_progress': {'current': {'completed': 1}},\n"
      "                             'epoch_loop.state_dict': {'_batches_that_stepped': 3}}},\n"
      "      'hparams_name': 'kwargs', 'hyper_parameters': {'hidden': 16, 'lr': 0.01}}\n"
      "torch.save(ck, sys.argv[1])\n"
      "print(repr(sched.get_last_lr()[0]), repr(opt.param_groups[0]['momentum']))\n",
      out))
      << out;
  std::istringstream fields(out);
  double py_lr = 0, py_momentum = 0;
  fields >> py_lr >> py_momentum;

  struct OneCycleNet : Net {
    L::OptimizerConfig configure_optimizers() override {
      auto opt = std::make_shared<torch::optim::SGD>(parameters(),
                                                     torch::optim::SGDOptions(0.01).momentum(0.9));
      auto sched = std::make_shared<L::OneCycleLR>(opt, L::OneCycleLROptions(0.1).total_steps(50));
      return {{opt}, {{sched, L::SchedulerConfig().interval("step")}}};
    }
    void on_train_start() override {
      lr_at_start = L::get_lr(*trainer().optimizers()[0]);
      momentum_at_start = *L::momentum_of(trainer().optimizers()[0]->param_groups()[0].options());
      weight_at_start = net[0]->as<torch::nn::Linear>()->weight.clone();
    }
    double lr_at_start = 0, momentum_at_start = 0;
    at::Tensor weight_at_start;
  };
  // torch 1.13 pickles OneCycleLR's annealing function (a Python object the
  // resume replaces, with a warning); 2.x saves its name ("_anneal_func_type").
  L::Checkpoint py = L::read_checkpoint(path);
  const bool pickles_function =
      py.at("lr_schedulers").toListRef().at(0).toGenericDict().contains("anneal_func");
  auto model = std::make_shared<OneCycleNet>();
  L::Trainer trainer(quiet().max_epochs(2));
  ::testing::internal::CaptureStderr();
  trainer.fit(model, train_loader(), loader(8, 4), path);
  const std::string err = ::testing::internal::GetCapturedStderr();
  if (pickles_function) {
    EXPECT_THAT(err, ::testing::HasSubstr("\"anneal_func\" holds a Python object"));
  } else {
    EXPECT_THAT(err, ::testing::Not(::testing::HasSubstr("holds a Python object")));
  }
  EXPECT_THAT(err, ::testing::HasSubstr("restarts at the beginning of epoch 1"));
  EXPECT_DOUBLE_EQ(model->lr_at_start, py_lr);
  EXPECT_DOUBLE_EQ(model->momentum_at_start, py_momentum);
  EXPECT_TRUE(torch::equal(model->weight_at_start,
                           py.get<L::StateDict>("state_dict").at("net.0.weight").toTensor()));
  EXPECT_EQ(trainer.current_epoch(), 2);
  EXPECT_EQ(trainer.global_step(), 3 + 10);  // one more epoch of 10 batches
}

// A checkpoint Python Lightning 2.6.6 wrote in on_train_batch_end inside an
// epoch (its loop state, as Lightning writes it, after batch_idx 2 of epoch
// 1 with 10 batches an epoch) resumes inside that epoch, as Lightning does:
// batch_idx 3 to 9, global step and logged step counting on from 13.
TEST(PythonInterop, PythonLightningMidEpochCheckpointResumesMidEpoch) {
  TempDir dir("pymid");
  const std::string path = dir.file("py_mid.ckpt");
  std::string out;
  ASSERT_TRUE(make_python_checkpoint(
      dir, path,
      "opt = torch.optim.SGD(params, lr=0.05, momentum=0.9)\n"
      "for p in params: p.grad = torch.ones_like(p)\n"
      "opt.step()\n"
      "def prog(total, current, keys=('ready', 'started', 'processed', 'completed')):\n"
      "    return {'total': dict(zip(keys, total)), 'current': dict(zip(keys, current))}\n"
      "bp = prog((13, 13, 13, 12), (3, 3, 3, 2)); bp['is_last_batch'] = False\n"
      "step = prog((13, 13), (3, 3), ('ready', 'completed'))\n"
      "zero = prog((13, 13, 13), (3, 3, 3), ('ready', 'completed', 'started'))\n"
      "fit_loop = {'state_dict': {},\n"
      "  'epoch_loop.state_dict': {'_batches_that_stepped': 12},\n"
      "  'epoch_loop.batch_progress': bp,\n"
      "  'epoch_loop.scheduler_progress': prog((0, 0), (0, 0), ('ready', 'completed')),\n"
      "  'epoch_loop.automatic_optimization.state_dict': {},\n"
      "  'epoch_loop.automatic_optimization.optim_progress':\n"
      "      {'optimizer': {'step': step, 'zero_grad': zero}},\n"
      "  'epoch_loop.manual_optimization.state_dict': {},\n"
      "  'epoch_loop.manual_optimization.optim_step_progress':\n"
      "      prog((0, 0), (0, 0), ('ready', 'completed')),\n"
      "  'epoch_loop.val_loop.state_dict': {},\n"
      "  'epoch_loop.val_loop.batch_progress': dict(prog((0,) * 4, (0,) * 4),\n"
      "                                             is_last_batch=False),\n"
      "  'epoch_progress': prog((2, 2, 1, 1), (2, 2, 1, 1))}\n"
      "ck = {'epoch': 1, 'global_step': 13, 'pytorch-lightning_version': '2.6.6',\n"
      "      'state_dict': sd, 'optimizer_states': [opt.state_dict()],\n"
      "      'lr_schedulers': [], 'loops': {'fit_loop': fit_loop}, 'callbacks': {},\n"
      "      'hparams_name': 'kwargs', 'hyper_parameters': {'hidden': 16, 'lr': 0.05}}\n"
      "torch.save(ck, sys.argv[1])\n",
      out))
      << out;

  struct SgdNet : Net {
    L::OptimizerConfig configure_optimizers() override {
      return L::OptimizerConfig(std::make_shared<torch::optim::SGD>(
          parameters(), torch::optim::SGDOptions(0.05).momentum(0.9)));
    }
  };
  auto model = std::make_shared<SgdNet>();
  auto counter = std::make_shared<L::testing::CountingCallback>();
  auto logger = std::make_shared<L::testing::RecordingLogger>();
  L::Trainer trainer(
      quiet().max_epochs(2).logger(logger).log_every_n_steps(1).callbacks({counter}));
  ::testing::internal::CaptureStderr();
  trainer.fit(model, train_loader(), loader(8, 4), path);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(err, ::testing::HasSubstr("inside epoch 1 after 3 batches"));
  EXPECT_EQ(counter->train_batches, (std::vector<int64_t>{3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(counter->epochs, 1);
  EXPECT_EQ(trainer.current_epoch(), 2);
  EXPECT_EQ(trainer.global_step(), 13 + 7);
  ASSERT_FALSE(logger->rows.empty());
  EXPECT_EQ(logger->rows.front().first, 13);  // Lightning's _batches_that_stepped + 1
}
