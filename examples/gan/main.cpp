// The seed's "Manual Optimization" GAN, ported line by line: two optimizers
// stepped by hand in training_step, trained on Fashion-MNIST. After every
// training epoch an 8x8 grid of samples from a fixed noise tensor is written
// to <out_dir>/samples_epoch_<N>.png (N counts from 0, as current_epoch). On
// LightningCLI:
//
//   ./gan fit --trainer.max_epochs 1 --model.out_dir samples --data.batch_size 32
//   ./gan fit --config examples/gan/config.yaml --trainer.limit_train_batches 20
//   ./gan fit --print_config > config.yaml     # the defaults, as YAML
//   ./gan fit --help                           # every option, its type, default and doc
//
// Defaults: max_epochs 5 (Lightning's trainer_defaults), seed_everything 42.
// After `fit` it prints the step count, the last losses and the last grid.
// Without a subcommand it fits, and still takes the flags it had before
// LightningCLI, as the options they stand for:
//
//   ./gan [--epochs N] [--batch-size N] [--limit-train-batches N] [--data-dir DIR] [--out DIR]
#include <lightning/cli.h>
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
#include <sstream>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>
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
                   ". Pass a writable folder with --model.out_dir.");
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
  // Its constructor arguments, for LightningCLI (`--model.out_dir samples`).
  static L::CLIArguments cli_arguments() {
    return L::CLIArguments()
        .add("out_dir", "", "folder of the sample grids; empty: the run folder")
        .add("lr", 2e-4, "both Adam optimizers' learning rate")
        .add("b1", 0.5, "both Adam optimizers' beta1")
        .add("b2", 0.999, "both Adam optimizers' beta2");
  }

  //   def __init__(self, out_dir="", lr=0.0002, b1=0.5, b2=0.999):
  //       super().__init__()
  //       self.save_hyperparameters()
  explicit GANModel(const L::HParams& hp) {
    save_hyperparameters(hp);
    out_dir_ = hp.get<std::string>("out_dir");
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
    if (global_rank() != 0) return;  // under DDP, one grid (rank 0's)
    const std::string dir = out_dir_.empty() ? trainer().log_dir() : out_dir_;
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    LIGHTNING_CHECK(!ec, "could not create the sample folder '", dir, "': ", ec.message(),
                    ". Pass a writable folder with --model.out_dir.");
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
    //     lr, b1, b2 = self.hparams.lr, self.hparams.b1, self.hparams.b2
    const double lr = hparams().get<double>("lr");
    const std::tuple<double, double> betas{hparams().get<double>("b1"),
                                           hparams().get<double>("b2")};
    //     opt_g = torch.optim.Adam(self.generator.parameters(), lr=lr, betas=(b1, b2))
    auto opt_g = std::make_shared<torch::optim::Adam>(generator_->parameters(),
                                                      torch::optim::AdamOptions(lr).betas(betas));
    //     opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=lr, betas=(b1, b2))
    auto opt_d = std::make_shared<torch::optim::Adam>(discriminator_->parameters(),
                                                      torch::optim::AdamOptions(lr).betas(betas));
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

// class FashionMNISTImages(L.LightningDataModule): the training images only
// (no validation split: all 60,000 train the GAN), pixels in [0, 1].
class FashionMNISTImages : public L::FashionMNISTDataModule {
 public:
  static L::CLIArguments cli_arguments() {
    return L::CLIArguments()
        .add("data_dir", L::kFashionMNISTDefaultDir, "folder of the Fashion-MNIST idx files")
        .add("batch_size", 64, "samples per batch");
  }
  explicit FashionMNISTImages(const L::HParams& hp)
      : L::FashionMNISTDataModule(L::FashionMNISTOptions()
                                      .data_dir(hp.get<std::string>("data_dir"))
                                      .batch_size(hp.get<int64_t>("batch_size"))
                                      .val_size(0)
                                      .normalize(false)) {
    save_hyperparameters(hp);
  }
};

namespace {

// The flags of the example before LightningCLI, as the options they stand for.
std::string legacy_option(const std::string& flag) {
  static const std::vector<std::pair<std::string, std::string>> map = {
      {"--epochs", "--trainer.max_epochs"},
      {"--batch-size", "--data.batch_size"},
      {"--limit-train-batches", "--trainer.limit_train_batches"},
      {"--data-dir", "--data.data_dir"},
      {"--out", "--model.out_dir"}};
  for (const auto& [from, to] : map)
    if (flag == from) return to;
  return flag;
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

  // cli = LightningCLI(GANModel, FashionMNISTImages, seed_everything_default=42,
  //                    trainer_defaults={"max_epochs": 5})
  L::LightningCLIOptions options;
  options.seed_everything_default(42).trainer_defaults(L::HParams{{"max_epochs", 5}});
  const auto start = std::chrono::steady_clock::now();
  L::LightningCLI<GANModel, FashionMNISTImages> cli(static_cast<int>(cli_argv.size()),
                                                    cli_argv.data(), options);
  if (cli.exit_code() != 0) {
    // A usage error (nothing was built): name the options the old flags became.
    if (cli.exit_code() == 2 && !renamed.empty() && !cli.built()) {
      std::string note;
      for (const auto& r : renamed) note += (note.empty() ? "" : ", ") + r;
      std::cerr << "note: " << note << " (gan's earlier flags stand for LightningCLI options; "
                << "see gan fit --help)\n";
    }
    return cli.exit_code();
  }
  // validate / test / predict: the CLI ran it; --help, --print_config: it built nothing.
  if (cli.subcommand() != "fit" || !cli.built()) return 0;

  try {
    L::Trainer& trainer = cli.trainer();
    if (!trainer.is_global_zero()) return 0;
    auto model = cli.model();
    const double fit_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const auto& metrics = trainer.callback_metrics();
    const auto metric = [&](const std::string& name) -> std::string {
      const auto it = metrics.find(name);
      if (it == metrics.end()) return "None";  // no training batch ran
      std::ostringstream os;
      os << it->second.item<double>();
      return os.str();
    };
    std::cout << "\nfit: " << trainer.current_epoch() << " epoch(s) in " << fit_seconds << " s\n";
    std::cout << "global_step: " << trainer.global_step() << "\n";
    std::cout << "batches: " << model->batches() << "\n";
    std::cout << "g_loss: " << metric("g_loss") << "\n";
    std::cout << "d_loss: " << metric("d_loss") << "\n";
    std::cout << "samples: " << model->last_samples() << "\n";
    std::cout << "run folder: " << trainer.log_dir() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
