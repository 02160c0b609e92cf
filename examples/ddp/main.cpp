// Distributed data parallel on CPUs: the Fashion-MNIST module and datamodule
// of examples/fashion_mnist (fashion_mnist/model.h and data.h, unchanged),
// trained by N CPU processes with `strategy: ddp, devices: N`, then tested on
// every rank. On LightningCLI:
//
//   ./ddp fit --trainer.devices 4 --trainer.max_epochs 1 --data.batch_size 128
//   ./ddp fit --config examples/ddp/config.yaml --trainer.limit_train_batches 20
//   ./ddp fit --print_config > config.yaml     # the defaults below, as YAML
//   ./ddp test --config lightning_logs/version_0/config.yaml --ckpt_path BEST.ckpt
//   ./ddp fit --help                           # every option, its type, default and doc
//
// The example's defaults are Lightning's `trainer_defaults`: accelerator cpu,
// strategy ddp, devices 2, max_epochs 3, and num_threads = the usable CPUs /
// devices (at least 1); seed_everything 42. After `fit` it tests and prints
// the results. Without a subcommand it does the same (`fit`), and still
// takes the flags it had before LightningCLI, as the options they stand for:
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
//   ./ddp fit --trainer.devices 2 --trainer.num_nodes 2
//
// --data.batch_size is per process (N ranks x 64 = an effective batch of 64N,
// as in Lightning), and so are the --trainer.limit_*_batches.
#include <lightning/cli.h>
#include <lightning/lightning.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "fashion_mnist/data.h"   // FashionMNISTData, shared with examples/fashion_mnist
#include "fashion_mnist/model.h"  // MyModel, shared with examples/fashion_mnist

namespace L = lightning;

namespace {

using CLI = L::LightningCLI<MyModel, FashionMNISTData>;

// The CPUs this process may run on (its affinity mask, which containers and
// taskset narrow; hardware_concurrency would count the host's).
int64_t usable_cpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  return std::max(1, CPU_COUNT(&set));
}

// The flags of the example before LightningCLI, as the options they stand for.
const std::vector<std::pair<std::string, std::string>>& legacy_flags() {
  static const std::vector<std::pair<std::string, std::string>> map = {
      {"--devices", "--trainer.devices"},
      {"--num-nodes", "--trainer.num_nodes"},
      {"--epochs", "--trainer.max_epochs"},
      {"--batch-size", "--data.batch_size"},
      {"--lr", "--model.learning_rate"},
      {"--hidden", "--model.hidden"},
      {"--threads", "--trainer.num_threads"},
      {"--limit-train-batches", "--trainer.limit_train_batches"},
      {"--limit-val-batches", "--trainer.limit_val_batches"},
      {"--limit-test-batches", "--trainer.limit_test_batches"},
      {"--data-dir", "--data.data_dir"},
      {"--accelerator", "--trainer.accelerator"}};
  return map;
}

std::string legacy_option(const std::string& flag) {
  for (const auto& [from, to] : legacy_flags())
    if (flag == from) return to;
  return flag;
}

// A metric as the report prints it; "None" where its loop ran no batch.
std::string shown(const std::optional<double>& value) {
  if (!value) return "None";
  std::ostringstream os;
  os << *value;
  return os.str();
}

// Processes per node that a resolved `trainer.devices` asks for: an int, a
// count as text ("4"), or a list of indices; "auto" and the rest count 1.
int64_t devices_of(const L::HParamValue& v) {
  if (v.is_int()) return std::max<int64_t>(1, v.as<int64_t>());
  if (v.is_list())
    return std::max<int64_t>(1, static_cast<int64_t>(v.as<L::HParamValue::List>().size()));
  if (v.is_string()) {
    const std::string text = v.as<std::string>();
    char* end = nullptr;
    const long long n = std::strtoll(text.c_str(), &end, 10);
    if (end != text.c_str() && *end == '\0' && n > 0) return n;
  }
  return 1;
}

// The Trainer defaults of this example. num_threads is each rank's share of
// the usable CPUs, so it depends on the devices that the configs and the
// command line ask for: a first, silent pass resolves the config (what
// --print_config prints) to read them. When that pass fails, the real one
// reports the error.
L::HParams trainer_defaults(const std::vector<const char*>& argv) {
  L::HParams defaults{
      {"accelerator", "cpu"}, {"strategy", "ddp"}, {"devices", 2}, {"max_epochs", 3}};
  int64_t devices = 2;
  const bool help = std::any_of(argv.begin() + 1, argv.end(), [](const char* a) {
    return std::string(a) == "-h" || std::string(a) == "--help";
  });
  if (!help) {
    std::vector<const char*> probe = argv;
    probe.push_back("--print_config");
    std::ostringstream out, err;
    std::streambuf* cout_buf = std::cout.rdbuf(out.rdbuf());
    std::streambuf* cerr_buf = std::cerr.rdbuf(err.rdbuf());
    int code = 1;
    {
      L::LightningCLIOptions options;
      options.seed_everything_default(42).trainer_defaults(defaults);
      code = CLI(static_cast<int>(probe.size()), probe.data(), options).exit_code();
    }
    std::cout.rdbuf(cout_buf);
    std::cerr.rdbuf(cerr_buf);
    if (code == 0) {
      try {
        const L::HParams config = L::hparams_from_yaml(out.str());
        devices = devices_of(config.at("trainer").as<L::HParams>().at("devices"));
      } catch (const L::Error&) {
      }
    }
  }
  // The ranks share this machine's cores: give each its share of intra-op
  // threads, at least one. On the 2-core machine this project is developed on,
  // 2 ranks get 1 thread each; more would oversubscribe the cores (and for this
  // small MLP one thread is faster than two anyway; docs/distributed.md).
  defaults.set("num_threads", std::max<int64_t>(1, usable_cpus() / devices));
  return defaults;
}

}  // namespace

int main(int argc, char** argv) {
  // A first argument that is not an option is a subcommand (`fit`; a mistyped
  // one reaches the CLI's "did you mean" message); --help and --config start
  // the CLI form too. Anything else is the earlier flags' form: `fit`, with
  // each flag replaced by the option it stands for.
  const std::string first = argc > 1 ? argv[1] : "";
  const bool cli_form =
      argc > 1 && (first.empty() || first[0] != '-' || first == "--help" || first == "-h" ||
                   first.rfind("--config", 0) == 0 || first == "-c");
  std::vector<std::string> args = {argv[0]};
  if (!cli_form) args.push_back("fit");
  std::vector<std::string> renamed;  // "--epochs is --trainer.max_epochs"
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (!cli_form) {
      const size_t eq = a.find('=');
      const std::string flag = a.substr(0, eq);
      const std::string option = legacy_option(flag);
      if (option != flag) {
        renamed.push_back(flag + " is " + option);
        a = option + (eq == std::string::npos ? "" : a.substr(eq));
      }
    }
    args.push_back(a);
  }
  std::vector<const char*> cli_argv;
  for (const auto& a : args) cli_argv.push_back(a.c_str());

  // cli = LightningCLI(MyModel, FashionMNISTData, seed_everything_default=42,
  //                    trainer_defaults={"accelerator": "cpu", "strategy": "ddp",
  //                                      "devices": 2, "max_epochs": 3, "num_threads": ...})
  // The same seed on every rank, as Lightning's seed_everything: rank 0's
  // initial weights are broadcast anyway, and the training shards are cut
  // from one shuffled order that every rank computes alike. The CLI builds
  // the Trainer, the model and the datamodule and runs trainer.fit(model, dm).
  L::LightningCLIOptions options;
  options.seed_everything_default(42).trainer_defaults(trainer_defaults(cli_argv));
  const auto start = std::chrono::steady_clock::now();
  CLI cli(static_cast<int>(cli_argv.size()), cli_argv.data(), options);
  if (cli.exit_code() != 0) {
    // A usage error (nothing was built): name the options the old flags became.
    if (cli.exit_code() == 2 && !renamed.empty() && !cli.built()) {
      std::string note;
      for (const auto& r : renamed) note += (note.empty() ? "" : ", ") + r;
      std::cerr << "note: " << note << " (ddp's earlier flags stand for LightningCLI options; "
                << "see ddp fit --help)\n";
    }
    return cli.exit_code();
  }
  // validate / test / predict: the CLI ran it; --help, --print_config: it built nothing.
  if (cli.subcommand() != "fit" || !cli.built()) return 0;

  try {
    L::Trainer& trainer = cli.trainer();
    auto model = cli.model();
    auto& data = *cli.datamodule_base();
    const double fit_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // Epoch-level metrics are reduced over all ranks, so every rank sees the
    // same val_acc and the same test results. ("None" where a loop ran no
    // batch: --trainer.limit_val_batches 0, --trainer.limit_test_batches 0.)
    const auto& metrics = trainer.callback_metrics();
    std::optional<double> val_acc;
    if (metrics.count("val_acc")) val_acc = metrics.at("val_acc").item<double>();
    const auto results = trainer.test(model, data);
    const auto test_metric = [&](const std::string& name) -> std::optional<double> {
      if (results.empty() || !results[0].count(name)) return std::nullopt;
      return results[0].at(name);
    };
    const auto test_batches = trainer.num_test_batches();

    // One line per rank (rank 0's first, the others' come back prefixed):
    // its shard of each loader and the metrics it received.
    std::cout << "rank " << trainer.global_rank() << "/" << trainer.world_size() << ": "
              << trainer.num_training_batches() << " training batches per epoch, "
              << (test_batches.empty() ? 0 : test_batches[0]) << " test batches, global_step "
              << trainer.global_step() << ", " << at::get_num_threads()
              << " libtorch thread(s), test_acc " << shown(test_metric("test_acc")) << std::endl;

    if (trainer.is_global_zero()) {
      std::cout << "\nfit: " << trainer.current_epoch() << " epoch(s) on " << trainer.world_size()
                << " processes (" << at::get_num_threads() << " libtorch thread(s) each) in "
                << fit_seconds << " s\n";
      std::cout << "val_acc (last epoch, all ranks): " << shown(val_acc) << "\n";
      std::cout << "test_loss (all ranks): " << shown(test_metric("test_loss")) << "\n";
      std::cout << "test_acc (all ranks): " << shown(test_metric("test_acc")) << "\n";
      const L::ModelCheckpoint* checkpoint = trainer.checkpoint_callback();
      std::cout << "checkpoint: " << (checkpoint ? checkpoint->best_model_path() : "None") << "\n";
      std::cout << "run folder: " << trainer.log_dir() << std::endl;
    }
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
