// DDPStrategy end to end: ddp_worker processes on loopback, self-launched or
// started torchrun-style by this test, checked against a single-process
// reference; failure handling (a rank raises, is SIGKILLed, hangs); and the
// environment parsing and error messages in-process.
//
// Every child runs under a watchdog: a test that hangs is killed and FAILs.
#include "lightning/strategies/ddp.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "detail/process_rank.h"
#include "distributed/ddp_common.h"
#include "distributed/process_harness.h"
#include "lightning/error.h"
#include "support/errors.h"

namespace {

namespace L = lightning;
namespace harness = lightning::testing::harness;
using harness::error_line;
using harness::exit_code;
using harness::kDistVars;
using harness::parse;
using harness::Run;
using std::chrono::milliseconds;

/// ddp_worker launching its other ranks itself.
Run self_launch(const std::vector<std::string>& args, std::map<std::string, std::string> env = {},
                milliseconds watchdog = std::chrono::seconds(60)) {
  return harness::self_launch(LIGHTNING_DDP_WORKER, args, env, watchdog);
}

/// `world` ddp_worker processes started as torchrun would.
Run torchrun(const std::vector<std::string>& args, int world = 2,
             std::map<std::string, std::string> env = {},
             milliseconds watchdog = std::chrono::seconds(60), int started = -1) {
  return harness::torchrun(LIGHTNING_DDP_WORKER, args, world, env, watchdog, started);
}

void expect_matches_reference(const Run& run, int64_t steps, int64_t accumulate) {
  auto state = parse(run);
  ASSERT_EQ(state.size(), 2u) << run.all();
  auto expected = ddp_test::reference(steps, accumulate);
  double worst = 0;
  for (int rank = 0; rank < 2; ++rank) {
    ASSERT_EQ(state[rank].size(), expected.size()) << run.all();
    for (const auto& [name, values] : expected) {
      const auto& got = state[rank][name];
      ASSERT_EQ(got.size(), values.size()) << name;
      for (size_t i = 0; i < values.size(); ++i) {
        worst = std::max(worst, std::abs(got[i] - values[i]));
        EXPECT_NEAR(got[i], values[i], 1e-6) << "rank " << rank << " " << name << "[" << i << "]";
        // Identical on both ranks, bit for bit.
        EXPECT_EQ(got[i], state[0][name][i]) << "rank " << rank << " " << name << "[" << i << "]";
      }
    }
  }
  // Rank 0's buffer (1) everywhere: buffers are broadcast too.
  auto buffers = parse(run, "BUFFER");
  EXPECT_EQ(buffers[0]["scale"], std::vector<double>{1.0});
  EXPECT_EQ(buffers[1]["scale"], std::vector<double>{1.0});
  std::cout << "max |ddp - single process| = " << worst << " (" << run.seconds << " s)\n";
}

// ---------------------------------------------------------------- training

TEST(DDPTrain, SelfLaunchMatchesSingleProcessOnUnionBatch) {
  auto run = self_launch({"train", "steps=4"});
  ASSERT_FALSE(run.timed_out) << run.all();
  EXPECT_EQ(exit_code(run.procs[0]), 0) << run.all();
  const auto& out = run.procs[0].output;
  // The parent forwards rank 1's output with a prefix; its own is plain.
  EXPECT_THAT(out, ::testing::HasSubstr("[rank 1] START rank=1 world=2")) << out;
  EXPECT_THAT("\n" + out, ::testing::HasSubstr("\nSTART rank=0 world=2")) << out;
  EXPECT_THAT(out, ::testing::HasSubstr("[rank 1] DONE rank=1")) << out;
  expect_matches_reference(run, 4, 1);
}

TEST(DDPTrain, TorchrunMatchesSingleProcessOnUnionBatch) {
  auto run = torchrun({"train", "steps=4"});
  ASSERT_FALSE(run.timed_out) << run.all();
  EXPECT_EQ(exit_code(run.procs[0]), 0) << run.all();
  EXPECT_EQ(exit_code(run.procs[1]), 0) << run.all();
  EXPECT_THAT(run.procs[1].output, ::testing::Not(::testing::HasSubstr("[rank"))) << run.all();
  expect_matches_reference(run, 4, 1);
}

TEST(DDPTrain, SmallBucketsInAndAfterTheBackwardAgree) {
  // Buckets of ~100 bytes: several all-reduces per backward, launched in order.
  // sync_last=0: no sync in the backward; before_optimizer_step all-reduces
  // every gradient after it instead.
  for (const char* sync_last : {"sync_last=1", "sync_last=0"}) {
    auto run = torchrun({"train", "steps=3", "bucket_mb=0.0001", sync_last});
    ASSERT_FALSE(run.timed_out) << run.all();
    EXPECT_EQ(exit_code(run.procs[0]), 0) << sync_last << run.all();
    EXPECT_EQ(exit_code(run.procs[1]), 0) << sync_last << run.all();
    SCOPED_TRACE(sync_last);
    expect_matches_reference(run, 3, 1);
  }
}

TEST(DDPTrain, AccumulationSyncsOnlyTheSteppingBatch) {
  auto run = torchrun({"accumulate", "steps=3", "accumulate=3"});
  ASSERT_FALSE(run.timed_out) << run.all();
  ASSERT_EQ(exit_code(run.procs[0]), 0) << run.all();
  ASSERT_EQ(exit_code(run.procs[1]), 0) << run.all();
  // Non-stepping batches: each rank keeps its own gradient.
  auto local = parse(run, "GRAD_LOCAL");
  auto synced = parse(run, "GRAD_SYNCED");
  ASSERT_EQ(local.size(), 2u) << run.all();
  ASSERT_EQ(synced.size(), 2u) << run.all();
  auto local0 = local[0]["s2m1"], local1 = local[1]["s2m1"];
  ASSERT_FALSE(local0.empty());
  EXPECT_NE(local0, local1) << "gradients were all-reduced on a non-syncing batch";
  // The stepping batch: equal on both ranks.
  ASSERT_FALSE(synced[0]["s2m2"].empty());
  EXPECT_EQ(synced[0]["s2m2"], synced[1]["s2m2"]);
  expect_matches_reference(run, 3, 3);
}

TEST(DDPTrain, AccumulationWithoutAnySyncIsAveragedBeforeTheStep) {
  // No backward synchronises: before_optimizer_step all-reduces the sums.
  auto run = torchrun({"accumulate", "steps=3", "accumulate=2", "sync_last=0"});
  ASSERT_FALSE(run.timed_out) << run.all();
  ASSERT_EQ(exit_code(run.procs[0]), 0) << run.all();
  auto stepped = parse(run, "GRAD_STEP");
  ASSERT_FALSE(stepped[0]["s1"].empty()) << run.all();
  EXPECT_EQ(stepped[0]["s1"], stepped[1]["s1"]);
  expect_matches_reference(run, 3, 2);
}

// ---------------------------------------------------------------- collectives

TEST(DDPCollectives, AllOpsOnTwoRanks) {
  auto run = torchrun({"collectives"});
  ASSERT_FALSE(run.timed_out) << run.all();
  for (const auto& p : run.procs) {
    EXPECT_EQ(exit_code(p), 0) << run.all();
    EXPECT_THAT(p.output, ::testing::HasSubstr("COLLECTIVES OK")) << run.all();
    EXPECT_THAT(p.output, ::testing::Not(::testing::HasSubstr(" FAIL"))) << run.all();
  }
}

TEST(DDPCollectives, SelfLaunched) {
  auto run = self_launch({"collectives"});
  ASSERT_FALSE(run.timed_out) << run.all();
  EXPECT_EQ(exit_code(run.procs[0]), 0) << run.all();
  EXPECT_THAT(run.procs[0].output, ::testing::HasSubstr("[rank 1] COLLECTIVES OK rank=1"));
  EXPECT_THAT("\n" + run.procs[0].output, ::testing::HasSubstr("\nCOLLECTIVES OK rank=0"));
}

TEST(DDPLauncher, LinesOfAllRanksArriveWhole) {
  // Both ranks print 3000 lines of 300+ characters at once; rank 1's come
  // through rank 0, which prints its own in pieces meanwhile.
  const int lines = 3000, width = 300;
  auto run =
      self_launch({"chatter", "lines=" + std::to_string(lines), "width=" + std::to_string(width)});
  ASSERT_FALSE(run.timed_out) << run.all();
  ASSERT_EQ(exit_code(run.procs[0]), 0) << run.all();
  const std::regex whole(R"(^(\[rank 1\] )?LINE rank=([01]) i=(\d+) ([ab]+) END$)");
  std::vector<std::set<int>> seen(2);
  std::vector<std::string> cut;
  std::istringstream in(run.procs[0].output);
  for (std::string line; std::getline(in, line);) {
    if (line.find("LINE") == std::string::npos && line.find("END") == std::string::npos) continue;
    std::smatch m;
    const int rank = std::regex_match(line, m, whole) ? std::stoi(m[2]) : -1;
    const bool ok = rank >= 0 && m[1].matched == (rank == 1) &&
                    m[4].str() == std::string(width, rank == 0 ? 'a' : 'b') &&
                    seen[rank].insert(std::stoi(m[3])).second;
    if (!ok) cut.push_back(line);
  }
  EXPECT_TRUE(cut.empty()) << cut.size() << " lines cut or repeated, the first: " << cut.front();
  EXPECT_EQ(seen[0].size(), lines);
  EXPECT_EQ(seen[1].size(), lines);
}

// ---------------------------------------------------------------- failures

// A rank that raises or dies is reported to the others at once. The timeout
// is long, so a run that ends well before it shows the failure was reported,
// not timed out, however slowly the processes start on a busy machine.
constexpr double kTimeoutSeconds = 60;
const std::string kTimeoutArg = "timeout_ms=60000";
constexpr auto kFailureWatchdog = std::chrono::seconds(120);
/// Well before the timeout.
constexpr double kReportedWithin = kTimeoutSeconds - 20;

TEST(DDPFailure, RaisingRankIsNamedBySelfLaunchedSurvivor) {
  // No buffer: the failure hits the gradient all-reduce inside the backward.
  auto run = self_launch({"fail", "buffer=0", kTimeoutArg}, {}, kFailureWatchdog);
  ASSERT_FALSE(run.timed_out) << run.all();
  const auto& p = run.procs[0];
  EXPECT_NE(exit_code(p), 0) << run.all();
  // Rank 0 (this process) waits in the gradient all-reduce while rank 1 raises.
  auto line = error_line(p, 0);
  EXPECT_THAT(line, ::testing::HasSubstr("rank 1 failed in training_step: boom at step 2"))
      << run.all();
  EXPECT_THAT(line, ::testing::HasSubstr("rank 0 was waiting in all_reduce of gradients"))
      << run.all();
  EXPECT_THAT(line, ::testing::HasSubstr("lightning=1")) << run.all();
  EXPECT_LT(run.seconds, kReportedWithin) << run.all();
  std::cout << line << "\n(" << run.seconds << " s)\n";
}

TEST(DDPFailure, StoreHostRaisingIsNamedByTorchrunSurvivor) {
  // Rank 0 hosts the store and fails: rank 1 must still read why.
  auto run = torchrun({"fail", "fail_rank=0", kTimeoutArg}, 2, {}, kFailureWatchdog);
  ASSERT_FALSE(run.timed_out) << run.all();
  EXPECT_NE(exit_code(run.procs[0]), 0) << run.all();
  EXPECT_NE(exit_code(run.procs[1]), 0) << run.all();
  auto line = error_line(run.procs[1]);
  EXPECT_THAT(line, ::testing::HasSubstr("rank 0 failed in training_step: boom at step 2"))
      << run.all();
  // With a buffer, the first collective of a step is its broadcast.
  EXPECT_THAT(line, ::testing::HasSubstr("rank 1 was waiting in broadcast of buffers from rank 0"));
  EXPECT_LT(run.seconds, kReportedWithin) << run.all();
  std::cout << line << "\n(" << run.seconds << " s)\n";
}

TEST(DDPFailure, KilledLaunchedRankIsNamed) {
  auto run = self_launch({"die", "buffer=0", kTimeoutArg}, {}, kFailureWatchdog);
  ASSERT_FALSE(run.timed_out) << run.all();
  const auto& p = run.procs[0];
  EXPECT_NE(exit_code(p), 0) << run.all();
  auto line = error_line(p, 0);
  EXPECT_THAT(line, ::testing::HasSubstr("rank 1 (pid")) << run.all();
  EXPECT_THAT(line, ::testing::HasSubstr("killed by signal 9")) << run.all();
  EXPECT_THAT(line, ::testing::HasSubstr("all_reduce of gradients")) << run.all();
  EXPECT_LT(run.seconds, kReportedWithin) << run.all();
  std::cout << line << "\n(" << run.seconds << " s)\n";
}

TEST(DDPFailure, KilledTorchrunRankIsNamed) {
  auto run = torchrun({"die", "buffer=0", kTimeoutArg}, 2, {}, kFailureWatchdog);
  ASSERT_FALSE(run.timed_out) << run.all();
  EXPECT_NE(exit_code(run.procs[0]), 0) << run.all();
  auto line = error_line(run.procs[0]);
  EXPECT_THAT(line, ::testing::HasSubstr("rank 1 (pid")) << run.all();
  EXPECT_THAT(line, ::testing::HasSubstr("no longer running")) << run.all();
  EXPECT_THAT(line, ::testing::HasSubstr("rank 0 was waiting in all_reduce of gradients"))
      << run.all();
  EXPECT_LT(run.seconds, kReportedWithin) << run.all();
  std::cout << line << "\n(" << run.seconds << " s)\n";
}

TEST(DDPFailure, KilledStoreHostIsNamed) {
  auto run = torchrun({"die", "fail_rank=0", "buffer=0", kTimeoutArg}, 2, {}, kFailureWatchdog);
  ASSERT_FALSE(run.timed_out) << run.all();
  EXPECT_NE(exit_code(run.procs[1]), 0) << run.all();
  auto line = error_line(run.procs[1]);
  EXPECT_THAT(line, ::testing::AnyOf(::testing::HasSubstr("rank 0 (pid"),
                                     ::testing::HasSubstr("hosted by rank 0")))
      << run.all();
  EXPECT_THAT(line, ::testing::HasSubstr("all_reduce of gradients")) << run.all();
  EXPECT_LT(run.seconds, kReportedWithin) << run.all();
  std::cout << line << "\n(" << run.seconds << " s)\n";
}

TEST(DDPFailure, HungRankTimesOutWithItsName) {
  // A short collective timeout; the start is bounded by the rendezvous
  // timeout instead, so a slow start does not fail the rendezvous.
  auto run = torchrun({"hang", "buffer=0", "timeout_ms=2000", "rendezvous_ms=60000"}, 2, {},
                      kFailureWatchdog);
  ASSERT_FALSE(run.timed_out) << run.all();
  EXPECT_NE(exit_code(run.procs[0]), 0) << run.all();
  EXPECT_NE(exit_code(run.procs[1]), 0) << run.all();
  auto line = error_line(run.procs[0]);
  EXPECT_THAT(line, ::testing::HasSubstr("all_reduce of gradients failed on rank 0")) << run.all();
  EXPECT_THAT(line, ::testing::HasSubstr("rank 1 did not reach a collective")) << run.all();
  // When rank 1 wakes up, its next collective fails with rank 0's finding.
  EXPECT_THAT(error_line(run.procs[1]),
              ::testing::HasSubstr("all_reduce of gradients failed on rank 0"))
      << run.all();
  std::cout << line << "\n(" << run.seconds << " s)\n";
}

TEST(DDPFailure, MissingRankFailsTheRendezvousWithItsName) {
  // WORLD_SIZE=2 but only rank 0 is started. The rendezvous gives up after
  // its own timeout, not the collectives' 10 minutes (the watchdog's 60 s
  // would end the run first).
  auto run = torchrun({"train", "timeout_ms=600000", "rendezvous_ms=2000"}, 2, {},
                      std::chrono::seconds(60), 1);
  ASSERT_FALSE(run.timed_out) << run.all();
  EXPECT_NE(exit_code(run.procs[0]), 0) << run.all();
  auto line = error_line(run.procs[0]);
  EXPECT_THAT(line, ::testing::HasSubstr("rendezvous at 127.0.0.1:")) << run.all();
  EXPECT_THAT(line,
              ::testing::HasSubstr("timed out after 2 s: rank 1 did not join (1 of 2 joined)"))
      << run.all();
  EXPECT_THAT(line, ::testing::HasSubstr("need a longer DDPOptions::rendezvous_timeout"))
      << run.all();
}

TEST(DDPFailure, DifferentModelsAreReported) {
  auto run = torchrun({"mismatch", kTimeoutArg}, 2, {}, kFailureWatchdog);
  ASSERT_FALSE(run.timed_out) << run.all();
  EXPECT_NE(exit_code(run.procs[0]), 0) << run.all();
  EXPECT_NE(exit_code(run.procs[1]), 0) << run.all();
  // Rank 1 compares its model with rank 0's; rank 0 learns it from rank 1.
  EXPECT_THAT(error_line(run.procs[1]), ::testing::HasSubstr("the model differs across ranks"))
      << run.all();
  EXPECT_THAT(error_line(run.procs[0]),
              ::testing::HasSubstr("rank 1 failed in setup: DDP: the model differs across ranks"))
      << run.all();
  std::cout << error_line(run.procs[0]) << "\n";
}

TEST(DDPFailure, PortInUseStopsTheLaunchedRanks) {
  // Something else listens on MASTER_PORT: rank 0 cannot host the store.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  socklen_t len = sizeof a;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 8), 0);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  const std::string port = std::to_string(ntohs(a.sin_port));
  auto run = self_launch({"train", "timeout_ms=30000"}, {{"MASTER_PORT", port}});
  ::close(fd);
  ASSERT_FALSE(run.timed_out) << run.all();
  EXPECT_NE(exit_code(run.procs[0]), 0) << run.all();
  EXPECT_THAT(error_line(run.procs[0], 0),
              ::testing::HasSubstr("rank 0 cannot host the store on port " + port))
      << run.all();
  // Well before the 30 s timeout: the launched rank was stopped, not waited for.
  EXPECT_LT(run.seconds, 15) << run.all();
  std::cout << error_line(run.procs[0], 0) << "\n(" << run.seconds << " s)\n";
}

// ---------------------------------------------------------------- throughput

TEST(DDPThroughput, GradientSync) {
  // Alternated, as timings drift on these machines; printed, not asserted.
  // "reducer": c10d::Reducer's buckets, overlapped with the backward; "after":
  // sync off in the backward, one all-reduce of every gradient after it
  // (before_optimizer_step); "none": no all-reduce at all.
  std::map<std::string, std::vector<double>> ms;
  for (int round = 0; round < 1; ++round) {
    for (std::string sync : {"none", "reducer", "after"}) {
      auto run = torchrun({"bench", "width=512", "steps=30", "sync=" + sync}, 2);
      ASSERT_FALSE(run.timed_out) << run.all();
      ASSERT_EQ(exit_code(run.procs[0]), 0) << run.all();
      std::smatch m;
      std::regex re("ms_per_step=([0-9.e+-]+)");
      ASSERT_TRUE(std::regex_search(run.procs[0].output, m, re)) << run.all();
      ms[sync].push_back(std::stod(m[1].str()));
    }
  }
  for (const auto& [sync, v] : ms) {
    std::cout << "gradient sync " << sync << ": ";
    for (double x : v) std::cout << x << " ";
    std::cout << "ms/step (2 ranks, MLP 64-512-512-512-512, batch 32/rank)\n";
  }
}

// ---------------------------------------------------------------- in-process

/// Sets variables for one scope, restoring the previous environment after.
class ScopedEnv {
 public:
  explicit ScopedEnv(std::map<std::string, std::string> vars) {
    for (const char* v : kDistVars) {
      if (const char* old = std::getenv(v)) saved_[v] = old;
      ::unsetenv(v);
    }
    for (const auto& [k, v] : vars) ::setenv(k.c_str(), v.c_str(), 1);
  }
  ~ScopedEnv() {
    for (const char* v : kDistVars) ::unsetenv(v);
    for (const auto& [k, v] : saved_) ::setenv(k.c_str(), v.c_str(), 1);
  }

 private:
  std::map<std::string, std::string> saved_;
};

TEST(DistributedEnvironment, NothingSet) {
  ScopedEnv env({});
  EXPECT_FALSE(L::DistributedEnvironment::detect().has_value());
}

TEST(DistributedEnvironment, Torchrun) {
  ScopedEnv env({{"MASTER_ADDR", "10.0.0.1"},
                 {"MASTER_PORT", "29500"},
                 {"WORLD_SIZE", "8"},
                 {"RANK", "5"},
                 {"LOCAL_RANK", "1"},
                 {"NODE_RANK", "1"}});
  auto e = L::DistributedEnvironment::detect();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->source, "torchrun");
  EXPECT_EQ(e->master_addr, "10.0.0.1");
  EXPECT_EQ(e->master_port, 29500);
  EXPECT_EQ(e->process.world_size, 8);
  EXPECT_EQ(e->process.global_rank, 5);
  EXPECT_EQ(e->process.local_rank, 1);
  EXPECT_EQ(e->process.node_rank, 1);
}

TEST(DistributedEnvironment, TorchrunGroupRankAndLauncherMarker) {
  ScopedEnv env({{"MASTER_ADDR", "h"},
                 {"MASTER_PORT", "1"},
                 {"WORLD_SIZE", "4"},
                 {"RANK", "3"},
                 {"LOCAL_RANK", "1"},
                 {"GROUP_RANK", "1"},
                 {"LIGHTNING_LAUNCHER", "1"}});
  auto e = L::DistributedEnvironment::detect();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->process.node_rank, 1);
  EXPECT_EQ(e->source, "launcher");
}

TEST(DistributedEnvironment, Slurm) {
  ScopedEnv env({{"SLURM_NTASKS", "4"},
                 {"SLURM_PROCID", "2"},
                 {"SLURM_LOCALID", "0"},
                 {"SLURM_NODEID", "1"},
                 {"SLURM_NODELIST", "gpu[007-008,011],cpu1"},
                 {"SLURM_JOB_ID", "1234567"},
                 {"SLURM_JOB_NAME", "train"}});
  auto e = L::DistributedEnvironment::detect();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->source, "slurm");
  EXPECT_EQ(e->master_addr, "gpu007");
  EXPECT_EQ(e->master_port, 15000 + 4567);
  EXPECT_EQ(e->process.world_size, 4);
  EXPECT_EQ(e->process.global_rank, 2);
  EXPECT_EQ(e->process.local_rank, 0);
  EXPECT_EQ(e->process.node_rank, 1);
}

TEST(DistributedEnvironment, SlurmPlainListAndOverrides) {
  ScopedEnv env({{"SLURM_NTASKS", "2"},
                 {"SLURM_PROCID", "1"},
                 {"SLURM_LOCALID", "1"},
                 {"SLURM_NODELIST", "alpha,beta"},
                 {"MASTER_PORT", "4000"}});
  auto e = L::DistributedEnvironment::detect();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->master_addr, "alpha");
  EXPECT_EQ(e->master_port, 4000);
}

TEST(DistributedEnvironment, SlurmInteractiveOrSingleTaskIsNotAJob) {
  {
    ScopedEnv env({{"SLURM_NTASKS", "2"}, {"SLURM_PROCID", "0"}, {"SLURM_JOB_NAME", "bash"}});
    EXPECT_FALSE(L::DistributedEnvironment::detect().has_value());
  }
  {
    ScopedEnv env({{"SLURM_NTASKS", "1"}, {"SLURM_PROCID", "0"}, {"SLURM_NODELIST", "a"}});
    EXPECT_FALSE(L::DistributedEnvironment::detect().has_value());
  }
}

// ---------------------------------------------------------------- rank-zero warnings

/// What detail::warn printed for `message`.
std::string warned(const std::string& message) {
  ::testing::internal::CaptureStderr();
  L::detail::warn(message);
  return ::testing::internal::GetCapturedStderr();
}

TEST(WarningRank, FollowsTheRankTheStrategyPublished) {
  ScopedEnv env(
      {{"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", "29500"}, {"WORLD_SIZE", "2"}, {"RANK", "1"}});
  L::detail::publish_global_rank(0);  // the strategy's word wins over RANK
  EXPECT_EQ(warned("as rank 0"), "[lightning] warning: as rank 0\n");
  L::detail::publish_global_rank(1);
  EXPECT_EQ(warned("as rank 1"), "");
  L::detail::publish_global_rank(std::nullopt);
  EXPECT_EQ(warned("as RANK=1"), "");
}

TEST(WarningRank, BeforeAnyStrategyTheEnvironmentAsDDPReadsIt) {
  // SLURM sets no RANK: its ranks other than 0 must be silent too.
  const std::map<std::string, std::string> slurm = {
      {"SLURM_NTASKS", "2"},           {"SLURM_LOCALID", "0"}, {"SLURM_NODEID", "0"},
      {"SLURM_NODELIST", "node[1-2]"}, {"SLURM_JOB_ID", "77"}, {"SLURM_JOB_NAME", "train"}};
  auto with = [](std::map<std::string, std::string> vars,
                 const std::map<std::string, std::string>& changes) {
    for (const auto& [k, v] : changes) vars[k] = v;
    return vars;
  };
  const std::vector<std::map<std::string, std::string>> cases = {
      {},
      {{"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", "29500"}, {"WORLD_SIZE", "2"}, {"RANK", "0"}},
      {{"MASTER_ADDR", "127.0.0.1"},
       {"MASTER_PORT", "29500"},
       {"WORLD_SIZE", "2"},
       {"RANK", "1"},
       {"LOCAL_RANK", "1"}},
      with(slurm, {{"SLURM_PROCID", "0"}}),
      with(slurm, {{"SLURM_PROCID", "1"}, {"SLURM_NODEID", "1"}}),
      with(slurm, {{"SLURM_PROCID", "1"}, {"SLURM_NODEID", "1"}, {"SLURM_JOB_NAME", "bash"}}),
      {{"SLURM_NTASKS", "1"}, {"SLURM_PROCID", "0"}, {"SLURM_NODELIST", "a"}},
  };
  L::detail::publish_global_rank(std::nullopt);
  for (const auto& vars : cases) {
    std::string described;
    for (const auto& [k, v] : vars) described += k + "=" + v + " ";
    SCOPED_TRACE(described);
    ScopedEnv env(vars);
    const auto detected = L::DistributedEnvironment::detect();
    const int64_t rank = detected ? detected->process.global_rank : 0;
    EXPECT_EQ(L::detail::process_global_rank(), rank);
    EXPECT_EQ(warned("from the environment").empty(), rank != 0);
  }
}

TEST(DistributedEnvironment, MalformedVariablesAreNamed) {
  auto base = std::map<std::string, std::string>{
      {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", "29500"}, {"WORLD_SIZE", "2"}, {"RANK", "0"}};
  auto with = [&](std::map<std::string, std::string> changes, std::vector<std::string> drop = {}) {
    auto vars = base;
    for (auto& [k, v] : changes) vars[k] = v;
    for (auto& k : drop) vars.erase(k);
    return vars;
  };
  {
    ScopedEnv env(with({{"WORLD_SIZE", "two"}}));
    EXPECT_LIGHTNING_ERROR(L::DistributedEnvironment::detect(),
                           "WORLD_SIZE must be an integer, got 'two'");
  }
  {
    ScopedEnv env(with({{"RANK", "2"}}));
    EXPECT_LIGHTNING_ERROR(L::DistributedEnvironment::detect(),
                           "RANK=2 must be in [0, WORLD_SIZE=2)");
  }
  {
    ScopedEnv env(with({{"WORLD_SIZE", "0"}}));
    EXPECT_LIGHTNING_ERROR(L::DistributedEnvironment::detect(), "WORLD_SIZE must be >= 1, got 0");
  }
  {
    ScopedEnv env(with({{"MASTER_PORT", "70000"}}));
    EXPECT_LIGHTNING_ERROR(L::DistributedEnvironment::detect(),
                           "MASTER_PORT must be a TCP port (1-65535), got 70000");
  }
  {
    ScopedEnv env(with({{"RANK", "1x"}}));
    EXPECT_LIGHTNING_ERROR(L::DistributedEnvironment::detect(),
                           "RANK must be an integer, got '1x'");
  }
  {
    ScopedEnv env(with({}, {"MASTER_ADDR"}));
    EXPECT_LIGHTNING_ERROR(L::DistributedEnvironment::detect(), "MASTER_ADDR is not set");
  }
  {
    ScopedEnv env(with({}, {"MASTER_PORT"}));
    EXPECT_LIGHTNING_ERROR(L::DistributedEnvironment::detect(), "MASTER_PORT is not set");
  }
  {
    ScopedEnv env(with({}, {"WORLD_SIZE"}));
    EXPECT_LIGHTNING_ERROR(L::DistributedEnvironment::detect(),
                           "Environment variable WORLD_SIZE is not set");
  }
  {
    ScopedEnv env(with({{"LOCAL_RANK", "-1"}}));
    EXPECT_LIGHTNING_ERROR(L::DistributedEnvironment::detect(),
                           "LOCAL_RANK=-1 must be in [0, RANK=0]");
  }
  {
    ScopedEnv env({{"SLURM_NTASKS", "2"}, {"SLURM_PROCID", "5"}, {"SLURM_NODELIST", "a"}});
    EXPECT_LIGHTNING_ERROR(L::DistributedEnvironment::detect(),
                           "SLURM_PROCID=5 must be in [0, SLURM_NTASKS=2)");
  }
  {
    ScopedEnv env({{"SLURM_NTASKS", "2"}, {"SLURM_PROCID", "0"}});
    EXPECT_LIGHTNING_ERROR(L::DistributedEnvironment::detect(), "SLURM_NODELIST");
  }
}

TEST(DDPErrors, NcclUnavailable) {
  ScopedEnv env({});
  L::DDPStrategy s(L::DDPOptions().backend("nccl"));
  EXPECT_LIGHTNING_ERROR(s.setup(), "backend 'nccl' is not available");
}

TEST(DDPErrors, UnknownBackend) {
  ScopedEnv env({});
  L::DDPStrategy s(L::DDPOptions().backend("mpi"));
  EXPECT_LIGHTNING_ERROR(s.setup(), "DDP backend 'mpi' is not supported; use 'gloo'");
}

TEST(DDPErrors, BadOptions) {
  EXPECT_LIGHTNING_ERROR(L::DDPStrategy(L::DDPOptions().devices(0)), "devices must be >= 1, got 0");
  EXPECT_LIGHTNING_ERROR(L::DDPStrategy(L::DDPOptions().timeout(std::chrono::milliseconds(0))),
                         "timeout must be positive");
  EXPECT_LIGHTNING_ERROR(
      L::DDPStrategy(L::DDPOptions().rendezvous_timeout(std::chrono::milliseconds(-5))),
      "rendezvous_timeout must be positive, got -5 ms; leave it unset to use the timeout.");
  EXPECT_LIGHTNING_ERROR(L::DDPStrategy(L::DDPOptions().bucket_cap_mb(0)),
                         "bucket_cap_mb must be positive");
}

TEST(DDPErrors, WorldSizeDisagreesWithDevices) {
  ScopedEnv env({{"MASTER_ADDR", "127.0.0.1"},
                 {"MASTER_PORT", "29500"},
                 {"WORLD_SIZE", "4"},
                 {"RANK", "0"},
                 {"LOCAL_RANK", "0"}});
  L::DDPStrategy s(L::DDPOptions().devices(2));
  EXPECT_LIGHTNING_ERROR(s.setup(),
                         "devices=2 x num_nodes=1 = 2 processes, but the torchrun "
                         "environment describes 4");
}

TEST(DDPErrors, SeveralNodesNeedALauncher) {
  ScopedEnv env({});
  EXPECT_LIGHTNING_ERROR(L::launch_local_ranks(2, 2), "num_nodes=2 needs the processes");
  L::DDPStrategy s(L::DDPOptions().devices(2).num_nodes(2));
  EXPECT_LIGHTNING_ERROR(s.setup(), "torchrun");
}

TEST(DDPErrors, CollectivesBeforeSetup) {
  L::DDPStrategy s;
  EXPECT_LIGHTNING_ERROR(s.barrier("x"), "barrier 'x' before setup()");
  EXPECT_LIGHTNING_ERROR(s.all_reduce(at::ones({1})), "before setup()");
}

TEST(DDPSingleProcess, OneDeviceIsAGroupOfOne) {
  ScopedEnv env({});
  EXPECT_FALSE(L::launch_local_ranks(1, 1));
  L::DDPStrategy s(L::DDPOptions().devices(1).timeout(std::chrono::seconds(10)));
  EXPECT_EQ(s.name(), "ddp");
  s.setup();
  s.setup();  // idempotent
  EXPECT_EQ(s.world_size(), 1);
  EXPECT_TRUE(s.is_global_zero());
  EXPECT_EQ(s.root_device("cpu"), at::Device(at::kCPU));
  EXPECT_TRUE(at::equal(s.all_reduce(at::tensor({2.0, 3.0}), "mean"), at::tensor({2.0, 3.0})));
  EXPECT_TRUE(at::equal(s.broadcast(at::tensor({7})), at::tensor({7})));
  EXPECT_EQ(s.all_gather(at::tensor({1, 2})).size(), 1u);
  EXPECT_EQ(s.broadcast_string("run-3"), "run-3");
  s.barrier("checkpoint");
  EXPECT_LIGHTNING_ERROR(s.broadcast(at::ones({1}), 1), "src=1 is not a rank (world size 1)");
  EXPECT_LIGHTNING_ERROR(s.all_reduce(at::ones({1}), "avg"), "unknown reduction 'avg'");

  // One step trains exactly like plain libtorch.
  auto net = ddp_test::make_model(0);
  s.setup_module(*net);
  torch::optim::SGD sgd(net->parameters(), torch::optim::SGDOptions(ddp_test::kLr));
  auto [x, y] = ddp_test::batch(0);
  s.backward(ddp_test::loss_of(*net, x, y));
  s.before_optimizer_step(sgd);
  sgd.step();
  auto expected = ddp_test::reference(1, 1);
  for (const auto& p : net->named_parameters()) {
    auto flat = p.value().detach().to(at::kDouble).view({-1});
    for (int64_t i = 0; i < flat.numel(); ++i) {
      EXPECT_NEAR(flat[i].item<double>(), expected[p.key()][i], 1e-7);
    }
  }
  s.teardown();
  s.teardown();  // idempotent
  // A second setup (fit, then test) reuses the job.
  s.setup();
  EXPECT_EQ(s.all_reduce(at::ones({1}), "sum").item<float>(), 1.0f);
  s.teardown();
}

TEST(DDPSingleProcess, UnusedParameterIsNamed) {
  ScopedEnv env({});
  struct TwoHeads : torch::nn::Module {
    torch::nn::Linear used{nullptr}, unused{nullptr};
    TwoHeads() {
      used = register_module("used", torch::nn::Linear(2, 1));
      unused = register_module("unused", torch::nn::Linear(2, 1));
    }
  } net;
  L::DDPStrategy s(L::DDPOptions().devices(1));
  s.setup();
  s.setup_module(net);
  auto loss = net.used->forward(at::ones({1, 2})).sum();
  EXPECT_LIGHTNING_ERROR(s.backward(loss), "unused.weight");
  s.teardown();

  L::DDPStrategy tolerant(L::DDPOptions().devices(1).find_unused_parameters(true));
  tolerant.setup();
  tolerant.setup_module(net);
  net.zero_grad();
  tolerant.backward(net.used->forward(at::ones({1, 2})).sum());
  EXPECT_TRUE(net.used->weight.grad().defined());
  tolerant.teardown();
}

TEST(DDPSingleProcess, UserErrorsInBackwardPassThroughUnchanged) {
  ScopedEnv env({});
  auto net = ddp_test::make_model(0);
  L::DDPStrategy s(L::DDPOptions().devices(1));
  s.setup();
  s.setup_module(*net);
  auto loss = ddp_test::loss_of(*net, at::ones({2, 4}), at::ones({2, 3}));
  // Not a scalar: autograd's own error, not a lightning::Error.
  EXPECT_THROW(s.backward(net->forward(at::ones({2, 4}))), c10::Error);
  s.teardown();
}

}  // namespace
