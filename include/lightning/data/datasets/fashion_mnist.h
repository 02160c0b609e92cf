// lightning/data/datasets/fashion_mnist.h — Fashion-MNIST from Debian's
// `dataset-fashion-mnist` package (/usr/share/datasets/fashion-mnist/*.gz).
//
//   L::FashionMNISTDataModule data(L::FashionMNISTOptions().batch_size(64));
//   trainer.fit(model, data);     // 55,000 train / 5,000 val images
//   trainer.test(model, data);    // the 10,000 test images
//
// Images are float32 [N, 1, 28, 28] in [0, 1] (or standardised when
// `normalize` is on), labels int64 [N]. A missing directory or file is a
// `lightning::Error` that names the package to install.
#pragma once

#include <torch/arg.h>

#include <cstdint>
#include <memory>
#include <string>

#include "lightning/data/dataset.h"
#include "lightning/datamodule.h"
#include "lightning/export.h"

namespace lightning {

/// Where Debian's `dataset-fashion-mnist` installs the files.
inline constexpr const char* kFashionMNISTDefaultDir = "/usr/share/datasets/fashion-mnist";

/// The Fashion-MNIST training (60,000) or test (10,000) split as a TensorDataset.
class LIGHTNING_API FashionMNIST : public TensorDataset {
 public:
  /// Reads `<root>/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz`.
  /// `normalize` standardises with the training set's mean 0.2860 and std 0.3530.
  explicit FashionMNIST(const std::string& root = kFashionMNISTDefaultDir, bool train = true,
                        bool normalize = false);
  const at::Tensor& images() const { return tensors()[0]; }
  const at::Tensor& targets() const { return tensors()[1]; }
  /// "T-shirt/top", "Trouser", ... "Ankle boot", indexed by label.
  static const std::vector<std::string>& classes();
};

/// Options of the Fashion-MNIST data module.
struct LIGHTNING_API FashionMNISTOptions {
  /// Directory of the gzip IDX files. Default: Debian's install location.
  TORCH_ARG(std::string, data_dir) = kFashionMNISTDefaultDir;
  /// Samples per batch for every loader. Default 64. The data module also
  /// keeps it as its "batch_size" hparam, which the loaders read, so that
  /// the Tuner's batch-size finder can change it.
  TORCH_ARG(int64_t, batch_size) = 64;
  /// Worker threads per loader. Default 0.
  TORCH_ARG(int64_t, num_workers) = 0;
  /// Pinned host memory for the batches of every loader (DataLoaderOptions::pin_memory).
  /// Default false.
  TORCH_ARG(bool, pin_memory) = false;
  /// Training images held out for validation; 0 means no val loader. Default 5000.
  TORCH_ARG(int64_t, val_size) = 5000;
  /// Seed of the train/val split. Default 42.
  TORCH_ARG(uint64_t, split_seed) = 42;
  /// Standardise pixels with the training mean/std. Default false: pixels in
  /// [0, 1], what a ported `transforms.ToTensor()` pipeline gives, the same
  /// default as the FashionMNIST dataset's.
  TORCH_ARG(bool, normalize) = false;
};

/// Train/val split of the training set, and the test set; predict uses the test set.
class LIGHTNING_API FashionMNISTDataModule : public LightningDataModule {
 public:
  explicit FashionMNISTDataModule(FashionMNISTOptions options = {});
  void prepare_data() override;
  void setup(Stage stage) override;
  DataLoaders train_dataloader() override;
  DataLoaders val_dataloader() override;
  DataLoaders test_dataloader() override;
  DataLoaders predict_dataloader() override;
  const FashionMNISTOptions& options() const { return options_; }
  /// The "batch_size" hparam (options().batch_size() unless changed since).
  int64_t batch_size() const;

 private:
  FashionMNISTOptions options_;
  std::shared_ptr<Dataset> train_, val_, test_;
};

}  // namespace lightning
