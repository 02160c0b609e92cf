// The C++ child of metrics_vs_torchmetrics.py: update + compute per batch of
// lightning.cpp metrics on the inputs the Python child gives torchmetrics.
//
//   metrics_vs_torchmetrics METRIC BATCHES BATCH_SIZE
//   METRIC: accuracy | f1_macro | auroc | auroc_binned
//
// Inputs (the same formula in the Python child): batch b, sample i, class c:
//   logits[i][c] = 3 sin(0.37 (b * BATCH_SIZE + i) + 1.3 c),  target[i] = (7 n + 3 + n / 5) % 10
// with n = b * BATCH_SIZE + i. Prints "seconds S" (the timed loop: update,
// then compute, per batch) and "value V" (the last compute).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "lightning/error.h"
#include "lightning/metrics/curves.h"
#include "lightning/metrics/stat_scores.h"

namespace LM = lightning::metrics;

namespace {

constexpr int64_t kClasses = 10;

std::pair<at::Tensor, at::Tensor> batch(int64_t b, int64_t size) {
  const at::Tensor n = at::arange(b * size, (b + 1) * size, at::kLong);
  const at::Tensor c = at::arange(kClasses, at::kDouble);
  const at::Tensor logits =
      (3.0 * at::sin(0.37 * n.to(at::kDouble).unsqueeze(1) + 1.3 * c.unsqueeze(0))).to(at::kFloat);
  const at::Tensor target = (7 * n + 3 + at::floor_divide(n, 5)).remainder(kClasses);
  return {logits, target};
}

std::shared_ptr<LM::Metric> make(const std::string& name) {
  if (name == "accuracy") return std::make_shared<LM::MulticlassAccuracy>(kClasses);
  if (name == "f1_macro") return std::make_shared<LM::MulticlassF1Score>(kClasses);
  if (name == "auroc") return std::make_shared<LM::MulticlassAUROC>(kClasses);
  if (name == "auroc_binned")
    return std::make_shared<LM::MulticlassAUROC>(kClasses,
                                                 LM::MulticlassAUROCOptions().thresholds(100));
  throw lightning::Error("unknown metric " + name +
                         ": use accuracy, f1_macro, auroc or auroc_binned");
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc != 4) {
      std::cerr << "usage: metrics_vs_torchmetrics METRIC BATCHES BATCH_SIZE\n";
      return 2;
    }
    at::set_num_threads(1);
    const std::string name = argv[1];
    const int64_t batches = std::stoll(argv[2]);
    const int64_t size = std::stoll(argv[3]);
    std::vector<std::pair<at::Tensor, at::Tensor>> inputs;
    for (int64_t b = 0; b < batches; ++b) inputs.push_back(batch(b, size));
    auto metric = make(name);
    at::Tensor value;
    const auto start = std::chrono::steady_clock::now();
    for (const auto& [logits, target] : inputs) {
      metric->update(logits, target);
      value = metric->compute();
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("seconds %.9f\nvalue %.9g\n", seconds, value.item<double>());
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "metrics_vs_torchmetrics: " << e.what() << "\n";
    return 1;
  }
}
