// lr_find on the main job's model (examples/fashion_mnist/model.h) against
// Python Lightning's lr_find on the same model, initial weights and data
// order (tests/tuner/lr_find_reference.py). The default leg compares with the
// committed tests/tuner/lr_find_reference.txt (made with torch 2.x and
// Lightning 2.6); the leg whose Python has Lightning (scripts/build.sh
// --torch=pip) makes the reference again with it first.
#include <gtest/gtest.h>
#include <torch/utils.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "fashion_mnist/model.h"
#include "lightning/lightning.h"
#include "lightning/tuner.h"
#include "support/boring.h"
#include "support/python.h"
#include "support/temp_dir.h"

namespace L = lightning;

namespace {

constexpr int64_t kSamples = 6400;
constexpr int64_t kBatchSize = 64;

struct Reference {
  int64_t suggestion_idx = -1;
  double suggestion_lr = 0;
  std::vector<double> lrs, losses;
};

Reference read_reference(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  Reference ref;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string first;
    fields >> first;
    if (first == "suggestion_idx") {
      fields >> ref.suggestion_idx;
    } else if (first == "suggestion_lr") {
      fields >> ref.suggestion_lr;
    } else if (first == "learning_rate") {
      continue;
    } else {
      double loss = 0;
      fields >> loss;
      ref.lrs.push_back(std::stod(first));
      ref.losses.push_back(loss);
    }
  }
  return ref;
}

// The script's initial weights: parameter k with n elements takes
// ((i * 7919 + k * 104729) % 2001 - 1000) / 1000 / sqrt(fan_in), in float64.
void fixed_weights(L::LightningModule& module) {
  torch::NoGradGuard no_grad;
  const auto named = module.named_parameters();
  ASSERT_EQ(named.size(), 6u);
  for (size_t k = 0; k < named.size(); ++k) {
    at::Tensor p = named[k].value();
    const std::string& name = named[k].key();
    const std::string weight_name = name.substr(0, name.rfind('.')) + ".weight";
    const int64_t fan_in = named[weight_name].size(1);
    const at::Tensor i = at::arange(p.numel(), at::TensorOptions(at::kLong));
    const at::Tensor v = (i * 7919 + static_cast<int64_t>(k) * 104729)
                             .remainder(2001)
                             .sub(1000)
                             .to(at::kDouble)
                             .div(1000.0)
                             .div(std::sqrt(static_cast<double>(fan_in)));
    p.copy_(v.view_as(p).to(at::kFloat));
  }
}

}  // namespace

TEST(LrFindReference, SameSuggestionAsPythonLightning) {
  if (!std::filesystem::is_directory(L::kFashionMNISTDefaultDir)) {
    GTEST_SKIP() << "Fashion-MNIST is not installed (dataset-fashion-mnist, scripts/setup.sh)";
  }
  const std::string dir = LIGHTNING_TUNER_TEST_DIR;
  std::string reference_path = dir + "/lr_find_reference.txt";
  L::testing::TempDir tmp;
#ifdef LIGHTNING_TUNER_ORACLE
  // This leg's Python has Lightning: make the reference with it now.
  reference_path = tmp.file("reference.txt");
  const auto made = L::testing::run_python(dir + "/lr_find_reference.py", {reference_path});
  ASSERT_EQ(made.status, 0) << made.describe();
#endif
  const Reference ref = read_reference(reference_path);
  ASSERT_EQ(ref.lrs.size(), 100u);

  L::FashionMNIST train(L::kFashionMNISTDefaultDir, /*train=*/true, /*normalize=*/false);
  auto first = std::make_shared<L::TensorDataset>(std::vector<at::Tensor>{
      train.images().slice(0, 0, kSamples), train.targets().slice(0, 0, kSamples)});
  L::DataLoader loader(first, L::DataLoaderOptions().batch_size(kBatchSize).shuffle(false));

  auto model = std::make_shared<MyModel>(L::HParams{{"learning_rate", 1e-3}, {"hidden", 256}});
  fixed_weights(*model);
  L::Trainer trainer(
      L::testing::quiet().accelerator("cpu").default_root_dir(tmp.str()).max_epochs(1000));
  torch::manual_seed(0);
  auto finder = L::Tuner(trainer).lr_find(model, loader, {});
  ASSERT_NE(finder, nullptr);
  ASSERT_EQ(finder->lrs().size(), ref.lrs.size());
  double worst = 0;
  for (size_t i = 0; i < ref.lrs.size(); ++i) {
    EXPECT_NEAR(finder->lrs()[i], ref.lrs[i], 1e-12 * ref.lrs[i]) << i;
    worst = std::max(worst, std::abs(finder->losses()[i] - ref.losses[i]) / ref.losses[i]);
  }
  std::cout << "largest relative difference of the smoothed losses: " << worst << "\n";
  EXPECT_LT(worst, 1e-3);
  ASSERT_TRUE(finder->optimal_idx().has_value());
  EXPECT_NEAR(static_cast<double>(*finder->optimal_idx()), static_cast<double>(ref.suggestion_idx),
              1.0)
      << "suggestion " << *finder->suggestion() << " vs Lightning's " << ref.suggestion_lr;
  EXPECT_DOUBLE_EQ(model->hparams().get<double>("learning_rate"), *finder->suggestion());
}
