// The seed's LightningModule, ported line by line: a 784-hidden-hidden/2-10
// MLP on Fashion-MNIST with Adam and ReduceLROnPlateau on val_loss. Shared by
// examples/fashion_mnist (one process) and examples/ddp (DDP): the module does
// not change when the strategy does, as in Lightning.
//
//   auto model = std::make_shared<MyModel>(
//       L::HParams{{"learning_rate", 1e-3}, {"hidden", int64_t{256}}});
#pragma once

#include <lightning/cli.h>
#include <lightning/lightning.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>

#include <memory>

// class MyModel(L.LightningModule):
class MyModel : public lightning::LightningModule {
 public:
  //   def __init__(self, learning_rate=0.001):
  //       self.save_hyperparameters()
  //       self.model = YourNeuralNetwork()
  //       self.val_acc = MulticlassAccuracy(num_classes=10, average="micro")
  //       self.test_acc = MulticlassAccuracy(num_classes=10, average="micro")
  // Its constructor arguments, for LightningCLI (examples/fashion_mnist/main.cpp).
  static lightning::CLIArguments cli_arguments() {
    return lightning::CLIArguments()
        .add("learning_rate", 1e-3, "Adam's learning rate")
        .add("hidden", 256, "width of the first hidden layer (the second has half)");
  }

  explicit MyModel(lightning::HParams hp) {
    save_hyperparameters(hp);
    const int64_t hidden = hparams().get<int64_t>("hidden");
    model_ = register_module(
        "model", torch::nn::Sequential(torch::nn::Flatten(), torch::nn::Linear(784, hidden),
                                       torch::nn::ReLU(), torch::nn::Dropout(0.2),
                                       torch::nn::Linear(hidden, hidden / 2), torch::nn::ReLU(),
                                       torch::nn::Linear(hidden / 2, 10)));
    // Accuracy over every sample of the epoch (and of every rank under DDP).
    using lightning::metrics::MulticlassAccuracy;
    using lightning::metrics::MulticlassStatScoresOptions;
    val_acc_ = register_module("val_acc", std::make_shared<MulticlassAccuracy>(
                                              MulticlassStatScoresOptions(10).average("micro")));
    test_acc_ = register_module("test_acc", std::make_shared<MulticlassAccuracy>(
                                                MulticlassStatScoresOptions(10).average("micro")));
  }

  torch::Tensor forward(torch::Tensor x) { return model_->forward(x); }

  //   def training_step(self, batch, batch_idx):
  lightning::StepOutput training_step(lightning::Batch& batch, int64_t batch_idx) override {
    auto [x, y] = batch.unpack<2>();
    auto logits = forward(x);
    auto loss = torch::nn::functional::cross_entropy(logits, y);
    log("train_loss", loss, lightning::LogOptions().prog_bar(true));
    return loss;
  }

  //   def validation_step(self, batch, batch_idx):
  lightning::StepOutput validation_step(lightning::Batch& batch, int64_t batch_idx) override {
    auto [x, y] = batch.unpack<2>();
    auto logits = forward(x);
    log("val_loss", torch::nn::functional::cross_entropy(logits, y));
    //       self.val_acc.update(logits, y)
    //       self.log("val_acc", self.val_acc, prog_bar=True)
    val_acc_->update(logits, y);
    log("val_acc", val_acc_, lightning::LogOptions().prog_bar(true));
    return {};
  }

  //   def test_step(self, batch, batch_idx):
  lightning::StepOutput test_step(lightning::Batch& batch, int64_t batch_idx) override {
    auto [x, y] = batch.unpack<2>();
    auto logits = forward(x);
    log("test_loss", torch::nn::functional::cross_entropy(logits, y));
    test_acc_->update(logits, y);
    log("test_acc", test_acc_);
    return {};
  }

  //   def configure_optimizers(self):
  //       optimizer = torch.optim.Adam(self.parameters(), lr=self.hparams.learning_rate)
  //       scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode='min')
  //       return {"optimizer": optimizer,
  //               "lr_scheduler": {"scheduler": scheduler, "monitor": "val_loss"}}
  lightning::OptimizerConfig configure_optimizers() override {
    auto optimizer = std::make_shared<torch::optim::Adam>(
        parameters(), torch::optim::AdamOptions(hparams().get<double>("learning_rate")));
    auto scheduler = std::make_shared<lightning::ReduceLROnPlateau>(
        optimizer, lightning::ReduceLROnPlateauOptions().mode("min"));
    return lightning::OptimizerConfig(optimizer).lr_scheduler(
        scheduler, lightning::SchedulerConfig().monitor("val_loss"));
  }

 private:
  torch::nn::Sequential model_{nullptr};
  std::shared_ptr<lightning::metrics::MulticlassAccuracy> val_acc_, test_acc_;
};
