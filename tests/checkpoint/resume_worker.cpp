// The program kill_resume_test runs in child processes, so that a run can be
// killed with SIGKILL (no unwinding, no destructors, no flush) and resumed by
// a fresh process.
//
//   resume_worker train OUTDIR       uninterrupted fit; writes OUTDIR/weights.txt
//   resume_worker kill OUTDIR N      the same fit, SIGKILLed just before its
//                                    N-th training batch (0-based, counted over
//                                    all epochs) starts
//   resume_worker resume OUTDIR      another seed and fresh weights, then
//                                    fit(..., ckpt_path="last"); writes weights.txt
//   resume_worker save-loop PATH     saves checkpoints to PATH in a loop until
//                                    killed, continuing the iteration count of
//                                    the file already at PATH
//
// The fit: dropout and a shuffled loader with 2 workers (both draw from the
// global RNG), SGD with momentum, a per-epoch and a per-step scheduler,
// gradient accumulation over 2 batches, validation twice per epoch, and a
// ModelCheckpoint(every_n_train_steps=1, save_last) in OUTDIR/ckpts. Every
// training step appends "epoch batch_idx global_step lr loss" (hex floats) to
// OUTDIR/losses.txt, unbuffered, so a killed run's lines survive. Logged
// metrics (step and epoch values of several reductions, validation's) go to
// OUTDIR/csv/MODE/metrics.csv through a CSVLogger, a row per optimizer step.
//
// weights.txt: one line per parameter and buffer, "name v0 v1 ..." with every
// value as a hex float (exact), so that equal files mean bit-identical weights.
// Exit status 0 on success, 1 on an exception (printed to stderr).
#include <fcntl.h>
#include <signal.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/sgd.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "lightning/checkpoint/checkpoint_io.h"
#include "lightning/lightning.h"
#include "support/boring.h"

namespace L = lightning;

namespace {

/// Appends whole lines with write(2): nothing is buffered in the process.
class LineLog {
 public:
  explicit LineLog(const std::string& path)
      : fd_(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) {
    if (fd_ < 0) throw std::runtime_error("cannot open " + path);
  }
  ~LineLog() { ::close(fd_); }
  void write(const std::string& line) {
    const std::string s = line + "\n";
    if (::write(fd_, s.data(), s.size()) != static_cast<ssize_t>(s.size())) {
      throw std::runtime_error("short write to the loss log");
    }
  }

 private:
  int fd_;
};

std::string hex(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%a", v);
  return buf;
}

class Net : public L::LightningModule {
 public:
  explicit Net(std::shared_ptr<LineLog> log) : log_(std::move(log)) {
    net = register_module("net",
                          torch::nn::Sequential(torch::nn::Linear(32, 16), torch::nn::Dropout(0.3),
                                                torch::nn::Linear(16, 2)));
  }
  at::Tensor loss(L::Batch& batch) {
    auto [x, y] = batch.unpack<2>();
    return torch::nn::functional::mse_loss(net->forward(x), y);
  }
  L::StepOutput training_step(L::Batch& batch, int64_t batch_idx) override {
    auto l = loss(batch);
    log_->write(std::to_string(trainer().current_epoch()) + " " + std::to_string(batch_idx) + " " +
                std::to_string(trainer().global_step()) + " " +
                hex(L::get_lr(*trainer().optimizers()[0])) + " " + hex(l.item<float>()));
    // Epoch accumulations of every kind (mean weighted by batch sizes, sum,
    // max) that a mid-epoch checkpoint must carry over.
    log("train_loss", l, L::LogOptions().on_step(true).on_epoch(true).prog_bar(true));
    log("weighted", l * 2, L::LogOptions().on_epoch(true).batch_size(batch_idx % 3 + 1));
    log("batches", 1.0, L::LogOptions().on_step(false).on_epoch(true).reduce_fx("sum"));
    log("loss_max", l, L::LogOptions().on_step(false).on_epoch(true).reduce_fx("max"));
    return l;
  }
  L::StepOutput validation_step(L::Batch& batch, int64_t) override {
    log("val_loss", loss(batch));
    return {};
  }
  L::OptimizerConfig configure_optimizers() override {
    auto opt = std::make_shared<torch::optim::SGD>(parameters(),
                                                   torch::optim::SGDOptions(0.005).momentum(0.9));
    auto step = std::make_shared<L::StepLR>(opt, L::StepLROptions(1).gamma(0.8));
    auto exp = std::make_shared<L::ExponentialLR>(opt, L::ExponentialLROptions(0.99));
    return {{opt}, {step, {exp, L::SchedulerConfig().interval("step")}}};
  }
  torch::nn::Sequential net{nullptr};

 private:
  std::shared_ptr<LineLog> log_;
};

/// SIGKILLs this process when its `at`-th training batch (0-based, over all
/// epochs) is about to start: after the checkpoint of the step before it.
class KillAt : public L::Callback {
 public:
  explicit KillAt(int64_t at) : at_(at) {}
  void on_train_batch_start(L::Trainer&, L::LightningModule&, L::Batch&, int64_t) override {
    if (started_++ == at_) ::raise(SIGKILL);
  }

 private:
  int64_t at_, started_ = 0;
};

void write_weights(const L::LightningModule& model, const std::string& path) {
  std::ofstream out(path + ".partial");
  auto dump = [&](const std::string& name, const at::Tensor& t) {
    auto flat = t.detach().to(at::kFloat).contiguous().view({-1});
    out << name;
    for (int64_t i = 0; i < flat.numel(); ++i) out << ' ' << hex(flat.data_ptr<float>()[i]);
    out << '\n';
  };
  for (const auto& p : model.named_parameters()) dump(p.key(), p.value());
  for (const auto& b : model.named_buffers()) dump(b.key(), b.value());
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path);
  std::filesystem::rename(path + ".partial", path);
}

int fit(const std::string& mode, const std::string& outdir, int64_t kill_at) {
  const bool resume = mode == "resume";
  auto log = std::make_shared<LineLog>(outdir + "/losses.txt");
  // A resumed process starts from other weights and another RNG state: only
  // the checkpoint can make it continue the killed run.
  L::seed_everything(resume ? 12345 : 7);
  auto model = std::make_shared<Net>(log);
  auto checkpoint = std::make_shared<L::ModelCheckpoint>(L::ModelCheckpointOptions()
                                                             .dirpath(outdir + "/ckpts")
                                                             .every_n_train_steps(1)
                                                             .save_top_k(1)
                                                             .save_last(true));
  std::vector<std::shared_ptr<L::Callback>> callbacks = {checkpoint};
  if (mode == "kill") callbacks.push_back(std::make_shared<KillAt>(kill_at));
  // Each process writes its own metrics.csv, OUTDIR/csv/MODE/metrics.csv.
  auto csv = std::make_shared<L::CSVLogger>(
      L::CSVLoggerOptions(outdir).name("csv").version(mode).report(false));
  L::Trainer trainer(L::testing::quiet()
                         .logger(csv)
                         .log_every_n_steps(1)
                         .enable_checkpointing(true)
                         .default_root_dir(outdir)
                         .max_epochs(3)
                         .accumulate_grad_batches(2)
                         .val_check_interval(5)  // validation after batches 4 and 9 of 10
                         .num_sanity_val_steps(1)
                         .callbacks(callbacks));
  L::DataLoader train(L::testing::random_dataset(40, 3),
                      L::DataLoaderOptions().batch_size(4).shuffle(true).num_workers(2));
  const std::optional<std::string> ckpt_path =
      resume ? std::optional<std::string>("last") : std::nullopt;
  trainer.fit(model, train, L::testing::loader(8, 4), ckpt_path);
  if (mode == "kill") {
    std::cerr << "resume_worker: the fit ended before batch " << kill_at << "\n";
    return 1;
  }
  write_weights(*model, outdir + "/weights.txt");
  return 0;
}

/// Saves {"iteration": i, "data": a 4 MiB float tensor full of i} to `path`
/// for i = (the iteration in `path`, if any) + 1, + 2, ... until killed.
int save_loop(const std::string& path) {
  int64_t i = 0;
  if (std::filesystem::exists(path)) i = L::load_checkpoint_file(path).at("iteration").toInt();
  const int64_t n = int64_t{1} << 20;
  for (;;) {
    ++i;
    L::StateDict ckpt = L::make_state_dict();
    ckpt.insert("iteration", i);
    ckpt.insert("data", at::full({n}, static_cast<float>(i), at::kFloat));
    L::save_checkpoint_file(ckpt, path);
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string mode = argc > 1 ? argv[1] : "";
    if ((mode == "train" || mode == "resume") && argc == 3) return fit(mode, argv[2], -1);
    if (mode == "kill" && argc == 4) return fit(mode, argv[2], std::stoll(argv[3]));
    if (mode == "save-loop" && argc == 3) return save_loop(argv[2]);
    std::cerr << "usage: resume_worker train|resume OUTDIR | kill OUTDIR N | save-loop PATH\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "resume_worker: " << e.what() << "\n";
    return 1;
  }
}
