// The main job: the seed's LightningModule (model.h, ported line by line), trained on
// Fashion-MNIST from Debian's dataset-fashion-mnist package.
//
//   ./fashion_mnist [--epochs N] [--batch-size N] [--lr X] [--data-dir DIR] [--workers N]
//                   [--precision 32-true|bf16-mixed|16-mixed|...] [--accelerator auto|cpu|cuda]
//
// With --accelerator cuda (or auto on a machine with a GPU) the loaders pin
// their batches' memory and the copies to the GPU are asynchronous.
#include <lightning/lightning.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

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

}  // namespace

int main(int argc, char** argv) {
  int64_t epochs = 15, batch_size = 64, workers = 0, hidden = 256;
  double lr = 1e-3;
  std::string data_dir = L::kFashionMNISTDefaultDir;
  std::string precision = "32-true";
  std::string accelerator = "auto";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "missing value after " << arg << "\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--epochs")
      epochs = std::stoll(next());
    else if (arg == "--batch-size")
      batch_size = std::stoll(next());
    else if (arg == "--lr")
      lr = std::stod(next());
    else if (arg == "--data-dir")
      data_dir = next();
    else if (arg == "--workers")
      workers = std::stoll(next());
    else if (arg == "--hidden")
      hidden = std::stoll(next());
    else if (arg == "--precision")
      precision = next();
    else if (arg == "--accelerator")
      accelerator = next();
    else {
      std::cerr << "usage: fashion_mnist [--epochs N] [--batch-size N] [--lr X] [--hidden N] "
                   "[--data-dir DIR] [--workers N] [--precision P] [--accelerator A]\n";
      return 2;
    }
  }

  try {
    std::cout << "BLAS: " << active_blas() << "\n";
    std::cout << "libtorch threads: " << at::get_num_threads() << "\n";
    L::seed_everything(42);
    auto model = std::make_shared<MyModel>(
        L::HParams{{"learning_rate", lr}, {"hidden", hidden}, {"batch_size", batch_size}});
    L::Trainer trainer(
        L::TrainerOptions().max_epochs(epochs).precision(precision).accelerator(accelerator));
    L::FashionMNISTDataModule data(L::FashionMNISTOptions()
                                       .data_dir(data_dir)
                                       .batch_size(batch_size)
                                       .num_workers(workers)
                                       .pin_memory(trainer.root_device().is_cuda()));

    const auto start = std::chrono::steady_clock::now();
    trainer.fit(model, data);
    const double fit_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double val_acc = trainer.callback_metrics().at("val_acc").item<double>();
    auto results = trainer.test(model, data);

    std::cout << "\nfit: " << epochs << " epochs in " << fit_seconds << " s (precision "
              << precision << ", device " << trainer.root_device() << ")\n";
    std::cout << "val_acc (last epoch): " << val_acc << "\n";
    std::cout << "test_loss: " << results[0].at("test_loss") << "\n";
    std::cout << "test_acc: " << results[0].at("test_acc") << "\n";
    // model = MyModel.load_from_checkpoint(trainer.checkpoint_callback.best_model_path)
    const std::string best_path = trainer.checkpoint_callback()->best_model_path();
    auto best = L::load_from_checkpoint<MyModel>(best_path);
    std::cout << "checkpoint: " << best_path << " (loaded back, learning_rate "
              << best->hparams().get<double>("learning_rate") << ")\n";
    std::cout << "run folder: " << trainer.log_dir()
              << " (metrics.csv, hparams.yaml, TensorBoard events, report.html)\n";
  } catch (const L::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
