// Distributed data parallel on CPUs: the Fashion-MNIST module of
// examples/fashion_mnist (fashion_mnist/model.h, unchanged), trained by N CPU
// processes with `strategy("ddp").devices(N)`, then tested on every rank.
//
//   ./ddp [--devices N] [--num-nodes M] [--epochs N] [--batch-size N] [--lr X] [--threads N]
//         [--limit-train-batches N|F] [--limit-val-batches N|F] [--limit-test-batches N|F]
//         [--data-dir DIR] [--accelerator cpu|cuda]
//
// Start it once: `fit` re-executes this program (same arguments) for ranks
// 1..N-1, prefixes their output with "[rank R] " and makes this process rank
// 0. Every line of main() therefore runs in every process; what only one
// process should print is guarded by `trainer.is_global_zero()`. Started with
// torchrun's variables (MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK,
// LOCAL_RANK, NODE_RANK), each process joins as that rank instead: that is how
// it runs across machines, e.g. 2 machines x 2 processes (docs/distributed.md):
//
//   export MASTER_ADDR=10.0.0.1 MASTER_PORT=29500 WORLD_SIZE=4 NODE_RANK=1 RANK=3 LOCAL_RANK=1
//   ./ddp --devices 2 --num-nodes 2
//
// --batch-size is per process (N ranks x 64 = an effective batch of 64N, as in
// Lightning), and so are the --limit-*-batches.
#include <lightning/lightning.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>

#include "fashion_mnist/model.h"  // MyModel, shared with examples/fashion_mnist

namespace L = lightning;

namespace {

// The CPUs this process may run on (its affinity mask, which containers and
// taskset narrow; hardware_concurrency would count the host's).
int64_t usable_cpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  return std::max(1, CPU_COUNT(&set));
}

// "10" is a batch count, "0.25" a fraction, as in Lightning.
L::BatchLimit parse_limit(const std::string& text) {
  if (text.find_first_of(".eE") != std::string::npos) return std::stod(text);
  return static_cast<int64_t>(std::stoll(text));
}

}  // namespace

int main(int argc, char** argv) {
  int64_t devices = 2, num_nodes = 1, epochs = 3, batch_size = 64, hidden = 256, threads = 0;
  double lr = 1e-3;
  L::BatchLimit limit_train = 1.0, limit_val = 1.0, limit_test = 1.0;
  std::string data_dir = L::kFashionMNISTDefaultDir;
  std::string accelerator = "cpu";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "missing value after " << arg << "\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--devices")
      devices = std::stoll(next());
    else if (arg == "--num-nodes")
      num_nodes = std::stoll(next());
    else if (arg == "--epochs")
      epochs = std::stoll(next());
    else if (arg == "--batch-size")
      batch_size = std::stoll(next());
    else if (arg == "--lr")
      lr = std::stod(next());
    else if (arg == "--threads")
      threads = std::stoll(next());
    else if (arg == "--limit-train-batches")
      limit_train = parse_limit(next());
    else if (arg == "--limit-val-batches")
      limit_val = parse_limit(next());
    else if (arg == "--limit-test-batches")
      limit_test = parse_limit(next());
    else if (arg == "--data-dir")
      data_dir = next();
    else if (arg == "--accelerator")
      accelerator = next();
    else {
      std::cerr << "usage: ddp [--devices N] [--num-nodes M] [--epochs N] [--batch-size N]\n"
                   "           [--lr X] [--threads N] [--limit-train-batches N|F]\n"
                   "           [--limit-val-batches N|F] [--limit-test-batches N|F]\n"
                   "           [--data-dir DIR] [--accelerator cpu|cuda]\n";
      return 2;
    }
  }
  // The ranks share this machine's cores: give each its share of intra-op
  // threads, at least one. On the 2-core machine this project is developed on,
  // 2 ranks get 1 thread each; more would oversubscribe the cores (and for this
  // small MLP one thread is faster than two anyway; docs/distributed.md).
  if (threads == 0) threads = std::max<int64_t>(1, usable_cpus() / std::max<int64_t>(1, devices));

  try {
    // The same seed on every rank, as Lightning's seed_everything: rank 0's
    // initial weights are broadcast anyway, and the training shards are cut
    // from one shuffled order that every rank computes alike.
    L::seed_everything(42);
    auto model = std::make_shared<MyModel>(
        L::HParams{{"learning_rate", lr}, {"hidden", hidden}, {"batch_size", batch_size}});
    L::FashionMNISTDataModule data(
        L::FashionMNISTOptions().data_dir(data_dir).batch_size(batch_size));
    // trainer = L.Trainer(accelerator="cpu", strategy="ddp", devices=2, num_nodes=1,
    //                     max_epochs=3)
    L::Trainer trainer(L::TrainerOptions()
                           .accelerator(accelerator)
                           .strategy("ddp")
                           .devices(devices)
                           .num_nodes(num_nodes)
                           .num_threads(threads)
                           .max_epochs(epochs)
                           .limit_train_batches(limit_train)
                           .limit_val_batches(limit_val)
                           .limit_test_batches(limit_test));

    const auto start = std::chrono::steady_clock::now();
    trainer.fit(model, data);
    const double fit_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // Epoch-level metrics are reduced over all ranks, so every rank sees the
    // same val_acc and the same test results.
    const double val_acc = trainer.callback_metrics().at("val_acc").item<double>();
    auto results = trainer.test(model, data);

    // One line per rank (rank 0's first, the others' come back prefixed):
    // its shard of each loader and the metrics it received.
    std::cout << "rank " << trainer.global_rank() << "/" << trainer.world_size() << ": "
              << trainer.num_training_batches() << " training batches per epoch, "
              << trainer.num_test_batches().at(0) << " test batches, global_step "
              << trainer.global_step() << ", " << at::get_num_threads()
              << " libtorch thread(s), test_acc " << results[0].at("test_acc") << std::endl;

    if (trainer.is_global_zero()) {
      std::cout << "\nfit: " << epochs << " epoch(s) on " << trainer.world_size() << " processes ("
                << threads << " libtorch thread(s) each) in " << fit_seconds << " s\n";
      std::cout << "val_acc (last epoch, all ranks): " << val_acc << "\n";
      std::cout << "test_loss (all ranks): " << results[0].at("test_loss") << "\n";
      std::cout << "test_acc (all ranks): " << results[0].at("test_acc") << "\n";
      std::cout << "checkpoint: " << trainer.checkpoint_callback()->best_model_path() << "\n";
      std::cout << "run folder: " << trainer.log_dir() << std::endl;
    }
  } catch (const L::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
