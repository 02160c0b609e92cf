// Uses the installed lightning.cpp package from a separate CMake project:
// includes the public headers, subclasses LightningModule, iterates a
// DataLoader and runs a short `fit`. Prints OK and exits 0 when all of that works.
#include <lightning/lightning.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/sgd.h>

#include <exception>
#include <iostream>
#include <memory>
#include <vector>

namespace L = lightning;

namespace {

class TinyRegression : public L::LightningModule {
 public:
  TinyRegression() { linear_ = register_module("linear", torch::nn::Linear(3, 1)); }

  L::StepOutput training_step(L::Batch& batch, int64_t batch_idx) override {
    auto [x, y] = batch.unpack<2>();
    auto loss = torch::nn::functional::mse_loss(linear_->forward(x), y);
    log("train_loss", loss);
    return loss;
  }

  L::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.1));
  }

 private:
  torch::nn::Linear linear_{nullptr};
};

int fail(const char* what) {
  std::cerr << "package test failed: " << what << "\n";
  return 1;
}

}  // namespace

int main() {
  try {
    L::seed_everything(7);
    auto dataset = std::make_shared<L::TensorDataset>(
        std::vector<at::Tensor>{at::randn({8, 3}), at::randn({8, 1})});
    L::DataLoader loader(dataset, L::DataLoaderOptions().batch_size(4).shuffle(true));
    int64_t batches = 0;
    for (L::Batch& batch : loader) {
      if (batch.size() != 2 || batch.batch_size() != 4) return fail("unexpected batch layout");
      ++batches;
    }
    if (batches != 2 || loader.size() != 2) return fail("expected 2 batches of 4 samples");

    L::Trainer trainer(L::TrainerOptions()
                           .max_epochs(1)
                           .logger(false)
                           .enable_checkpointing(false)
                           .enable_progress_bar(false)
                           .enable_model_summary(false));
    auto model = std::make_shared<TinyRegression>();
    trainer.fit(model, loader);
    if (trainer.global_step() != 2) return fail("expected 2 optimizer steps");
    if (trainer.callback_metrics().count("train_loss") == 0) return fail("train_loss not logged");
  } catch (const std::exception& e) {
    std::cerr << "package test failed with an exception: " << e.what() << "\n";
    return 1;
  }
  std::cout << "OK\n";
  return 0;
}
