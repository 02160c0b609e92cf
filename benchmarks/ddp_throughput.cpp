// ddp_throughput — training throughput of one process versus two DDP ranks on
// one machine, with L::Trainer end to end.
//
//   ./ddp_throughput [--reps N] [--batches N] [--warmup N] [--optim adam|sgd] [--data-dir DIR]
//
// Three variants train the Fashion-MNIST MLP 784-256-128-10 (batch 64 per
// process, Adam lr 1e-3, log("train_loss") every step, as a Lightning user's
// module would; no validation, progress bar, summary, loggers or checkpoints):
//   single/2t  one process, 2 libtorch intra-op threads (libtorch's default here)
//   single/1t  one process, 1 thread
//   ddp2/1t    strategy("ddp").devices(2), 1 thread per rank (2 processes on 2 cores)
// Each measurement is a fresh process: this program re-runs itself with
// `--mode single|ddp2 --threads N` (and the ddp2 child then launches its own
// rank 1). The variants alternate within each repetition, in forward order
// on even repetitions and reversed on odd ones, because timings drift by tens
// of percent over minutes here: trust the per-repetition
// ratios more than absolute figures.
//
// A child times `--batches` optimizer steps after `--warmup` steps, from the
// start of the first timed batch to on_train_end (rank 0's clock; DDP ranks
// run in lockstep, each step ends with the gradient all-reduce). Process
// start, dataset loading and the DDP rendezvous are outside that window; the
// driver also reports each child's whole wall time. One DDP step processes 2
// x 64 samples, one single-process step 64: "samples/s" counts the samples of
// all ranks, so ddp2/single-1t = 2.0 would be perfect scaling.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <lightning/callbacks/callback.h>
#include <lightning/data/dataloader.h>
#include <lightning/data/datasets/fashion_mnist.h>
#include <lightning/error.h>
#include <lightning/module.h>
#include <lightning/seed.h>
#include <lightning/trainer.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace L = lightning;
namespace F = torch::nn::functional;

namespace {

using Clock = std::chrono::steady_clock;

struct Settings {
  int reps = 5;
  int64_t batches = 400;  // timed optimizer steps per measurement
  int64_t warmup = 20;    // untimed steps before them
  std::string optim = "adam";
  std::string data_dir = L::kFashionMNISTDefaultDir;
  // Child only: what to measure.
  std::string mode;  // "single" or "ddp2"; empty: the driver
  int threads = 1;
};

constexpr int64_t kBatchSize = 64;

class Mlp : public L::LightningModule {
 public:
  explicit Mlp(std::string optim) : optim_(std::move(optim)) {
    fc0_ = register_module("fc0", torch::nn::Linear(784, 256));
    fc1_ = register_module("fc1", torch::nn::Linear(256, 128));
    fc2_ = register_module("fc2", torch::nn::Linear(128, 10));
  }
  at::Tensor forward(const at::Tensor& x) {
    return fc2_->forward(at::relu(fc1_->forward(at::relu(fc0_->forward(x)))));
  }
  L::StepOutput training_step(L::Batch& batch, int64_t batch_idx) override {
    auto [x, y] = batch.unpack<2>();
    at::Tensor loss = F::cross_entropy(forward(x), y);
    log("train_loss", loss);
    return loss;
  }
  L::OptimizerConfig configure_optimizers() override {
    if (optim_ == "sgd") {
      return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.01));
    }
    return std::make_shared<torch::optim::Adam>(parameters(), torch::optim::AdamOptions(1e-3));
  }

 private:
  std::string optim_;
  torch::nn::Linear fc0_{nullptr}, fc1_{nullptr}, fc2_{nullptr};
};

// Times the steps after the first `warmup`: from the start of batch `warmup`
// (global_step == warmup, the previous step done) to on_train_end.
class StepTimer : public L::Callback {
 public:
  explicit StepTimer(int64_t warmup) : warmup_(warmup) {}
  void on_train_batch_start(L::Trainer& trainer, L::LightningModule&, L::Batch&, int64_t) override {
    if (trainer.global_step() == warmup_) start_ = Clock::now();
  }
  void on_train_end(L::Trainer&, L::LightningModule&) override { end_ = Clock::now(); }
  double seconds() const { return std::chrono::duration<double>(end_ - start_).count(); }

 private:
  int64_t warmup_;
  Clock::time_point start_, end_;
};

// One measurement (a child process); rank 0 prints the RESULT line.
int measure(const Settings& s) {
  at::Tensor images, labels;
  {
    L::FashionMNIST train(s.data_dir, /*train=*/true, /*normalize=*/true);
    images = train.images().reshape({train.size(), 784}).clone();
    labels = train.targets().clone();
  }
  // First reads of fresh pages are slow here: touch them all.
  const double checksum = images.sum().item<double>() + labels.sum().item<double>();

  L::seed_everything(0);
  auto model = std::make_shared<Mlp>(s.optim);
  auto dataset = std::make_shared<L::TensorDataset>(std::vector<at::Tensor>{images, labels});
  L::DataLoader loader(dataset, L::DataLoaderOptions().batch_size(kBatchSize).shuffle(true));
  auto timer = std::make_shared<StepTimer>(s.warmup);
  const bool ddp = s.mode == "ddp2";
  L::Trainer trainer(L::TrainerOptions()
                         .accelerator("cpu")
                         .strategy(ddp ? "ddp" : "single_device")
                         .devices(ddp ? 2 : 1)
                         .num_threads(s.threads)
                         .max_epochs(-1)
                         .max_steps(s.warmup + s.batches)
                         .num_sanity_val_steps(0)
                         .enable_progress_bar(false)
                         .enable_model_summary(false)
                         .enable_checkpointing(false)
                         .logger(false)
                         .callbacks({timer}));
  trainer.fit(model, loader);
  if (trainer.is_global_zero()) {
    std::printf("RESULT world=%lld threads=%d steps=%lld seconds=%.6f checksum=%.0f\n",
                static_cast<long long>(trainer.world_size()), at::get_num_threads(),
                static_cast<long long>(trainer.global_step() - s.warmup), timer->seconds(),
                checksum);
    std::fflush(stdout);
  }
  return 0;
}

struct Variant {
  const char* name;
  const char* mode;
  int threads;
  int world;
};
const Variant kVariants[] = {
    {"single/2t", "single", 2, 1}, {"single/1t", "single", 1, 1}, {"ddp2/1t", "ddp2", 1, 2}};
constexpr int kNumVariants = 3;

struct Run {
  double seconds;       // timed window
  double wall_seconds;  // the whole child process (start, data, rendezvous, fit, exit)
};

std::string self_path() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) {
    std::perror("readlink /proc/self/exe");
    std::exit(1);
  }
  return std::string(buf, static_cast<size_t>(n));
}

std::string quote(const std::string& arg) {
  std::string out = "'";
  for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

Run run_child(const std::string& exe, const Variant& v, const Settings& s) {
  const std::string command = quote(exe) + " --mode " + v.mode + " --threads " +
                              std::to_string(v.threads) + " --batches " +
                              std::to_string(s.batches) + " --warmup " + std::to_string(s.warmup) +
                              " --optim " + s.optim + " --data-dir " + quote(s.data_dir) + " 2>&1";
  const auto start = Clock::now();
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) {
    std::perror("popen");
    std::exit(1);
  }
  std::string output;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, pipe)) output.append(buf, n);
  const int status = pclose(pipe);
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();

  long long world = 0, steps = 0;
  int threads = 0;
  double seconds = 0;
  // Rank 0's line; rank 1's output (if any) comes prefixed with "[rank 1] ".
  size_t at = output.rfind("RESULT ", 0);
  if (at == std::string::npos && (at = output.find("\nRESULT ")) != std::string::npos) ++at;
  const bool parsed =
      at != std::string::npos &&
      std::sscanf(output.c_str() + at, "RESULT world=%lld threads=%d steps=%lld seconds=%lf",
                  &world, &threads, &steps, &seconds) == 4;
  if (status != 0 || !parsed || world != v.world || threads != v.threads || steps != s.batches) {
    std::fprintf(stderr, "ddp_throughput: the %s measurement failed (status %d):\n%s\n", v.name,
                 status, output.c_str());
    std::exit(1);
  }
  return {seconds, wall};
}

// Other processes on the machine distort every figure: show how busy it was.
std::string load_average() {
  std::string text;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    char buf[128] = {};
    if (std::fgets(buf, sizeof buf, f)) text = buf;
    std::fclose(f);
  }
  const size_t end = text.find(' ', text.find(' ', text.find(' ') + 1) + 1);
  return end == std::string::npos ? "unknown" : text.substr(0, end);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

int drive(const Settings& s) {
  const std::string exe = self_path();
  // The ddp2 children must start their own job, not join the caller's.
  for (const char* name : {"MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "LOCAL_RANK",
                           "NODE_RANK", "GROUP_RANK", "SLURM_NTASKS"}) {
    unsetenv(name);
  }
  std::printf(
      "ddp_throughput: Fashion-MNIST MLP 784-256-128-10, batch %lld per process, %s, "
      "%lld timed steps after %lld warm-up steps per measurement; %d CPUs online\n",
      static_cast<long long>(kBatchSize), s.optim == "sgd" ? "SGD lr 0.01" : "Adam lr 1e-3",
      static_cast<long long>(s.batches), static_cast<long long>(s.warmup),
      static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)));
  std::printf(
      "variants: single/2t (1 process, 2 threads), single/1t (1 process, 1 thread), ddp2/1t "
      "(2 DDP ranks, 1 thread each); a fresh process per measurement; malloc untouched\n");
  std::printf(
      "%d repetitions, variants alternating (reversed on odd repetitions); load average "
      "(1, 5, 15 min) at start: %s\n\n",
      s.reps, load_average().c_str());
  std::fflush(stdout);

  // ms per optimizer step and samples/s of all ranks, per variant and repetition.
  std::vector<double> ms_per_step[kNumVariants], samples_per_s[kNumVariants], wall[kNumVariants];
  std::vector<double> ratio_vs_1t, ratio_vs_2t;
  for (int r = 0; r < s.reps; ++r) {
    std::printf("rep %d:", r + 1);
    for (int k = 0; k < kNumVariants; ++k) {
      const int i = r % 2 == 0 ? k : kNumVariants - 1 - k;
      const Variant& v = kVariants[i];
      const Run run = run_child(exe, v, s);
      const double steps = static_cast<double>(s.batches);
      ms_per_step[i].push_back(1e3 * run.seconds / steps);
      samples_per_s[i].push_back(steps * kBatchSize * v.world / run.seconds);
      wall[i].push_back(run.wall_seconds);
      std::printf("  %s %.3f ms/step %.0f samples/s (process %.1f s)", v.name,
                  ms_per_step[i].back(), samples_per_s[i].back(), run.wall_seconds);
      std::fflush(stdout);
    }
    ratio_vs_2t.push_back(samples_per_s[2].back() / samples_per_s[0].back());
    ratio_vs_1t.push_back(samples_per_s[2].back() / samples_per_s[1].back());
    std::printf("  | ddp2/single-1t %.3f, ddp2/single-2t %.3f\n", ratio_vs_1t.back(),
                ratio_vs_2t.back());
  }

  std::printf("\nmedians over %d repetitions (load average at end: %s):\n", s.reps,
              load_average().c_str());
  for (int i = 0; i < kNumVariants; ++i) {
    const double sps = median(samples_per_s[i]);
    std::printf("  %-10s %7.3f ms/step  %6.0f samples/s  %6.2f us/sample  (process %.1f s)\n",
                kVariants[i].name, median(ms_per_step[i]), sps, 1e6 / sps, median(wall[i]));
  }
  std::printf(
      "samples/s ratio (2 ranks process 2 x 64 samples per step; 2.0 = perfect scaling), "
      "median of per-repetition ratios:\n");
  std::printf("  ddp2/1t over single/1t: %.3f (min %.3f, max %.3f)\n", median(ratio_vs_1t),
              *std::min_element(ratio_vs_1t.begin(), ratio_vs_1t.end()),
              *std::max_element(ratio_vs_1t.begin(), ratio_vs_1t.end()));
  std::printf("  ddp2/1t over single/2t: %.3f (min %.3f, max %.3f)\n", median(ratio_vs_2t),
              *std::min_element(ratio_vs_2t.begin(), ratio_vs_2t.end()),
              *std::max_element(ratio_vs_2t.begin(), ratio_vs_2t.end()));
  std::printf(
      "time per optimizer step, ddp2/1t over single/1t: %.3f (1.0 = the all-reduce is free)\n",
      median(ms_per_step[2]) / median(ms_per_step[1]));
  return 0;
}

[[noreturn]] void usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--reps N] [--batches N] [--warmup N] [--optim adam|sgd] "
               "[--data-dir DIR]\n",
               argv0);
  std::exit(2);
}

Settings parse(int argc, char** argv) {
  Settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) usage(argv[0]);
    const char* value = argv[++i];
    if (arg == "--reps") {
      s.reps = std::atoi(value);
    } else if (arg == "--batches") {
      s.batches = std::atoll(value);
    } else if (arg == "--warmup") {
      s.warmup = std::atoll(value);
    } else if (arg == "--optim") {
      s.optim = value;
    } else if (arg == "--data-dir") {
      s.data_dir = value;
    } else if (arg == "--mode") {
      s.mode = value;
    } else if (arg == "--threads") {
      s.threads = std::atoi(value);
    } else {
      usage(argv[0]);
    }
  }
  if (s.reps < 1 || s.batches < 1 || s.warmup < 0 || s.threads < 1 ||
      (s.optim != "adam" && s.optim != "sgd") ||
      (!s.mode.empty() && s.mode != "single" && s.mode != "ddp2")) {
    usage(argv[0]);
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const Settings s = parse(argc, argv);
  try {
    return s.mode.empty() ? drive(s) : measure(s);
  } catch (const L::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
