// A Trainer program for trainer_ddp_test: a small classifier (LightningModule)
// fitted or tested by L::Trainer with strategy DDP. Started without torchrun
// variables and devices=2 it launches rank 1 itself (same argv, so every
// setting comes from argv); started with them it is one rank of the job;
// devices=1 is the single-process reference.
//
//   trainer_ddp_worker MODE [key=value ...]
//   modes: fit   trainer.fit (resume with ckpt=, then save_checkpoint to save=)
//          test  trainer.test on test_n samples
//          load  load_from_checkpoint<Net>(ckpt) in this process
//   keys:  devices (2; 1 = one process, no DDP), nodes (1: num_nodes), timeout_ms (30000:
//   DDPOptions
//          timeout), n (24 training samples), batch (4 per process), epochs (2),
//          lr (0.1), accumulate (1), manual (0; 1: manual optimization: zero_grad,
//          manual_backward, step in training_step), shuffle (0), seed (generator_seed; unset:
//          none), order (comma-separated sample indices: train on that Subset
//          of the n samples, in that order), val_n (0: no validation), test_n
//          (37), sync (0; 1: log the sync_dist / epoch-reduction metrics),
//          fail_at (training_step | validation_step | die: raise SIGKILL),
//          fail_rank (1), fail_step (2: that hook's 0-based call on fail_rank),
//          root (default_root_dir), logger (0), progress (0), checkpointing (0),
//          save (path), ckpt (path), init (rank: seed 1000 + RANK; fixed: 1000),
//          every_n_steps (0; k: a ModelCheckpoint in <root>/steps every k steps),
//          readonly_nonzero (0; 1: ranks other than 0 cannot write to files),
//          metrics (0; 1: test_step also logs Metric objects, one per kind of
//          state: tm_acc (sum), tm_auroc (cat), tm_max / tm_min (max / min))
//
// Sample i of a dataset of n is (x_i [4], y_i in {0,1,2}, i): the index
// travels with the batch, so each rank prints which samples it trained on.
// Output lines carry "rank=R" (the launcher prefixes rank 1's with "[rank 1] "):
//   RANKS rank=R info G L W Z M   trainer global/local rank, world size,
//                                 is_global_zero, module.global_rank()
//   START rank=R at S E           global_step and epoch at on_train_start
//   INIT rank=R name v...         parameters at on_train_start (after the broadcast)
//   BATCH / VBATCH / TBATCH rank=R eEbB i...   sample indices of a train / val / test batch
//   STEP rank=R eEbB/name v       callback_metrics at on_train_batch_end
//   PARAM rank=R name v...        parameters after fit / load
//   METRIC rank=R name v          callback_metrics after fit
//   TEST rank=R name v            what trainer.test returned
//   DONE rank=R global_step S     after fit;  also DONE rank=R epoch E
//   LOG_DIR rank=R path; CKPT rank=R path (the checkpoint callback's best_model_path)
//   MLOCAL / MGLOBAL / MLOCAL2 rank=R name v   metrics=1, at on_test_epoch_end: compute()
//                                 without sync, with sync, and without again
//   ERROR rank=R lightning::Error: what   (or "std::exception: what"); exit status 1
#include <signal.h>
#include <sys/resource.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/sgd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "distributed/worker_args.h"
#include "lightning/lightning.h"
#include "lightning/metrics/aggregation.h"
#include "lightning/metrics/curves.h"
#include "lightning/metrics/stat_scores.h"

namespace L = lightning;
namespace LM = lightning::metrics;
using worker_args::opt;
using worker_args::optd;
using worker_args::options;
using worker_args::opts;
using worker_args::values;

namespace {

/// RANK as set by torchrun or the launcher (0 before the launcher ran).
int64_t env_rank() {
  const char* r = std::getenv("RANK");
  return r ? std::stoll(r) : 0;
}

/// One line, written at once (rank 1's output is forwarded line by line).
void emit(const std::string& line) { std::cout << line + "\n" << std::flush; }

/// `text` with its line breaks as spaces, so that an ERROR line holds all of it.
std::string one_line(std::string text) {
  for (char& c : text) {
    if (c == '\n') c = ' ';
  }
  return text;
}

std::string tag(int64_t epoch, int64_t batch_idx) {
  return "e" + std::to_string(epoch) + "b" + std::to_string(batch_idx);
}

void print_params(const std::string& kind, int64_t rank, const torch::nn::Module& net) {
  for (const auto& p : net.named_parameters()) {
    emit(kind + " rank=" + std::to_string(rank) + " " + p.key() + values(p.value()));
  }
}

/// n samples: x ~ N(0, 1) from a fixed generator, y = argmax of x's first
/// three features, and the sample index.
std::shared_ptr<L::TensorDataset> dataset(int64_t n) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  auto x = at::randn({n, 4}, gen);
  auto y = x.slice(1, 0, 3).argmax(1);
  return std::make_shared<L::TensorDataset>(
      std::vector<at::Tensor>{x, y, at::arange(n, at::TensorOptions(at::kLong))});
}

std::vector<int64_t> parse_order(const std::string& text) {
  std::vector<int64_t> order;
  std::istringstream in(text);
  for (std::string item; std::getline(in, item, ',');) order.push_back(std::stoll(item));
  return order;
}

L::DataLoader train_loader() {
  std::shared_ptr<L::Dataset> data = dataset(opt("n", 24));
  if (options.count("order")) {
    data = std::make_shared<L::Subset>(data, parse_order(opts("order")));
  }
  auto o = L::DataLoaderOptions().batch_size(opt("batch", 4)).shuffle(opt("shuffle", 0) != 0);
  if (options.count("seed")) o.generator_seed(static_cast<uint64_t>(opt("seed", 0)));
  return L::DataLoader(data, o);
}

L::DataLoader eval_loader(int64_t n) {
  return L::DataLoader(dataset(n), L::DataLoaderOptions().batch_size(opt("batch", 4)));
}

/// Linear(4, 8) -> tanh -> Linear(8, 3), cross entropy, SGD.
class Net : public L::LightningModule {
 public:
  Net() {
    // A different initialisation on every rank unless init=fixed: the
    // Trainer must broadcast rank 0's.
    at::manual_seed(1000 + (opts("init", "rank") == "rank" ? env_rank() : 0));
    fc1 = register_module("fc1", torch::nn::Linear(4, 8));
    fc2 = register_module("fc2", torch::nn::Linear(8, 3));
    set_automatic_optimization(opt("manual", 0) == 0);
    if (opt("metrics", 0) != 0) {
      tm_acc = register_module("tm_acc", std::make_shared<LM::MulticlassAccuracy>(3));
      tm_auroc = register_module("tm_auroc", std::make_shared<LM::MulticlassAUROC>(3));
      tm_max = register_module("tm_max", std::make_shared<LM::MaxMetric>());
      tm_min = register_module("tm_min", std::make_shared<LM::MinMetric>());
    }
  }
  at::Tensor forward(const at::Tensor& x) { return fc2->forward(at::tanh(fc1->forward(x))); }

  L::StepOutput training_step(L::Batch& batch, int64_t batch_idx) override {
    auto [x, y, idx] = batch.unpack<3>();
    const int64_t rank = global_rank();
    emit("BATCH rank=" + std::to_string(rank) + " " + tag(current_epoch(), batch_idx) +
         values(idx));
    maybe_fail("training_step", train_calls_++);
    auto loss = torch::nn::functional::cross_entropy(forward(x), y);
    if (opt("sync", 0) != 0) {
      using LO = L::LogOptions;
      log("loss_sync", loss, LO().sync_dist(true));
      log("loss_local", loss);
      const double v = static_cast<double>(rank * 10 + batch_idx + 1);
      log("rank_mean", v, LO().sync_dist(true));
      log("rank_sum", v, LO().sync_dist(true).reduce_fx("sum"));
      log("rank_max", v, LO().sync_dist(true).reduce_fx("max"));
      log("rank_min", v, LO().sync_dist(true).reduce_fx("min"));
      // Epoch level, never synced explicitly: reduced over ranks at the epoch end.
      log_epoch_metrics("train", x, idx, rank);
    }
    if (!automatic_optimization()) {
      // Manual optimization: manual_backward all-reduces under DDP too.
      auto [sgd] = optimizers<1>();
      sgd.zero_grad();
      manual_backward(loss);
      sgd.step();
      return {};
    }
    return loss;
  }

  L::StepOutput validation_step(L::Batch& batch, int64_t batch_idx) override {
    auto [x, y, idx] = batch.unpack<3>();
    const int64_t rank = global_rank();
    emit("VBATCH rank=" + std::to_string(rank) + " " + tag(current_epoch(), batch_idx) +
         values(idx));
    maybe_fail("validation_step", val_calls_++);
    auto loss = torch::nn::functional::cross_entropy(forward(x), y);
    log("val_loss", loss);
    log_epoch_metrics("val", x, idx, rank);
    // Lightning's usual pattern: sync_dist in an evaluation step (inference mode).
    if (opt("sync", 0) != 0) log("val_loss_sync", loss, L::LogOptions().sync_dist(true));
    return {};
  }

  L::StepOutput test_step(L::Batch& batch, int64_t batch_idx) override {
    auto [x, y, idx] = batch.unpack<3>();
    const int64_t rank = global_rank();
    emit("TBATCH rank=" + std::to_string(rank) + " " + tag(0, batch_idx) + values(idx));
    auto logits = forward(x);
    log("test_loss", torch::nn::functional::cross_entropy(logits, y));
    log("test_acc", logits.argmax(1).eq(y).to(at::kFloat).mean());
    log_epoch_metrics("test", x, idx, rank);
    if (tm_acc) {
      tm_acc->forward(logits, y);
      log("tm_acc", tm_acc);
      tm_auroc->update(logits.softmax(1), y);
      log("tm_auroc", tm_auroc);
      tm_max->update(logits.max());
      log("tm_max", tm_max);
      tm_min->update(logits.min());
      log("tm_min", tm_min);
    }
    return {};
  }

  void on_test_epoch_end() override {
    if (!tm_acc) return;
    // compute() is synced over the ranks; the local accumulation stays as it was.
    const std::string r = " rank=" + std::to_string(global_rank());
    for (const auto& [name, metric] :
         std::vector<std::pair<std::string, std::shared_ptr<LM::Metric>>>{
             {"tm_acc", tm_acc}, {"tm_auroc", tm_auroc}, {"tm_max", tm_max}, {"tm_min", tm_min}}) {
      metric->sync_on_compute(false);
      emit("MLOCAL" + r + " " + name + values(metric->compute()));
      metric->sync_on_compute(true);
      emit("MGLOBAL" + r + " " + name + values(metric->compute()));
      metric->sync_on_compute(false);
      emit("MLOCAL2" + r + " " + name + values(metric->compute()));
      metric->sync_on_compute(true);
    }
  }

  L::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(),
                                               torch::optim::SGDOptions(optd("lr", 0.1)));
  }

  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
  std::shared_ptr<LM::MulticlassAccuracy> tm_acc;
  std::shared_ptr<LM::MulticlassAUROC> tm_auroc;
  std::shared_ptr<LM::MaxMetric> tm_max;
  std::shared_ptr<LM::MinMetric> tm_min;

 private:
  /// <prefix>_count: samples (sum); <prefix>_sq: mean of index^2 (weighted
  /// by batch size); <prefix>_rank_max / _rank_min: the rank (max / min).
  void log_epoch_metrics(const std::string& prefix, const at::Tensor& x, const at::Tensor& idx,
                         int64_t rank) {
    using LO = L::LogOptions;
    const auto epoch = LO().on_step(false).on_epoch(true);
    log(prefix + "_count", static_cast<double>(x.size(0)), LO(epoch).reduce_fx("sum"));
    log(prefix + "_sq", idx.to(at::kDouble).pow(2).mean().item<double>(), epoch);
    log(prefix + "_rank_max", static_cast<double>(rank), LO(epoch).reduce_fx("max"));
    log(prefix + "_rank_min", static_cast<double>(rank), LO(epoch).reduce_fx("min"));
  }

  void maybe_fail(const std::string& hook, int64_t call) {
    if (global_rank() != opt("fail_rank", 1) || call != opt("fail_step", 2)) return;
    const std::string at = opts("fail_at");
    if (at == "die" && hook == "training_step") {
      emit("DYING rank=" + std::to_string(global_rank()));
      ::raise(SIGKILL);
    }
    if (at == hook) throw std::runtime_error("boom at step " + std::to_string(call));
  }

  int64_t train_calls_ = 0, val_calls_ = 0;
};

/// Prints what each rank sees at the start of training and after each batch.
class Reporter : public L::Callback {
 public:
  void on_train_start(L::Trainer& t, L::LightningModule& m) override {
    const std::string r = " rank=" + std::to_string(t.global_rank());
    emit("RANKS" + r + " info " + std::to_string(t.global_rank()) + " " +
         std::to_string(t.local_rank()) + " " + std::to_string(t.world_size()) + " " +
         std::to_string(t.is_global_zero() ? 1 : 0) + " " + std::to_string(m.global_rank()));
    emit("START" + r + " at " + std::to_string(t.global_step()) + " " +
         std::to_string(t.current_epoch()));
    print_params("INIT", t.global_rank(), m);
  }
  void on_train_batch_end(L::Trainer& t, L::LightningModule&, const L::StepOutput&, L::Batch&,
                          int64_t batch_idx) override {
    for (const char* name :
         {"loss_sync", "loss_local", "rank_mean", "rank_sum", "rank_max", "rank_min"}) {
      auto it = t.callback_metrics().find(name);
      if (it == t.callback_metrics().end()) continue;
      emit("STEP rank=" + std::to_string(t.global_rank()) + " " +
           tag(t.current_epoch(), batch_idx) + "/" + name + values(it->second));
    }
  }
};

L::TrainerOptions trainer_options() {
  auto o = L::TrainerOptions()
               .max_epochs(opt("epochs", 2))
               .accumulate_grad_batches(opt("accumulate", 1))
               .num_sanity_val_steps(0)
               .log_every_n_steps(1)
               .enable_progress_bar(opt("progress", 0) != 0)
               .enable_model_summary(false)
               .enable_checkpointing(opt("checkpointing", 0) != 0)
               .logger(opt("logger", 0) != 0)
               .default_root_dir(opts("root"))
               .callbacks({std::make_shared<Reporter>()});
  if (opt("every_n_steps", 0) > 0) {
    // Mid-epoch checkpoints, all kept: <root>/steps/epoch=E-step=S.ckpt.
    auto callbacks = o.callbacks();
    callbacks.push_back(
        std::make_shared<L::ModelCheckpoint>(L::ModelCheckpointOptions()
                                                 .dirpath(opts("root") + "/steps")
                                                 .every_n_train_steps(opt("every_n_steps", 0))
                                                 .save_top_k(-1)));
    o.callbacks(callbacks);
  }
  const int64_t devices = opt("devices", 2);
  o.devices(devices).num_nodes(opt("nodes", 1));
  if (devices > 1 || std::getenv("WORLD_SIZE") != nullptr) {
    o.strategy(std::make_shared<L::DDPStrategy>(
        L::DDPOptions().timeout(std::chrono::milliseconds(opt("timeout_ms", 30000)))));
  }
  return o;
}

int fit() {
  auto model = std::make_shared<Net>();
  L::Trainer trainer(trainer_options());
  L::DataLoaders val;
  if (opt("val_n", 0) > 0) val = eval_loader(opt("val_n", 0));
  std::optional<std::string> ckpt;
  if (options.count("ckpt")) ckpt = opts("ckpt");
  trainer.fit(model, train_loader(), val, ckpt);
  if (options.count("save")) trainer.save_checkpoint(opts("save"));
  const std::string r = " rank=" + std::to_string(trainer.global_rank());
  print_params("PARAM", trainer.global_rank(), *model);
  for (const auto& [name, value] : trainer.callback_metrics()) {
    emit("METRIC" + r + " " + name + values(value));
  }
  emit("DONE" + r + " global_step " + std::to_string(trainer.global_step()));
  emit("DONE" + r + " epoch " + std::to_string(trainer.current_epoch()));
  emit("LOG_DIR" + r + " " + trainer.log_dir());
  if (auto* cb = trainer.checkpoint_callback()) emit("CKPT" + r + " " + cb->best_model_path());
  return 0;
}

int test() {
  auto model = std::make_shared<Net>();
  L::Trainer trainer(trainer_options());
  auto results = trainer.test(model, eval_loader(opt("test_n", 37)));
  const std::string r = " rank=" + std::to_string(trainer.global_rank());
  for (const auto& metrics : results) {
    for (const auto& [name, value] : metrics) {
      char buf[40];
      std::snprintf(buf, sizeof buf, " %.17g", value);
      emit("TEST" + r + " " + name + buf);
    }
  }
  emit("DONE" + r + " world " + std::to_string(trainer.world_size()));
  return 0;
}

int load() {
  auto model = L::load_from_checkpoint<Net>(opts("ckpt"));
  print_params("PARAM", 0, *model);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: trainer_ddp_worker fit|test|load [key=value ...]\n";
    return 64;
  }
  const std::string mode = argv[1];
  worker_args::parse(argc, argv, 2);
  at::set_num_threads(1);
  if (opt("readonly_nonzero", 0) != 0 && env_rank() != 0) {
    // Any write of a regular file fails (EFBIG): only rank 0 may write logs
    // and checkpoints.
    ::signal(SIGXFSZ, SIG_IGN);
    rlimit none{0, 0};
    ::setrlimit(RLIMIT_FSIZE, &none);
  }
  try {
    if (mode == "fit") return fit();
    if (mode == "test") return test();
    if (mode == "load") return load();
    std::cerr << "unknown mode " << mode << "\n";
    return 64;
  } catch (const L::Error& e) {
    emit("ERROR rank=" + std::to_string(env_rank()) + " lightning::Error: " + one_line(e.what()));
  } catch (const std::exception& e) {
    emit("ERROR rank=" + std::to_string(env_rank()) + " std::exception: " + one_line(e.what()));
  }
  return 1;
}
