// overhead — what L::Trainer costs per training step over a plain libtorch loop.
//
//   ./overhead [--rounds N] [--samples N] [--epochs N] [--threads N] [--optim sgd|adam]
//              [--lr X] [--model tiny|medium|all] [--order shuffled|sequential|copied]
//              [--data-dir DIR] [--verbose] [--only plain|trainer|nolog|serial]
//              [--tune-allocator on|off]
//
// The same MLP (one module object per model size, reset to the same initial
// weights before every measurement) is trained on the same Fashion-MNIST
// samples by
//   plain   a hand-written loop: zero_grad / forward / cross_entropy /
//           backward / step, its batches taken with randperm per epoch and
//           index_select per batch (--order shuffled, the default), or as
//           slices of the data tensors, which copy nothing (--order sequential),
//           or as copies of those slices, which is what a DataLoader has to
//           hand out so that a step cannot write into the data (--order copied);
//   trainer L::Trainer (no progress bar, no model summary, no loggers, no
//           sanity check, no validation) over an L::DataLoader (shuffle on or
//           off to match), training_step calling log("train_loss", loss) as
//           most modules do; with one libtorch thread on two cores the loader
//           builds the next batch on its background thread during the step;
//   nolog   the same Trainer with a training_step that does not log;
//   serial  `trainer` with the loader's background_prefetch(false): every
//           batch is built when it is asked for, as a hand loop does.
// Timings drift by tens of percent over minutes on the machines this was
// written for (README.md, Performance), so the variants alternate inside each round
// in a palindrome (plain trainer nolog serial serial nolog trainer plain) and the figure of
// merit is the median over rounds of the per-round ratio, not absolute times.
// Each measurement includes everything a user pays for: the Trainer is built
// and `fit` called inside the timed region, and the plain loop builds its
// optimizer there too.
//
// `--only VARIANT` runs one variant `--rounds` times and prints no ratio: run
// it under `valgrind --tool=callgrind` for two variants, and the difference of
// the two instruction totals over the steps run is one's cost per step over
// the other (instruction counts do not drift as timings do).
//
// Both sides draw the epoch's order the way L::DataLoader does (a generator
// seeded from libtorch's default one), and the default generator is re-seeded
// before each measurement, so the two sides see the same batches in the same
// order and must end with identical weights; the program checks that.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <lightning/data/dataloader.h>
#include <lightning/data/datasets/fashion_mnist.h>
#include <lightning/module.h>
#include <lightning/seed.h>
#include <lightning/trainer.h>
#include <sys/resource.h>
#include <time.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace L = lightning;
namespace F = torch::nn::functional;

namespace {

enum Variant { kPlain, kTrainer, kNoLog, kSerial, kNumVariants };
const char* const kVariantNames[] = {"plain", "trainer", "nolog", "serial"};

// How the plain loop takes its batches (--order); the Trainer's loader
// shuffles for kShuffled only.
enum Order { kShuffled, kSequential, kCopied };
const char* const kOrderNames[] = {"shuffled", "sequential", "copied"};
const char* const kOrderBatches[] = {"randperm + index_select", "slices (views, no copy)",
                                     "copies of slices (clone)"};

// The position of `value` in `names`, or -1.
template <size_t N>
int index_of(const char* const (&names)[N], const std::string& value) {
  for (size_t i = 0; i < N; ++i) {
    if (value == names[i]) return static_cast<int>(i);
  }
  return -1;
}

struct Settings {
  int rounds = 31;
  int64_t samples = 6400;  // the first N of the train split
  int64_t epochs = 1;
  int threads = 0;  // 0: libtorch's own setting
  std::string optim = "sgd";
  double lr = 0.01;
  std::string data_dir = L::kFashionMNISTDefaultDir;
  std::string model = "all";    // tiny, medium or all
  Order order = kShuffled;      // --order
  bool verbose = false;         // print every measurement
  std::optional<Variant> only;  // --only VARIANT: run just that one (for callgrind)
  bool tune_allocator = true;   // --tune-allocator on|off: TrainerOptions::tune_allocator
};

std::shared_ptr<torch::optim::Optimizer> make_optimizer(std::vector<at::Tensor> params,
                                                        const Settings& s) {
  if (s.optim == "adam") {
    return std::make_shared<torch::optim::Adam>(std::move(params), torch::optim::AdamOptions(s.lr));
  }
  return std::make_shared<torch::optim::SGD>(std::move(params), torch::optim::SGDOptions(s.lr));
}

// Linear layers with ReLU between them; both sides call the same `forward`.
class Mlp : public L::LightningModule {
 public:
  Mlp(const std::vector<int64_t>& sizes, const Settings& settings) : settings_(settings) {
    for (size_t i = 0; i + 1 < sizes.size(); ++i) {
      layers_.push_back(
          register_module("fc" + std::to_string(i), torch::nn::Linear(sizes[i], sizes[i + 1])));
    }
  }

  at::Tensor forward(at::Tensor x) {
    for (size_t i = 0; i < layers_.size(); ++i) {
      x = layers_[i]->forward(x);
      if (i + 1 < layers_.size()) x = at::relu(x);
    }
    return x;
  }

  L::StepOutput training_step(L::Batch& batch, int64_t batch_idx) override {
    auto [x, y] = batch.unpack<2>();
    at::Tensor loss = F::cross_entropy(forward(x), y);
    if (log_loss_) log("train_loss", loss);
    return loss;
  }

  L::OptimizerConfig configure_optimizers() override {
    return make_optimizer(parameters(), settings_);
  }

  void set_log_loss(bool on) { log_loss_ = on; }

 private:
  std::vector<torch::nn::Linear> layers_;
  const Settings& settings_;
  bool log_loss_ = true;
};

using Clock = std::chrono::steady_clock;

struct Measurement {
  double us_per_step;      // wall clock
  double cpu_us_per_step;  // process CPU time: robust to other processes taking the cores
  double faults_per_step;
};

double cpu_us() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_nsec) * 1e-3;
}

long minor_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

// The order L::DataLoader draws for an epoch (src/data/dataloader.cpp).
at::Tensor epoch_order(int64_t n) {
  uint64_t seed;
  {
    at::Generator global = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(global.mutex());
    seed = global.get<at::CPUGeneratorImpl>()->random64();
  }
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randperm(n, generator, at::TensorOptions(at::kLong));
}

// Out of line (as is train_trainer) so that profilers attribute each side's cost.
[[gnu::noinline]] void train_plain(Mlp& model, const at::Tensor& images, const at::Tensor& labels,
                                   int64_t batch_size, const Settings& s) {
  auto optimizer = make_optimizer(model.parameters(), s);
  model.train();
  const int64_t n = images.size(0);
  for (int64_t epoch = 0; epoch < s.epochs; ++epoch) {
    const at::Tensor order = s.order == kShuffled ? epoch_order(n) : at::Tensor();
    for (int64_t first = 0; first < n; first += batch_size) {
      const int64_t size = std::min(batch_size, n - first);
      at::Tensor x, y;
      if (s.order == kShuffled) {
        const at::Tensor idx = order.narrow(0, first, size);
        x = images.index_select(0, idx);
        y = labels.index_select(0, idx);
      } else {
        x = images.narrow(0, first, size);
        y = labels.narrow(0, first, size);
        if (s.order == kCopied) {
          x = x.clone();
          y = y.clone();
        }
      }
      optimizer->zero_grad();
      at::Tensor loss = F::cross_entropy(model.forward(x), y);
      loss.backward();
      optimizer->step();
    }
  }
}

[[gnu::noinline]] void train_trainer(const std::shared_ptr<Mlp>& model, const L::DataLoader& loader,
                                     const Settings& s) {
  L::Trainer trainer(L::TrainerOptions()
                         .max_epochs(s.epochs)
                         .enable_progress_bar(false)
                         .enable_model_summary(false)
                         .logger(false)
                         .enable_checkpointing(false)
                         .num_sanity_val_steps(0)
                         .tune_allocator(s.tune_allocator));
  trainer.fit(model, loader);
}

struct Case {
  const char* label;
  std::vector<int64_t> sizes;
  int64_t batch_size;
};

std::string describe(const Case& c) {
  std::string arch;
  for (size_t i = 0; i < c.sizes.size(); ++i) arch += (i ? "-" : "") + std::to_string(c.sizes[i]);
  return std::string(c.label) + " (" + arch + ", batch " + std::to_string(c.batch_size) + ")";
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

struct Stats {
  double median, min, max;
};
Stats stats(const std::vector<double>& v) {
  return {median(v), *std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end())};
}

// Runs one model size; prints its detail line and returns its summary line.
std::string run_case(const Case& c, const at::Tensor& images, const at::Tensor& labels,
                     const Settings& s) {
  L::seed_everything(0);
  auto model = std::make_shared<Mlp>(c.sizes, s);
  std::vector<at::Tensor> initial;
  for (const auto& p : model->parameters()) initial.push_back(p.detach().clone());

  auto dataset = std::make_shared<L::TensorDataset>(std::vector<at::Tensor>{images, labels});
  const L::DataLoader loader(
      dataset, L::DataLoaderOptions().batch_size(c.batch_size).shuffle(s.order == kShuffled));
  const L::DataLoader serial_loader =
      loader.with_options(L::DataLoaderOptions(loader.options()).background_prefetch(false));
  const int64_t steps = loader.size() * s.epochs;

  uint64_t next_seed = 1;
  auto measure = [&](Variant v) {
    {
      at::NoGradGuard no_grad;
      auto params = model->parameters();
      for (size_t i = 0; i < params.size(); ++i) {
        params[i].copy_(initial[i]);
        params[i].mutable_grad().reset();
      }
    }
    model->set_log_loss(v != kNoLog);
    at::manual_seed(next_seed++);
    const long faults = minor_faults();
    const double cpu_start = cpu_us();
    const auto start = Clock::now();
    if (v == kPlain) {
      train_plain(*model, images, labels, c.batch_size, s);
    } else {
      train_trainer(model, v == kSerial ? serial_loader : loader, s);
    }
    const double us = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
    const double cpu = cpu_us() - cpu_start;
    return Measurement{us / static_cast<double>(steps), cpu / static_cast<double>(steps),
                       static_cast<double>(minor_faults() - faults) / static_cast<double>(steps)};
  };
  auto final_weights = [&] {
    std::vector<at::Tensor> w;
    for (const auto& p : model->parameters()) w.push_back(p.detach().clone());
    return w;
  };

  if (s.only) {
    // One variant, `rounds` times: under valgrind --tool=callgrind, the
    // difference of two variants' instruction counts over the steps run is
    // what one costs per step over the other, free of timing noise.
    for (int r = 0; r < s.rounds; ++r) measure(*s.only);
    return describe(c) + ": --only " + kVariantNames[*s.only] + ", " +
           std::to_string(s.rounds * steps) + " steps run\n";
  }

  // Warm-up, once per variant; plain and trainer start from the same seed and
  // must train to the same weights.
  const uint64_t check_seed = next_seed;
  measure(kPlain);
  const std::vector<at::Tensor> plain_weights = final_weights();
  next_seed = check_seed;
  measure(kTrainer);
  bool identical = true;
  const std::vector<at::Tensor> trainer_weights = final_weights();
  for (size_t i = 0; i < plain_weights.size(); ++i) {
    identical = identical && at::equal(plain_weights[i], trainer_weights[i]);
  }
  measure(kNoLog);
  measure(kSerial);

  // Per round, each variant's two measurements are summed, so that a linear
  // drift across the round cancels in the ratio.
  std::vector<double> wall[kNumVariants], cpu[kNumVariants], faults[kNumVariants];
  std::vector<double> wall_ratio[kNumVariants], cpu_ratio[kNumVariants];
  const Variant order[] = {kPlain, kTrainer, kNoLog, kSerial, kSerial, kNoLog, kTrainer, kPlain};
  for (int r = 0; r < s.rounds; ++r) {
    double wall_sum[kNumVariants] = {}, cpu_sum[kNumVariants] = {};
    for (Variant v : order) {
      const Measurement m = measure(v);
      wall[v].push_back(m.us_per_step);
      cpu[v].push_back(m.cpu_us_per_step);
      faults[v].push_back(m.faults_per_step);
      wall_sum[v] += m.us_per_step;
      cpu_sum[v] += m.cpu_us_per_step;
      if (s.verbose) std::printf(" %s %.1f", kVariantNames[v], m.us_per_step);
    }
    if (s.verbose) std::printf("\n");
    for (Variant v : {kTrainer, kNoLog, kSerial}) {
      wall_ratio[v].push_back(wall_sum[v] / wall_sum[kPlain]);
      cpu_ratio[v].push_back(cpu_sum[v] / cpu_sum[kPlain]);
    }
  }

  std::printf("%-35s %lld steps/measurement; µs/step wall (cpu), median:",
              (describe(c) + ":").c_str(), static_cast<long long>(steps));
  for (int v = 0; v < kNumVariants; ++v) {
    std::printf(" %s %.1f (%.1f)", kVariantNames[v], median(wall[v]), median(cpu[v]));
  }
  std::printf("; page faults/step:");
  for (int v = 0; v < kNumVariants; ++v) std::printf(" %.2f", median(faults[v]));
  std::printf("; weights plain==trainer: %s\n", identical ? "yes" : "NO");

  // Interference only ever slows a measurement down, so the ratio of each
  // variant's fastest measurement is a second, less noisy estimate.
  std::string lines;
  for (Variant v : {kTrainer, kNoLog, kSerial}) {
    const Stats w = stats(wall_ratio[v]), t = stats(cpu_ratio[v]);
    const double fastest = stats(wall[v]).min / stats(wall[kPlain]).min;
    char line[256];
    std::snprintf(line, sizeof(line),
                  "%-35s %s/plain = %.3f (min %.3f, max %.3f); cpu time %.3f; fastest %.3f\n",
                  (describe(c) + ":").c_str(), kVariantNames[v], w.median, w.min, w.max, t.median,
                  fastest);
    lines += line;
  }
  return lines;
}

// The BLAS libraries mapped into this process (libtorch's own or the system's).
std::string loaded_blas() {
  std::ifstream maps("/proc/self/maps");
  std::set<std::string> found;
  std::string line;
  while (std::getline(maps, line)) {
    const size_t slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    const std::string base = path.substr(path.rfind('/') + 1);
    if (base.find("blas") != std::string::npos || base.find("mkl") != std::string::npos ||
        base.find("lapack") != std::string::npos) {
      found.insert(path);
    }
  }
  std::string out;
  for (const auto& p : found) out += (out.empty() ? "" : ", ") + p;
  return out.empty() ? "none found in /proc/self/maps (statically linked?)" : out;
}

std::string malloc_setting(const Settings& s) {
  std::string env;
  for (const char* name : {"GLIBC_TUNABLES", "MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_",
                           "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "LD_PRELOAD"}) {
    if (const char* v = std::getenv(name)) env += std::string(" ") + name + "=" + v;
  }
  const std::string what =
      s.tune_allocator
          ? "the Trainer's tune_allocator fixes glibc's mmap/trim thresholds (32/64 MiB) at the "
            "first fit, for the whole process, so plain runs with them too"
          : "tune_allocator off: glibc's dynamic thresholds on both sides";
  return what + (env.empty() ? std::string("; no MALLOC_* environment") : "; environment:" + env);
}

[[noreturn]] void usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--rounds N] [--samples N] [--epochs N] [--threads N] "
               "[--optim sgd|adam] [--lr X] [--model tiny|medium|all] "
               "[--order shuffled|sequential|copied] "
               "[--data-dir DIR] [--verbose] [--only plain|trainer|nolog|serial] "
               "[--tune-allocator on|off]\n",
               argv0);
  std::exit(2);
}

Settings parse(int argc, char** argv) {
  Settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--verbose") {
      s.verbose = true;
      continue;
    }
    if (i + 1 >= argc) usage(argv[0]);
    const char* value = argv[++i];
    if (arg == "--rounds") {
      s.rounds = std::atoi(value);
    } else if (arg == "--samples") {
      s.samples = std::atoll(value);
    } else if (arg == "--epochs") {
      s.epochs = std::atoll(value);
    } else if (arg == "--threads") {
      s.threads = std::atoi(value);
    } else if (arg == "--optim") {
      s.optim = value;
    } else if (arg == "--lr") {
      s.lr = std::atof(value);
    } else if (arg == "--model") {
      s.model = value;
    } else if (arg == "--order") {
      const int order = index_of(kOrderNames, value);
      if (order < 0) usage(argv[0]);
      s.order = static_cast<Order>(order);
    } else if (arg == "--tune-allocator") {
      if (std::string(value) != "on" && std::string(value) != "off") usage(argv[0]);
      s.tune_allocator = std::string(value) == "on";
    } else if (arg == "--only") {
      const int variant = index_of(kVariantNames, value);
      if (variant < 0) usage(argv[0]);
      s.only = static_cast<Variant>(variant);
    } else if (arg == "--data-dir") {
      s.data_dir = value;
    } else {
      usage(argv[0]);
    }
  }
  if (s.rounds < 1 || s.samples < 1 || s.epochs < 1 || s.threads < 0 ||
      (s.optim != "sgd" && s.optim != "adam") ||
      (s.model != "all" && s.model != "tiny" && s.model != "medium") || !(s.lr > 0)) {
    usage(argv[0]);
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const Settings s = parse(argc, argv);
  if (s.threads > 0) at::set_num_threads(s.threads);

  // Flatten once and own the memory; then read every page before timing.
  at::Tensor images, labels;
  {
    L::FashionMNIST train(s.data_dir, /*train=*/true);
    const int64_t n = std::min<int64_t>(s.samples, train.size());
    images = train.images().narrow(0, 0, n).reshape({n, 784}).clone();
    labels = train.targets().narrow(0, 0, n).clone();
  }
  const double checksum = images.sum().item<double>() + labels.sum().item<double>();

  std::printf(
      "overhead: L::Trainer vs a plain libtorch loop, Fashion-MNIST train[0:%lld] "
      "(checksum %.0f)\n",
      static_cast<long long>(images.size(0)), checksum);
  std::printf("threads %d (at::get_num_threads%s); BLAS %s\n", at::get_num_threads(),
              s.threads > 0 ? ", set by --threads" : ", libtorch default", loaded_blas().c_str());
  std::printf("optimizer %s lr %g; %lld epoch(s)/measurement; malloc: %s\n",
              s.optim == "adam" ? "Adam" : "SGD", s.lr, static_cast<long long>(s.epochs),
              malloc_setting(s).c_str());
  std::printf("order %s: plain takes its batches with %s, the trainer's loader has shuffle(%s)\n",
              kOrderNames[s.order], kOrderBatches[s.order],
              s.order == kShuffled ? "true" : "false");
  std::printf(
      "trainer: progress bar, model summary, loggers, sanity check and validation off; "
      "'trainer' and 'serial' log train_loss every step, 'nolog' does not; 'serial' turns the "
      "loader's background_prefetch off\n");
  std::printf(
      "%d rounds of plain,trainer,nolog,serial,serial,nolog,trainer,plain after one warm-up each; "
      "a round's ratio is a variant's two times over plain's two; printed: median (min, max) over "
      "rounds, "
      "target <= 1.00\n",
      s.rounds);
  std::fflush(stdout);

  const Case cases[] = {{"tiny", {784, 32, 10}, 32}, {"medium", {784, 256, 128, 10}, 64}};
  std::vector<std::string> summary;
  for (const Case& c : cases) {
    if (s.model != "all" && s.model != c.label) continue;
    summary.push_back(run_case(c, images, labels, s));
    std::fflush(stdout);
  }
  for (const auto& lines : summary) std::printf("%s", lines.c_str());
  return 0;
}
