// profiler_overhead — what profiling costs, and how much of fit it accounts for.
//
//   ./profiler_overhead [--rounds N] [--samples N] [--epochs N] [--data-dir DIR]
//
// The main job's model (784-256-128-10 MLP, Adam 1e-3, batch 64) trains on the
// first `--samples` Fashion-MNIST training images with validation on the next
// 2,000, a ModelCheckpoint per epoch and the default loggers (into a temporary
// folder), under profiler off / "simple" / "advanced" / "pytorch". The variants
// alternate in a palindrome inside each round (timings drift over minutes on
// the machines this was written for) and the figures are medians over rounds:
//   - each profiler's fit time over the unprofiled one's (its overhead);
//   - coverage: the time inside top-level actions (those no other action
//     encloses; AdvancedProfiler's call sites tell) over fit's wall time,
//     i.e. how much of fit the report accounts for.
// Every run starts from the same weights and data order; the times are those
// of trainer.fit alone.
#include <lightning/callbacks/model_checkpoint.h>
#include <lightning/data/dataloader.h>
#include <lightning/data/datasets/fashion_mnist.h>
#include <lightning/module.h>
#include <lightning/profilers/advanced.h>
#include <lightning/profilers/pytorch.h>
#include <lightning/profilers/simple.h>
#include <lightning/seed.h>
#include <lightning/trainer.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace L = lightning;

namespace {

class MLP : public L::LightningModule {
 public:
  MLP() {
    l1 = register_module("l1", torch::nn::Linear(784, 256));
    l2 = register_module("l2", torch::nn::Linear(256, 128));
    l3 = register_module("l3", torch::nn::Linear(128, 10));
  }
  at::Tensor forward(const at::Tensor& x) {
    auto h = at::relu(l1->forward(x.flatten(1)));
    return l3->forward(at::relu(l2->forward(h)));
  }
  L::StepOutput training_step(L::Batch& batch, int64_t) override {
    auto [x, y] = batch.unpack<2>();
    auto loss = torch::nn::functional::cross_entropy(forward(x), y);
    log("train_loss", loss);
    return loss;
  }
  L::StepOutput validation_step(L::Batch& batch, int64_t) override {
    auto [x, y] = batch.unpack<2>();
    log("val_loss", torch::nn::functional::cross_entropy(forward(x), y));
    return {};
  }
  L::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::Adam>(parameters(), torch::optim::AdamOptions(1e-3));
  }
  torch::nn::Linear l1{nullptr}, l2{nullptr}, l3{nullptr};
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 5, epochs = 2;
  int64_t samples = 8192;
  std::string data_dir = L::kFashionMNISTDefaultDir;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--rounds")
      rounds = std::atoi(value.c_str());
    else if (flag == "--samples")
      samples = std::atoll(value.c_str());
    else if (flag == "--epochs")
      epochs = std::atoi(value.c_str());
    else if (flag == "--data-dir")
      data_dir = value;
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  at::set_num_threads(1);
  L::FashionMNIST train(data_dir, /*train=*/true, /*normalize=*/true);
  auto slice = [&](int64_t from, int64_t n) {
    return std::make_shared<L::TensorDataset>(std::vector<at::Tensor>{
        train.images().narrow(0, from, n), train.targets().narrow(0, from, n)});
  };
  auto train_set = slice(0, samples), val_set = slice(samples, 2000);
  L::seed_everything(0);
  auto initial = std::make_shared<MLP>();
  const std::filesystem::path root =
      std::filesystem::temp_directory_path() / ("profiler_overhead_" + std::to_string(::getpid()));

  const std::vector<std::string> variants = {"off", "simple", "advanced", "pytorch"};
  std::map<std::string, std::vector<double>> seconds, ratio;
  std::vector<double> coverage;
  for (int round = 0; round < rounds; ++round) {
    std::vector<std::string> order = variants;
    if (round % 2) std::reverse(order.begin(), order.end());
    std::map<std::string, double> this_round;
    for (const auto& variant : order) {
      auto model = std::make_shared<MLP>();
      {
        at::NoGradGuard no_grad;
        for (size_t p = 0; p < model->parameters().size(); ++p) {
          model->parameters()[p].copy_(initial->parameters()[p]);
        }
      }
      std::shared_ptr<L::AdvancedProfiler> advanced;
      L::ProfilerOption profiler;
      if (variant == "advanced") {
        advanced =
            std::make_shared<L::AdvancedProfiler>(L::AdvancedProfilerOptions().filename("p"));
        profiler = advanced;
      } else if (variant == "simple") {
        profiler = std::make_shared<L::SimpleProfiler>(L::SimpleProfilerOptions().filename("p"));
      } else if (variant == "pytorch") {
        profiler = std::make_shared<L::PyTorchProfiler>(L::PyTorchProfilerOptions().filename("p"));
      }
      L::seed_everything(1);
      L::DataLoader train_loader(train_set, L::DataLoaderOptions().batch_size(64).shuffle(true));
      L::DataLoader val_loader(val_set, L::DataLoaderOptions().batch_size(64));
      L::Trainer trainer(L::TrainerOptions()
                             .max_epochs(epochs)
                             .enable_progress_bar(false)
                             .enable_model_summary(false)
                             .default_root_dir((root / variant).string())
                             .profiler(profiler));
      const auto start = std::chrono::steady_clock::now();
      trainer.fit(model, train_loader, val_loader);
      const double s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      this_round[variant] = s;
      seconds[variant].push_back(s);
      if (advanced) {
        // Top-level actions do not overlap: their sum is the covered time.
        double covered = 0.0;
        for (const std::string& name : advanced->actions()) {
          for (const auto& [site, total, calls] : advanced->call_sites(name)) {
            if (site.empty()) covered += total;
          }
        }
        coverage.push_back(covered / s);
      }
    }
    for (const auto& v : variants) ratio[v].push_back(this_round[v] / this_round["off"]);
  }
  std::filesystem::remove_all(root);
  std::printf("fit: %d epochs x %lld samples (batch 64) + validation on 2000, %d rounds\n", epochs,
              static_cast<long long>(samples), rounds);
  for (const auto& v : variants) {
    std::printf("  %-9s median fit %.3f s   time / off (median of per-round ratios) %.4f\n",
                v.c_str(), median(seconds[v]), median(ratio[v]));
  }
  std::printf("coverage: top-level actions / fit wall time = %.2f%% (median; min %.2f%%)\n",
              100.0 * median(coverage),
              100.0 * *std::min_element(coverage.begin(), coverage.end()));
  return 0;
}
