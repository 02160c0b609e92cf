// DDPStrategy end to end: ddp_worker processes on loopback, self-launched or
// started torchrun-style by this test, checked against a single-process
// reference; failure handling (a rank raises, is SIGKILLed, hangs); and the
// environment parsing and error messages in-process.
//
// Every child runs under a watchdog: a test that hangs is killed and FAILs.
#include "lightning/strategies/ddp.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "distributed/ddp_common.h"
#include "support/errors.h"

extern char** environ;

namespace {

namespace L = lightning;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

const char* const kDistVars[] = {"MASTER_ADDR",
                                 "MASTER_PORT",
                                 "WORLD_SIZE",
                                 "RANK",
                                 "LOCAL_RANK",
                                 "NODE_RANK",
                                 "GROUP_RANK",
                                 "LOCAL_WORLD_SIZE",
                                 "SLURM_NTASKS",
                                 "SLURM_PROCID",
                                 "SLURM_LOCALID",
                                 "SLURM_NODEID",
                                 "SLURM_NODELIST",
                                 "SLURM_JOB_NODELIST",
                                 "SLURM_JOB_ID",
                                 "SLURM_JOB_NAME",
                                 "LIGHTNING_LAUNCHER",
                                 "LIGHTNING_DDP_GRAD_SYNC",
                                 "TORCHELASTIC_USE_AGENT_STORE"};

struct Proc {
  pid_t pid = -1;
  int fd = -1;
  std::string output;
  int status = 0;
  bool exited = false;
};

struct Run {
  std::vector<Proc> procs;
  bool timed_out = false;
  double seconds = 0;
  std::string all() const {
    std::string s;
    for (size_t i = 0; i < procs.size(); ++i) {
      s += "---- process " + std::to_string(i) + " (status " + std::to_string(procs[i].status) +
           ")\n" + procs[i].output;
    }
    return s;
  }
};

/// Starts ddp_worker with `args`, a clean distributed environment plus `env`,
/// stdout and stderr into one pipe.
Proc spawn(const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
  std::vector<std::string> strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    std::string name = entry.substr(0, entry.find('='));
    bool dist = false;
    for (const char* v : kDistVars) dist = dist || name == v;
    if (!dist) strings.push_back(entry);
  }
  for (const auto& [k, v] : env) strings.push_back(k + "=" + v);
  std::vector<std::string> argv_strings = {LIGHTNING_DDP_WORKER};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv, envp;
  for (auto& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  Proc p;
  p.pid = pid;
  p.fd = fds[0];
  return p;
}

/// Collects the output of `procs` until all exit; after `watchdog`, kills them.
Run wait_all(std::vector<Proc> procs, milliseconds watchdog = std::chrono::seconds(60)) {
  Run run;
  auto start = Clock::now();
  auto deadline = start + watchdog;
  while (true) {
    std::vector<pollfd> fds;
    std::vector<size_t> index;
    for (size_t i = 0; i < procs.size(); ++i) {
      if (procs[i].fd >= 0) {
        fds.push_back({procs[i].fd, POLLIN, 0});
        index.push_back(i);
      }
    }
    if (fds.empty()) break;
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      run.timed_out = true;
      for (auto& p : procs) ::kill(p.pid, SIGKILL);
      for (auto& p : procs) {
        if (p.fd >= 0) ::close(p.fd);
        p.fd = -1;
      }
      break;
    }
    ::poll(fds.data(), fds.size(), static_cast<int>(std::min<long long>(left, 200)));
    for (size_t k = 0; k < fds.size(); ++k) {
      if (!(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      auto& p = procs[index[k]];
      char buffer[4096];
      ssize_t n = ::read(p.fd, buffer, sizeof buffer);
      if (n > 0) {
        p.output.append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(p.fd);
        p.fd = -1;
      }
    }
  }
  for (auto& p : procs) {
    // Output closed: the process is exiting; bound the wait anyway.
    auto until = Clock::now() + std::chrono::seconds(run.timed_out ? 5 : 30);
    while (true) {
      pid_t r = ::waitpid(p.pid, &p.status, WNOHANG);
      if (r == p.pid) {
        p.exited = true;
        break;
      }
      if (Clock::now() > until) {
        run.timed_out = true;
        ::kill(p.pid, SIGKILL);
        ::waitpid(p.pid, &p.status, 0);
        break;
      }
      ::usleep(10000);
    }
  }
  run.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  run.procs = std::move(procs);
  return run;
}

int exit_code(const Proc& p) { return WIFEXITED(p.status) ? WEXITSTATUS(p.status) : -1; }

/// One process that launches the others.
Run self_launch(const std::vector<std::string>& args, std::map<std::string, std::string> env = {},
                milliseconds watchdog = std::chrono::seconds(60)) {
  std::vector<Proc> procs = {spawn(args, env)};
  return wait_all(std::move(procs), watchdog);
}

/// `world` processes started as torchrun would.
Run torchrun(const std::vector<std::string>& args, int world = 2,
             std::map<std::string, std::string> env = {},
             milliseconds watchdog = std::chrono::seconds(60), int started = -1) {
  int port = 0;
  {
    // A free port (the same trick as the launcher's).
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    ::close(fd);
  }
  std::vector<Proc> procs;
  for (int r = 0; r < (started < 0 ? world : started); ++r) {
    auto e = env;
    e["MASTER_ADDR"] = "127.0.0.1";
    e["MASTER_PORT"] = std::to_string(port);
    e["WORLD_SIZE"] = std::to_string(world);
    e["RANK"] = std::to_string(r);
    e["LOCAL_RANK"] = std::to_string(r);
    e["NODE_RANK"] = "0";
    procs.push_back(spawn(args, e));
  }
  return wait_all(std::move(procs), watchdog);
}

using State = std::map<int, std::map<std::string, std::vector<double>>>;

std::vector<double> numbers(std::istringstream& in) {
  std::vector<double> v;
  double d;
  while (in >> d) v.push_back(d);
  return v;
}

/// "PARAM rank=R name v..." lines (also "BUFFER"), from any process.
State parse(const Run& run, const std::string& kind = "PARAM") {
  State state;
  std::regex line_re("(?:\\[rank \\d+\\] )?" + kind + " rank=(\\d+) (\\S+)(.*)");
  for (const auto& p : run.procs) {
    std::istringstream lines(p.output);
    std::string line;
    while (std::getline(lines, line)) {
      std::smatch m;
      if (!std::regex_match(line, m, line_re)) continue;
      std::istringstream values(m[3].str());
      state[std::stoi(m[1].str())][m[2].str()] = numbers(values);
    }
  }
  return state;
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

TEST(DDPTrain, SmallBucketsAndEveryEngineAgree) {
  // Buckets of ~100 bytes: several all-reduces per backward, launched in order.
  for (const char* engine : {"reducer", "hooks", "flat"}) {
    auto run = torchrun({"train", "steps=3", "bucket_mb=0.0001"}, 2,
                        {{"LIGHTNING_DDP_GRAD_SYNC", engine}});
    ASSERT_FALSE(run.timed_out) << run.all();
    EXPECT_EQ(exit_code(run.procs[0]), 0) << engine << run.all();
    EXPECT_EQ(exit_code(run.procs[1]), 0) << engine << run.all();
    SCOPED_TRACE(engine);
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

// ---------------------------------------------------------------- failures

constexpr double kTimeoutSeconds = 5;
const std::string kTimeoutArg = "timeout_ms=5000";

/// The "ERROR rank=R" line (of any rank when R < 0), without a prefix.
std::string error_line(const Proc& p, int rank = -1) {
  std::string text = "\n" + p.output;
  std::string marker = rank < 0 ? "\nERROR rank=" : "\nERROR rank=" + std::to_string(rank);
  auto at = text.find(marker);
  if (at == std::string::npos) return "";
  ++at;
  return text.substr(at, text.find('\n', at) - at);
}

TEST(DDPFailure, RaisingRankIsNamedBySelfLaunchedSurvivor) {
  // No buffer: the failure hits the gradient all-reduce inside the backward.
  auto run = self_launch({"fail", "buffer=0", kTimeoutArg});
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
  EXPECT_LT(run.seconds, kTimeoutSeconds + 10) << run.all();
  std::cout << line << "\n(" << run.seconds << " s)\n";
}

TEST(DDPFailure, StoreHostRaisingIsNamedByTorchrunSurvivor) {
  // Rank 0 hosts the store and fails: rank 1 must still read why.
  auto run = torchrun({"fail", "fail_rank=0", kTimeoutArg});
  ASSERT_FALSE(run.timed_out) << run.all();
  EXPECT_NE(exit_code(run.procs[0]), 0) << run.all();
  EXPECT_NE(exit_code(run.procs[1]), 0) << run.all();
  auto line = error_line(run.procs[1]);
  EXPECT_THAT(line, ::testing::HasSubstr("rank 0 failed in training_step: boom at step 2"))
      << run.all();
  // With a buffer, the first collective of a step is its broadcast.
  EXPECT_THAT(line, ::testing::HasSubstr("rank 1 was waiting in broadcast of buffers from rank 0"));
  EXPECT_LT(run.seconds, kTimeoutSeconds + 10) << run.all();
  std::cout << line << "\n(" << run.seconds << " s)\n";
}

TEST(DDPFailure, KilledLaunchedRankIsNamed) {
  auto run = self_launch({"die", "buffer=0", kTimeoutArg});
  ASSERT_FALSE(run.timed_out) << run.all();
  const auto& p = run.procs[0];
  EXPECT_NE(exit_code(p), 0) << run.all();
  auto line = error_line(p, 0);
  EXPECT_THAT(line, ::testing::HasSubstr("rank 1 (pid")) << run.all();
  EXPECT_THAT(line, ::testing::HasSubstr("killed by signal 9")) << run.all();
  EXPECT_THAT(line, ::testing::HasSubstr("all_reduce of gradients")) << run.all();
  EXPECT_LT(run.seconds, kTimeoutSeconds + 10) << run.all();
  std::cout << line << "\n(" << run.seconds << " s)\n";
}

TEST(DDPFailure, KilledTorchrunRankIsNamed) {
  auto run = torchrun({"die", "buffer=0", kTimeoutArg});
  ASSERT_FALSE(run.timed_out) << run.all();
  EXPECT_NE(exit_code(run.procs[0]), 0) << run.all();
  auto line = error_line(run.procs[0]);
  EXPECT_THAT(line, ::testing::HasSubstr("rank 1 (pid")) << run.all();
  EXPECT_THAT(line, ::testing::HasSubstr("no longer running")) << run.all();
  EXPECT_THAT(line, ::testing::HasSubstr("rank 0 was waiting in all_reduce of gradients"))
      << run.all();
  EXPECT_LT(run.seconds, kTimeoutSeconds + 10) << run.all();
  std::cout << line << "\n(" << run.seconds << " s)\n";
}

TEST(DDPFailure, KilledStoreHostIsNamed) {
  auto run = torchrun({"die", "fail_rank=0", "buffer=0", kTimeoutArg});
  ASSERT_FALSE(run.timed_out) << run.all();
  EXPECT_NE(exit_code(run.procs[1]), 0) << run.all();
  auto line = error_line(run.procs[1]);
  EXPECT_THAT(line, ::testing::AnyOf(::testing::HasSubstr("rank 0 (pid"),
                                     ::testing::HasSubstr("hosted by rank 0")))
      << run.all();
  EXPECT_THAT(line, ::testing::HasSubstr("all_reduce of gradients")) << run.all();
  EXPECT_LT(run.seconds, kTimeoutSeconds + 10) << run.all();
  std::cout << line << "\n(" << run.seconds << " s)\n";
}

TEST(DDPFailure, HungRankTimesOutWithItsName) {
  auto run = torchrun({"hang", "buffer=0", "timeout_ms=2000"});
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
  // WORLD_SIZE=2 but only rank 0 is started.
  auto run = torchrun({"train", "timeout_ms=2000"}, 2, {}, std::chrono::seconds(60), 1);
  ASSERT_FALSE(run.timed_out) << run.all();
  EXPECT_NE(exit_code(run.procs[0]), 0) << run.all();
  auto line = error_line(run.procs[0]);
  EXPECT_THAT(line, ::testing::HasSubstr("rendezvous at 127.0.0.1:")) << run.all();
  EXPECT_THAT(line, ::testing::HasSubstr("rank 1 did not join (1 of 2 joined)")) << run.all();
  EXPECT_LT(run.seconds, 15) << run.all();
}

TEST(DDPFailure, DifferentModelsAreReported) {
  auto run = torchrun({"mismatch", kTimeoutArg});
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

TEST(DDPThroughput, GradientSyncEngines) {
  // Alternated, as timings drift on these machines; printed, not asserted.
  std::map<std::string, std::vector<double>> ms;
  for (int round = 0; round < 1; ++round) {
    for (std::string engine : {"none", "reducer", "hooks", "flat"}) {
      std::map<std::string, std::string> env;
      std::vector<std::string> args = {"bench", "width=512", "steps=30"};
      if (engine == "none") {
        args.push_back("nosync=1");
      } else {
        env["LIGHTNING_DDP_GRAD_SYNC"] = engine;
      }
      auto run = torchrun(args, 2, env);
      ASSERT_FALSE(run.timed_out) << run.all();
      ASSERT_EQ(exit_code(run.procs[0]), 0) << run.all();
      std::smatch m;
      std::regex re("ms_per_step=([0-9.e+-]+)");
      ASSERT_TRUE(std::regex_search(run.procs[0].output, m, re)) << run.all();
      ms[engine].push_back(std::stod(m[1].str()));
    }
  }
  for (const auto& [engine, v] : ms) {
    std::cout << "gradient sync " << engine << ": ";
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
