// The main job: the seed's LightningModule (model.h, ported line by line), trained on
// Fashion-MNIST from Debian's dataset-fashion-mnist package, with LightningCLI.
//
//   ./fashion_mnist                 # fit 15 epochs, then test: what scripts/main.sh runs
//   ./fashion_mnist fit --config examples/fashion_mnist/config.yaml --trainer.max_epochs 20
//   ./fashion_mnist fit --optimizer AdamW --optimizer.lr 3e-4   # replaces configure_optimizers
//   ./fashion_mnist test --config lightning_logs/version_0/config.yaml --ckpt_path BEST.ckpt
//   ./fashion_mnist fit --print_config > config.yaml
//   ./fashion_mnist fit --help      # every option, its type, default and doc
//
// Without a subcommand it fits, tests and prints the test metrics, and still
// takes the flags it had before LightningCLI ([--epochs N] [--batch-size N]
// [--lr X] [--hidden N] [--data-dir DIR] [--workers N] [--precision P]
// [--accelerator A]), as the dotted options they stand for.
//
// With --trainer.accelerator cuda (or auto on a machine with a GPU) the loaders
// pin their batches' memory and the copies to the GPU are asynchronous.

#include <lightning/cli.h>
#include <lightning/lightning.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "data.h"   // FashionMNISTData, shared with examples/ddp
#include "model.h"  // MyModel, shared with examples/ddp

namespace L = lightning;

namespace {

std::string active_blas() {
  // Which libblas.so.3 the dynamic linker resolved (Debian's alternatives pick it).
  FILE* maps = std::fopen("/proc/self/maps", "r");
  if (!maps) return "unknown";
  char line[4096];
  std::string found = "unknown";
  while (std::fgets(line, sizeof line, maps)) {
    const char* path = std::strchr(line, '/');
    if (path && (std::strstr(path, "libblas") || std::strstr(path, "libopenblas"))) {
      found = path;
      found.erase(found.find_last_not_of("\n") + 1);
      if (std::strstr(path, "openblas")) break;
    }
  }
  std::fclose(maps);
  return found;
}

// The flags of the example before LightningCLI, as the options they stand for.
std::string legacy_option(const std::string& flag) {
  static const std::vector<std::pair<std::string, std::string>> map = {
      {"--epochs", "--trainer.max_epochs"},   {"--batch-size", "--data.batch_size"},
      {"--lr", "--model.learning_rate"},      {"--hidden", "--model.hidden"},
      {"--data-dir", "--data.data_dir"},      {"--workers", "--data.num_workers"},
      {"--precision", "--trainer.precision"}, {"--accelerator", "--trainer.accelerator"}};
  for (const auto& [from, to] : map)
    if (flag == from) return to;
  return flag;
}

}  // namespace

int main(int argc, char** argv) {
  // The example's defaults: 15 epochs, seed 42 (the CLI and configs override them).
  L::LightningCLIOptions options;
  options.seed_everything_default(42).trainer_defaults(L::HParams{{"max_epochs", 15}});
  // A first argument that is not an option is a subcommand, which the CLI
  // checks (a mistyped `fitt` gets "did you mean 'fit'?").
  const std::string first = argc > 1 ? argv[1] : "";
  const bool cli_form =
      argc > 1 && (first.empty() || first[0] != '-' || first == "--help" || first == "-h" ||
                   first.rfind("--config", 0) == 0 || first == "-c");
  if (cli_form) {
    return L::LightningCLI<MyModel, FashionMNISTData>(argc, argv, options).exit_code();
  }

  // No subcommand (scripts/main.sh): fit, then test, and print the results.
  std::vector<std::string> args = {argv[0], "fit"};
  for (int i = 1; i < argc; ++i) args.push_back(legacy_option(argv[i]));
  std::vector<const char*> cli_argv;
  for (const auto& a : args) cli_argv.push_back(a.c_str());
  std::cout << "BLAS: " << active_blas() << "\n";
  std::cout << "libtorch threads: " << at::get_num_threads() << "\n";
  const auto start = std::chrono::steady_clock::now();
  L::LightningCLI<MyModel, FashionMNISTData> cli(static_cast<int>(cli_argv.size()), cli_argv.data(),
                                                 options);
  if (cli.exit_code() != 0) return cli.exit_code();
  if (!cli.built()) return 0;  // --print_config: printed, nothing to run
  try {
    L::Trainer& trainer = cli.trainer();
    auto model = cli.model();
    auto& data = *cli.datamodule_base();
    const double fit_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double val_acc = trainer.callback_metrics().at("val_acc").item<double>();
    auto results = trainer.test(model, data);

    std::cout << "\nfit: " << trainer.current_epoch() << " epochs in " << fit_seconds
              << " s (precision " << trainer.options().precision() << ", device "
              << trainer.root_device() << ")\n";
    std::cout << "val_acc (last epoch): " << val_acc << "\n";
    std::cout << "test_loss: " << results[0].at("test_loss") << "\n";
    std::cout << "test_acc: " << results[0].at("test_acc") << "\n";
    // model = MyModel.load_from_checkpoint(trainer.checkpoint_callback.best_model_path)
    const std::string best_path = trainer.checkpoint_callback()->best_model_path();
    auto best = L::load_from_checkpoint<MyModel>(best_path);
    std::cout << "checkpoint: " << best_path << " (loaded back, learning_rate "
              << best->hparams().get<double>("learning_rate") << ")\n";
    std::cout << "run folder: " << trainer.log_dir()
              << " (metrics.csv, hparams.yaml, config.yaml, TensorBoard events, report.html)\n";
  } catch (const L::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
