#include "lightning/data/datasets/fashion_mnist.h"

#include <zlib.h>

#include <array>
#include <filesystem>
#include <limits>

#include "lightning/error.h"

namespace lightning {
namespace {

constexpr uint32_t kImagesMagic = 2051;
constexpr uint32_t kLabelsMagic = 2049;
constexpr int64_t kSide = 28;
constexpr int64_t kTrainSize = 60000;
constexpr int64_t kMaxSamples = 10'000'000;
constexpr double kMean = 0.2860;
constexpr double kStd = 0.3530;
constexpr const char* kInstallHint =
    "install Debian's dataset-fashion-mnist package (apt-get install dataset-fashion-mnist) or "
    "pass the directory with FashionMNISTOptions().data_dir(...).";

// A gzip file (or a plain one: zlib reads those transparently), closed on scope exit.
class GzFile {
 public:
  explicit GzFile(const std::string& path) : path_(path) {
    LIGHTNING_CHECK(std::filesystem::is_regular_file(path), "Fashion-MNIST file '", path,
                    "' not found; ", kInstallHint);
    file_ = gzopen(path.c_str(), "rb");
    LIGHTNING_CHECK(file_ != nullptr, "Fashion-MNIST file '", path, "' cannot be opened; ",
                    kInstallHint);
    gzbuffer(file_, 1 << 20);
  }
  ~GzFile() { gzclose(file_); }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;

  // Reads exactly `size` bytes; `what` names them in the error message.
  void read(void* data, int64_t size, const char* what) {
    auto* out = static_cast<char*>(data);
    int64_t done = 0;
    while (done < size) {
      const int64_t chunk = std::min<int64_t>(size - done, std::numeric_limits<int>::max());
      const int got = gzread(file_, out + done, static_cast<unsigned>(chunk));
      if (got < 0) {
        int code = 0;
        const char* message = gzerror(file_, &code);
        LIGHTNING_FAIL("Fashion-MNIST file '", path_, "' is corrupt (", message,
                       "); reinstall dataset-fashion-mnist or re-download the file.");
      }
      if (got == 0) break;
      done += got;
    }
    LIGHTNING_CHECK(done == size, "Fashion-MNIST file '", path_, "' is truncated: expected ", size,
                    " bytes of ", what, ", read ", done,
                    "; reinstall dataset-fashion-mnist or re-download the file.");
  }

  // The IDX header: big-endian uint32 values.
  template <size_t N>
  std::array<uint32_t, N> read_header() {
    std::array<unsigned char, 4 * N> raw{};
    read(raw.data(), raw.size(), "header");
    std::array<uint32_t, N> out{};
    for (size_t i = 0; i < N; ++i) {
      out[i] = (uint32_t{raw[4 * i]} << 24) | (uint32_t{raw[4 * i + 1]} << 16) |
               (uint32_t{raw[4 * i + 2]} << 8) | uint32_t{raw[4 * i + 3]};
    }
    return out;
  }

 private:
  std::string path_;
  gzFile file_ = nullptr;
};

at::Tensor read_images(const std::string& path) {
  GzFile file(path);
  const auto header = file.read_header<4>();
  LIGHTNING_CHECK(header[0] == kImagesMagic, "'", path, "' is not an IDX image file: magic number ",
                  header[0], ", expected ", kImagesMagic, ".");
  const int64_t n = header[1];
  LIGHTNING_CHECK(header[2] == kSide && header[3] == kSide, "'", path, "' holds ", header[2], "x",
                  header[3], " images; Fashion-MNIST images are 28x28.");
  LIGHTNING_CHECK(n <= kMaxSamples, "'", path, "' claims ", n,
                  " images, more than any Fashion-MNIST file; the file is corrupt.");
  at::Tensor pixels = at::empty({n, 1, kSide, kSide}, at::TensorOptions(at::kByte));
  file.read(pixels.data_ptr<uint8_t>(), pixels.numel(), "pixels");
  return pixels;
}

at::Tensor read_labels(const std::string& path) {
  GzFile file(path);
  const auto header = file.read_header<2>();
  LIGHTNING_CHECK(header[0] == kLabelsMagic, "'", path, "' is not an IDX label file: magic number ",
                  header[0], ", expected ", kLabelsMagic, ".");
  const int64_t n = header[1];
  LIGHTNING_CHECK(n <= kMaxSamples, "'", path, "' claims ", n,
                  " labels, more than any Fashion-MNIST file; the file is corrupt.");
  at::Tensor labels = at::empty({n}, at::TensorOptions(at::kByte));
  file.read(labels.data_ptr<uint8_t>(), n, "labels");
  if (n > 0) {
    const int64_t max_label = labels.max().item<int64_t>();
    LIGHTNING_CHECK(max_label <= 9, "'", path, "' holds label ", max_label,
                    "; Fashion-MNIST labels are 0..9, so the file is corrupt.");
  }
  return labels;
}

std::vector<at::Tensor> load(const std::string& root, bool train, bool normalize) {
  LIGHTNING_CHECK(std::filesystem::is_directory(root), "Fashion-MNIST directory '", root,
                  "' does not exist; ", kInstallHint);
  const std::string prefix = root + (train ? "/train" : "/t10k");
  at::Tensor images = read_images(prefix + "-images-idx3-ubyte.gz");
  const std::string labels_path = prefix + "-labels-idx1-ubyte.gz";
  at::Tensor labels = read_labels(labels_path);
  LIGHTNING_CHECK(images.size(0) == labels.size(0), "'", labels_path, "' holds ", labels.size(0),
                  " labels but the image file holds ", images.size(0),
                  " images; reinstall dataset-fashion-mnist or re-download the files.");
  at::Tensor x = images.to(at::kFloat).div_(255.0);
  if (normalize) x.sub_(kMean).div_(kStd);
  return {x, labels.to(at::kLong)};
}

}  // namespace

FashionMNIST::FashionMNIST(const std::string& root, bool train, bool normalize)
    : TensorDataset(load(root, train, normalize)) {}

const std::vector<std::string>& FashionMNIST::classes() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                                 "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                                 "Bag",         "Ankle boot"};
  return names;
}

FashionMNISTDataModule::FashionMNISTDataModule(FashionMNISTOptions options)
    : options_(std::move(options)) {
  LIGHTNING_CHECK(options_.batch_size() >= 1, "FashionMNISTOptions batch_size must be >= 1, got ",
                  options_.batch_size(), ".");
  LIGHTNING_CHECK(options_.num_workers() >= 0, "FashionMNISTOptions num_workers must be >= 0, got ",
                  options_.num_workers(), " (0 loads batches in the calling thread).");
  LIGHTNING_CHECK(options_.val_size() >= 0 && options_.val_size() < kTrainSize,
                  "FashionMNISTOptions val_size must be in [0, ", kTrainSize, "), got ",
                  options_.val_size(), " (the training set has ", kTrainSize, " images).");
  // The loaders read it from the hparams: Tuner::scale_batch_size changes it there.
  save_hyperparameters(HParams{{"batch_size", options_.batch_size()}});
}

void FashionMNISTDataModule::prepare_data() {
  // Nothing to download: fail early, with the install hint, when the files are missing.
  const std::string& root = options_.data_dir();
  LIGHTNING_CHECK(std::filesystem::is_directory(root), "Fashion-MNIST directory '", root,
                  "' does not exist; ", kInstallHint);
  for (const char* name : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                           "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}) {
    const std::string path = root + "/" + name;
    LIGHTNING_CHECK(std::filesystem::is_regular_file(path), "Fashion-MNIST file '", path,
                    "' not found; ", kInstallHint);
  }
}

void FashionMNISTDataModule::setup(Stage stage) {
  if (stage == Stage::Fit || stage == Stage::Validate) {
    if (!train_) {
      auto full =
          std::make_shared<FashionMNIST>(options_.data_dir(), /*train=*/true, options_.normalize());
      const int64_t n = full->size();
      LIGHTNING_CHECK(options_.val_size() < n, "FashionMNISTOptions val_size (",
                      options_.val_size(), ") must be smaller than the training set (", n,
                      " images).");
      auto parts =
          random_split(full, {n - options_.val_size(), options_.val_size()}, options_.split_seed());
      train_ = parts[0];
      val_ = parts[1];
    }
  } else if (!test_) {
    test_ =
        std::make_shared<FashionMNIST>(options_.data_dir(), /*train=*/false, options_.normalize());
  }
}

namespace {

std::string setup_hint(const char* loader, const char* stage) {
  return c10::str("FashionMNISTDataModule::", loader, "() was called before setup(Stage::", stage,
                  "); the Trainer calls setup, or call data.setup(L::Stage::", stage,
                  ") yourself.");
}

}  // namespace

int64_t FashionMNISTDataModule::batch_size() const {
  return hparams().get<int64_t>("batch_size", options_.batch_size());
}

DataLoaders FashionMNISTDataModule::train_dataloader() {
  LIGHTNING_CHECK(train_ != nullptr, setup_hint("train_dataloader", "Fit"));
  return DataLoader(train_, DataLoaderOptions()
                                .batch_size(batch_size())
                                .shuffle(true)
                                .num_workers(options_.num_workers())
                                .pin_memory(options_.pin_memory()));
}

DataLoaders FashionMNISTDataModule::val_dataloader() {
  LIGHTNING_CHECK(val_ != nullptr, setup_hint("val_dataloader", "Fit"));
  if (val_->size() == 0) return {};
  return DataLoader(val_, DataLoaderOptions()
                              .batch_size(batch_size())
                              .num_workers(options_.num_workers())
                              .pin_memory(options_.pin_memory()));
}

DataLoaders FashionMNISTDataModule::test_dataloader() {
  LIGHTNING_CHECK(test_ != nullptr, setup_hint("test_dataloader", "Test"));
  return DataLoader(test_, DataLoaderOptions()
                               .batch_size(batch_size())
                               .num_workers(options_.num_workers())
                               .pin_memory(options_.pin_memory()));
}

DataLoaders FashionMNISTDataModule::predict_dataloader() {
  LIGHTNING_CHECK(test_ != nullptr, setup_hint("predict_dataloader", "Predict"));
  return DataLoader(test_, DataLoaderOptions()
                               .batch_size(batch_size())
                               .num_workers(options_.num_workers())
                               .pin_memory(options_.pin_memory()));
}

}  // namespace lightning
