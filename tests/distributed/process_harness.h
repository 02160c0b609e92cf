// Runs distributed test programs as child processes: one process that
// launches its other ranks itself (self_launch), or `world` processes started
// with torchrun's variables (torchrun); collects their output under a
// watchdog, and parses the "KIND rank=R name v..." and "ERROR rank=R ..."
// lines the workers print (with or without the launcher's "[rank R] " prefix).
//
//   const std::string worker = LIGHTNING_DDP_WORKER;
//   Run run = harness::torchrun(worker, {"train", "steps=4"});
//   ASSERT_FALSE(run.timed_out) << run.all();
//   EXPECT_EQ(harness::exit_code(run.procs[0]), 0) << run.all();
//   State params = harness::parse(run, "PARAM");   // params[rank][name] = values
//
// A child that outlives the watchdog is SIGKILLed and the Run says
// timed_out, so a test that would hang fails instead.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <map>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace lightning::testing::harness {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

/// Variables that describe a distributed job: removed from every child's
/// environment unless the test sets them.
inline const char* const kDistVars[] = {
    "MASTER_ADDR",    "MASTER_PORT",        "WORLD_SIZE",
    "RANK",           "LOCAL_RANK",         "NODE_RANK",
    "GROUP_RANK",     "LOCAL_WORLD_SIZE",   "SLURM_NTASKS",
    "SLURM_PROCID",   "SLURM_LOCALID",      "SLURM_NODEID",
    "SLURM_NODELIST", "SLURM_JOB_NODELIST", "SLURM_JOB_ID",
    "SLURM_JOB_NAME", "LIGHTNING_LAUNCHER", "TORCHELASTIC_USE_AGENT_STORE"};

/// One child process: its pid, the read end of its stdout+stderr pipe, what
/// it printed, and its wait status once it exited.
struct Proc {
  pid_t pid = -1;
  int fd = -1;
  std::string output;
  int status = 0;
  bool exited = false;
};

/// The children of one run, in start order (rank order for torchrun).
struct Run {
  std::vector<Proc> procs;
  bool timed_out = false;
  double seconds = 0;
  /// Every process's output with its status, for failure messages.
  std::string all() const {
    std::string s;
    for (size_t i = 0; i < procs.size(); ++i) {
      s += "---- process " + std::to_string(i) + " (status " + std::to_string(procs[i].status) +
           ")\n" + procs[i].output;
    }
    return s;
  }
};

/// Starts `exe` with `args`, a clean distributed environment plus `env`,
/// stdout and stderr into one pipe.
inline Proc spawn(const std::string& exe, const std::vector<std::string>& args,
                  const std::map<std::string, std::string>& env) {
  std::vector<std::string> strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    std::string name = entry.substr(0, entry.find('='));
    bool dist = false;
    for (const char* v : kDistVars) dist = dist || name == v;
    if (!dist) strings.push_back(entry);
  }
  for (const auto& [k, v] : env) strings.push_back(k + "=" + v);
  std::vector<std::string> argv_strings = {exe};
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
inline Run wait_all(std::vector<Proc> procs, milliseconds watchdog = std::chrono::seconds(60)) {
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

/// The exit status, or -1 when the process was killed by a signal.
inline int exit_code(const Proc& p) { return WIFEXITED(p.status) ? WEXITSTATUS(p.status) : -1; }

/// One process of `exe` that launches the others.
inline Run self_launch(const std::string& exe, const std::vector<std::string>& args,
                       const std::map<std::string, std::string>& env = {},
                       milliseconds watchdog = std::chrono::seconds(60)) {
  std::vector<Proc> procs = {spawn(exe, args, env)};
  return wait_all(std::move(procs), watchdog);
}

/// A free loopback TCP port (the same trick as the launcher's).
inline int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

/// `world` processes of `exe` started as torchrun would (only the first
/// `started` of them when `started` >= 0).
inline Run torchrun(const std::string& exe, const std::vector<std::string>& args, int world = 2,
                    const std::map<std::string, std::string>& env = {},
                    milliseconds watchdog = std::chrono::seconds(60), int started = -1) {
  const int port = free_port();
  std::vector<Proc> procs;
  for (int r = 0; r < (started < 0 ? world : started); ++r) {
    auto e = env;
    e["MASTER_ADDR"] = "127.0.0.1";
    e["MASTER_PORT"] = std::to_string(port);
    e["WORLD_SIZE"] = std::to_string(world);
    e["RANK"] = std::to_string(r);
    e["LOCAL_RANK"] = std::to_string(r);
    e["NODE_RANK"] = "0";
    procs.push_back(spawn(exe, args, e));
  }
  return wait_all(std::move(procs), watchdog);
}

/// rank -> name -> values.
using State = std::map<int, std::map<std::string, std::vector<double>>>;

inline std::vector<double> numbers(std::istringstream& in) {
  std::vector<double> v;
  double d;
  while (in >> d) v.push_back(d);
  return v;
}

/// "KIND rank=R name v..." lines, from any process, with or without the
/// launcher's "[rank N] " prefix. A name printed twice keeps its last values.
inline State parse(const Run& run, const std::string& kind = "PARAM") {
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

/// The "ERROR rank=R" line (of any rank when R < 0) that `p` printed itself,
/// i.e. without a prefix.
inline std::string error_line(const Proc& p, int rank = -1) {
  std::string text = "\n" + p.output;
  std::string marker = rank < 0 ? "\nERROR rank=" : "\nERROR rank=" + std::to_string(rank);
  auto at = text.find(marker);
  if (at == std::string::npos) return "";
  ++at;
  return text.substr(at, text.find('\n', at) - at);
}

}  // namespace lightning::testing::harness
