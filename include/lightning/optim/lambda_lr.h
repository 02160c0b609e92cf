// lightning/optim/lambda_lr.h — PyTorch's LambdaLR and MultiplicativeLR.
//
//   L::LambdaLR warmup(opt, [](int64_t epoch) { return std::min(1.0, (epoch + 1) / 10.0); });
//   L::MultiplicativeLR decay(opt, [](int64_t) { return 0.95; });
//
// One function for all groups, or one per group. Functions are not part of the
// state_dict (PyTorch saves only callable objects' __dict__; plain functions
// are saved as None): the state holds "lr_lambdas" as a list of None.
#pragma once

#include <functional>

#include "lightning/export.h"
#include "lightning/optim/lr_scheduler.h"

namespace lightning {

using LRLambda = std::function<double(int64_t epoch)>;

/// lr = base_lr * lr_lambda(epoch).
class LIGHTNING_API LambdaLR : public LRScheduler {
 public:
  LambdaLR(std::shared_ptr<torch::optim::Optimizer> optimizer, LRLambda lr_lambda,
           int64_t last_epoch = -1);
  /// One function per parameter group; `lightning::Error` on a count mismatch.
  LambdaLR(std::shared_ptr<torch::optim::Optimizer> optimizer, std::vector<LRLambda> lr_lambdas,
           int64_t last_epoch = -1);
  std::string name() const override { return "LambdaLR"; }
  SchedulerState state_dict() const override;
  void load_state_dict(const SchedulerState& state) override;

 protected:
  std::vector<double> get_lr() override;

 private:
  std::vector<LRLambda> lr_lambdas_;
};

/// lr = previous lr * lr_lambda(epoch), from epoch 1 on.
class LIGHTNING_API MultiplicativeLR : public LRScheduler {
 public:
  MultiplicativeLR(std::shared_ptr<torch::optim::Optimizer> optimizer, LRLambda lr_lambda,
                   int64_t last_epoch = -1);
  MultiplicativeLR(std::shared_ptr<torch::optim::Optimizer> optimizer,
                   std::vector<LRLambda> lr_lambdas, int64_t last_epoch = -1);
  std::string name() const override { return "MultiplicativeLR"; }
  SchedulerState state_dict() const override;
  void load_state_dict(const SchedulerState& state) override;

 protected:
  std::vector<double> get_lr() override;

 private:
  std::vector<LRLambda> lr_lambdas_;
};

}  // namespace lightning
