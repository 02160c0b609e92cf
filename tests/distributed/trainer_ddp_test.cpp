// The Trainer under strategy("ddp"): trainer_ddp_worker (a LightningModule +
// Trainer program) as 2 ranks on loopback, self-launched or started
// torchrun-style, checked against the same program in one process:
// sharding of the loaders, gradient averaging (with accumulation and
// shuffling), sync_dist and the epoch-end reduction of logged metrics, test
// metrics on a set whose size is not divisible by the world size, failures
// (a raising rank, a SIGKILLed rank), checkpoints in both directions, and
// which rank writes logs.
//
// Every run is under a watchdog: a test that would hang is killed and FAILs.
#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "distributed/process_harness.h"
#include "lightning/data/dataloader.h"
#include "lightning/data/dataset.h"
#include "support/temp_dir.h"

namespace {

namespace L = lightning;
namespace fs = std::filesystem;
namespace harness = lightning::testing::harness;
using harness::error_line;
using harness::exit_code;
using harness::parse;
using harness::Run;
using harness::State;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::Not;
using Args = std::vector<std::string>;
using Order = std::vector<int64_t>;

const std::string kWorker = LIGHTNING_TRAINER_DDP_WORKER;
constexpr auto kWatchdog = std::chrono::seconds(60);

Run self_launch(const Args& args) { return harness::self_launch(kWorker, args, {}, kWatchdog); }
Run torchrun(const Args& args) { return harness::torchrun(kWorker, args, 2, {}, kWatchdog); }
/// The same program in one process, without DDP (the last "devices=" wins).
Run single(Args args) {
  args.push_back("devices=1");
  return harness::self_launch(kWorker, args, {}, kWatchdog);
}

/// Every process exited with status 0 before the watchdog.
::testing::AssertionResult succeeded(const Run& run) {
  if (run.timed_out) {
    return ::testing::AssertionFailure()
           << "the watchdog killed the run after " << run.seconds << " s\n"
           << run.all();
  }
  for (size_t i = 0; i < run.procs.size(); ++i) {
    if (exit_code(run.procs[i]) != 0) {
      return ::testing::AssertionFailure()
             << "process " << i << " exited with " << exit_code(run.procs[i]) << "\n"
             << run.all();
    }
  }
  return ::testing::AssertionSuccess();
}

/// "KIND rank=R text" lines (with or without the launcher's prefix): rank -> text.
std::map<int, std::string> lines_of(const Run& run, const std::string& kind) {
  std::map<int, std::string> out;
  std::regex line_re("(?:\\[rank \\d+\\] )?" + kind + " rank=(\\d+) (.*)");
  for (const auto& p : run.procs) {
    std::istringstream lines(p.output);
    for (std::string line; std::getline(lines, line);) {
      std::smatch m;
      if (std::regex_match(line, m, line_re)) out[std::stoi(m[1].str())] = m[2].str();
    }
  }
  return out;
}

std::string join(const Order& order) {
  std::string s;
  for (int64_t i : order) s.append(s.empty() ? "" : ",").append(std::to_string(i));
  return s;
}

std::vector<double> as_doubles(const Order& order) { return {order.begin(), order.end()}; }

std::string tag(int64_t epoch, int64_t batch) {
  return "e" + std::to_string(epoch) + "b" + std::to_string(batch);
}

Order identity(int64_t n) {
  Order order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  return order;
}

/// The sample order of each epoch of a loader over n samples, as an
/// unsharded DataLoader with these options draws it (DistributedSampler's
/// order, which the shards cut).
std::vector<Order> epoch_orders(int64_t n, int64_t epochs, bool shuffle,
                                std::optional<uint64_t> seed) {
  auto data = std::make_shared<L::TensorDataset>(
      std::vector<at::Tensor>{at::arange(n, at::TensorOptions(at::kLong))});
  auto options = L::DataLoaderOptions().batch_size(n).shuffle(shuffle);
  if (seed) options.generator_seed(*seed);
  L::DataLoader loader(data, options);
  std::vector<Order> orders;
  for (int64_t e = 0; e < epochs; ++e) {
    loader.set_epoch(e);
    for (auto& batch : loader) {
      at::Tensor t = batch[0].contiguous();
      orders.emplace_back(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
    }
  }
  return orders;
}

/// Rank `rank`'s share of `order` as torch's DistributedSampler cuts it:
/// order[rank::world], after extending the order with its own beginning to a
/// multiple of `world` when `pad`.
Order shard(Order order, int64_t rank, int64_t world, bool pad) {
  if (pad) {
    const size_t n = order.size();
    for (size_t i = 0; order.size() % world != 0; ++i) order.push_back(order[i % n]);
  }
  Order out;
  for (size_t i = rank; i < order.size(); i += world) out.push_back(order[i]);
  return out;
}

std::vector<Order> batches(const Order& samples, int64_t size) {
  std::vector<Order> out;
  for (size_t i = 0; i < samples.size(); i += size) {
    out.emplace_back(samples.begin() + i,
                     samples.begin() + std::min(samples.size(), i + static_cast<size_t>(size)));
  }
  return out;
}

/// `kind` lines of `rank` for epoch `epoch` are exactly `expected` (batch k
/// tagged eEbk).
void expect_batches(const State& seen, int rank, int64_t epoch, const std::vector<Order>& expected,
                    const std::string& kind) {
  SCOPED_TRACE(kind + " rank " + std::to_string(rank) + " epoch " + std::to_string(epoch));
  auto it = seen.find(rank);
  ASSERT_NE(it, seen.end()) << "no " << kind << " lines from rank " << rank;
  for (size_t k = 0; k < expected.size(); ++k) {
    auto b = it->second.find(tag(epoch, k));
    ASSERT_NE(b, it->second.end()) << "batch " << k << " missing";
    EXPECT_EQ(b->second, as_doubles(expected[k])) << "batch " << k;
  }
  EXPECT_EQ(it->second.count(tag(epoch, expected.size())), 0u) << "more batches than expected";
}

std::set<std::string> files_under(const fs::path& root) {
  std::set<std::string> files;
  if (!fs::exists(root)) return files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.is_regular_file()) files.insert(fs::relative(entry.path(), root).string());
  }
  return files;
}

double metric(State& state, int rank, const std::string& name) {
  auto& v = state[rank][name];
  return v.size() == 1 ? v[0] : std::nan("");
}

// ---------------------------------------------------------------- training

/// A 2-rank fit of the worker: n samples, `batch` per rank, SGD.
struct TrainCase {
  int64_t n = 24, batch = 4, epochs = 2, accumulate = 1;
  bool shuffle = false, manual = false;
  std::optional<uint64_t> seed;
  Args args() const {
    Args a = {"fit",
              "n=" + std::to_string(n),
              "batch=" + std::to_string(batch),
              "epochs=" + std::to_string(epochs),
              "accumulate=" + std::to_string(accumulate),
              "shuffle=" + std::to_string(shuffle ? 1 : 0)};
    if (seed) a.push_back("seed=" + std::to_string(*seed));
    if (manual) a.push_back("manual=1");
    return a;
  }
};

/// The 2-rank run trained on the DistributedSampler shards, and exactly like
/// one process whose batch k is rank 0's batch k followed by rank 1's batch k.
void expect_matches_single_process(const Run& ddp, const TrainCase& c) {
  ASSERT_TRUE(succeeded(ddp));
  const auto orders = epoch_orders(c.n, c.epochs, c.shuffle, c.seed);
  const auto seen = parse(ddp, "BATCH");
  std::vector<Order> union_orders;
  for (int64_t e = 0; e < c.epochs; ++e) {
    std::vector<Order> per_rank[2];
    for (int r = 0; r < 2; ++r) {
      per_rank[r] = batches(shard(orders[e], r, 2, /*pad=*/true), c.batch);
      expect_batches(seen, r, e, per_rank[r], "BATCH");
    }
    Order u;
    for (size_t k = 0; k < per_rank[0].size(); ++k) {
      u.insert(u.end(), per_rank[0][k].begin(), per_rank[0][k].end());
      u.insert(u.end(), per_rank[1][k].begin(), per_rank[1][k].end());
    }
    union_orders.push_back(u);
  }

  // The reference: the union batches, in order, from a Subset in one process.
  Args ref = {"fit", "n=" + std::to_string(c.n), "batch=" + std::to_string(2 * c.batch),
              "accumulate=" + std::to_string(c.accumulate), "shuffle=0"};
  if (c.manual) ref.push_back("manual=1");
  std::vector<std::vector<Order>> ref_batches;  // per epoch
  if (!c.shuffle) {
    for (const auto& u : union_orders) ASSERT_EQ(u, union_orders[0]);
    ref.push_back("order=" + join(union_orders[0]));
    ref.push_back("epochs=" + std::to_string(c.epochs));
    for (int64_t e = 0; e < c.epochs; ++e)
      ref_batches.push_back(batches(union_orders[0], 2 * c.batch));
  } else {
    // Every epoch has another order: the reference runs all of them as one
    // epoch (plain SGD depends only on the sequence of batches; no
    // accumulation window spans an epoch end here).
    EXPECT_EQ(c.accumulate, 1);
    Order all;
    for (const auto& u : union_orders) all.insert(all.end(), u.begin(), u.end());
    ref.push_back("order=" + join(all));
    ref.push_back("epochs=1");
    ref_batches.push_back(batches(all, 2 * c.batch));
  }
  Run reference = single(ref);
  ASSERT_TRUE(succeeded(reference));
  const auto ref_seen = parse(reference, "BATCH");
  for (size_t e = 0; e < ref_batches.size(); ++e) {
    expect_batches(ref_seen, 0, e, ref_batches[e], "reference BATCH");
  }

  // Rank 1 was initialised differently: both start from rank 0's weights.
  auto init = parse(ddp, "INIT");
  auto ref_init = parse(reference, "INIT");
  ASSERT_FALSE(ref_init[0].empty()) << reference.all();
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(init[r], ref_init[0]) << "rank " << r << " did not start from rank 0's weights\n"
                                    << ddp.all();
  }

  auto params = parse(ddp, "PARAM");
  auto expected = parse(reference, "PARAM")[0];
  ASSERT_EQ(params.size(), 2u) << ddp.all();
  ASSERT_FALSE(expected.empty()) << reference.all();
  EXPECT_NE(expected, ref_init[0]) << "the reference did not train";
  double worst = 0;
  for (int r = 0; r < 2; ++r) {
    ASSERT_EQ(params[r].size(), expected.size()) << ddp.all();
    for (const auto& [name, values] : expected) {
      const auto& got = params[r][name];
      ASSERT_EQ(got.size(), values.size()) << name;
      // Identical on both ranks, bit for bit.
      EXPECT_EQ(got, params[0][name]) << "rank " << r << " " << name;
      for (size_t i = 0; i < values.size(); ++i) {
        worst = std::max(worst, std::abs(got[i] - values[i]));
        EXPECT_NEAR(got[i], values[i], 1e-6) << "rank " << r << " " << name << "[" << i << "]";
      }
    }
  }
  auto done = parse(ddp, "DONE");
  auto ref_done = parse(reference, "DONE");
  EXPECT_EQ(done[0]["global_step"], ref_done[0]["global_step"]);
  EXPECT_EQ(done[1]["global_step"], ref_done[0]["global_step"]);
  std::cout << "max |ddp - single process| = " << worst << " (" << ddp.seconds << " s)\n";
}

void expect_rank_properties(const Run& run) {
  auto ranks = parse(run, "RANKS");
  // global rank, local rank, world size, is_global_zero, module.global_rank()
  EXPECT_EQ(ranks[0]["info"], (std::vector<double>{0, 0, 2, 1, 0})) << run.all();
  EXPECT_EQ(ranks[1]["info"], (std::vector<double>{1, 1, 2, 0, 1})) << run.all();
}

TEST(TrainerDDPFit, SelfLaunchMatchesSingleProcessOnUnionBatches) {
  TrainCase c;
  auto run = self_launch(c.args());
  // Rank 1's output comes through rank 0, prefixed.
  EXPECT_THAT(run.procs[0].output, HasSubstr("[rank 1] DONE rank=1 global_step 6")) << run.all();
  EXPECT_THAT("\n" + run.procs[0].output, HasSubstr("\nDONE rank=0 global_step 6")) << run.all();
  // Warnings come from rank 0 only (Lightning's rank_zero_warn).
  EXPECT_THAT(run.procs[0].output,
              HasSubstr("[lightning] warning: validation_step is overridden but there is no val"))
      << run.all();
  EXPECT_THAT(run.procs[0].output, Not(HasSubstr("[rank 1] [lightning] warning"))) << run.all();
  expect_rank_properties(run);
  expect_matches_single_process(run, c);
}

TEST(TrainerDDPFit, TorchrunMatchesSingleProcessOnUnionBatches) {
  TrainCase c;
  auto run = torchrun(c.args());
  EXPECT_THAT(run.procs[1].output, Not(HasSubstr("[rank"))) << run.all();
  // Warnings come from rank 0 only.
  EXPECT_THAT(run.procs[0].output, HasSubstr("[lightning] warning: validation_step is overridden"))
      << run.all();
  EXPECT_THAT(run.procs[1].output, Not(HasSubstr("[lightning] warning"))) << run.all();
  expect_rank_properties(run);
  expect_matches_single_process(run, c);
}

TEST(TrainerDDPFit, SlurmWarnsOnRankZeroOnly) {
  // srun --ntasks=2: SLURM's variables, no RANK. The ranks come from
  // SLURM_PROCID, and so does who prints the warnings.
  TrainCase c;
  const std::string port = std::to_string(harness::free_port());
  std::vector<harness::Proc> procs;
  for (int r = 0; r < 2; ++r) {
    procs.push_back(harness::spawn(kWorker, c.args(),
                                   {{"SLURM_NTASKS", "2"},
                                    {"SLURM_PROCID", std::to_string(r)},
                                    {"SLURM_LOCALID", std::to_string(r)},
                                    {"SLURM_NODEID", "0"},
                                    {"SLURM_NODELIST", "127.0.0.1"},
                                    {"SLURM_JOB_NAME", "train"},
                                    {"MASTER_PORT", port}}));
  }
  auto run = harness::wait_all(std::move(procs), kWatchdog);
  ASSERT_TRUE(succeeded(run));
  EXPECT_THAT(run.procs[0].output, HasSubstr("[lightning] warning: validation_step is overridden"))
      << run.all();
  EXPECT_THAT(run.procs[1].output, Not(HasSubstr("[lightning] warning"))) << run.all();
  expect_rank_properties(run);
}

TEST(TrainerDDPFit, AccumulationMatchesSingleProcess) {
  // 3 batches per rank and epoch, accumulate 2: steps after batches 1 and 2.
  TrainCase c;
  c.accumulate = 2;
  auto run = torchrun(c.args());
  expect_matches_single_process(run, c);
  EXPECT_EQ(parse(run, "DONE")[0]["global_step"], std::vector<double>{4}) << run.all();
}

TEST(TrainerDDPFit, ManualOptimizationMatchesSingleProcess) {
  // manual_backward goes through the strategy: gradients are averaged too.
  TrainCase c;
  c.manual = true;
  auto run = self_launch(c.args());
  expect_matches_single_process(run, c);
  EXPECT_EQ(parse(run, "DONE")[0]["global_step"], std::vector<double>{6}) << run.all();
}

TEST(TrainerDDPFit, ShuffledEpochsMatchSingleProcess) {
  TrainCase c;
  c.shuffle = true;
  c.seed = 1234;
  const auto orders = epoch_orders(c.n, c.epochs, true, c.seed);
  ASSERT_NE(orders[0], orders[1]) << "the epochs must be ordered differently for this test";
  auto run = self_launch(c.args());
  expect_matches_single_process(run, c);
}

// ---------------------------------------------------------------- logging

TEST(TrainerDDPLogging, SyncDistStepValuesAndEpochReductions) {
  // 13 samples, batch 4: training shards are padded to 7 samples each (rank 1
  // ends with sample 0 again), validation shards are 7 and 6 samples.
  auto run = torchrun({"fit", "n=13", "batch=4", "epochs=1", "sync=1", "val_n=13"});
  ASSERT_TRUE(succeeded(run));
  auto train_seen = parse(run, "BATCH");
  auto val_seen = parse(run, "VBATCH");
  double padded_sq = 0;
  for (int r = 0; r < 2; ++r) {
    const Order train_shard = shard(identity(13), r, 2, true);
    for (int64_t i : train_shard) padded_sq += static_cast<double>(i * i);
    expect_batches(train_seen, r, 0, batches(train_shard, 4), "BATCH");
    expect_batches(val_seen, r, 0, batches(shard(identity(13), r, 2, false), 4), "VBATCH");
  }
  EXPECT_EQ(shard(identity(13), 1, 2, true).back(), 0);

  // Step values with sync_dist: rank r logs 10 r + batch_idx + 1.
  auto steps = parse(run, "STEP");
  for (int b = 0; b < 2; ++b) {
    const std::string t = tag(0, b) + "/";
    for (int r = 0; r < 2; ++r) {
      SCOPED_TRACE("rank " + std::to_string(r) + " batch " + std::to_string(b));
      EXPECT_EQ(steps[r][t + "rank_mean"], std::vector<double>{5.0 + b + 1}) << run.all();
      EXPECT_EQ(steps[r][t + "rank_sum"], std::vector<double>{10.0 + 2 * (b + 1)});
      EXPECT_EQ(steps[r][t + "rank_max"], std::vector<double>{10.0 + b + 1});
      EXPECT_EQ(steps[r][t + "rank_min"], std::vector<double>{1.0 + b});
      EXPECT_EQ(steps[r][t + "loss_sync"], steps[0][t + "loss_sync"]);
    }
    const auto& local0 = steps[0][t + "loss_local"];
    const auto& local1 = steps[1][t + "loss_local"];
    ASSERT_EQ(local0.size(), 1u) << run.all();
    ASSERT_EQ(local1.size(), 1u) << run.all();
    EXPECT_NE(local0, local1) << "the ranks' losses must differ for this check";
    ASSERT_EQ(steps[0][t + "loss_sync"].size(), 1u) << run.all();
    EXPECT_NEAR(steps[0][t + "loss_sync"][0], (local0[0] + local1[0]) / 2, 1e-6);
  }

  // Epoch values: reduced over the ranks at the epoch end, on every rank.
  auto metrics = parse(run, "METRIC");
  for (int r = 0; r < 2; ++r) {
    SCOPED_TRACE("rank " + std::to_string(r));
    EXPECT_EQ(metric(metrics, r, "train_count"), 14) << run.all();  // the padded epoch
    // Mean of i^2 over all 14 samples (per-rank means 44.57 and 48.29; the
    // unweighted mean of the batch means would be 51.25).
    EXPECT_NEAR(metric(metrics, r, "train_sq"), padded_sq / 14, 1e-4) << run.all();
    EXPECT_EQ(metric(metrics, r, "train_rank_max"), 1);
    EXPECT_EQ(metric(metrics, r, "train_rank_min"), 0);
    EXPECT_EQ(metric(metrics, r, "val_count"), 13) << run.all();  // each sample once
    // Mean of i^2 over 0..12 (rank 0's 7 samples: 52, rank 1's 6: 47.67).
    EXPECT_NEAR(metric(metrics, r, "val_sq"), 50, 1e-4) << run.all();
    EXPECT_EQ(metric(metrics, r, "val_rank_max"), 1);
    EXPECT_EQ(metric(metrics, r, "val_rank_min"), 0);
    EXPECT_EQ(metrics[r]["val_loss"], metrics[0]["val_loss"]);
    ASSERT_EQ(metrics[r]["val_loss_sync"].size(), 1u) << run.all();
    EXPECT_TRUE(std::isfinite(metrics[r]["val_loss_sync"][0]));
    EXPECT_EQ(metrics[r]["val_loss_sync"], metrics[0]["val_loss_sync"]);
  }
}

TEST(TrainerDDPLogging, OnlyRank0WritesLogsCheckpointsAndTheProgressBar) {
  lightning::testing::TempDir dir("trainer_ddp");
  // readonly_nonzero: rank 1 cannot write a byte to any file.
  auto run = self_launch({"fit", "root=" + dir.str(), "logger=1", "progress=1", "checkpointing=1",
                          "sync=1", "val_n=13", "readonly_nonzero=1"});
  ASSERT_TRUE(succeeded(run));
  const fs::path logs = dir.path() / "lightning_logs";
  std::set<std::string> versions;
  if (fs::exists(logs)) {
    for (const auto& entry : fs::directory_iterator(logs)) {
      versions.insert(entry.path().filename().string());
    }
  }
  EXPECT_EQ(versions, std::set<std::string>{"version_0"}) << run.all();
  std::vector<std::string> csv;
  for (const auto& f : files_under(dir.path())) {
    if (fs::path(f).filename() == "metrics.csv") csv.push_back(f);
  }
  EXPECT_EQ(csv, std::vector<std::string>{"lightning_logs/version_0/metrics.csv"});

  const std::string version = (logs / "version_0").string();
  auto log_dirs = lines_of(run, "LOG_DIR");
  EXPECT_EQ(log_dirs[0], version) << run.all();
  EXPECT_EQ(log_dirs[1], version) << run.all();
  const std::string ckpt = version + "/checkpoints/epoch=1-step=6.ckpt";
  auto ckpts = lines_of(run, "CKPT");
  EXPECT_EQ(ckpts[0], ckpt) << run.all();
  EXPECT_EQ(ckpts[1], ckpt) << run.all();
  EXPECT_TRUE(fs::exists(ckpt)) << run.all();

  // The epoch rows carry the reduced values: 24 training samples per epoch.
  std::ifstream in(version + "/metrics.csv");
  std::string header;
  std::getline(in, header);
  std::vector<std::string> columns;
  std::istringstream hs(header);
  for (std::string c; std::getline(hs, c, ',');) columns.push_back(c);
  auto column = std::find(columns.begin(), columns.end(), "train_count");
  ASSERT_NE(column, columns.end()) << header;
  EXPECT_THAT(header, HasSubstr("loss_sync"));
  std::vector<std::string> counts;
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> cells;
    std::istringstream ls(line);
    for (std::string c; std::getline(ls, c, ',');) cells.push_back(c);
    const size_t i = column - columns.begin();
    if (i < cells.size() && !cells[i].empty()) counts.push_back(cells[i]);
  }
  ASSERT_EQ(counts.size(), 2u) << header;
  EXPECT_EQ(std::stod(counts[0]), 24);
  EXPECT_EQ(std::stod(counts[1]), 24);

  // The progress bar (plain lines, not a terminal) comes from rank 0 only.
  const std::string& out = run.procs[0].output;
  EXPECT_THAT("\n" + out, HasSubstr("\nEpoch 0")) << out;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("[rank 1] ", 0) != 0) continue;
    EXPECT_THAT(line, Not(AnyOf(HasSubstr("Epoch "), HasSubstr("Validation"), HasSubstr("it/s"))))
        << "rank 1 drew a progress bar";
  }
}

// ---------------------------------------------------------------- test

TEST(TrainerDDPTest, OddSizedTestSetGivesTheSingleProcessMetricsOnBothRanks) {
  // 37 samples, batch 4: rank 0 tests 19 samples (4 4 4 4 3), rank 1 18 (4 4 4 4 2).
  const Args args = {"test", "test_n=37", "batch=4", "init=fixed"};
  auto ddp = self_launch(args);
  ASSERT_TRUE(succeeded(ddp));
  auto reference = single(args);
  ASSERT_TRUE(succeeded(reference));

  auto seen = parse(ddp, "TBATCH");
  std::multiset<int64_t> tested;
  for (int r = 0; r < 2; ++r) {
    const Order s = shard(identity(37), r, 2, false);
    expect_batches(seen, r, 0, batches(s, 4), "TBATCH");
    tested.insert(s.begin(), s.end());
  }
  const Order all = identity(37);
  EXPECT_EQ(tested, std::multiset<int64_t>(all.begin(), all.end()));

  auto got = parse(ddp, "TEST");
  auto expected = parse(reference, "TEST")[0];
  ASSERT_EQ(got.size(), 2u) << ddp.all();
  for (int r = 0; r < 2; ++r) {
    SCOPED_TRACE("rank " + std::to_string(r));
    EXPECT_EQ(metric(got, r, "test_count"), 37) << ddp.all();  // each sample exactly once
    EXPECT_NEAR(metric(got, r, "test_sq"), 438, 1e-3);         // mean of i^2 over 0..36
    for (const char* name : {"test_loss", "test_acc", "test_count", "test_sq"}) {
      ASSERT_EQ(expected[name].size(), 1u) << name << reference.all();
      EXPECT_NEAR(metric(got, r, name), expected[name][0], 1e-6) << name;
    }
    EXPECT_EQ(metric(got, r, "test_rank_max"), 1);
    EXPECT_EQ(metric(got, r, "test_rank_min"), 0);
    EXPECT_EQ(got[r], got[0]);  // the same numbers on both ranks, bit for bit
  }
}

TEST(TrainerDDPTest, MetricObjectsOverTwoShardsEqualOneProcessOverTheirUnion) {
  // 37 samples on 2 ranks (19 and 18): a metric of each kind of state (sum:
  // MulticlassAccuracy; cat, gathered with uneven sizes: MulticlassAUROC;
  // max / min: MaxMetric / MinMetric) logged from test_step.
  const Args args = {"test", "test_n=37", "batch=4", "init=fixed", "metrics=1"};
  auto ddp = self_launch(args);
  ASSERT_TRUE(succeeded(ddp));
  auto reference = single(args);
  ASSERT_TRUE(succeeded(reference));

  auto got = parse(ddp, "TEST");
  auto expected = parse(reference, "TEST")[0];
  auto local = parse(ddp, "MLOCAL");
  auto global = parse(ddp, "MGLOBAL");
  auto local_again = parse(ddp, "MLOCAL2");
  ASSERT_EQ(got.size(), 2u) << ddp.all();
  for (const char* name : {"tm_acc", "tm_auroc", "tm_max", "tm_min"}) {
    SCOPED_TRACE(name);
    ASSERT_EQ(expected[name].size(), 1u) << reference.all();
    for (int r = 0; r < 2; ++r) {
      // What the Trainer logged, and compute() called in a hook: the union's value.
      EXPECT_NEAR(metric(got, r, name), expected[name][0], 1e-6) << "rank " << r << ddp.all();
      ASSERT_EQ(global[r][name].size(), 1u) << ddp.all();
      EXPECT_NEAR(global[r][name][0], expected[name][0], 1e-6) << "rank " << r;
      // Syncing left the rank's own accumulation alone.
      EXPECT_EQ(local_again[r][name], local[r][name]) << "rank " << r;
    }
  }
  // The shards differ: their own values are not the union's.
  EXPECT_NE(local[0]["tm_acc"], local[1]["tm_acc"]) << ddp.all();
  EXPECT_NE(local[0]["tm_max"], local[1]["tm_max"]) << ddp.all();
  EXPECT_NE(local[0]["tm_auroc"], global[0]["tm_auroc"]) << ddp.all();
}

// ---------------------------------------------------------------- failures

// A rank that raises or dies is reported to the others at once. The timeout
// is long, so a run that ends well before it shows the failure was reported,
// not timed out, however slowly the processes start on a busy machine.
constexpr double kTimeoutSeconds = 60;
constexpr auto kFailureWatchdog = std::chrono::seconds(120);
/// Well before the timeout.
constexpr double kReportedWithin = kTimeoutSeconds - 20;

/// A fit in which rank 1 fails at the `step`-th (0-based) call of `at`.
Args failing(const std::string& at, int step) {
  return {"fit", "timeout_ms=60000", "fail_at=" + at, "fail_step=" + std::to_string(step)};
}
Run self_launch_failing(const Args& args) {
  return harness::self_launch(kWorker, args, {}, kFailureWatchdog);
}
Run torchrun_failing(const Args& args) {
  return harness::torchrun(kWorker, args, 2, {}, kFailureWatchdog);
}

TEST(TrainerDDPFailure, RaisingRankIsNamedBySelfLaunchedRank0) {
  auto run = self_launch_failing(failing("training_step", 2));
  ASSERT_FALSE(run.timed_out) << run.all();
  EXPECT_NE(exit_code(run.procs[0]), 0) << run.all();
  const std::string line = error_line(run.procs[0], 0);
  EXPECT_THAT(line, HasSubstr("lightning::Error: ")) << run.all();
  EXPECT_THAT(line, HasSubstr("rank 1 failed in training_step: boom at step 2")) << run.all();
  EXPECT_THAT(line, HasSubstr("(rank 0 was waiting in ")) << run.all();
  // Rank 1 rethrew its own exception.
  EXPECT_THAT(run.procs[0].output, HasSubstr("[rank 1] ERROR rank=1")) << run.all();
  EXPECT_LT(run.seconds, kReportedWithin) << run.all();
  std::cout << line << "\n(" << run.seconds << " s)\n";
}

TEST(TrainerDDPFailure, RaisingRankIsNamedByTorchrunRank0) {
  auto run = torchrun_failing(failing("training_step", 2));
  ASSERT_FALSE(run.timed_out) << run.all();
  EXPECT_NE(exit_code(run.procs[0]), 0) << run.all();
  EXPECT_NE(exit_code(run.procs[1]), 0) << run.all();
  const std::string line = error_line(run.procs[0], 0);
  EXPECT_THAT(line, HasSubstr("lightning::Error: ")) << run.all();
  EXPECT_THAT(line, HasSubstr("rank 1 failed in training_step: boom at step 2")) << run.all();
  EXPECT_THAT(line, HasSubstr("(rank 0 was waiting in ")) << run.all();
  EXPECT_THAT(error_line(run.procs[1], 1), HasSubstr("boom at step 2")) << run.all();
  EXPECT_LT(run.seconds, kReportedWithin) << run.all();
  std::cout << line << "\n(" << run.seconds << " s)\n";
}

TEST(TrainerDDPFailure, RaisingValidationStepIsNamed) {
  Args args = failing("validation_step", 1);
  args.push_back("val_n=13");
  auto run = torchrun_failing(args);
  ASSERT_FALSE(run.timed_out) << run.all();
  EXPECT_NE(exit_code(run.procs[0]), 0) << run.all();
  EXPECT_NE(exit_code(run.procs[1]), 0) << run.all();
  const std::string line = error_line(run.procs[0], 0);
  EXPECT_THAT(line, HasSubstr("rank 1 failed in validation_step: boom at step 1")) << run.all();
  EXPECT_THAT(line, HasSubstr("(rank 0 was waiting in ")) << run.all();
  EXPECT_LT(run.seconds, kReportedWithin) << run.all();
  std::cout << line << "\n(" << run.seconds << " s)\n";
}

TEST(TrainerDDPFailure, KilledLaunchedRankIsNamed) {
  auto run = self_launch_failing(failing("die", 2));
  ASSERT_FALSE(run.timed_out) << run.all();
  EXPECT_NE(exit_code(run.procs[0]), 0) << run.all();
  EXPECT_THAT(run.procs[0].output, HasSubstr("[rank 1] DYING rank=1")) << run.all();
  const std::string line = error_line(run.procs[0], 0);
  EXPECT_THAT(line, HasSubstr("rank 1 (pid")) << run.all();
  EXPECT_THAT(line, HasSubstr("killed by signal 9")) << run.all();
  EXPECT_LT(run.seconds, kReportedWithin) << run.all();
  std::cout << line << "\n(" << run.seconds << " s)\n";
}

TEST(TrainerDDPFailure, KilledTorchrunRankIsNamed) {
  auto run = torchrun_failing(failing("die", 2));
  ASSERT_FALSE(run.timed_out) << run.all();
  EXPECT_NE(exit_code(run.procs[0]), 0) << run.all();
  EXPECT_TRUE(WIFSIGNALED(run.procs[1].status) && WTERMSIG(run.procs[1].status) == SIGKILL)
      << run.all();
  const std::string line = error_line(run.procs[0], 0);
  EXPECT_THAT(line, HasSubstr("rank 1 (pid")) << run.all();
  // Not rank 0's child: it can see that rank 1 is gone, not the signal.
  EXPECT_THAT(line, AnyOf(HasSubstr("killed"), HasSubstr("no longer running"))) << run.all();
  EXPECT_LT(run.seconds, kReportedWithin) << run.all();
  std::cout << line << "\n(" << run.seconds << " s)\n";
}

// ---------------------------------------------------------------- checkpoints

TEST(TrainerDDPCheckpoint, DdpCheckpointIsWrittenOnceAndLoadsInOneProcess) {
  lightning::testing::TempDir dir("trainer_ddp");
  const std::string final_ckpt = dir.file("final.ckpt");
  const std::string epoch_ckpt = dir.file("checkpoints/epoch=1-step=6.ckpt");
  // A ModelCheckpoint (the default one) and save_checkpoint on every rank;
  // rank 1 cannot write files.
  auto run = self_launch(
      {"fit", "root=" + dir.str(), "checkpointing=1", "save=" + final_ckpt, "readonly_nonzero=1"});
  ASSERT_TRUE(succeeded(run));
  EXPECT_EQ(files_under(dir.path()),
            (std::set<std::string>{"checkpoints/epoch=1-step=6.ckpt", "final.ckpt"}))
      << run.all();
  auto ckpts = lines_of(run, "CKPT");
  EXPECT_EQ(ckpts[0], epoch_ckpt) << run.all();
  EXPECT_EQ(ckpts[1], epoch_ckpt) << run.all();
  auto log_dirs = lines_of(run, "LOG_DIR");
  EXPECT_EQ(log_dirs[0], log_dirs[1]) << run.all();

  auto params = parse(run, "PARAM");
  ASSERT_FALSE(params[0].empty()) << run.all();
  EXPECT_EQ(params[1], params[0]);
  for (const std::string& path : {final_ckpt, epoch_ckpt}) {
    auto load = single({"load", "ckpt=" + path});
    ASSERT_TRUE(succeeded(load));
    EXPECT_EQ(parse(load)[0], params[0]) << path;
  }

  // A single-process fit resumes from the DDP checkpoint: 6 batches per epoch now.
  auto resume = single({"fit", "root=" + dir.file("single"), "ckpt=" + epoch_ckpt, "epochs=3"});
  ASSERT_TRUE(succeeded(resume));
  EXPECT_EQ(parse(resume, "START")[0]["at"], (std::vector<double>{6, 2})) << resume.all();
  EXPECT_EQ(parse(resume, "INIT")[0], params[0]);
  EXPECT_EQ(parse(resume, "DONE")[0]["global_step"], std::vector<double>{12}) << resume.all();
}

TEST(TrainerDDPCheckpoint, ResumingUnderDdpContinuesExactly) {
  // An unseeded shuffle: every epoch's order comes from rank 0's seed, drawn
  // and broadcast when the fit starts; the resumed fit must draw the same.
  lightning::testing::TempDir dir("trainer_ddp");
  auto whole = self_launch({"fit", "epochs=2", "shuffle=1", "root=" + dir.file("whole")});
  ASSERT_TRUE(succeeded(whole));
  auto first = self_launch(
      {"fit", "epochs=1", "shuffle=1", "root=" + dir.file("first"), "save=" + dir.file("e1.ckpt")});
  ASSERT_TRUE(succeeded(first));
  auto resumed = self_launch({"fit", "epochs=2", "shuffle=1", "root=" + dir.file("resumed"),
                              "ckpt=" + dir.file("e1.ckpt")});
  ASSERT_TRUE(succeeded(resumed));
  const auto whole_batches = parse(whole, "BATCH");
  const auto resumed_batches = parse(resumed, "BATCH");
  const auto whole_params = parse(whole, "PARAM");
  const auto resumed_params = parse(resumed, "PARAM");
  for (int r = 0; r < 2; ++r) {
    SCOPED_TRACE("rank " + std::to_string(r));
    int epoch1 = 0;
    for (const auto& [tag, samples] : whole_batches.at(r)) {
      if (tag.rfind("e1", 0) != 0) continue;
      ++epoch1;
      EXPECT_EQ(resumed_batches.at(r).at(tag), samples) << tag;
    }
    EXPECT_EQ(epoch1, 3);
    EXPECT_EQ(resumed_params.at(r), whole_params.at(r)) << resumed.all();  // bit for bit
  }
}

TEST(TrainerDDPCheckpoint, ResumingMidEpochUnderDdpIsExact) {
  // Checkpoints every 2 steps (3 steps per epoch): step 4 is after batch 0
  // of epoch 1, with validation at each epoch end and an unseeded shuffle.
  // Epoch metrics of every reduction, reduced over the ranks (sync=1).
  lightning::testing::TempDir dir("trainer_ddp");
  const Args common = {"fit", "epochs=2", "shuffle=1", "val_n=5", "every_n_steps=2", "sync=1"};
  Args a = common;
  a.push_back("root=" + dir.file("whole"));
  auto whole = self_launch(a);
  ASSERT_TRUE(succeeded(whole));
  const std::string ckpt = dir.file("whole/steps/epoch=1-step=4.ckpt");
  ASSERT_TRUE(fs::exists(ckpt)) << whole.all();
  Args b = common;
  b.push_back("root=" + dir.file("resumed"));
  b.push_back("ckpt=" + ckpt);
  auto resumed = self_launch(b);
  ASSERT_TRUE(succeeded(resumed));
  const auto whole_batches = parse(whole, "BATCH");
  const auto resumed_batches = parse(resumed, "BATCH");
  for (int r = 0; r < 2; ++r) {
    SCOPED_TRACE("rank " + std::to_string(r));
    EXPECT_EQ(parse(resumed, "START")[r]["at"], (std::vector<double>{4, 1})) << resumed.all();
    // Only the batches after the save are trained again, in the same order.
    EXPECT_EQ(resumed_batches.at(r).count("e1b0"), 0u) << resumed.all();
    for (const char* tag : {"e1b1", "e1b2"}) {
      EXPECT_EQ(resumed_batches.at(r).at(tag), whole_batches.at(r).at(tag)) << tag;
    }
    EXPECT_EQ(parse(resumed, "PARAM").at(r), parse(whole, "PARAM").at(r)) << resumed.all();
    EXPECT_EQ(parse(resumed, "DONE")[r]["global_step"], std::vector<double>{6});
    // The resumed epoch's values cover batch 0 of it too (saved job-wide,
    // restored on rank 0): train_count is every sample of the epoch.
    EXPECT_EQ(parse(resumed, "METRIC").at(r), parse(whole, "METRIC").at(r)) << resumed.all();
  }
}

TEST(TrainerDDPCheckpoint, SingleProcessCheckpointResumesUnderDdp) {
  lightning::testing::TempDir dir("trainer_ddp");
  auto first = single({"fit", "epochs=1", "checkpointing=1", "root=" + dir.file("single")});
  ASSERT_TRUE(succeeded(first));
  const std::string ckpt = dir.file("single/checkpoints/epoch=0-step=6.ckpt");
  ASSERT_TRUE(fs::exists(ckpt)) << first.all();
  const auto saved = parse(first, "PARAM")[0];

  auto ddp = torchrun({"fit", "epochs=2", "checkpointing=1", "root=" + dir.file("ddp"),
                       "ckpt=" + ckpt, "readonly_nonzero=1"});
  ASSERT_TRUE(succeeded(ddp));
  auto start = parse(ddp, "START");
  auto init = parse(ddp, "INIT");
  auto done = parse(ddp, "DONE");
  for (int r = 0; r < 2; ++r) {
    SCOPED_TRACE("rank " + std::to_string(r));
    EXPECT_EQ(start[r]["at"], (std::vector<double>{6, 1})) << ddp.all();  // global_step, epoch
    EXPECT_EQ(init[r], saved);
    EXPECT_EQ(done[r]["global_step"], std::vector<double>{9}) << ddp.all();  // 3 steps per rank
  }
  EXPECT_EQ(files_under(dir.file("ddp")), std::set<std::string>{"checkpoints/epoch=1-step=9.ckpt"})
      << ddp.all();

  // Epoch 1 trained like one process on the union batches.
  Order u;
  for (size_t k = 0; k < 3; ++k) {
    for (int r = 0; r < 2; ++r) {
      const auto b = batches(shard(identity(24), r, 2, true), 4)[k];
      u.insert(u.end(), b.begin(), b.end());
    }
  }
  auto reference = single({"fit", "epochs=2", "ckpt=" + ckpt, "order=" + join(u), "batch=8",
                           "root=" + dir.file("reference")});
  ASSERT_TRUE(succeeded(reference));
  auto expected = parse(reference, "PARAM")[0];
  auto params = parse(ddp, "PARAM");
  ASSERT_EQ(params[0].size(), expected.size()) << ddp.all();
  for (const auto& [name, values] : expected) {
    EXPECT_EQ(params[1][name], params[0][name]) << name;
    ASSERT_EQ(params[0][name].size(), values.size()) << name;
    for (size_t i = 0; i < values.size(); ++i) {
      EXPECT_NEAR(params[0][name][i], values[i], 1e-6) << name << "[" << i << "]";
    }
  }
}

}  // namespace
