// Shared by ddp_worker (the distributed program) and ddp_test (which computes
// the single-process reference): the model, the data, the training schedule.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/sgd.h>

#include <map>
#include <string>
#include <vector>

namespace ddp_test {

constexpr int64_t kBatch = 8;  // the union batch; each of 2 ranks takes half
constexpr double kLr = 0.1;

/// Two linear layers and a buffer (to check that buffers follow rank 0 too).
struct Net : torch::nn::Module {
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
  at::Tensor scale;
  explicit Net(double buffer_value = 1.0, bool with_buffer = true) {
    fc1 = register_module("fc1", torch::nn::Linear(4, 8));
    fc2 = register_module("fc2", torch::nn::Linear(8, 3));
    if (with_buffer) scale = register_buffer("scale", at::full({1}, buffer_value));
  }
  at::Tensor forward(const at::Tensor& x) { return fc2->forward(at::tanh(fc1->forward(x))); }
};

/// Rank `rank`'s initial model: a different initialisation on every rank.
inline std::shared_ptr<Net> make_model(int64_t rank, bool with_buffer = true) {
  at::manual_seed(1000 + rank);
  return std::make_shared<Net>(static_cast<double>(rank + 1), with_buffer);
}

/// Batch `index` of the union data (the same on every rank).
inline std::pair<at::Tensor, at::Tensor> batch(int64_t index) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7 + index);
  auto x = at::randn({kBatch, 4}, gen);
  auto y = at::randn({kBatch, 3}, gen);
  return {x, y};
}

/// This rank's share of batch `index`.
inline std::pair<at::Tensor, at::Tensor> shard(int64_t index, int64_t rank, int64_t world) {
  auto [x, y] = batch(index);
  return {x.chunk(world)[rank], y.chunk(world)[rank]};
}

inline at::Tensor loss_of(Net& net, const at::Tensor& x, const at::Tensor& y) {
  return torch::nn::functional::mse_loss(net.forward(x), y);
}

/// The single-process run that DDP on `world` ranks must reproduce: every
/// optimizer step accumulates `accumulate` batches (loss of each micro batch
/// over the union, as the mean over ranks of the ranks' mean losses).
inline std::map<std::string, std::vector<double>> reference(int64_t steps, int64_t accumulate) {
  auto net = make_model(0);
  torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(kLr));
  for (int64_t step = 0; step < steps; ++step) {
    opt.zero_grad();
    for (int64_t micro = 0; micro < accumulate; ++micro) {
      auto [x, y] = batch(step * accumulate + micro);
      loss_of(*net, x, y).backward();
    }
    opt.step();
  }
  std::map<std::string, std::vector<double>> out;
  for (const auto& p : net->named_parameters()) {
    auto flat = p.value().detach().to(at::kDouble).contiguous().view({-1});
    out[p.key()] =
        std::vector<double>(flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel());
  }
  return out;
}

}  // namespace ddp_test
