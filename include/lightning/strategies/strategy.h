// lightning/strategies/strategy.h — the one polymorphic seam for where and how
// many processes train (docs/distributed.md): single device, or DDP over c10d.
//
//   L::Trainer trainer(L::TrainerOptions().strategy("ddp").devices(2));
//
// The Trainer owns one Strategy and calls it at fixed points: `setup` once per
// fit/validate/test/predict (rendezvous), `setup_module` after the module is
// on its device (DDP: broadcast from rank 0, gradient hooks), `backward`,
// `before_optimizer_step` (DDP: wait for the gradient all-reduce),
// `all_reduce` for `log(..., sync_dist=true)` and the epoch-level metrics,
// `barrier` around checkpoint writes, `teardown` at the end.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "lightning/export.h"

namespace lightning {

/// How one process sits in the job.
struct LIGHTNING_API ProcessInfo {
  int64_t world_size = 1;
  int64_t global_rank = 0;
  int64_t local_rank = 0;
  int64_t node_rank = 0;
};

class LIGHTNING_API Strategy {
 public:
  virtual ~Strategy();

  /// "single_device", "ddp".
  virtual std::string name() const = 0;
  virtual ProcessInfo process() const { return {}; }
  int64_t world_size() const { return process().world_size; }
  int64_t global_rank() const { return process().global_rank; }
  int64_t local_rank() const { return process().local_rank; }
  int64_t node_rank() const { return process().node_rank; }
  bool is_global_zero() const { return global_rank() == 0; }

  /// This process's device for `accelerator` ("cpu" or "cuda").
  virtual at::Device root_device(const std::string& accelerator) const;
  /// Joins the job (rendezvous); idempotent.
  virtual void setup() {}
  /// After the module is on root_device: DDP broadcasts rank 0's parameters
  /// and buffers and installs the gradient synchronisation.
  virtual void setup_module(torch::nn::Module& /*module*/) {}
  /// `loss.backward()`; DDP overlaps the gradient all-reduce with it.
  virtual void backward(const at::Tensor& loss) { loss.backward(); }
  /// false while accumulating (DDP skips the all-reduce, like `no_sync`).
  virtual void set_gradient_sync(bool /*enabled*/) {}
  /// Before each optimizer step: DDP waits for the averaged gradients.
  virtual void before_optimizer_step(torch::optim::Optimizer& /*optimizer*/) {}
  /// Every rank blocks until all reach the barrier. `name` is for messages.
  virtual void barrier(const std::string& /*name*/) {}
  /// Rank `src`'s tensor on every rank (same shape and dtype everywhere).
  virtual at::Tensor broadcast(const at::Tensor& tensor, int64_t /*src*/ = 0) { return tensor; }
  /// Element-wise reduction over ranks: "sum", "mean", "max", "min".
  virtual at::Tensor all_reduce(const at::Tensor& tensor, const std::string& /*op*/ = "sum") {
    return tensor;
  }
  /// Every rank's tensor, in rank order (same shape everywhere).
  virtual std::vector<at::Tensor> all_gather(const at::Tensor& tensor) { return {tensor}; }
  /// A string from rank `src` on every rank (e.g. a run folder name).
  virtual std::string broadcast_string(const std::string& value, int64_t /*src*/ = 0) {
    return value;
  }
  /// Every rank's string, in rank order (lengths may differ); built on all_gather.
  std::vector<std::string> all_gather_string(const std::string& value);
  /// Tells the other processes that this one failed in `where` (a hook name)
  /// with `what`, so that they stop instead of waiting for it. The Trainer
  /// calls it, then teardown(), before rethrowing an exception.
  virtual void report_failure(const std::string& /*where*/, const std::string& /*what*/) {}
  /// Leaves the job; idempotent. Called at the end of each entry point and on errors.
  virtual void teardown() {}
};

/// One process, one device.
class LIGHTNING_API SingleDeviceStrategy : public Strategy {
 public:
  std::string name() const override { return "single_device"; }
};

/// `TrainerOptions::strategy`: a name or a Strategy object, as Lightning's
/// `strategy=`. Names: "auto" (ddp when devices x num_nodes > 1, else
/// single_device), "ddp", "ddp_find_unused_parameters_true", "single_device".
/// An object carries its own options, e.g.
///   .strategy(std::make_shared<L::DDPStrategy>(L::DDPOptions().timeout(std::chrono::seconds(60))))
/// (the Trainer's devices and num_nodes replace the object's when set).
class LIGHTNING_API StrategyOption {
 public:
  StrategyOption(const char* name) : name_(name) {}
  StrategyOption(std::string name) : name_(std::move(name)) {}
  template <typename S, typename = std::enable_if_t<std::is_base_of_v<Strategy, S>>>
  StrategyOption(std::shared_ptr<S> strategy) : strategy_(std::move(strategy)) {}
  /// The name, or "" for an object.
  const std::string& name() const { return name_; }
  const std::shared_ptr<Strategy>& object() const { return strategy_; }

 private:
  std::string name_;
  std::shared_ptr<Strategy> strategy_;
};

}  // namespace lightning
