// The seed's "Manual Optimization" GAN, ported line by line: two optimizers
// stepped by hand in training_step, trained on Fashion-MNIST. After every
// training epoch an 8x8 grid of samples from a fixed noise tensor is written
// to <out>/samples_epoch_<N>.png (N counts from 0, as current_epoch).
//
//   ./gan [--epochs N] [--batch-size N] [--limit-train-batches N] [--data-dir DIR] [--out DIR]
#include <lightning/lightning.h>
#include <png.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace L = lightning;
namespace F = torch::nn::functional;

namespace {

constexpr int64_t kLatentDim = 64;
constexpr int64_t kGridSide = 8;  // an 8x8 grid of samples
constexpr int64_t kImageSide = 28;
constexpr int64_t kPadding = 2;  // torchvision.utils.make_grid's default

// An 8x8 grid of [64, 1, 28, 28] images in [-1, 1], as torchvision's
// make_grid(images, nrow=8, padding=2, normalize=True, value_range=(-1, 1)):
// a 242x242 8-bit grayscale PNG at `path`.
void save_png_grid(const at::Tensor& images, const std::string& path) {
  LIGHTNING_CHECK(images.dim() == 4 && images.size(0) == kGridSide * kGridSide &&
                      images.size(1) == 1 && images.size(2) == kImageSide &&
                      images.size(3) == kImageSide,
                  "save_png_grid expects [", kGridSide * kGridSide, ", 1, ", kImageSide, ", ",
                  kImageSide, "] images, got ", images.sizes(), ".");
  const int64_t cell = kImageSide + kPadding;
  const int64_t side = kGridSide * cell + kPadding;
  // [-1, 1] -> [0, 255] bytes, then tile: [8, 8, 28, 28] -> [8, 28, 8, 28].
  at::Tensor pixels = images.detach()
                          .to(at::kCPU, at::kFloat)
                          .add(1.0)
                          .mul(127.5)
                          .round()
                          .clamp(0, 255)
                          .to(at::kByte)
                          .reshape({kGridSide, kGridSide, kImageSide, kImageSide});
  at::Tensor grid = at::zeros({side, side}, at::kByte);
  for (int64_t r = 0; r < kGridSide; ++r) {
    for (int64_t c = 0; c < kGridSide; ++c) {
      grid.narrow(0, kPadding + r * cell, kImageSide)
          .narrow(1, kPadding + c * cell, kImageSide)
          .copy_(pixels[r][c]);
    }
  }
  grid = grid.contiguous();

  // libpng's simplified API: one call that opens, encodes, flushes and closes
  // the file (removing it on failure); it reports every error in `message`.
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(side);
  image.height = static_cast<png_uint_32>(side);
  image.format = PNG_FORMAT_GRAY;
  const int ok =
      png_image_write_to_file(&image, path.c_str(), /*convert_to_8bit=*/0, grid.data_ptr<uint8_t>(),
                              /*row_stride=*/static_cast<png_int_32>(side),
                              /*colormap=*/nullptr);
  if (!ok) {
    const std::string message = image.message;
    png_image_free(&image);
    LIGHTNING_FAIL("could not write the sample grid PNG '", path, "': ", message,
                   ". Pass a writable folder with --out.");
  }
  if (image.warning_or_error & PNG_IMAGE_WARNING) {
    std::cerr << "warning: libpng, writing '" << path << "': " << image.message << "\n";
  }
  png_image_free(&image);
}

}  // namespace

// class Generator(nn.Module):  z [B, 64] -> images [B, 1, 28, 28] in [-1, 1]
struct GeneratorImpl : torch::nn::Module {
  GeneratorImpl() {
    net = register_module(
        "net", torch::nn::Sequential(
                   torch::nn::Linear(kLatentDim, 256),
                   torch::nn::LeakyReLU(torch::nn::LeakyReLUOptions().negative_slope(0.2)),
                   torch::nn::Linear(256, kImageSide * kImageSide), torch::nn::Tanh()));
  }
  torch::Tensor forward(torch::Tensor z) {
    return net->forward(z).view({-1, 1, kImageSide, kImageSide});
  }
  torch::nn::Sequential net{nullptr};
};
TORCH_MODULE(Generator);

// class Discriminator(nn.Module):  images [B, 1, 28, 28] -> logits [B, 1]
struct DiscriminatorImpl : torch::nn::Module {
  DiscriminatorImpl() {
    net = register_module(
        "net", torch::nn::Sequential(
                   torch::nn::Flatten(), torch::nn::Linear(kImageSide * kImageSide, 256),
                   torch::nn::LeakyReLU(torch::nn::LeakyReLUOptions().negative_slope(0.2)),
                   torch::nn::Linear(256, 1)));
  }
  torch::Tensor forward(torch::Tensor x) { return net->forward(x); }
  torch::nn::Sequential net{nullptr};
};
TORCH_MODULE(Discriminator);

// class GANModel(L.LightningModule):
class GANModel : public L::LightningModule {
 public:
  //   def __init__(self):
  //       super().__init__()
  explicit GANModel(std::string out_dir) : out_dir_(std::move(out_dir)) {
    //     self.automatic_optimization = False
    set_automatic_optimization(false);
    //     self.generator = Generator()
    generator_ = register_module("generator", Generator());
    //     self.discriminator = Discriminator()
    discriminator_ = register_module("discriminator", Discriminator());
    //     self.validation_z = torch.randn(64, latent_dim)   (as Lightning's GAN example)
    fixed_noise_ = at::randn({kGridSide * kGridSide, kLatentDim});
  }

  torch::Tensor forward(torch::Tensor z) { return generator_->forward(z); }

  //   def training_step(self, batch, batch_idx):
  L::StepOutput training_step(L::Batch& batch, int64_t batch_idx) override {
    auto [images, labels] = batch.unpack<2>();
    at::Tensor real = images * 2.0 - 1.0;  // [0, 1] -> [-1, 1], the Tanh's range
    ++batches_;

    //     opt_g, opt_d = self.optimizers()
    auto [opt_g, opt_d] = optimizers<2>();

    //     # Train generator
    //     self.toggle_optimizer(opt_g)
    toggle_optimizer(opt_g);
    //     opt_g.zero_grad()
    opt_g.zero_grad();
    //     g_loss = self.compute_generator_loss(batch)
    at::Tensor g_loss = compute_generator_loss(real);
    //     self.manual_backward(g_loss)
    manual_backward(g_loss);
    //     opt_g.step()
    opt_g.step();
    //     self.untoggle_optimizer(opt_g)
    untoggle_optimizer(opt_g);

    //     # Train discriminator
    //     self.toggle_optimizer(opt_d)
    toggle_optimizer(opt_d);
    //     opt_d.zero_grad()
    opt_d.zero_grad();
    //     d_loss = self.compute_discriminator_loss(batch)
    at::Tensor d_loss = compute_discriminator_loss(real);
    //     self.manual_backward(d_loss)
    manual_backward(d_loss);
    //     opt_d.step()
    opt_d.step();
    //     self.untoggle_optimizer(opt_d)
    untoggle_optimizer(opt_d);

    //     self.log_dict({"g_loss": g_loss, "d_loss": d_loss}, prog_bar=True)
    log_dict({{"g_loss", g_loss}, {"d_loss", d_loss}}, L::LogOptions().prog_bar(true));
    return {};  // manual optimization: nothing for the Trainer to backpropagate
  }

  //   def compute_generator_loss(self, batch):
  //       z = torch.randn(batch.size(0), latent_dim)
  //       return F.binary_cross_entropy_with_logits(self.discriminator(self(z)), ones)
  at::Tensor compute_generator_loss(const at::Tensor& real) {
    at::Tensor z = at::randn({real.size(0), kLatentDim}, real.options());
    at::Tensor logits = discriminator_->forward(forward(z));
    return F::binary_cross_entropy_with_logits(logits, at::ones_like(logits));
  }

  //   def compute_discriminator_loss(self, batch):
  //       real_loss = bce(self.discriminator(batch), ones)
  //       fake_loss = bce(self.discriminator(self(z).detach()), zeros)
  //       return (real_loss + fake_loss) / 2
  at::Tensor compute_discriminator_loss(const at::Tensor& real) {
    at::Tensor z = at::randn({real.size(0), kLatentDim}, real.options());
    at::Tensor real_logits = discriminator_->forward(real);
    at::Tensor fake_logits = discriminator_->forward(forward(z).detach());
    at::Tensor real_loss =
        F::binary_cross_entropy_with_logits(real_logits, at::ones_like(real_logits));
    at::Tensor fake_loss =
        F::binary_cross_entropy_with_logits(fake_logits, at::zeros_like(fake_logits));
    return (real_loss + fake_loss) / 2;
  }

  //   def on_train_epoch_end(self):
  //       samples = self(self.validation_z.type_as(...))
  //       torchvision.utils.save_image(samples, f"{out}/samples_epoch_{self.current_epoch}.png",
  //                                    nrow=8, normalize=True, value_range=(-1, 1))
  void on_train_epoch_end() override {
    const std::string dir = out_dir_.empty() ? trainer().log_dir() : out_dir_;
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    LIGHTNING_CHECK(!ec, "could not create the sample folder '", dir, "': ", ec.message(),
                    ". Pass a writable folder with --out.");
    at::Tensor samples;
    {
      at::NoGradGuard no_grad;
      samples = forward(fixed_noise_.to(device()));
    }
    last_samples_ = dir + "/samples_epoch_" + std::to_string(current_epoch()) + ".png";
    save_png_grid(samples, last_samples_);
  }

  //   def configure_optimizers(self):
  L::OptimizerConfig configure_optimizers() override {
    //     opt_g = torch.optim.Adam(self.generator.parameters(), lr=0.0002, betas=(0.5, 0.999))
    auto opt_g = std::make_shared<torch::optim::Adam>(
        generator_->parameters(), torch::optim::AdamOptions(2e-4).betas({0.5, 0.999}));
    //     opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=0.0002, betas=(0.5, 0.999))
    auto opt_d = std::make_shared<torch::optim::Adam>(
        discriminator_->parameters(), torch::optim::AdamOptions(2e-4).betas({0.5, 0.999}));
    //     return [opt_g, opt_d]
    return {opt_g, opt_d};
  }

  int64_t batches() const { return batches_; }
  const std::string& last_samples() const { return last_samples_; }

 private:
  Generator generator_{nullptr};
  Discriminator discriminator_{nullptr};
  at::Tensor fixed_noise_;
  std::string out_dir_;
  std::string last_samples_;
  int64_t batches_ = 0;
};

int main(int argc, char** argv) {
  int64_t epochs = 5, batch_size = 64;
  std::optional<int64_t> limit_train_batches;
  std::string data_dir = L::kFashionMNISTDefaultDir;
  std::string out_dir;  // empty: the Trainer's log_dir()
  const char* usage =
      "usage: gan [--epochs N] [--batch-size N] [--limit-train-batches N] [--data-dir DIR] "
      "[--out DIR]\n";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "missing value after " << arg << "\n" << usage;
        std::exit(2);
      }
      return argv[++i];
    };
    auto next_int = [&]() -> int64_t {
      const std::string value = next();
      size_t used = 0;
      int64_t n = 0;
      try {
        n = std::stoll(value, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || used != value.size() || n < 1) {
        std::cerr << arg << " needs a positive integer, got '" << value << "'\n" << usage;
        std::exit(2);
      }
      return n;
    };
    if (arg == "--epochs")
      epochs = next_int();
    else if (arg == "--batch-size")
      batch_size = next_int();
    else if (arg == "--limit-train-batches")
      limit_train_batches = next_int();
    else if (arg == "--data-dir")
      data_dir = next();
    else if (arg == "--out")
      out_dir = next();
    else {
      std::cerr << usage;
      return arg == "--help" || arg == "-h" ? 0 : 2;
    }
  }

  try {
    L::seed_everything(42);
    auto model = std::make_shared<GANModel>(out_dir);
    // No validation_step: the whole 60,000-image training set trains the GAN.
    L::FashionMNISTDataModule data(L::FashionMNISTOptions()
                                       .data_dir(data_dir)
                                       .batch_size(batch_size)
                                       .val_size(0)
                                       .normalize(false));  // pixels in [0, 1]
    L::TrainerOptions options;
    options.max_epochs(epochs);
    if (limit_train_batches) options.limit_train_batches(*limit_train_batches);
    L::Trainer trainer(options);

    const auto start = std::chrono::steady_clock::now();
    trainer.fit(model, data);
    const double fit_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    const auto& metrics = trainer.callback_metrics();
    std::cout << "\nfit: " << epochs << " epoch(s) in " << fit_seconds << " s\n";
    std::cout << "global_step: " << trainer.global_step() << "\n";
    std::cout << "batches: " << model->batches() << "\n";
    std::cout << "g_loss: " << metrics.at("g_loss").item<double>() << "\n";
    std::cout << "d_loss: " << metrics.at("d_loss").item<double>() << "\n";
    std::cout << "samples: " << model->last_samples() << "\n";
    std::cout << "run folder: " << trainer.log_dir() << "\n";
  } catch (const L::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
