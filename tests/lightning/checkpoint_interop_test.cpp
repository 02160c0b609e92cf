// Checkpoints both ways between lightning.cpp and real PyTorch Lightning
// (tests/lightning/ckpt_interop.py), with the same data and initial weights
// (written by Python with torch.save) and no shuffling:
//
// - lightning.cpp fits 2 epochs (SGD with momentum, StepLR) and writes two
//   .ckpt files: its ModelCheckpoint's (at the end of epoch 1) and
//   trainer.save_checkpoint after the fit. Python opens each with
//   torch.load(weights_only=True), loads it with load_from_checkpoint (same
//   weights) and resumes it to max_epochs=3; lightning.cpp resumes the same
//   files: same start, same end, same weights.
// - Python Lightning fits 2 epochs (SGD with momentum, OneCycleLR stepped every
//   step) and writes the same two kinds of file; each side resumes them for
//   one more epoch: same start, same end, same weights.
#include <gtest/gtest.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/sgd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "lightning/lightning.h"
#include "support/python.h"
#include "support/temp_dir.h"

namespace L = lightning;
using L::testing::TempDir;

namespace {

constexpr double kWeightAbsTol = 1e-6;

std::string script() { return std::string(LIGHTNING_ORACLE_DIR) + "/ckpt_interop.py"; }

// The modules of ckpt_interop.py: MLP 8-16-3, cross-entropy, SGD with momentum,
// and StepLR per epoch (the C++-written checkpoints) or OneCycleLR per step
// (the Python-written ones).
class CkptModel : public L::LightningModule {
 public:
  explicit CkptModel(bool one_cycle) : one_cycle_(one_cycle) {
    net = register_module("net", torch::nn::Sequential(torch::nn::Linear(8, 16), torch::nn::Tanh(),
                                                       torch::nn::Linear(16, 3)));
  }
  at::Tensor loss(L::Batch& batch) {
    auto [x, y] = batch.unpack<2>();
    return torch::nn::functional::cross_entropy(net->forward(x), y);
  }
  L::StepOutput training_step(L::Batch& batch, int64_t) override {
    auto l = loss(batch);
    log("train_loss", l);
    return l;
  }
  L::StepOutput validation_step(L::Batch& batch, int64_t) override {
    log("val_loss", loss(batch));
    return {};
  }
  L::OptimizerConfig configure_optimizers() override {
    auto opt = std::make_shared<torch::optim::SGD>(parameters(),
                                                   torch::optim::SGDOptions(0.1).momentum(0.9));
    if (one_cycle_) {
      auto sched = std::make_shared<L::OneCycleLR>(opt, L::OneCycleLROptions(0.1).total_steps(12));
      return {{opt}, {{sched, L::SchedulerConfig().interval("step")}}};
    }
    auto sched = std::make_shared<L::StepLR>(opt, L::StepLROptions(1).gamma(0.5));
    return {{opt}, {sched}};
  }
  torch::nn::Sequential net{nullptr};

 private:
  bool one_cycle_;
};

// Epoch and global_step at on_train_start.
class StartRecorder : public L::Callback {
 public:
  void on_train_start(L::Trainer& trainer, L::LightningModule&) override {
    epoch = trainer.current_epoch();
    step = trainer.global_step();
  }
  int64_t epoch = -1, step = -1;
};

// Where a fit started and ended: "<start epoch> <start step> <end epoch> <end step>",
// the layout of ckpt_interop.py's "resume" lines.
struct Span {
  int64_t start_epoch = -1, start_step = -1, end_epoch = -1, end_step = -1;
  std::string str() const {
    std::ostringstream s;
    s << start_epoch << " " << start_step << " " << end_epoch << " " << end_step;
    return s.str();
  }
  static bool parse(const std::string& line, Span& span) {
    std::istringstream in(line);
    return static_cast<bool>(in >> span.start_epoch >> span.start_step >> span.end_epoch >>
                             span.end_step);
  }
};

// Field by field, so that a failure names what differs.
void expect_same_span(const Span& got, const Span& want, const std::string& what) {
  EXPECT_EQ(got.start_epoch, want.start_epoch) << what << ": current_epoch at on_train_start";
  EXPECT_EQ(got.start_step, want.start_step) << what << ": global_step at on_train_start";
  EXPECT_EQ(got.end_epoch, want.end_epoch) << what << ": current_epoch after fit";
  EXPECT_EQ(got.end_step, want.end_step) << what << ": global_step after fit";
}

struct Data {
  L::DataLoader train, val;
};

Data read_data(const TempDir& dir) {
  const L::StateDict d = L::load_checkpoint_file(dir.file("data.pt"));
  auto t = [&](const char* key) { return L::state_value(d, key, "data.pt").toTensor(); };
  return {L::DataLoader(std::make_shared<L::TensorDataset>(
                            std::vector<at::Tensor>{t("train_x"), t("train_y")}),
                        L::DataLoaderOptions().batch_size(8)),
          L::DataLoader(
              std::make_shared<L::TensorDataset>(std::vector<at::Tensor>{t("val_x"), t("val_y")}),
              L::DataLoaderOptions().batch_size(8))};
}

L::TrainerOptions options(int64_t max_epochs) {
  return L::TrainerOptions()
      .max_epochs(max_epochs)
      .accelerator("cpu")
      .devices(1)
      .logger(false)
      .enable_checkpointing(false)
      .enable_progress_bar(false)
      .enable_model_summary(false)
      .num_threads(1);
}

std::shared_ptr<CkptModel> fresh_model(const TempDir& dir, bool one_cycle) {
  auto model = std::make_shared<CkptModel>(one_cycle);
  L::load_module_state_dict(*model, L::load_checkpoint_file(dir.file("init.pt")), "init.pt");
  return model;
}

// lightning.cpp resumes `ckpt` to max_epochs=3; returns the final weights.
L::StateDict cpp_resume(const TempDir& dir, bool one_cycle, const std::string& ckpt, Span& span) {
  Data data = read_data(dir);
  auto model = fresh_model(dir, one_cycle);
  auto recorder = std::make_shared<StartRecorder>();
  L::Trainer trainer(options(3).callbacks({recorder}));
  trainer.fit(model, data.train, data.val, ckpt);
  span = {recorder->epoch, recorder->step, trainer.current_epoch(), trainer.global_step()};
  return L::module_state_dict(*model);
}

// Python's result lines: "<kind> <index> <words...>" -> words, keyed "<kind> <index>".
std::map<std::string, std::string> result_lines(const std::string& out) {
  std::map<std::string, std::string> lines;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string kind, index, rest;
    words >> kind >> index;
    std::getline(words, rest);
    if (!rest.empty() && rest.front() == ' ') rest.erase(0, 1);
    lines[kind + " " + index] = rest;
  }
  return lines;
}

std::string line_of(const std::map<std::string, std::string>& lines, const std::string& key) {
  auto it = lines.find(key);
  return it == lines.end() ? std::string("<missing>") : it->second;
}

// Max |a - b| over every tensor of two state dicts with the same keys.
double max_weight_diff(const L::StateDict& got, const L::StateDict& want, const std::string& what) {
  std::set<std::string> got_keys, want_keys;
  for (const auto& e : got) got_keys.insert(e.key().toStringRef());
  for (const auto& e : want) want_keys.insert(e.key().toStringRef());
  EXPECT_EQ(got_keys, want_keys) << what << ": state_dict keys differ";
  double worst = 0.0;
  for (const auto& e : want) {
    auto it = got.find(e.key());
    if (it == got.end()) continue;
    const at::Tensor a = it->value().toTensor().to(at::kDouble);
    const at::Tensor b = e.value().toTensor().to(at::kDouble);
    EXPECT_EQ(a.sizes(), b.sizes()) << what << ": " << e.key().toStringRef();
    if (a.sizes() == b.sizes()) worst = std::max(worst, (a - b).abs().max().item<double>());
  }
  return worst;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST(LightningCheckpointInterop, CppCheckpointsLoadAndResumeInPythonLightning) {
  const auto started = std::chrono::steady_clock::now();
  TempDir dir("lightning_ckpt_cpp");
  const auto prepared = L::testing::run_python(script(), {"prepare", dir.str()});
  ASSERT_EQ(prepared.status, 0) << prepared.describe();

  // lightning.cpp fits 2 epochs and writes its checkpoints.
  Data data = read_data(dir);
  auto model = fresh_model(dir, /*one_cycle=*/false);
  auto checkpoint = std::make_shared<L::ModelCheckpoint>(
      L::ModelCheckpointOptions().dirpath(dir.file("cpp_ckpts")));
  L::Trainer trainer(options(2).callbacks({checkpoint}).enable_checkpointing(true));
  trainer.fit(model, data.train, data.val);
  const L::StateDict fitted = L::module_state_dict(*model);
  const std::vector<std::string> ckpts = {checkpoint->best_model_path(), dir.file("cpp_post.ckpt")};
  trainer.save_checkpoint(ckpts[1]);
  ASSERT_EQ(std::filesystem::path(ckpts[0]).filename().string(), "epoch=1-step=8.ckpt");

  // lightning.cpp resumes each to max_epochs=3.
  std::vector<Span> cpp_spans(ckpts.size());
  std::vector<L::StateDict> cpp_final;
  for (size_t i = 0; i < ckpts.size(); ++i) {
    cpp_final.push_back(cpp_resume(dir, false, ckpts[i], cpp_spans[i]));
  }

  // Python opens, loads and resumes each.
  std::vector<std::string> args = {"check_cpp", dir.str()};
  args.insert(args.end(), ckpts.begin(), ckpts.end());
  const auto py = L::testing::run_python(script(), args);
  ASSERT_EQ(py.status, 0) << py.describe();
  const auto lines = result_lines(py.out);

  double worst_loaded = 0.0, worst_resumed = 0.0;
  for (size_t i = 0; i < ckpts.size(); ++i) {
    const std::string n = std::to_string(i);
    SCOPED_TRACE("checkpoint " + ckpts[i]);
    EXPECT_EQ(line_of(lines, "weights_only " + n), "ok")
        << "torch.load(weights_only=True) rejects the lightning.cpp checkpoint";
    EXPECT_EQ(line_of(lines, "load_from_checkpoint " + n), "ok");
    if (line_of(lines, "load_from_checkpoint " + n) == "ok") {
      const double d = max_weight_diff(L::load_checkpoint_file(dir.file("py_loaded_" + n + ".pt")),
                                       fitted, "load_from_checkpoint");
      EXPECT_LE(d, kWeightAbsTol) << "load_from_checkpoint weights: max abs diff " << d;
      worst_loaded = std::max(worst_loaded, d);
    }
    // Both resume at the start of epoch 2 after 8 steps and end after epoch 2
    // (Lightning's own resume of its checkpoints, see the other test).
    Span py_span;
    const std::string py_line = line_of(lines, "resume " + n);
    const bool resumed = Span::parse(py_line, py_span);
    EXPECT_TRUE(resumed) << "Python Lightning's resume: " << py_line;
    expect_same_span(py_span, {2, 8, 3, 12}, "Python Lightning resume");
    expect_same_span(cpp_spans[i], {2, 8, 3, 12}, "lightning.cpp resume");
    if (!resumed) continue;
    EXPECT_GT(max_weight_diff(cpp_final[i], fitted, "resumed vs saved"), 1e-4)
        << "the resumed epoch did not train";
    const double d = max_weight_diff(
        cpp_final[i], L::load_checkpoint_file(dir.file("py_resumed_" + n + ".pt")), "resumed");
    EXPECT_LE(d, kWeightAbsTol) << "weights after resuming: max abs diff " << d;
    worst_resumed = std::max(worst_resumed, d);
  }
  std::cout << "[ckpt cpp->python] load_from_checkpoint max abs diff " << worst_loaded
            << "; resumed weights max abs diff " << worst_resumed << "; " << seconds_since(started)
            << " s\n";
}

TEST(LightningCheckpointInterop, PythonCheckpointsResumeInCpp) {
  const auto started = std::chrono::steady_clock::now();
  TempDir dir("lightning_ckpt_py");
  const auto py = L::testing::run_python(script(), {"python_fit", dir.str()});
  ASSERT_EQ(py.status, 0) << py.describe();
  const auto lines = result_lines(py.out);

  double worst = 0.0;
  for (int i = 0; i < 2; ++i) {
    const std::string n = std::to_string(i);
    const std::string ckpt = line_of(lines, "ckpt " + n);
    SCOPED_TRACE("checkpoint " + ckpt);
    ASSERT_TRUE(std::filesystem::exists(ckpt)) << py.describe();
    Span py_span;
    ASSERT_TRUE(Span::parse(line_of(lines, "resume " + n), py_span)) << py.describe();
    ASSERT_EQ(py_span.str(), "2 8 3 12") << "Python Lightning's own resume\n" << py.describe();
    Span span;
    const L::StateDict final_weights = cpp_resume(dir, /*one_cycle=*/true, ckpt, span);
    expect_same_span(span, py_span, "lightning.cpp resume vs Python Lightning resume");
    const L::StateDict saved =
        L::state_dict_at(L::load_checkpoint_file(ckpt), "state_dict", "Python's checkpoint");
    EXPECT_GT(max_weight_diff(final_weights, saved, "resumed vs saved"), 1e-4)
        << "the resumed epoch did not train";
    const double d = max_weight_diff(
        final_weights, L::load_checkpoint_file(dir.file("py_resumed_" + n + ".pt")), "resumed");
    EXPECT_LE(d, kWeightAbsTol) << "weights after resuming: max abs diff " << d;
    worst = std::max(worst, d);
  }
  std::cout << "[ckpt python->cpp] resumed weights max abs diff " << worst << "; "
            << seconds_since(started) << " s\n";
}

}  // namespace
