// DeviceStatsMonitor: CPU stats from /proc, CUDA caching-allocator stats.
#include "lightning/callbacks/device_stats_monitor.h"

#include <torch/cuda.h>
#include <unistd.h>

#include <cmath>
#include <ctime>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "lightning/error.h"
#include "lightning/trainer.h"
#include "trainer/trainer_impl.h"

#ifdef LIGHTNING_WITH_C10_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace lightning {
namespace {

// psutil's usage_percent(used, total, round_=1): 0 when total is 0.
double percent(double used, double total) {
  if (total <= 0.0) return 0.0;
  return std::round(used / total * 100.0 * 10.0) / 10.0;
}

// /proc/meminfo's "<key>:  <n> kB" in bytes; nullopt when absent.
std::optional<double> meminfo(const std::string& text, const std::string& key) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.compare(0, key.size() + 1, key + ":") != 0) continue;
    std::istringstream value(line.substr(key.size() + 1));
    double kb = 0;
    if (value >> kb) return kb * 1024.0;
  }
  return std::nullopt;
}

std::string read_file(const char* path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// psutil's system CPU times: (all, busy), busy = all - idle - iowait; guest
// times are already inside user and nice.
std::pair<double, double> cpu_times() {
  std::istringstream stat(read_file("/proc/stat"));
  std::string label;
  stat >> label;  // "cpu"
  std::vector<double> fields;
  double x = 0;
  while (fields.size() < 10 && stat >> x) fields.push_back(x);
  if (label != "cpu" || fields.size() < 5) return {0.0, 0.0};
  double all = 0;
  for (size_t i = 0; i < std::min<size_t>(fields.size(), 8); ++i) all += fields[i];
  return {all, all - fields[3] - fields[4]};
}

// Lightning's fit_loop.epoch_loop._batches_that_stepped, the step its rows
// use. A validation run inside fit comes before Lightning counts the batch
// that triggered it, and after this Trainer does.
int64_t lightning_batches_that_stepped(const Trainer& trainer, bool evaluating) {
  const int64_t n = trainer.loop_state().batches_that_stepped;
  if (!evaluating || trainer.state() != Stage::Fit || trainer.sanity_checking() || n == 0) {
    return n;
  }
  const auto& fit_loop = detail::TrainerAccess::impl(trainer).fit_loop_;
  return fit_loop.should_accumulate(trainer.loop_state().batch_idx) ? n : n - 1;
}

}  // namespace

DeviceStatsMonitor::DeviceStatsMonitor(std::optional<bool> cpu_stats) : cpu_stats_(cpu_stats) {
  std::tie(last_cpu_total_, last_cpu_busy_) = cpu_times();
}

Metrics DeviceStatsMonitor::cpu_stats() {
  Metrics stats;
  const std::string mem = read_file("/proc/meminfo");
  const double total = meminfo(mem, "MemTotal").value_or(0.0);
  const double available = meminfo(mem, "MemAvailable").value_or(0.0);
  stats["cpu_vm_percent"] = percent(total - available, total);
  const auto [all, busy] = cpu_times();
  stats["cpu_percent"] = percent(busy - last_cpu_busy_, all - last_cpu_total_);
  last_cpu_total_ = all;
  last_cpu_busy_ = busy;
  const double swap_total = meminfo(mem, "SwapTotal").value_or(0.0);
  const double swap_free = meminfo(mem, "SwapFree").value_or(0.0);
  stats["cpu_swap_percent"] = percent(swap_total - swap_free, swap_total);
  // This process: resident pages (/proc/self/statm's second field) and CPU time.
  std::istringstream statm(read_file("/proc/self/statm"));
  double size_pages = 0, resident_pages = 0;
  if (statm >> size_pages >> resident_pages) {
    stats["process_rss_bytes"] = resident_pages * static_cast<double>(::sysconf(_SC_PAGESIZE));
  }
  stats["process_cpu_seconds"] = static_cast<double>(std::clock()) / CLOCKS_PER_SEC;
  return stats;
}

Metrics DeviceStatsMonitor::cuda_stats(int64_t device_index) {
  Metrics stats;
#ifdef LIGHTNING_WITH_C10_CUDA
  // A CUDA build on a machine without that GPU has no counters to read (the
  // allocator would throw "Invalid device argument").
  if (device_index < 0 || device_index >= static_cast<int64_t>(torch::cuda::device_count())) {
    return stats;
  }
  // torch.cuda.memory_stats' names: <stat>.<pool>.<field>.
  const auto s =
      c10::cuda::CUDACachingAllocator::getDeviceStats(static_cast<c10::DeviceIndex>(device_index));
  const char* const pools[] = {"all", "small_pool", "large_pool"};
  auto add = [&](const std::string& name, const auto& array) {
    for (size_t p = 0; p < 3; ++p) {
      const std::string prefix = name + "." + pools[p] + ".";
      stats[prefix + "current"] = static_cast<double>(array[p].current);
      stats[prefix + "peak"] = static_cast<double>(array[p].peak);
      stats[prefix + "allocated"] = static_cast<double>(array[p].allocated);
      stats[prefix + "freed"] = static_cast<double>(array[p].freed);
    }
  };
  add("allocation", s.allocation);
  add("segment", s.segment);
  add("active", s.active);
  add("inactive_split", s.inactive_split);
  add("allocated_bytes", s.allocated_bytes);
  add("reserved_bytes", s.reserved_bytes);
  add("active_bytes", s.active_bytes);
  add("inactive_split_bytes", s.inactive_split_bytes);
  stats["num_alloc_retries"] = static_cast<double>(s.num_alloc_retries);
  stats["num_ooms"] = static_cast<double>(s.num_ooms);
#else
  (void)device_index;
#endif
  return stats;
}

void DeviceStatsMonitor::setup(Trainer& trainer, LightningModule&, Stage stage) {
  if (stage != Stage::Fit) return;
  LIGHTNING_CHECK(!trainer.loggers().empty() || trainer.options().logger().use_default(),
                  "Cannot use `DeviceStatsMonitor` callback with `Trainer(logger=False)`: its "
                  "stats go to the loggers. Keep TrainerOptions().logger(true) (the default) or "
                  "pass a logger.");
}

void DeviceStatsMonitor::log_stats(Trainer& trainer, const char* hook,
                                   std::optional<int64_t> eval_ready) {
  // Lightning's LoggerConnector.should_update_logs.
  const int64_t every = trainer.options().log_every_n_steps();
  if (every == 0) return;
  const int64_t step = eval_ready ? *eval_ready : trainer.loop_state().batches_that_stepped + 1;
  if (step % every != 0 && !trainer.should_stop()) return;
  const at::Device device = trainer.root_device();
  if (cpu_stats_ == std::optional<bool>(false) && device.is_cpu()) return;
  Metrics stats = device.is_cuda() ? cuda_stats(device.index() < 0 ? 0 : device.index())
                                   : (device.is_cpu() ? cpu_stats() : Metrics{});
  if (cpu_stats_ == std::optional<bool>(true) && !device.is_cpu()) {
    for (const auto& [key, value] : cpu_stats()) stats[key] = value;
  }
  if (!trainer.is_global_zero() || stats.empty()) return;
  Metrics row;
  const std::string prefix = std::string("DeviceStatsMonitor.") + hook + "/";
  for (const auto& [key, value] : stats) row[prefix + key] = value;
  for (const auto& logger : trainer.loggers()) {
    logger->log_metrics(row, lightning_batches_that_stepped(trainer, eval_ready.has_value()));
  }
}

void DeviceStatsMonitor::on_train_batch_start(Trainer& trainer, LightningModule&, Batch&, int64_t) {
  log_stats(trainer, "on_train_batch_start", std::nullopt);
}

void DeviceStatsMonitor::on_train_batch_end(Trainer& trainer, LightningModule&, const StepOutput&,
                                            Batch&, int64_t) {
  log_stats(trainer, "on_train_batch_end", std::nullopt);
}

void DeviceStatsMonitor::on_validation_start(Trainer&, LightningModule&) { eval_ready_ = 0; }

void DeviceStatsMonitor::on_validation_batch_start(Trainer& trainer, LightningModule&, Batch&,
                                                   int64_t, int64_t) {
  log_stats(trainer, "on_validation_batch_start", ++eval_ready_);
}

void DeviceStatsMonitor::on_validation_batch_end(Trainer& trainer, LightningModule&,
                                                 const StepOutput&, Batch&, int64_t, int64_t) {
  log_stats(trainer, "on_validation_batch_end", eval_ready_);
}

void DeviceStatsMonitor::on_test_start(Trainer&, LightningModule&) { eval_ready_ = 0; }

void DeviceStatsMonitor::on_test_batch_start(Trainer& trainer, LightningModule&, Batch&, int64_t,
                                             int64_t) {
  log_stats(trainer, "on_test_batch_start", ++eval_ready_);
}

void DeviceStatsMonitor::on_test_batch_end(Trainer& trainer, LightningModule&, const StepOutput&,
                                           Batch&, int64_t, int64_t) {
  log_stats(trainer, "on_test_batch_end", eval_ready_);
}

}  // namespace lightning
