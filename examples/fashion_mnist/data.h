// The Fashion-MNIST datamodule of the examples, with its constructor
// arguments declared for LightningCLI (`--data.batch_size 128`). Shared by
// examples/fashion_mnist (one process) and examples/ddp (DDP), as model.h is.
//
//   class FashionMNISTData(L.LightningDataModule):
//       def __init__(self, data_dir=..., batch_size=64, num_workers=0, pin_memory=None,
//                    normalize=True): ...
#pragma once

#include <lightning/cli.h>
#include <lightning/lightning.h>
#include <torch/cuda.h>

#include <string>

class FashionMNISTData : public lightning::FashionMNISTDataModule {
 public:
  static lightning::CLIArguments cli_arguments() {
    return lightning::CLIArguments()
        .add("data_dir", lightning::kFashionMNISTDefaultDir,
             "folder of the Fashion-MNIST idx files")
        .add("batch_size", 64, "samples per batch, per process under DDP")
        .add("num_workers", 0, "loader worker threads")
        .add("pin_memory", nullptr, "pin batches' memory; null: when CUDA is available")
        .add("normalize", true,
             "standardise pixels with the training mean/std (transforms.Normalize); false: [0, 1]");
  }
  explicit FashionMNISTData(const lightning::HParams& hp)
      : lightning::FashionMNISTDataModule(lightning::FashionMNISTOptions()
                                              .data_dir(hp.get<std::string>("data_dir"))
                                              .batch_size(hp.get<int64_t>("batch_size"))
                                              .num_workers(hp.get<int64_t>("num_workers"))
                                              .normalize(hp.get<bool>("normalize"))
                                              .pin_memory(hp.at("pin_memory").is_none()
                                                              ? torch::cuda::is_available()
                                                              : hp.get<bool>("pin_memory"))) {
    save_hyperparameters(hp);
  }
};
