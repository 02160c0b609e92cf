// The Trainer's side of distributed training (docs/distributed.md): choosing
// the strategy, sharding the dataloaders, reducing logged metrics over the
// ranks, keeping stop decisions identical, and telling the other ranks when
// this one fails. The collectives themselves live in src/strategies/.
#include <ATen/CPUGeneratorImpl.h>

#include <cstring>
#include <mutex>

#include "lightning/error.h"
#include "lightning/metrics/metric.h"
#include "lightning/strategies/ddp.h"
#include "trainer/trainer_impl.h"

namespace lightning::detail {

std::shared_ptr<Strategy> TrainerImpl::make_strategy(const StrategyOption& option,
                                                     std::optional<int64_t> devices,
                                                     int64_t num_nodes) {
  const bool devices_set = devices && *devices != -1;
  const int64_t per_node = devices_set ? *devices : 1;
  if (const auto& object = option.object()) {
    // The user's DDPStrategy is the one used; the Trainer's devices (when
    // set) and num_nodes (when not 1) say how many processes it runs, as
    // Lightning sets a strategy object's devices and nodes.
    if (auto* ddp = dynamic_cast<DDPStrategy*>(object.get())) {
      ddp->set_processes(devices_set ? per_node : ddp->options().devices(),
                         num_nodes != 1 ? num_nodes : ddp->options().num_nodes());
      return object;
    }
    LIGHTNING_CHECK(per_node * num_nodes == 1 || object->world_size() == per_node * num_nodes,
                    "strategy(", object->name(), ") runs ", object->world_size(),
                    " process(es), but devices(", per_node, ") x num_nodes(", num_nodes,
                    ") asks for ", per_node * num_nodes, ".");
    return object;
  }
  const std::string& name = option.name();
  const int64_t processes = per_node * num_nodes;
  auto ddp = [&](bool find_unused) {
    return std::make_shared<DDPStrategy>(
        DDPOptions().devices(per_node).num_nodes(num_nodes).find_unused_parameters(find_unused));
  };
  if (name == "auto") {
    if (processes > 1) return ddp(false);
    return std::make_shared<SingleDeviceStrategy>();
  }
  if (name == "ddp") return ddp(false);
  if (name == "ddp_find_unused_parameters_true") return ddp(true);
  if (name == "single_device") {
    LIGHTNING_CHECK(processes == 1,
                    "strategy(\"single_device\") trains in one process, but devices(", per_node,
                    ") x num_nodes(", num_nodes, ") asks for ", processes,
                    ". Use strategy(\"ddp\") for several processes, or devices(1).");
    return std::make_shared<SingleDeviceStrategy>();
  }
  LIGHTNING_CHECK(name != "ddp_spawn" && name != "ddp_fork" && name != "ddp_notebook",
                  "strategy(\"", name,
                  "\") is not supported: lightning.cpp starts processes by re-executing the "
                  "program (Lightning's strategy=\"ddp\"), there is no spawn/fork start method in "
                  "C++. Use strategy(\"ddp\").");
  LIGHTNING_FAIL(
      "strategy must be \"auto\", \"ddp\", \"ddp_find_unused_parameters_true\", "
      "\"single_device\" or a Strategy object, got \"",
      name, "\".");
}

void TrainerImpl::setup_strategy() {
  strategy_->setup();
  if (device_.is_cuda()) device_ = strategy_->root_device("cuda");
}

DataLoaders TrainerImpl::distribute(DataLoaders loaders, bool training) {
  if (world_size() <= 1 || !options_.use_distributed_sampler()) return loaders;
  std::vector<DataLoader> out;
  for (auto& loader : loaders) {
    DataLoader l = loader;
    if (l.options().shuffle() && !l.options().generator_seed()) {
      // Every rank must shuffle alike: rank 0's draw from the default
      // generator (seed_everything decides it) becomes the loader's seed; each
      // epoch then shuffles with seed + epoch, as DistributedSampler.
      uint64_t seed = 0;
      {
        at::Generator global = at::detail::getDefaultCPUGenerator();
        std::lock_guard<std::mutex> lock(global.mutex());
        seed = global.get<at::CPUGeneratorImpl>()->random64();
      }
      int64_t bits = 0;
      std::memcpy(&bits, &seed, sizeof seed);
      bits = strategy_->broadcast(at::full({1}, bits, at::kLong)).item<int64_t>();
      std::memcpy(&seed, &bits, sizeof seed);
      l = l.with_options(DataLoaderOptions(l.options()).generator_seed(seed));
    }
    out.push_back(l.with_shard(world_size(), strategy_->global_rank(), /*pad=*/training));
  }
  return DataLoaders(std::move(out));
}

void TrainerImpl::sync_epoch_results(ResultCollection& results) {
  results.compute_metrics();  // logged Metric objects reduce themselves over the ranks
  if (world_size() > 1) results.sync_epoch(*strategy_);
}

void TrainerImpl::share_strategy_with_metrics(LightningModule& model, Strategy* strategy) {
  for (const auto& module : model.modules(/*include_self=*/false)) {
    if (auto* metric = dynamic_cast<metrics::Metric*>(module.get())) metric->set_strategy(strategy);
  }
}

at::Tensor TrainerImpl::sync_step_value(const at::Tensor& value, const std::string& reduce_fx) {
  if (world_size() <= 1) return value;
  return strategy_->all_reduce(value.to(at::kFloat), reduce_fx).reshape({});
}

void TrainerImpl::agree_on_should_stop() {
  // One rank asking to stop (a callback, the module) stops all of them.
  // Checked after each validation and at each epoch end (epoch metrics are
  // global there, so EarlyStopping agrees anyway), not after every batch: a
  // 1-element all-reduce costs 0.3-0.5 ms on Gloo, 5-10 % of a small
  // model's DDP step. A stop requested mid-epoch on one rank only makes the
  // others fail at their next collective with the timeout's error.
  if (world_size() <= 1) return;
  const at::Tensor flag = at::full({1}, should_stop_ ? 1 : 0, at::kInt);
  should_stop_ = strategy_->all_reduce(flag, "max").item<int>() != 0;
}

void TrainerImpl::fail_strategy(const std::exception& error) {
  if (world_size() > 1) {
    const std::string where =
        current_hook_ == Hook::None ? to_string(stage_) : hook_name(current_hook_);
    strategy_->report_failure(where, error.what());
  }
  try {
    strategy_->teardown();
  } catch (const std::exception& e) {
    warn(std::string("while stopping after an error, the strategy's teardown failed: ") + e.what());
  }
}

}  // namespace lightning::detail
