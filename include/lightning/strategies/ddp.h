// lightning/strategies/ddp.h — distributed data parallel over c10d
// (ProcessGroupGloo on CPU, ProcessGroupNCCL on CUDA where libtorch has it),
// as Lightning's strategy="ddp".
//
//   L::Trainer trainer(L::TrainerOptions().strategy("ddp").devices(2));   // self-launching
//   // or: torchrun-style variables set by the caller on each process:
//   // MASTER_ADDR=10.0.0.1 MASTER_PORT=29500 WORLD_SIZE=4 RANK=2 LOCAL_RANK=0 NODE_RANK=1 ./train
//
// Rendezvous: a c10d::TCPStore at MASTER_ADDR:MASTER_PORT (rank 0 hosts it),
// from the torchrun variables, else SLURM's (SLURM_PROCID, SLURM_LOCALID,
// SLURM_NTASKS, SLURM_NODEID, first host of SLURM_NODELIST). Without either
// and with devices > 1, `launch_local_ranks` re-executes this program for
// ranks 1..N-1 (Lightning's script launcher) and this process is rank 0.
// torchrun's agent store (TORCHELASTIC_USE_AGENT_STORE=True) is used as is.
//
// Lifetime: the first setup() creates the process-wide job (store + process
// group); later setups (fit, then test; other DDPStrategy objects with the
// same environment) reuse it, as torch.distributed's default group. It ends
// at process exit (launched ranks are waited for then, up to the timeout), or
// at the teardown() that follows a failure.
//
// Failures: every collective fails after `timeout` instead of hanging, with a
// lightning::Error naming the failed rank and what this rank was waiting in:
//   "rank 1 failed in training_step: boom (rank 0 was waiting in all_reduce of gradients)"
//   "rank 1 (pid 4242) was killed by signal 9 (SIGKILL) (rank 0 was waiting in ...)"
// learnt from report_failure (store key "lightning/failed"), the launcher, the
// peers' pids, or, failing those, which ranks never reached the collective.
// Gradients are averaged by c10d::Reducer (PyTorch's DDP engine), bucketed and
// overlapped with the backward. The process ignores SIGPIPE from setup() on
// (as Python does), so a dead peer's socket is an error, not a silent death.
#pragma once

#include <torch/arg.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "lightning/export.h"
#include "lightning/strategies/strategy.h"

namespace lightning {

struct LIGHTNING_API DDPOptions {
  /// Processes per node (TrainerOptions::devices).
  TORCH_ARG(int64_t, devices) = 1;
  /// Nodes (TrainerOptions::num_nodes).
  TORCH_ARG(int64_t, num_nodes) = 1;
  /// "gloo" (default on CPU) or "nccl" (CUDA). Unset: by device.
  TORCH_ARG(std::optional<std::string>, backend) = std::nullopt;
  /// Every collective (and the rendezvous) fails after this long instead of
  /// hanging. Default 300 s.
  TORCH_ARG(std::chrono::milliseconds, timeout) = std::chrono::seconds(300);
  /// How long the ranks wait for each other at the start (reaching rank 0's
  /// store and joining). Unset: `timeout`. Set it longer than `timeout` when
  /// ranks may be slow to start (loading data first, a busy machine) but a
  /// hung collective must still be caught quickly.
  TORCH_ARG(std::optional<std::chrono::milliseconds>, rendezvous_timeout) = std::nullopt;
  /// Gradient buckets of about this many MiB, all-reduced as soon as full. Default 25.
  TORCH_ARG(double, bucket_cap_mb) = 25.0;
  /// Parameters that may get no gradient in a backward (not used for the loss):
  /// the reducer then walks the autograd graph each step to find them (slower).
  /// Off: such a parameter is an error that names it. Lightning's
  /// strategy="ddp_find_unused_parameters_true".
  TORCH_ARG(bool, find_unused_parameters) = false;
};

/// The process layout read from the environment: torchrun's variables when
/// WORLD_SIZE or RANK is set (then MASTER_ADDR and MASTER_PORT are required;
/// LOCAL_RANK defaults to RANK, NODE_RANK to GROUP_RANK or 0), else SLURM's
/// when SLURM_NTASKS > 1 outside an interactive allocation (MASTER_ADDR
/// defaults to the first host of SLURM_NODELIST, MASTER_PORT to 15000 + the
/// last 4 digits of SLURM_JOB_ID, as in Lightning), else nullopt.
/// `lightning::Error` naming the variable when one is malformed or
/// inconsistent (RANK >= WORLD_SIZE, ...).
struct LIGHTNING_API DistributedEnvironment {
  ProcessInfo process;
  std::string master_addr;
  int master_port = 0;
  /// "torchrun", "slurm" or "launcher" (set by launch_local_ranks).
  std::string source;
  static std::optional<DistributedEnvironment> detect();
};

/// Lightning's script launcher: when this process has no distributed
/// environment and `devices * num_nodes > 1` with num_nodes == 1, starts ranks
/// 1..devices-1 as copies of this program (same argv, /proc/self/exe) with
/// MASTER_ADDR (as set, else 127.0.0.1), MASTER_PORT (as set, else a free
/// one), WORLD_SIZE, RANK, LOCAL_RANK, NODE_RANK set, forwards their
/// stdout/stderr line by line prefixed with "[rank N] ", and sets the same
/// variables for this process (rank 0). Returns false (and does nothing) when
/// the environment already describes the job or one process is asked for.
/// The children die with this process (PR_SET_PDEATHSIG: call it from the
/// main thread, the signal follows the thread that forked). At exit they are
/// waited for (the DDP job's exit sequence) or killed; a child that failed
/// makes this process exit with status 1, like torchrun.
LIGHTNING_API bool launch_local_ranks(int64_t devices, int64_t num_nodes);
/// Waits up to `timeout` for the launched ranks (then kills them); returns the
/// first non-zero exit status (or the signal, negated), 0 when all exited
/// cleanly or none were launched.
LIGHTNING_API int wait_for_local_ranks(std::chrono::milliseconds timeout);

class LIGHTNING_API DDPStrategy : public Strategy {
 public:
  explicit DDPStrategy(DDPOptions options = {});
  ~DDPStrategy() override;

  std::string name() const override { return "ddp"; }
  ProcessInfo process() const override;
  at::Device root_device(const std::string& accelerator) const override;
  /// Launches (see launch_local_ranks) if needed, then rendezvous and process
  /// group. `lightning::Error` after `rendezvous_timeout` (default: `timeout`)
  /// naming MASTER_ADDR:PORT and the ranks that did not join. devices *
  /// num_nodes must equal the environment's world size. With one process
  /// (devices=1, no environment), a process group of one on a free local port.
  void setup() override;
  /// Checks that every rank has the same parameter shapes, broadcasts rank
  /// 0's parameters and buffers, and installs the c10d::Reducer on the
  /// parameters that require grad.
  void setup_module(torch::nn::Module& module) override;
  /// Broadcasts rank 0's buffers (torch DDP's broadcast_buffers), then runs
  /// the backward; with gradient sync on, bucket all-reduces overlap it and
  /// the averaged gradients are in .grad when it returns. Errors of the
  /// user's graph pass through unchanged.
  void backward(const at::Tensor& loss) override;
  void set_gradient_sync(bool enabled) override;
  /// When a backward since the last step ran without sync (accumulation with
  /// sync off throughout, or a backward outside this strategy), all-reduces
  /// the gradients now: every .grad is then the mean over ranks.
  void before_optimizer_step(torch::optim::Optimizer& optimizer) override;
  void barrier(const std::string& name) override;
  at::Tensor broadcast(const at::Tensor& tensor, int64_t src = 0) override;
  at::Tensor all_reduce(const at::Tensor& tensor, const std::string& op = "sum") override;
  std::vector<at::Tensor> all_gather(const at::Tensor& tensor) override;
  std::string broadcast_string(const std::string& value, int64_t src = 0) override;
  /// Removes the gradient hooks. The job stays for the next setup unless this
  /// rank failed (report_failure, or a failed collective): then the process
  /// group is closed at once (the other ranks stop waiting for this one),
  /// launched ranks are waited for, and rank 0 keeps the store up until the
  /// others have read why (all bounded by the timeout).
  void teardown() override;

  const DDPOptions& options() const { return options_; }
  /// Sets how many processes the job runs (the Trainer calls it with
  /// TrainerOptions::devices and num_nodes, as Lightning configures a strategy
  /// object it is given). `lightning::Error` for counts < 1, or for other
  /// counts once the strategy is set up.
  void set_processes(int64_t devices, int64_t num_nodes);

  /// Tells the other ranks (through the store) that this rank failed in
  /// `where` ("rank 1 failed in training_step: <what>"), so their pending
  /// collectives report it by name; the first failure of the job wins. The
  /// Trainer calls it, then teardown(), before rethrowing any exception
  /// (also the lightning::Error of a failed collective: then it is a no-op).
  void report_failure(const std::string& where, const std::string& what) override;

  struct Impl;

 private:
  DDPOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lightning
