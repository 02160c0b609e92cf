// Fixtures of the weight-averaging tests: a Fashion-MNIST-shaped MLP (784 ->
// hidden -> hidden/2 -> 10, the example's layers without dropout) trained with
// SGD + StepLR on fixed synthetic data, taken in order.
#pragma once

#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/sgd.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lightning/lightning.h"

namespace lightning::testing {

struct MlpConfig {
  int64_t hidden = 32;
  double lr = 0.1;
  double momentum = 0.9;
  double gamma = 0.7;  // StepLR(step_size=1)
  bool batch_norm = false;
};

class SwaMlp : public LightningModule {
 public:
  explicit SwaMlp(MlpConfig c = {}, uint64_t seed = 7) : c_(c) {
    torch::manual_seed(seed);
    torch::nn::Sequential seq(torch::nn::Linear(784, c.hidden), torch::nn::ReLU());
    if (c.batch_norm) seq->push_back(torch::nn::BatchNorm1d(c.hidden));
    seq->push_back(torch::nn::Linear(c.hidden, c.hidden / 2));
    seq->push_back(torch::nn::ReLU());
    seq->push_back(torch::nn::Linear(c.hidden / 2, 10));
    model = register_module("model", seq);
  }
  at::Tensor forward(const at::Tensor& x) { return model->forward(x); }
  StepOutput training_step(Batch& batch, int64_t) override {
    auto [x, y] = batch.unpack<2>();
    return torch::nn::functional::cross_entropy(forward(x), y);
  }
  OptimizerConfig configure_optimizers() override {
    auto opt = std::make_shared<torch::optim::SGD>(
        parameters(), torch::optim::SGDOptions(c_.lr).momentum(c_.momentum));
    return {{opt}, {std::make_shared<StepLR>(opt, StepLROptions(1).gamma(c_.gamma))}};
  }
  torch::nn::Sequential model{nullptr};

 private:
  MlpConfig c_;
};

/// x [n, 784] uniform, y [n] in 0..9.
inline std::vector<at::Tensor> mlp_data(int64_t n = 256, uint64_t seed = 3) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return {at::rand({n, 784}, gen), at::randint(0, 10, {n}, gen)};
}

inline DataLoader mlp_loader(const std::vector<at::Tensor>& data, int64_t batch_size = 32) {
  return DataLoader(std::make_shared<TensorDataset>(data),
                    DataLoaderOptions().batch_size(batch_size));
}

inline TrainerOptions quiet_fit(int64_t max_epochs) {
  return TrainerOptions()
      .max_epochs(max_epochs)
      .enable_progress_bar(false)
      .enable_model_summary(false)
      .logger(false)
      .enable_checkpointing(false);
}

/// name -> tensor of a module's state_dict, cloned.
inline std::map<std::string, at::Tensor> weights_of(const torch::nn::Module& m) {
  std::map<std::string, at::Tensor> out;
  for (const auto& e : module_state_dict(m)) {
    out[e.key().toStringRef()] = e.value().toTensor().clone();
  }
  return out;
}

inline double max_abs_diff(const std::map<std::string, at::Tensor>& a,
                           const std::map<std::string, at::Tensor>& b) {
  double worst = 0;
  for (const auto& [k, v] : a) {
    auto it = b.find(k);
    if (it == b.end()) return 1e30;
    worst = std::max(worst,
                     (v.to(at::kDouble) - it->second.to(at::kDouble)).abs().max().item<double>());
  }
  return a.size() == b.size() ? worst : 1e30;
}

inline bool bitwise_equal(const std::map<std::string, at::Tensor>& a,
                          const std::map<std::string, at::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [k, v] : a) {
    auto it = b.find(k);
    if (it == b.end() || !at::equal(v, it->second)) return false;
  }
  return true;
}

}  // namespace lightning::testing
