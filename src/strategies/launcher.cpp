// The distributed environment (torchrun / SLURM variables) and Lightning's
// script launcher: rank 0 re-executes this program for ranks 1..N-1.
//
// Children: fork + execve of /proc/self/exe with the argv of /proc/self/cmdline
// and the torchrun variables set; PR_SET_PDEATHSIG(SIGKILL) so they die with
// this process (note: the kernel sends it when the *thread* that forked exits,
// so launch from a thread that lives as long as the job, normally main).
// Their stdout/stderr come back through pipes, one forwarding thread per pipe,
// each whole line prefixed with "[rank N] ". Lines never split, neither the
// children's nor this process's own: see "whole lines" below. One reaper thread per child
// (blocking waitpid) records how it ended and, when it failed, tells the DDP
// strategy (set_local_rank_failure_callback) so it can publish the failure to
// the other ranks. At exit, the DDP exit hook runs first (it waits for the
// children), then whatever is still running is killed.
#include "strategies/launcher.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "lightning/error.h"
#include "lightning/strategies/ddp.h"

extern char** environ;

namespace lightning {
namespace {

// ---------------------------------------------------------------- environment

std::optional<std::string> env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

int64_t parse_int(const char* name, const std::string& value) {
  size_t used = 0;
  int64_t result = 0;
  try {
    result = std::stoll(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  LIGHTNING_CHECK(used > 0 && used == value.size(), "Environment variable ", name,
                  " must be an integer, got '", value, "'.");
  return result;
}

int64_t required_int(const char* name, const char* context) {
  auto value = env(name);
  LIGHTNING_CHECK(value.has_value(), "Environment variable ", name, " is not set, but ", context,
                  " is: a distributed job needs WORLD_SIZE, RANK, MASTER_ADDR and MASTER_PORT "
                  "(torchrun sets them all).");
  return parse_int(name, *value);
}

int parse_port(const char* name, const std::string& value) {
  int64_t port = parse_int(name, value);
  LIGHTNING_CHECK(port >= 1 && port <= 65535, "Environment variable ", name,
                  " must be a TCP port (1-65535), got ", port, ".");
  return static_cast<int>(port);
}

void check_layout(const ProcessInfo& p, const char* world_name, const char* rank_name,
                  const char* local_name) {
  LIGHTNING_CHECK(p.world_size >= 1, "Environment variable ", world_name, " must be >= 1, got ",
                  p.world_size, ".");
  LIGHTNING_CHECK(p.global_rank >= 0 && p.global_rank < p.world_size, "Environment variable ",
                  rank_name, "=", p.global_rank, " must be in [0, ", world_name, "=", p.world_size,
                  ").");
  LIGHTNING_CHECK(p.local_rank >= 0 && p.local_rank <= p.global_rank, "Environment variable ",
                  local_name, "=", p.local_rank, " must be in [0, ", rank_name, "=", p.global_rank,
                  "].");
  LIGHTNING_CHECK(p.node_rank >= 0, "The node rank must be >= 0, got ", p.node_rank, ".");
}

/// The first host of a SLURM node list: "node[003-005,9],gpu1" -> "node003".
std::string first_slurm_host(const std::string& nodelist) {
  std::string first;
  int depth = 0;
  for (char c : nodelist) {
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if ((c == ',' || c == ' ') && depth == 0) break;
    first += c;
  }
  auto open = first.find('[');
  if (open == std::string::npos) return first;
  auto stop = first.find_first_of(",-]", open + 1);
  return first.substr(0, open) + first.substr(open + 1, stop - open - 1);
}

std::optional<DistributedEnvironment> detect_torchrun() {
  if (!env("WORLD_SIZE") && !env("RANK")) return std::nullopt;
  DistributedEnvironment e;
  e.process.world_size = required_int("WORLD_SIZE", "RANK");
  e.process.global_rank = required_int("RANK", "WORLD_SIZE");
  // torchrun always sets LOCAL_RANK; a hand-made single-node job may not.
  auto local = env("LOCAL_RANK");
  e.process.local_rank = local ? parse_int("LOCAL_RANK", *local) : e.process.global_rank;
  auto node = env("NODE_RANK") ? env("NODE_RANK") : env("GROUP_RANK");
  e.process.node_rank = node ? parse_int(env("NODE_RANK") ? "NODE_RANK" : "GROUP_RANK", *node) : 0;
  check_layout(e.process, "WORLD_SIZE", "RANK", "LOCAL_RANK");
  auto addr = env("MASTER_ADDR");
  LIGHTNING_CHECK(addr && !addr->empty(), "Environment variable MASTER_ADDR is not set, but ",
                  "WORLD_SIZE=", e.process.world_size, " and RANK=", e.process.global_rank,
                  " are: every process needs the address of rank 0 in MASTER_ADDR and a port "
                  "in MASTER_PORT (torchrun sets them).");
  auto port = env("MASTER_PORT");
  LIGHTNING_CHECK(port.has_value(), "Environment variable MASTER_PORT is not set, but WORLD_SIZE=",
                  e.process.world_size, " and RANK=", e.process.global_rank,
                  " are: every process needs the rendezvous port of rank 0 in MASTER_PORT.");
  e.master_addr = *addr;
  e.master_port = parse_port("MASTER_PORT", *port);
  e.source = env(detail::kLauncherMarker) ? "launcher" : "torchrun";
  return e;
}

std::optional<DistributedEnvironment> detect_slurm() {
  auto ntasks = env("SLURM_NTASKS");
  auto procid = env("SLURM_PROCID");
  if (!ntasks || !procid) return std::nullopt;
  // An interactive allocation (srun --pty bash) is not a job of N tasks.
  auto job_name = env("SLURM_JOB_NAME");
  if (job_name && (*job_name == "bash" || *job_name == "interactive")) return std::nullopt;
  DistributedEnvironment e;
  e.process.world_size = parse_int("SLURM_NTASKS", *ntasks);
  // One task: a plain process (it may still self-launch its local ranks).
  if (e.process.world_size == 1) return std::nullopt;
  e.process.global_rank = parse_int("SLURM_PROCID", *procid);
  auto local = env("SLURM_LOCALID");
  e.process.local_rank = local ? parse_int("SLURM_LOCALID", *local) : e.process.global_rank;
  auto node = env("SLURM_NODEID");
  e.process.node_rank = node ? parse_int("SLURM_NODEID", *node) : 0;
  check_layout(e.process, "SLURM_NTASKS", "SLURM_PROCID", "SLURM_LOCALID");
  if (auto addr = env("MASTER_ADDR")) {
    e.master_addr = *addr;
  } else {
    auto nodelist = env("SLURM_NODELIST") ? env("SLURM_NODELIST") : env("SLURM_JOB_NODELIST");
    LIGHTNING_CHECK(nodelist && !nodelist->empty(), "SLURM_NTASKS=", e.process.world_size,
                    " but neither SLURM_NODELIST nor MASTER_ADDR is set: cannot tell where "
                    "rank 0 runs.");
    e.master_addr = first_slurm_host(*nodelist);
    LIGHTNING_CHECK(!e.master_addr.empty(), "Cannot read the first host of SLURM_NODELIST='",
                    *nodelist, "'.");
  }
  if (auto port = env("MASTER_PORT")) {
    e.master_port = parse_port("MASTER_PORT", *port);
  } else if (auto job_id = env("SLURM_JOB_ID")) {
    // Lightning's rule: 15000 + the last four digits of the job id.
    std::string digits = job_id->size() > 4 ? job_id->substr(job_id->size() - 4) : *job_id;
    e.master_port = 15000 + static_cast<int>(parse_int("SLURM_JOB_ID", digits));
  } else {
    e.master_port = 12910;
  }
  e.source = "slurm";
  return e;
}

// ---------------------------------------------------------------- launcher state

struct Child {
  int64_t rank = 0;
  pid_t pid = -1;
  bool exited = false;
  int status = 0;
  bool killed_by_launcher = false;
  int forwarders_running = 0;
  std::thread reaper;
  std::vector<std::thread> forwarders;
};

struct LauncherState {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::unique_ptr<Child>> children;
  bool launched = false;
  std::function<void(int64_t, const std::string&)> failure_callback;
  std::function<void()> exit_hook;
  bool exit_handler_installed = false;
};

// Leaked on purpose: threads may still touch it while static destructors run.
LauncherState& state() {
  static auto* s = new LauncherState;
  return *s;
}

// Launched ranks write to a pipe: make their stdout line-buffered (it would
// otherwise be fully buffered and show up only at exit). Runs when the library
// loads, before main writes anything.
struct LineBufferLaunchedRanks {
  LineBufferLaunchedRanks() {
    const char* marker = std::getenv(detail::kLauncherMarker);
    const char* rank = std::getenv("RANK");
    if (marker != nullptr && rank != nullptr && std::string(rank) != "0") {
      std::setvbuf(stdout, nullptr, _IOLBF, BUFSIZ);
    }
  }
} line_buffer_launched_ranks;

std::string failure_of(const Child& c) {
  return c10::str("rank ", c.rank, " (pid ", c.pid, ") ",
                  WIFSIGNALED(c.status) ? "was killed by " : "exited with ",
                  detail::describe_wait_status(c.status));
}

bool failed(const Child& c) {
  return c.exited && !(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0);
}

// ---------------------------------------------------------------- whole lines
//
// Rank 0 (this process) writes its own output through stdio: std::cout goes
// to stdout's FILE (libstdc++ keeps them in sync), printf too. At launch both
// streams become line-buffered with a buffer large enough for long lines, so a
// line of rank 0 reaches its descriptor in one write(), when it is complete.
// The forwarders write the children's whole lines straight to the descriptor
// (never into the FILE, where rank 0's unfinished line waits) while holding
// the locks of both streams: glibc flushes a FILE under its lock, so no flush
// of rank 0 runs in the middle of a forwarded write, whether stdout and stderr
// are separate or the same pipe. Lines longer than the buffer, output rank 0
// flushes itself before its newline, and a std::cout unsynced from stdio can
// still be cut (docs/distributed.md).
constexpr size_t kParentLineBuffer = size_t{1} << 16;

void line_buffer_this_process() {
  // Leaked on purpose: stdio uses the buffers until the process ends.
  static char* out_buffer = new char[kParentLineBuffer];
  static char* err_buffer = new char[kParentLineBuffer];
  std::fflush(stdout);
  std::fflush(stderr);
  std::setvbuf(stdout, out_buffer, _IOLBF, kParentLineBuffer);
  std::setvbuf(stderr, err_buffer, _IOLBF, kParentLineBuffer);
}

void write_fd(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the reader went away: nothing left to tell
    data += n;
    size -= static_cast<size_t>(n);
  }
}

/// Writes whole lines to `stream`'s descriptor with no stdio flush of this
/// process in between (the locks are taken in one order: stdout, stderr).
void write_all(FILE* stream, const std::string& text) {
  flockfile(stdout);
  flockfile(stderr);
  write_fd(fileno(stream), text.data(), text.size());
  funlockfile(stderr);
  funlockfile(stdout);
}

void forward(int fd, FILE* stream, std::string prefix, Child* child) {
  std::string pending;
  char buffer[4096];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buffer, static_cast<size_t>(n));
    size_t start = 0;
    std::string out;
    for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      out += prefix;
      out.append(pending, start, nl - start + 1);
    }
    pending.erase(0, start);
    if (!out.empty()) write_all(stream, out);
  }
  if (!pending.empty()) write_all(stream, prefix + pending + "\n");
  ::close(fd);
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  --child->forwarders_running;
  s.changed.notify_all();
}

void reap(Child* child) {
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(child->pid, &status, 0);
  } while (r < 0 && errno == EINTR);
  auto& s = state();
  std::function<void(int64_t, const std::string&)> callback;
  std::string description;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    child->exited = true;
    child->status = r < 0 ? (SIGKILL & 0x7f) : status;  // lost child: treat as killed
    if (failed(*child) && !child->killed_by_launcher) {
      description = failure_of(*child);
      callback = s.failure_callback;
    }
    s.changed.notify_all();
  }
  if (!description.empty()) {
    write_all(stderr, "[lightning] " + description + "\n");
    if (callback) callback(child->rank, description);
  }
}

bool all_exited(LauncherState& s) {
  return std::all_of(s.children.begin(), s.children.end(), [](const auto& c) { return c->exited; });
}

/// Joins the threads of exited children (forwarders get a moment to drain;
/// a forwarder whose pipe is kept open by a grandchild is detached).
void join_threads(std::chrono::milliseconds drain) {
  auto& s = state();
  std::vector<Child*> children;
  {
    std::unique_lock<std::mutex> lock(s.mutex);
    s.changed.wait_for(lock, drain, [&] {
      return std::all_of(s.children.begin(), s.children.end(),
                         [](const auto& c) { return !c->exited || c->forwarders_running == 0; });
    });
    for (auto& c : s.children) {
      if (c->exited) children.push_back(c.get());
    }
  }
  for (Child* c : children) {
    if (c->reaper.joinable()) c->reaper.join();
    bool drained;
    {
      std::lock_guard<std::mutex> lock(s.mutex);
      drained = c->forwarders_running == 0;
    }
    for (auto& t : c->forwarders) {
      if (!t.joinable()) continue;
      if (drained) {
        t.join();
      } else {
        t.detach();
      }
    }
  }
}

void exit_sequence() {
  auto& s = state();
  std::function<void()> hook;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    hook = s.exit_hook;
  }
  if (hook) {
    try {
      hook();
    } catch (...) {
    }
  }
  bool any = false;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    any = !s.children.empty();
  }
  if (!any) return;
  // Whatever still runs was not waited for: it dies with us.
  {
    std::unique_lock<std::mutex> lock(s.mutex);
    for (auto& c : s.children) {
      if (!c->exited) {
        c->killed_by_launcher = true;
        ::kill(c->pid, SIGKILL);
      }
    }
    s.changed.wait_for(lock, std::chrono::seconds(5), [&] { return all_exited(s); });
  }
  join_threads(std::chrono::seconds(2));
  std::string failures;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    for (auto& c : s.children) {
      if (failed(*c) && !c->killed_by_launcher)
        failures.append(failures.empty() ? "" : ", ").append(failure_of(*c));
    }
  }
  if (!failures.empty()) {
    // Like torchrun: a failed rank makes the whole job fail.
    std::fprintf(stderr, "[lightning] launched ranks failed: %s\n", failures.c_str());
    std::fflush(nullptr);
    ::_exit(1);
  }
}

std::vector<std::string> read_cmdline() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  std::string current;
  for (char c : all) {
    if (c == '\0') {
      args.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) args.push_back(current);
  return args;
}

std::string self_exe() {
  char buffer[4096];
  ssize_t n = ::readlink("/proc/self/exe", buffer, sizeof buffer - 1);
  if (n <= 0) return "/proc/self/exe";
  return std::string(buffer, static_cast<size_t>(n));
}

}  // namespace

// ---------------------------------------------------------------- public API

std::optional<DistributedEnvironment> DistributedEnvironment::detect() {
  if (auto e = detect_torchrun()) return e;
  return detect_slurm();
}

bool launch_local_ranks(int64_t devices, int64_t num_nodes) {
  LIGHTNING_CHECK(devices >= 1, "devices must be >= 1, got ", devices, ".");
  LIGHTNING_CHECK(num_nodes >= 1, "num_nodes must be >= 1, got ", num_nodes, ".");
  if (DistributedEnvironment::detect()) return false;
  if (devices * num_nodes <= 1) return false;
  LIGHTNING_CHECK(num_nodes == 1, "num_nodes=", num_nodes,
                  " needs the processes of every node started by a cluster launcher: run the "
                  "program with torchrun (--nnodes=",
                  num_nodes, " --nproc_per_node=", devices,
                  ") or under SLURM (srun --ntasks-per-node=", devices,
                  "); the built-in launcher only starts the ranks of one node.");
  auto& s = state();
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (s.launched) return false;
  }

  std::string addr = env("MASTER_ADDR").value_or("127.0.0.1");
  int port = env("MASTER_PORT") ? parse_port("MASTER_PORT", *env("MASTER_PORT"))
                                : detail::find_free_port();
  std::vector<std::string> args = read_cmdline();
  LIGHTNING_CHECK(!args.empty(), "Cannot read /proc/self/cmdline to re-execute this program.");
  std::string exe = self_exe();

  const std::vector<std::string> ours = {
      "MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE",       "RANK",
      "LOCAL_RANK",  "NODE_RANK",   "LOCAL_WORLD_SIZE", detail::kLauncherMarker};
  std::vector<std::string> base_env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string entry(*e);
    std::string name = entry.substr(0, entry.find('='));
    if (std::find(ours.begin(), ours.end(), name) == ours.end()) base_env.push_back(entry);
  }
  auto common = [&](int64_t rank) {
    std::vector<std::string> e = base_env;
    e.push_back("MASTER_ADDR=" + addr);
    e.push_back("MASTER_PORT=" + std::to_string(port));
    e.push_back("WORLD_SIZE=" + std::to_string(devices));
    e.push_back("RANK=" + std::to_string(rank));
    e.push_back("LOCAL_RANK=" + std::to_string(rank));
    e.push_back("NODE_RANK=0");
    e.push_back("LOCAL_WORLD_SIZE=" + std::to_string(devices));
    e.push_back(std::string(detail::kLauncherMarker).append("=1"));
    return e;
  };

  std::fflush(nullptr);
  line_buffer_this_process();
  pid_t parent = ::getpid();
  for (int64_t rank = 1; rank < devices; ++rank) {
    std::vector<std::string> child_env = common(rank);
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : child_env) envp.push_back(e.data());
    envp.push_back(nullptr);
    int out[2], err[2];
    LIGHTNING_CHECK(::pipe2(out, O_CLOEXEC) == 0 && ::pipe2(err, O_CLOEXEC) == 0,
                    "launcher: cannot create pipes: ", std::strerror(errno));
    pid_t pid = ::fork();
    if (pid == 0) {
      // Child: only async-signal-safe calls until execve.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(1);
      ::dup2(out[1], STDOUT_FILENO);
      ::dup2(err[1], STDERR_FILENO);
      ::execve(exe.c_str(), argv.data(), envp.data());
      const char msg[] = "[lightning] launcher: execve of this program failed\n";
      ssize_t ignored = ::write(STDERR_FILENO, msg, sizeof msg - 1);
      (void)ignored;
      ::_exit(127);
    }
    int saved = errno;
    ::close(out[1]);
    ::close(err[1]);
    if (pid < 0) {
      ::close(out[0]);
      ::close(err[0]);
      LIGHTNING_FAIL("launcher: fork failed for rank ", rank, ": ", std::strerror(saved));
    }
    auto child = std::make_unique<Child>();
    Child* c = child.get();
    c->rank = rank;
    c->pid = pid;
    c->forwarders_running = 2;
    {
      std::lock_guard<std::mutex> lock(s.mutex);
      s.children.push_back(std::move(child));
      s.launched = true;
    }
    std::string prefix = "[rank " + std::to_string(rank) + "] ";
    c->forwarders.emplace_back(forward, out[0], stdout, prefix, c);
    c->forwarders.emplace_back(forward, err[0], stderr, prefix, c);
    c->reaper = std::thread(reap, c);
  }
  for (auto& e : common(0)) {
    auto eq = e.find('=');
    std::string name = e.substr(0, eq);
    if (std::find(ours.begin(), ours.end(), name) != ours.end()) {
      ::setenv(name.c_str(), e.substr(eq + 1).c_str(), 1);
    }
  }
  detail::install_exit_handler();
  return true;
}

int wait_for_local_ranks(std::chrono::milliseconds timeout) {
  auto& s = state();
  {
    std::unique_lock<std::mutex> lock(s.mutex);
    if (s.children.empty()) return 0;
    if (!s.changed.wait_for(lock, timeout, [&] { return all_exited(s); })) {
      for (auto& c : s.children) {
        if (c->exited) continue;
        c->killed_by_launcher = true;
        ::kill(c->pid, SIGKILL);
        if (timeout.count() > 0) {
          std::fprintf(stderr,
                       "[lightning] rank %lld (pid %d) did not exit within %.1f s; killed it\n",
                       static_cast<long long>(c->rank), static_cast<int>(c->pid),
                       static_cast<double>(timeout.count()) / 1000.0);
        } else {
          std::fprintf(stderr, "[lightning] stopping rank %lld (pid %d)\n",
                       static_cast<long long>(c->rank), static_cast<int>(c->pid));
        }
      }
      s.changed.wait_for(lock, std::chrono::seconds(5), [&] { return all_exited(s); });
    }
  }
  join_threads(std::chrono::seconds(2));
  std::lock_guard<std::mutex> lock(s.mutex);
  for (auto& c : s.children) {
    if (!c->exited) return -SIGKILL;
    if (WIFSIGNALED(c->status)) return -WTERMSIG(c->status);
    if (WIFEXITED(c->status) && WEXITSTATUS(c->status) != 0) return WEXITSTATUS(c->status);
  }
  return 0;
}

namespace detail {

bool launched_local_ranks() {
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.launched;
}

std::optional<std::string> local_rank_failure(int64_t rank) {
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  for (auto& c : s.children) {
    if (c->rank == rank && failed(*c)) return failure_of(*c);
  }
  return std::nullopt;
}

void set_local_rank_failure_callback(std::function<void(int64_t, const std::string&)> callback) {
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.failure_callback = std::move(callback);
}

void set_exit_hook(std::function<void()> hook) {
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.exit_hook = std::move(hook);
}

void install_exit_handler() {
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.exit_handler_installed) return;
  s.exit_handler_installed = true;
  std::atexit(exit_sequence);
}

int find_free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  LIGHTNING_CHECK(fd >= 0, "Cannot create a socket to find a free port: ", std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  int saved = errno;
  ::close(fd);
  LIGHTNING_CHECK(ok, "Cannot find a free TCP port on 127.0.0.1: ", std::strerror(saved));
  return ntohs(address.sin_port);
}

std::string describe_wait_status(int status) {
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
    if (const char* abbrev = ::sigabbrev_np(sig))
      return c10::str("signal ", sig, " (SIG", abbrev, ")");
#endif
    const char* name = ::strsignal(sig);
    return c10::str("signal ", sig, " (", name ? name : "unknown", ")");
  }
  if (WIFEXITED(status)) return c10::str("status ", WEXITSTATUS(status));
  return c10::str("wait status ", status);
}

}  // namespace detail
}  // namespace lightning
