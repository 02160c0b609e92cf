// A distributed program for ddp_test: uses DDPStrategy directly, as the
// Trainer will. Started with devices=N and no torchrun variables, it launches
// its other ranks itself; started with them, it is one rank of the job.
//
//   ddp_worker MODE [key=value ...]
//   modes: train, accumulate, collectives, fail, die, hang, mismatch, bench
//   keys:  devices (2), timeout_ms (60000), rendezvous_ms (unset: the timeout),
//          steps (4), accumulate (2),
//          sync_last (1: the last micro batch syncs; 0: none does),
//          fail_rank (1), fail_step (2), bucket_mb (25), buffer (1: the model
//          has a buffer), width (256), sync (bench: reducer = in the backward,
//          after = one all-reduce after it, none = no gradient sync)
//
// Output lines carry "rank=R" so the test can parse them with or without the
// launcher's "[rank R] " prefix. Exit status 0 on success, 1 on a
// lightning::Error (printed as "ERROR rank=R: ...").
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "distributed/ddp_common.h"
#include "distributed/worker_args.h"
#include "lightning/error.h"
#include "lightning/strategies/ddp.h"

namespace L = lightning;
using worker_args::opt;
using worker_args::optd;
using worker_args::opts;
using worker_args::values;
using namespace ddp_test;

namespace {

/// Where this rank is, for report_failure (as the Trainer names its hooks).
std::string stage = "setup";

void print_state(const Net& net, int64_t rank) {
  std::ostringstream out;
  for (const auto& p : net.named_parameters()) {
    out << "PARAM rank=" << rank << " " << p.key() << values(p.value()) << "\n";
  }
  for (const auto& b : net.named_buffers()) {
    out << "BUFFER rank=" << rank << " " << b.key() << values(b.value()) << "\n";
  }
  std::cout << out.str() << std::flush;
}

L::DDPOptions ddp_options() {
  auto o = L::DDPOptions()
               .devices(opt("devices", 2))
               .timeout(std::chrono::milliseconds(opt("timeout_ms", 60000)))
               .bucket_cap_mb(optd("bucket_mb", 25.0));
  if (opt("rendezvous_ms", 0) > 0) {
    o.rendezvous_timeout(std::chrono::milliseconds(opt("rendezvous_ms", 0)));
  }
  return o;
}

/// The training loop of modes train / accumulate / fail / die / hang.
int train(L::DDPStrategy& s, const std::string& mode) {
  s.setup();
  const int64_t rank = s.global_rank(), world = s.world_size();
  std::cout << "START rank=" << rank << " world=" << world << " pid=" << ::getpid() << std::endl;
  // Without buffers, nothing is broadcast per step: a failure then hits the
  // gradient all-reduce inside the backward.
  auto net = make_model(rank, opt("buffer", 1) != 0);
  s.setup_module(*net);
  torch::optim::SGD sgd(net->parameters(), torch::optim::SGDOptions(kLr));
  const int64_t steps = opt("steps", 4);
  const int64_t accumulate = mode == "accumulate" ? opt("accumulate", 2) : 1;
  const bool sync_last = opt("sync_last", 1) != 0;
  const int64_t fail_rank = opt("fail_rank", 1), fail_step = opt("fail_step", 2);
  stage = "training_step";
  for (int64_t step = 0; step < steps; ++step) {
    sgd.zero_grad();
    for (int64_t micro = 0; micro < accumulate; ++micro) {
      if (rank == fail_rank && step == fail_step) {
        if (mode == "fail") throw std::runtime_error("boom at step " + std::to_string(step));
        if (mode == "die") {
          std::cout << "DYING rank=" << rank << std::endl;
          ::raise(SIGKILL);
        }
        if (mode == "hang") {
          std::cout << "HANGING rank=" << rank << std::endl;
          std::this_thread::sleep_for(std::chrono::milliseconds(3 * opt("timeout_ms", 60000)));
        }
      }
      const bool last = micro == accumulate - 1;
      s.set_gradient_sync(last && sync_last);
      auto [x, y] = shard(step * accumulate + micro, rank, world);
      s.backward(loss_of(*net, x, y));
      if (mode == "accumulate") {
        std::cout << (last && sync_last ? "GRAD_SYNCED" : "GRAD_LOCAL") << " rank=" << rank << " s"
                  << step << "m" << micro << values(net->fc2->weight.grad()) << std::endl;
      }
    }
    s.before_optimizer_step(sgd);
    if (mode == "accumulate") {
      std::cout << "GRAD_STEP rank=" << rank << " s" << step << values(net->fc2->weight.grad())
                << std::endl;
    }
    sgd.step();
  }
  print_state(*net, rank);
  std::cout << "DONE rank=" << rank << std::endl;
  s.teardown();
  return 0;
}

/// Rank 1's model has another shape: setup_module must say so.
int mismatch(L::DDPStrategy& s) {
  s.setup();
  const int64_t rank = s.global_rank();
  torch::nn::Linear net(4, 2 + rank);
  s.setup_module(*net);
  std::cout << "UNEXPECTED rank=" << rank << " setup_module passed" << std::endl;
  return 0;
}

int collectives(L::DDPStrategy& s) {
  s.setup();
  const int64_t rank = s.global_rank();
  int failures = 0;
  auto check = [&](const std::string& name, bool ok, const std::string& got) {
    std::cout << "CHECK rank=" << rank << " " << name << (ok ? " ok" : " FAIL got" + got)
              << std::endl;
    failures += ok ? 0 : 1;
  };
  auto mine = at::tensor({double(rank + 1), 2.0 * (rank + 1)}, at::kDouble);
  // For world 2: [1, 2] and [2, 4].
  auto sum = s.all_reduce(mine, "sum");
  check("sum", at::allclose(sum, at::tensor({3.0, 6.0}, at::kDouble)), values(sum));
  check("input_unchanged",
        at::equal(mine, at::tensor({double(rank + 1), 2.0 * (rank + 1)}, at::kDouble)),
        values(mine));
  auto mean = s.all_reduce(mine, "mean");
  check("mean", at::allclose(mean, at::tensor({1.5, 3.0}, at::kDouble)), values(mean));
  auto max = s.all_reduce(mine, "max");
  check("max", at::allclose(max, at::tensor({2.0, 4.0}, at::kDouble)), values(max));
  auto min = s.all_reduce(mine, "min");
  check("min", at::allclose(min, at::tensor({1.0, 2.0}, at::kDouble)), values(min));
  auto int_mean = s.all_reduce(at::tensor({rank * 3}, at::kLong), "mean");
  check("int_mean", int_mean.is_floating_point() && int_mean.item<double>() == 1.5,
        values(int_mean));
  auto scalar = s.all_reduce(at::scalar_tensor(rank + 1.0).requires_grad_(), "sum");
  check("scalar_requires_grad", scalar.dim() == 0 && scalar.item<double>() == 3.0, values(scalar));
  auto gathered = s.all_gather(at::tensor({rank, rank * 10}, at::kLong));
  check("all_gather",
        gathered.size() == 2 && at::equal(gathered[0], at::tensor({0L, 0L})) &&
            at::equal(gathered[1], at::tensor({1L, 10L})),
        gathered.size() == 2 ? values(gathered[0]) + " |" + values(gathered[1]) : "size");
  auto b = s.broadcast(at::full({2, 2}, double(rank + 5), at::kDouble), 1);
  check("broadcast", at::allclose(b, at::full({2, 2}, 6.0, at::kDouble)), values(b));
  auto text = s.broadcast_string("hello from rank " + std::to_string(rank), 1);
  check("broadcast_string", text == "hello from rank 1", " '" + text + "'");
  std::string big(100000, static_cast<char>('a' + rank));
  auto big_out = s.broadcast_string(big, 0);
  check("broadcast_string_big", big_out == std::string(100000, 'a'),
        " size " + std::to_string(big_out.size()));
  auto empty = s.broadcast_string(rank == 0 ? "" : "not empty", 0);
  check("broadcast_string_empty", empty.empty(), " '" + empty + "'");
  s.barrier("middle");
  // A shape mismatch is an error on every rank, and the group stays usable.
  std::string error;
  try {
    s.all_gather(at::zeros({rank + 1}));
  } catch (const L::Error& e) {
    error = e.what();
  }
  check("all_gather_shape_error", error.find("same shape") != std::string::npos,
        " '" + error + "'");
  try {
    s.all_reduce(mine, "median");
  } catch (const L::Error& e) {
    error = e.what();
  }
  check("unknown_op", error.find("median") != std::string::npos, " '" + error + "'");
  s.barrier("end");
  std::cout << (failures == 0 ? "COLLECTIVES OK" : "COLLECTIVES FAILED") << " rank=" << rank
            << std::endl;
  s.teardown();
  return failures == 0 ? 0 : 2;
}

/// Long lines from every rank at once, written in pieces through std::cout
/// (with and without a flush at the end) and in one printf: the launcher must
/// relay each line whole (ddp_test.cpp, LinesOfAllRanksArriveWhole).
int chatter(L::DDPStrategy& s) {
  s.setup();
  const int64_t rank = s.global_rank(), lines = opt("lines", 3000), width = opt("width", 300);
  const std::string payload(static_cast<size_t>(width), static_cast<char>('a' + rank));
  // A pause in the middle of a line, as when a program computes what it
  // prints: both ranks then print at the same time.
  const auto pause = std::chrono::microseconds(opt("pause_us", 50));
  s.barrier("chatter start");
  for (int64_t i = 0; i < lines; ++i) {
    switch (i % 3) {
      case 0:
        std::cout << "LINE rank=" << rank << " i=" << i << " ";
        std::this_thread::sleep_for(pause);
        std::cout << payload << " END\n";
        break;
      case 1:
        std::cout << "LINE rank=" << rank << " i=" << i << " " << payload;
        std::this_thread::sleep_for(pause);
        std::cout << " END" << std::endl;
        break;
      default:
        std::printf("LINE rank=%d i=%d %s END\n", static_cast<int>(rank), static_cast<int>(i),
                    payload.c_str());
    }
  }
  s.barrier("chatter end");
  s.teardown();
  return 0;
}

/// Time per optimizer step of a wider MLP, for a way of syncing the gradients
/// (sync=reducer|after|none).
int bench(L::DDPStrategy& s) {
  s.setup();
  const int64_t rank = s.global_rank(), world = s.world_size();
  const int64_t width = opt("width", 256), steps = opt("steps", 30);
  const std::string sync = opts("sync", "reducer");
  if (sync != "reducer" && sync != "after" && sync != "none") {
    throw std::runtime_error("bench: sync must be reducer, after or none, got '" + sync + "'");
  }
  at::manual_seed(1);
  auto net = std::make_shared<torch::nn::Module>();
  std::vector<torch::nn::Linear> layers;
  for (int i = 0; i < 4; ++i) {
    layers.push_back(net->register_module("fc" + std::to_string(i),
                                          torch::nn::Linear(i == 0 ? 64 : width, width)));
  }
  s.setup_module(*net);
  torch::optim::SGD sgd(net->parameters(), torch::optim::SGDOptions(0.01));
  auto x = at::randn({32, 64});
  auto step = [&] {
    sgd.zero_grad();
    auto h = x;
    for (auto& l : layers) h = at::relu(l->forward(h));
    // With sync off, the backward leaves each rank's own gradients and
    // before_optimizer_step all-reduces them all at once.
    s.set_gradient_sync(sync == "reducer");
    s.backward(h.pow(2).mean());
    if (sync != "none") s.before_optimizer_step(sgd);
    sgd.step();
  };
  for (int i = 0; i < 5; ++i) step();
  s.barrier("bench start");
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < steps; ++i) step();
  s.barrier("bench end");
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() /
      static_cast<double>(steps);
  int64_t params = 0;
  for (auto& p : net->parameters()) params += p.numel();
  std::cout << "BENCH rank=" << rank << " world=" << world << " sync=" << sync
            << " params=" << params << " ms_per_step=" << ms << std::endl;
  s.teardown();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: ddp_worker MODE [key=value ...]\n";
    return 64;
  }
  const std::string mode = argv[1];
  worker_args::parse(argc, argv, 2);
  at::set_num_threads(1);
  L::DDPStrategy strategy(ddp_options());
  auto started = std::chrono::steady_clock::now();
  try {
    if (mode == "collectives") return collectives(strategy);
    if (mode == "bench") return bench(strategy);
    if (mode == "chatter") return chatter(strategy);
    if (mode == "mismatch") return mismatch(strategy);
    return train(strategy, mode);
  } catch (const std::exception& e) {
    // What the Trainer does with an exception: tell the other ranks, leave.
    const bool ours = dynamic_cast<const L::Error*>(&e) != nullptr;
    strategy.report_failure(stage, e.what());
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - started)
                  .count();
    std::cout << "ERROR rank=" << strategy.global_rank() << " lightning=" << ours
              << " after_ms=" << ms << ": " << e.what() << std::endl;
    strategy.teardown();
    return 1;
  }
}
