// DDPStrategy: rendezvous (c10d::TCPStore), process group (Gloo), gradient
// synchronisation (c10d::Reducer), collectives, and failure reporting.
//
// One process-wide Job (store + process group) is created by the first
// setup() and reused by later ones (fit, then test: like torch.distributed's
// default group, which Lightning never destroys between entry points). It
// ends at process exit, or at the teardown that follows a failure.
//
// Failure handling. Every collective runs with the timeout; when one fails or
// times out, `Job::explain` finds out why before raising lightning::Error:
//  1. the store key "lightning/failed", written (first writer wins) by
//     report_failure on the rank that raised, or by the launcher (rank 0's
//     parent process) when a launched rank died;
//  2. the launcher's own record of how its children ended;
//  3. the liveness of the peers' pids on this host (published at rendezvous);
//  4. the loss of the store (its host, rank 0, is gone);
//  5. otherwise: which ranks announced what they were waiting in, naming the
//     ones that did not (hung, or diverged to other collectives).
// The store host (rank 0) keeps the store up at exit until the other ranks
// said they are done with it (bounded by the timeout), so they can still read
// why the job failed.
#include "lightning/strategies/ddp.h"

#include <c10/core/InferenceMode.h>
#include <netdb.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <torch/cuda.h>
#include <unistd.h>

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/comm.hpp>
#include <torch/csrc/distributed/c10d/reducer.hpp>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_set>

#include "detail/process_rank.h"
#include "detail/torch_compat.h"
#include "lightning/error.h"
#include "strategies/launcher.h"

namespace lightning {
namespace {

namespace torch_compat = detail::torch_compat;

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr const char* kFailedKey = "failed";

std::string to_string(const std::vector<uint8_t>& bytes) {
  return std::string(bytes.begin(), bytes.end());
}
std::vector<uint8_t> to_bytes(const std::string& text) {
  return std::vector<uint8_t>(text.begin(), text.end());
}

std::string seconds(milliseconds ms) {
  std::ostringstream out;
  out << static_cast<double>(ms.count()) / 1000.0 << " s";
  return out.str();
}

std::string this_host() {
  char name[256] = {0};
  if (::gethostname(name, sizeof name - 1) != 0) return "?";
  return name;
}

/// The message of a libtorch/gloo exception, without the C++ backtrace.
std::string short_what(const std::exception& e) {
  std::string text;
  if (auto* c10 = dynamic_cast<const c10::Error*>(&e)) {
    text = c10->what_without_backtrace();
  } else {
    text = e.what();
  }
  auto trace = text.find("\nException raised from");
  if (trace != std::string::npos) text.erase(trace);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '.')) {
    text.pop_back();
  }
  return text;
}

/// A pid on this host that is still running (a zombie is not).
bool pid_alive(int64_t pid) {
  if (pid <= 0) return true;
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) return true;
  char state = line[close + 2];
  return state != 'Z' && state != 'X';
}

std::string join_ranks(const std::vector<int64_t>& ranks) {
  std::string out;
  for (size_t i = 0; i < ranks.size(); ++i) out += (i ? ", " : "") + std::to_string(ranks[i]);
  return out;
}

/// The rendezvous store as this job sees it: torchrun's agent store (with its
/// attempt prefix) or our own TCPStore, then the "lightning" namespace.
c10::intrusive_ptr<c10d::Store> connect_store(const DistributedEnvironment& env, bool server,
                                              milliseconds timeout) {
  c10d::TCPStoreOptions o;
  o.port = static_cast<uint16_t>(env.master_port);
  o.isServer = server;
  o.numWorkers = c10::nullopt;
  o.waitWorkers = false;
  o.timeout = timeout;
  c10::intrusive_ptr<c10d::Store> store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, o);
  const char* agent = std::getenv("TORCHELASTIC_USE_AGENT_STORE");
  if (agent != nullptr && std::string(agent) == "True") {
    const char* attempt = std::getenv("TORCHELASTIC_RESTART_COUNT");
    store = c10::make_intrusive<c10d::PrefixStore>(
        std::string("/worker/attempt_") + (attempt ? attempt : "0"), store);
  }
  return c10::make_intrusive<c10d::PrefixStore>("lightning", store);
}

bool uses_agent_store() {
  const char* agent = std::getenv("TORCHELASTIC_USE_AGENT_STORE");
  return agent != nullptr && std::string(agent) == "True";
}

// ---------------------------------------------------------------- the job

struct Peer {
  int64_t pid = 0;
  std::string host;
};

struct Job {
  DistributedEnvironment env;
  int64_t rank = 0;
  int64_t world = 1;
  milliseconds timeout{0};
  milliseconds rendezvous_timeout{0};  // reaching the store and joining
  std::string backend;
  bool hosts_store = false;
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> pg;
  std::vector<Peer> peers;
  /// Set once this rank failed or saw a failure: the group is unusable.
  std::string failure;
  bool finished = false;

  std::string where() const { return c10::str(env.master_addr, ":", env.master_port); }

  /// Why `op` failed with `cause`: see the file comment.
  std::string explain(const std::string& op, const std::string& cause);
  [[noreturn]] void fail(const std::string& op, const std::exception& e) {
    if (failure.empty()) {
      failure = explain(op, short_what(e));
      // First to find out (a dead or hung rank): tell the ranks that come later.
      publish(failure);
    }
    throw Error(failure);
  }
  /// Sets the failure key unless a failure is already there (first one wins).
  void publish(const std::string& message) {
    if (!store) return;
    try {
      store->compareSet(kFailedKey, {}, to_bytes(message));
    } catch (const std::exception&) {
    }
  }
  void check_usable(const std::string& op) const {
    LIGHTNING_CHECK(failure.empty(), failure, " [", op,
                    " refused: the process group is unusable after this failure]");
    LIGHTNING_CHECK(pg, "DDP: ", op, " called after the process group was closed.");
  }
  /// Waits for `work` of `op`; failures become lightning::Error via explain.
  void wait(const c10::intrusive_ptr<c10d::Work>& work, const std::string& op) {
    try {
      work->wait();
    } catch (const std::exception& e) {
      fail(op, e);
    }
  }

  /// Leaves the job: says so in the store, closes the process group (ranks
  /// blocked on us fail now instead of at their timeout), waits for launched
  /// ranks, and, as the store host, keeps the store up until the others are
  /// done with it.
  void finish();
};

std::string Job::explain(const std::string& op, const std::string& cause) {
  const std::string waiting = c10::str(" (rank ", rank, " was waiting in ", op, ")");
  bool store_ok = static_cast<bool>(store);
  auto guarded = [&](auto&& f) {
    if (!store_ok) return;
    try {
      f();
    } catch (const std::exception&) {
      store_ok = false;
    }
  };
  guarded([&] { store->set(c10::str("waiting/", rank), to_bytes(op)); });
  const auto start = Clock::now();
  const auto deadline = start + std::min<milliseconds>(timeout, std::chrono::seconds(3));
  const std::string me = this_host();
  while (true) {
    std::optional<std::string> reported;
    guarded([&] {
      if (store->check({kFailedKey})) reported = to_string(store->get(kFailedKey));
    });
    if (reported) return *reported + waiting;
    std::string dead;
    for (int64_t r = 0; r < world; ++r) {
      if (r == rank) continue;
      if (auto launched = detail::local_rank_failure(r)) return *launched + waiting;
      if (dead.empty() && r < static_cast<int64_t>(peers.size()) && peers[r].host == me &&
          !pid_alive(peers[r].pid)) {
        dead = c10::str("rank ", r, " (pid ", peers[r].pid,
                        ") is no longer running: it died without reporting an error (killed by "
                        "a signal, e.g. SIGKILL or the OOM killer, or it exited)");
      }
    }
    // A dead rank's own report, or its launcher's, may still be on its way.
    if (!dead.empty() && Clock::now() - start > std::chrono::milliseconds(500)) {
      return dead + waiting;
    }
    if (!store_ok && !hosts_store) {
      return c10::str("lost the connection to the rendezvous store at ", where(),
                      uses_agent_store() ? " (hosted by torchrun's agent)" : " (hosted by rank 0)",
                      ": rank 0 has stopped (died or exited)", waiting, ": ", cause);
    }
    if (Clock::now() > deadline) {
      if (!dead.empty()) return dead + waiting;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // Nobody reported anything: say who waits where, and who does not.
  std::vector<int64_t> silent;
  std::string others;
  for (int64_t r = 0; r < world; ++r) {
    if (r == rank) continue;
    std::optional<std::string> at;
    guarded([&] {
      auto key = c10::str("waiting/", r);
      if (store->check({key})) at = to_string(store->get(key));
    });
    if (at) {
      others += c10::str("; rank ", r, " is waiting in ", *at);
    } else {
      silent.push_back(r);
    }
  }
  std::string message =
      c10::str(op, " failed on rank ", rank, ": ", cause, ". No rank reported an error");
  const bool closed = cause.find("onnection closed") != std::string::npos ||
                      cause.find("onnection reset") != std::string::npos ||
                      cause.find("roken pipe") != std::string::npos;
  if (!silent.empty() && closed) {
    message += c10::str("; rank", silent.size() > 1 ? "s " : " ", join_ranks(silent),
                        " stopped without a word (a connection closed: died, or left the job)");
  } else if (!silent.empty()) {
    message += c10::str(
        "; rank", silent.size() > 1 ? "s " : " ", join_ranks(silent),
        " did not reach a collective within the timeout (", seconds(timeout),
        "): hung, too slow, or doing something else (every rank must run the same collectives in "
        "the same order)");
  }
  return message + others;
}

void Job::finish() {
  if (finished) return;
  finished = true;
  if (store) {
    try {
      store->set(c10::str("done/", rank), to_bytes("1"));
    } catch (const std::exception&) {
    }
  }
  pg.reset();
  if (detail::launched_local_ranks()) wait_for_local_ranks(timeout);
  if (hosts_store && store) {
    const auto deadline = Clock::now() + timeout;
    std::vector<int64_t> waiting;
    for (int64_t r = 0; r < world; ++r) {
      if (r != rank) waiting.push_back(r);
    }
    const std::string me = this_host();
    auto gone = [&](int64_t r) {
      if (detail::local_rank_failure(r)) return true;
      return r < static_cast<int64_t>(peers.size()) && peers[r].host == me &&
             !pid_alive(peers[r].pid);
    };
    try {
      while (!waiting.empty() && Clock::now() < deadline) {
        int64_t r = waiting.back();
        if (store->check({c10::str("done/", r)}) || gone(r)) {
          waiting.pop_back();
        } else {
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      }
    } catch (const std::exception&) {
    }
  }
  store.reset();
}

// The process-wide job and its mutex (leaked on purpose: used at exit).
std::mutex& job_mutex() {
  static auto* m = new std::mutex;
  return *m;
}
std::shared_ptr<Job>& global_job() {
  static auto* job = new std::shared_ptr<Job>;
  return *job;
}

void exit_hook() {
  std::shared_ptr<Job> job;
  {
    std::lock_guard<std::mutex> lock(job_mutex());
    job = std::move(global_job());
  }
  if (job) job->finish();
}

bool same_job(const Job& job, const DistributedEnvironment& env) {
  if (job.env.source == "single" || env.source == "single") {
    return job.env.source == env.source;
  }
  return job.env.master_addr == env.master_addr && job.env.master_port == env.master_port &&
         job.world == env.process.world_size && job.rank == env.process.global_rank;
}

// The address this host uses to reach `host`:`port` (a connected UDP socket
// sends nothing; the kernel picks the route and the source address), or
// nullopt when `host` does not resolve or has no route.
std::optional<std::string> local_address_towards(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) {
    return std::nullopt;
  }
  std::optional<std::string> out;
  for (addrinfo* a = found; a != nullptr && !out; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    sockaddr_storage local{};
    socklen_t len = sizeof local;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0) {
      char text[NI_MAXHOST];
      if (::getnameinfo(reinterpret_cast<sockaddr*>(&local), len, text, sizeof text, nullptr, 0,
                        NI_NUMERICHOST) == 0) {
        out = std::string(text);
      }
    }
    ::close(fd);
  }
  ::freeaddrinfo(found);
  return out;
}

c10::intrusive_ptr<c10d::ProcessGroup> make_process_group(Job& job,
                                                          c10::intrusive_ptr<c10d::Store> store) {
  if (job.backend == "nccl") {
#ifdef USE_C10D_NCCL
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = job.timeout;
    auto nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, static_cast<int>(job.rank),
                                                            static_cast<int>(job.world), options);
    return torch_compat::process_group_of<c10d::ProcessGroup>(nccl, store, "nccl",
                                                              {c10::DeviceType::CUDA});
#else
    LIGHTNING_FAIL("DDP backend 'nccl' is not available: this libtorch was built without NCCL.");
#endif
  }
  auto options = c10d::ProcessGroupGloo::Options::create(job.timeout);
  // Gloo's interface: GLOO_SOCKET_IFNAME, else loopback for a local job, else
  // the local address of the route to MASTER_ADDR. (Python's default, the
  // address this host's name resolves to, is 127.0.1.1 on many Debian
  // machines and containers: the other hosts then cannot reach this rank.)
  const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
  const std::string& addr = job.env.master_addr;
  if (ifname != nullptr && *ifname != '\0') {
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
  } else if (addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1") {
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  } else if (auto local = local_address_towards(addr, job.env.master_port)) {
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(*local));
  } else {
    options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  }
  options->threads = 2;
  auto gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(store, static_cast<int>(job.rank),
                                                          static_cast<int>(job.world), options);
  return torch_compat::process_group_of<c10d::ProcessGroup>(
      gloo, store, "gloo", {c10::DeviceType::CPU, c10::DeviceType::CUDA});
}

std::shared_ptr<Job> create_job(const DistributedEnvironment& env, const DDPOptions& options,
                                const std::string& backend) {
  // Gloo writes to sockets that a dead peer closed: get EPIPE, not a silent
  // death by SIGPIPE (Python ignores SIGPIPE too).
  struct sigaction current {};
  if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
    ::signal(SIGPIPE, SIG_IGN);
  }
  auto job = std::make_shared<Job>();
  job->env = env;
  job->rank = env.process.global_rank;
  job->world = env.process.world_size;
  job->timeout = options.timeout();
  job->rendezvous_timeout = options.rendezvous_timeout().value_or(options.timeout());
  job->backend = backend;
  job->hosts_store = job->rank == 0 && !uses_agent_store();
  try {
    job->store = connect_store(env, job->hosts_store, job->rendezvous_timeout);
  } catch (const std::exception& e) {
    if (job->hosts_store) {
      LIGHTNING_FAIL("DDP rendezvous: rank 0 cannot host the store on port ", env.master_port,
                     " (MASTER_PORT): ", short_what(e),
                     ". Another program may be using the port: pick another MASTER_PORT.");
    }
    LIGHTNING_FAIL("DDP rendezvous: rank ", job->rank, " could not reach the store at ",
                   job->where(), " (MASTER_ADDR:MASTER_PORT, hosted by rank 0) within ",
                   seconds(job->rendezvous_timeout), ": ", short_what(e),
                   ". Is rank 0 running, with the same MASTER_ADDR and MASTER_PORT?");
  }
  // Join: every rank publishes its pid and host, then waits for all the
  // others (polling, so that a launched rank that died is named at once).
  std::vector<std::string> keys;
  for (int64_t r = 0; r < job->world; ++r) keys.push_back(c10::str("joined/", r));
  const auto deadline = Clock::now() + job->rendezvous_timeout;
  try {
    job->store->set(keys[job->rank], to_bytes(c10::str(::getpid(), " ", this_host())));
    while (!job->store->check(keys)) {
      for (int64_t r = 0; r < job->world; ++r) {
        if (auto failed = detail::local_rank_failure(r)) {
          LIGHTNING_FAIL("DDP rendezvous at ", job->where(), ": ", *failed, " before joining.");
        }
      }
      if (Clock::now() > deadline) {
        std::vector<int64_t> missing;
        for (int64_t r = 0; r < job->world; ++r) {
          if (!job->store->check({keys[r]})) missing.push_back(r);
        }
        LIGHTNING_FAIL("DDP rendezvous at ", job->where(), " timed out after ",
                       seconds(job->rendezvous_timeout), ": rank", missing.size() > 1 ? "s " : " ",
                       join_ranks(missing), " did not join (", job->world - missing.size(), " of ",
                       job->world, " joined). Every rank must be started with the same ",
                       "MASTER_ADDR, MASTER_PORT and WORLD_SIZE=", job->world,
                       "; ranks that are slow to start need a longer "
                       "DDPOptions::rendezvous_timeout.");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    LIGHTNING_FAIL("DDP rendezvous at ", job->where(), " failed on rank ", job->rank,
                   " (the store is hosted by rank 0): ", short_what(e));
  }
  for (int64_t r = 0; r < job->world; ++r) {
    std::istringstream in(to_string(job->store->get(keys[r])));
    Peer peer;
    in >> peer.pid >> peer.host;
    job->peers.push_back(peer);
  }
  try {
    job->pg = make_process_group(
        *job, c10::make_intrusive<c10d::PrefixStore>(c10::str("pg/", job->backend), job->store));
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    job->fail(c10::str("creating the ", job->backend, " process group"), e);
  }
  // Launched ranks that die are published by their parent (this process) so
  // that every rank can name them; a fresh client, as the main one may be busy.
  if (detail::launched_local_ranks()) {
    DistributedEnvironment where = env;
    milliseconds timeout = std::min<milliseconds>(job->timeout, std::chrono::seconds(10));
    detail::set_local_rank_failure_callback([where, timeout](int64_t, const std::string& what) {
      try {
        auto store = connect_store(where, false, timeout);
        store->compareSet(kFailedKey, {}, to_bytes(what));
      } catch (const std::exception&) {
      }
    });
  }
  detail::set_exit_hook(exit_hook);
  detail::install_exit_handler();
  return job;
}

std::shared_ptr<Job> acquire_job(const DistributedEnvironment& env, const DDPOptions& options,
                                 const std::string& backend) {
  std::lock_guard<std::mutex> lock(job_mutex());
  auto& current = global_job();
  if (current && current->failure.empty() && same_job(*current, env)) return current;
  if (current) {
    LIGHTNING_CHECK(current.use_count() == 1 || !current->failure.empty(),
                    "DDP: this process is already in a distributed job (", current->where(),
                    ", WORLD_SIZE=", current->world,
                    ") used by another strategy; a process can be in one job at a time.");
    auto old = std::move(current);
    old->finish();
  }
  current = create_job(env, options, backend);
  return current;
}

// ---------------------------------------------------------------- gradients

/// The gradient synchronisation installed by setup_module.
class GradSync {
 public:
  virtual ~GradSync() = default;
  /// Before a backward whose gradients are to be averaged.
  virtual void before_backward(const at::Tensor& loss) = 0;
  /// After that backward returned: gradients are averaged (or an error).
  virtual void after_backward() = 0;
  /// Whether an exception that escaped the backward came from communication
  /// (rather than from the user's graph).
  virtual bool failed_in_communication() const = 0;
};

std::vector<at::Tensor> gradients_of(const std::vector<at::Tensor>& params) {
  std::vector<at::Tensor> grads;
  for (const auto& p : params) {
    auto& g = p.mutable_grad();
    if (!g.defined()) g = at::zeros_like(p);
    grads.push_back(g);
  }
  return grads;
}

/// All-reduce (mean) of the gradients of `params` in flat buckets of about
/// `cap` bytes, all launched before the first wait. Used after backwards that
/// did not synchronise (gradient accumulation, or a backward run outside the
/// strategy); the benchmark's one all-reduce after the backward is this, run
/// by before_optimizer_step after a backward with gradient sync off.
void average_gradients(Job& job, const std::vector<at::Tensor>& params, size_t cap,
                       const std::string& op) {
  at::NoGradGuard no_grad;
  auto grads = gradients_of(params);
  std::vector<std::vector<size_t>> buckets;
  size_t bytes = cap;
  for (size_t i = 0; i < grads.size(); ++i) {
    size_t size = grads[i].numel() * grads[i].element_size();
    if (buckets.empty() || bytes + size > cap ||
        grads[buckets.back().front()].scalar_type() != grads[i].scalar_type() ||
        grads[buckets.back().front()].device() != grads[i].device()) {
      buckets.emplace_back();
      bytes = 0;
    }
    buckets.back().push_back(i);
    bytes += size;
  }
  std::vector<at::Tensor> flats;
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  c10d::AllreduceOptions opts;
  opts.timeout = job.timeout;
  for (const auto& bucket : buckets) {
    std::vector<at::Tensor> parts;
    for (size_t i : bucket) parts.push_back(grads[i].reshape({-1}));
    flats.push_back(at::cat(parts));
    std::vector<at::Tensor> tensors = {flats.back()};
    works.push_back(job.pg->allreduce(tensors, opts));
  }
  for (size_t b = 0; b < buckets.size(); ++b) {
    job.wait(works[b], op);
    flats[b].div_(static_cast<double>(job.world));
    int64_t offset = 0;
    for (size_t i : buckets[b]) {
      int64_t n = grads[i].numel();
      grads[i].copy_(flats[b].narrow(0, offset, n).view_as(grads[i]));
      offset += n;
    }
  }
}

/// PyTorch's own DDP engine. It registers post-hooks on the parameters' grad
/// accumulators; a bucket's all-reduce starts as soon as its gradients are
/// ready (in a fixed bucket order on every rank), and the autograd engine's
/// final callback waits for all of them and writes the means back into .grad.
///
/// Why the Reducer rather than our own hooks (post-hooks on the grad
/// accumulators filling flat buckets: measured below, then removed from the
/// library; "hooks" in the figures): it drives fine from C++ (given the
/// stand-in header in c10d_compat/), and it brings what a hand-written version
/// would have to grow: the bucket order rebuilt from the first step's gradient
/// order (a broadcast from rank 0), find_unused_parameters, checks for params
/// marked ready twice, the same numerics as Python DDP. Speed: ms per step,
/// 2 ranks on the 2-core build machine (quiet at the time), 4 alternated
/// rounds, min / median (ddp_worker bench, one intra-op thread per rank):
///   MLP 64-1024x4, 3.2M params (12.9 MB of gradients), 25 MB buckets:
///     no sync 13.2/13.7, reducer 27.9/28.5, hooks 29.9/30.2,
///     one all-reduce after the backward 29.4/30.7
///   same, 4 MB buckets: no sync 13.0/13.9, reducer 29.4/30.2,
///     hooks 29.4/30.3, after the backward 31.3/34.1
///   MLP 64-256x4, 0.2M params: no sync 0.72/0.77, reducer 2.94/3.64,
///     hooks 3.15/3.63, after the backward 3.24/3.73
/// The Reducer is level with or slightly ahead of the hooks, both ahead of
/// the non-overlapped all-reduce on the larger model. With 2 cores for 2
/// ranks, Gloo's threads compete with the backward for the CPU, so overlap
/// gains little here; it matters more with spare cores.
class ReducerSync : public GradSync {
  // Reads the reducer's state to tell communication failures and unused
  // parameters apart from errors in the user's graph.
  struct Reducer : c10d::Reducer {
    using c10d::Reducer::Reducer;
    /// prepare_for_backward sets it; finalize_backward (the end of the
    /// backward: waits for the buckets) clears it before waiting.
    bool expecting_hooks() const { return expect_autograd_hooks_; }
  };

 public:
  ReducerSync(const std::vector<at::Tensor>& params, const std::vector<std::string>& names,
              c10::intrusive_ptr<c10d::ProcessGroup> pg, size_t cap, bool find_unused)
      : params_(params), names_(names), find_unused_(find_unused) {
    const size_t first = std::min<size_t>(cap, c10d::kDefaultFirstBucketBytes);
    std::vector<bool> sparse(params.size(), false);
    auto assignment = c10d::compute_bucket_assignment_by_size(params, {first, cap}, sparse);
    auto buckets = std::get<0>(assignment);
    auto limits = std::get<1>(assignment);
    // As torch.nn.parallel.DistributedDataParallel: reversed, so the last
    // layers' gradients (ready first in backward) go first.
    std::reverse(buckets.begin(), buckets.end());
    std::reverse(limits.begin(), limits.end());
    std::unordered_map<size_t, std::string> mapping;
    for (size_t i = 0; i < names.size(); ++i) mapping[i] = names[i];
    reducer_ = torch_compat::make_reducer<Reducer>(
        params, buckets, limits, std::move(pg), sparse, static_cast<int64_t>(cap), find_unused,
        /*gradient_as_bucket_view=*/false, mapping, static_cast<int64_t>(first));
  }

  void before_backward(const at::Tensor& loss) override {
    in_communication_ = true;
    reducer_->rebuild_buckets();  // once, after the first step: a broadcast
    in_communication_ = false;
    try {
      reducer_->prepare_for_backward(find_unused_ ? std::vector<at::Tensor>{loss}
                                                  : std::vector<at::Tensor>{});
    } catch (const c10::Error& e) {
      LIGHTNING_FAIL("DDP: the previous gradient reduction did not finish: ", short_what(e));
    }
  }

  void after_backward() override {
    if (!reducer_->expecting_hooks()) return;
    std::vector<std::string> missing;
    for (size_t i = 0; i < params_.size(); ++i) {
      if (!params_[i].grad().defined()) missing.push_back(names_[i]);
    }
    std::string list;
    for (auto& n : missing) list += (list.empty() ? "" : ", ") + n;
    LIGHTNING_FAIL("DDP: some parameters received no gradient in this backward",
                   list.empty() ? "" : " (" + list + ")",
                   ": they were not used to compute the loss, so their gradient buckets "
                   "were never all-reduced. Use them, freeze them (requires_grad=false), or set "
                   "DDPOptions().find_unused_parameters(true).");
  }

  bool failed_in_communication() const override {
    return in_communication_ || !reducer_->expecting_hooks();
  }

 private:
  std::vector<at::Tensor> params_;
  std::vector<std::string> names_;
  bool find_unused_;
  bool in_communication_ = false;
  std::unique_ptr<Reducer> reducer_;
};

c10d::ReduceOp reduce_op(const std::string& op) {
  if (op == "sum" || op == "mean") return c10d::ReduceOp::SUM;
  if (op == "max") return c10d::ReduceOp::MAX;
  if (op == "min") return c10d::ReduceOp::MIN;
  LIGHTNING_FAIL("all_reduce: unknown reduction '", op,
                 "'; use \"sum\", \"mean\", \"max\" or \"min\".");
}

/// A CPU, contiguous copy detached from autograd: what the collectives work on.
at::Tensor communicable(const at::Tensor& tensor, const char* what) {
  LIGHTNING_CHECK(tensor.defined(), what, ": the tensor is undefined.");
  at::NoGradGuard no_grad;
  return tensor.detach().clone(at::MemoryFormat::Contiguous);
}

}  // namespace

// ---------------------------------------------------------------- DDPStrategy

struct DDPStrategy::Impl {
  std::shared_ptr<Job> job;
  ProcessInfo info;
  bool set_up = false;
  bool sync_enabled = true;
  bool unsynced = false;  // a backward ran without the all-reduce since the last step
  std::vector<at::Tensor> params;
  std::vector<std::string> names;
  std::vector<at::Tensor> buffers;
  std::unique_ptr<GradSync> sync;

  Job& ready(const std::string& op) {
    LIGHTNING_CHECK(set_up && job, "DDPStrategy: ", op, " before setup().");
    job->check_usable(op);
    return *job;
  }
};

DDPStrategy::DDPStrategy(DDPOptions options)
    : options_(std::move(options)), impl_(std::make_unique<Impl>()) {
  LIGHTNING_CHECK(options_.devices() >= 1, "DDPOptions: devices must be >= 1, got ",
                  options_.devices(), ".");
  LIGHTNING_CHECK(options_.num_nodes() >= 1, "DDPOptions: num_nodes must be >= 1, got ",
                  options_.num_nodes(), ".");
  LIGHTNING_CHECK(options_.timeout().count() > 0, "DDPOptions: timeout must be positive, got ",
                  options_.timeout().count(), " ms.");
  LIGHTNING_CHECK(!options_.rendezvous_timeout() || options_.rendezvous_timeout()->count() > 0,
                  "DDPOptions: rendezvous_timeout must be positive, got ",
                  options_.rendezvous_timeout() ? options_.rendezvous_timeout()->count() : 0,
                  " ms; leave it unset to use the timeout.");
  LIGHTNING_CHECK(options_.bucket_cap_mb() > 0, "DDPOptions: bucket_cap_mb must be positive, got ",
                  options_.bucket_cap_mb(), ".");
}

void DDPStrategy::set_processes(int64_t devices, int64_t num_nodes) {
  LIGHTNING_CHECK(devices >= 1, "DDPStrategy: devices must be >= 1, got ", devices, ".");
  LIGHTNING_CHECK(num_nodes >= 1, "DDPStrategy: num_nodes must be >= 1, got ", num_nodes, ".");
  const bool same = devices == options_.devices() && num_nodes == options_.num_nodes();
  LIGHTNING_CHECK(same || !impl_->set_up,
                  "DDPStrategy: this strategy already runs devices=", options_.devices(),
                  " x num_nodes=", options_.num_nodes(),
                  " processes; a Trainer asked for devices=", devices, " x num_nodes=", num_nodes,
                  ". Give that Trainer its own DDPStrategy.");
  options_.devices(devices).num_nodes(num_nodes);
}

DDPStrategy::~DDPStrategy() {
  try {
    teardown();
  } catch (...) {
  }
}

ProcessInfo DDPStrategy::process() const {
  if (impl_->set_up) return impl_->info;
  // Before setup: what the environment says, else rank 0 of devices x num_nodes.
  try {
    if (auto env = DistributedEnvironment::detect()) return env->process;
  } catch (const Error&) {
  }
  ProcessInfo info;
  info.world_size = options_.devices() * options_.num_nodes();
  return info;
}

at::Device DDPStrategy::root_device(const std::string& accelerator) const {
  return Strategy::root_device(accelerator);
}

void DDPStrategy::setup() {
  if (impl_->set_up) return;
  std::string backend = options_.backend().value_or("gloo");
  if (backend == "nccl") {
#ifndef USE_C10D_NCCL
    LIGHTNING_FAIL(
        "DDP backend 'nccl' is not available: this libtorch was built without NCCL "
        "(CPU only). Use backend 'gloo' (the default), which runs on CPU.");
#else
    LIGHTNING_CHECK(torch::cuda::is_available(),
                    "DDP backend 'nccl' is not available: it runs on CUDA devices and this "
                    "libtorch sees none. Use backend 'gloo' (the default), which runs on CPU.");
#endif
  } else {
    LIGHTNING_CHECK(backend == "gloo", "DDP backend '", backend, "' is not supported; use 'gloo'",
#ifdef USE_C10D_NCCL
                    " or 'nccl'",
#endif
                    ".");
  }
  launch_local_ranks(options_.devices(), options_.num_nodes());
  auto env = DistributedEnvironment::detect();
  const int64_t expected = options_.devices() * options_.num_nodes();
  if (env) {
    LIGHTNING_CHECK(env->process.world_size == expected, "DDP: devices=", options_.devices(),
                    " x num_nodes=", options_.num_nodes(), " = ", expected, " processes, but the ",
                    env->source, " environment describes ", env->process.world_size,
                    " (WORLD_SIZE / SLURM_NTASKS): set devices to the processes per node and "
                    "num_nodes to the number of nodes.");
    LIGHTNING_CHECK(env->process.local_rank < options_.devices(),
                    "DDP: LOCAL_RANK=", env->process.local_rank,
                    " but devices=", options_.devices(), ".");
  } else {
    // A job of one process (devices=1): a process group of one, so that the
    // collectives behave as with more ranks.
    DistributedEnvironment single;
    single.master_addr = "127.0.0.1";
    single.master_port = detail::find_free_port();
    single.source = "single";
    env = single;
  }
  try {
    impl_->job = acquire_job(*env, options_, backend);
  } catch (...) {
    // Without rank 0 the launched ranks can only time out: stop them now.
    if (detail::launched_local_ranks()) wait_for_local_ranks(milliseconds(0));
    throw;
  }
  impl_->info = env->process;
  // detail::warn prints on this rank's say-so from now on.
  detail::publish_global_rank(env->process.global_rank);
  impl_->set_up = true;
  impl_->sync_enabled = true;
  impl_->unsynced = false;
}

void DDPStrategy::setup_module(torch::nn::Module& module) {
  Job& job = impl_->ready("setup_module");
  impl_->sync.reset();
  impl_->params.clear();
  impl_->names.clear();
  impl_->buffers.clear();
  std::unordered_set<const void*> seen;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    const auto& p = item.value();
    if (!p.requires_grad() || !seen.insert(p.unsafeGetTensorImpl()).second) continue;
    LIGHTNING_CHECK(p.layout() == at::kStrided, "DDP: parameter '", item.key(),
                    "' is not a dense tensor; sparse parameters are not supported.");
    impl_->params.push_back(p);
    impl_->names.push_back(item.key());
  }
  for (const auto& item : module.named_buffers(/*recurse=*/true)) {
    if (item.value().defined()) impl_->buffers.push_back(item.value());
  }
  std::vector<at::Tensor> state = impl_->params;
  for (const auto& item : module.named_parameters(true)) {
    if (!item.value().requires_grad()) state.push_back(item.value());
  }
  state.insert(state.end(), impl_->buffers.begin(), impl_->buffers.end());
  if (state.empty()) return;
  try {
    c10d::verify_params_across_processes(job.pg, state, c10::nullopt);
  } catch (const Error&) {
    throw;
  } catch (const c10::Error& e) {
    std::string what = short_what(e);
    // c10d compares with rank 0: counts, then sizes and strides.
    if (what.find("DDP expects same model") != std::string::npos ||
        what.find("appears not to match") != std::string::npos) {
      LIGHTNING_FAIL(
          "DDP: the model differs across ranks (parameters and buffers must have the "
          "same number, shapes and dtypes on every rank): ",
          what);
    }
    job.fail("checking the model across ranks", e);
  }
  try {
    at::NoGradGuard no_grad;
    c10d::broadcast_coalesced(job.pg, state, 250 * 1024 * 1024, 0);
  } catch (const std::exception& e) {
    job.fail("broadcast of parameters and buffers from rank 0", e);
  }
  if (impl_->params.empty()) return;
  const auto cap = static_cast<size_t>(options_.bucket_cap_mb() * 1024 * 1024);
  impl_->sync = std::make_unique<ReducerSync>(impl_->params, impl_->names, job.pg, cap,
                                              options_.find_unused_parameters());
}

void DDPStrategy::backward(const at::Tensor& loss) {
  if (!impl_->set_up || !impl_->job) {
    loss.backward();
    return;
  }
  Job& job = impl_->ready("backward");
  if (!impl_->buffers.empty()) {
    // torch DDP's broadcast_buffers: rank 0's buffers (e.g. BatchNorm running
    // stats) win, once per step.
    try {
      at::NoGradGuard no_grad;
      c10d::broadcast_coalesced(job.pg, impl_->buffers, 250 * 1024 * 1024, 0);
    } catch (const std::exception& e) {
      job.fail("broadcast of buffers from rank 0", e);
    }
  }
  GradSync* sync = impl_->sync_enabled ? impl_->sync.get() : nullptr;
  if (sync == nullptr) {
    loss.backward();
    impl_->unsynced = true;
    return;
  }
  try {
    sync->before_backward(loss);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    job.fail("all_reduce of gradients (bucket order broadcast)", e);
  }
  try {
    loss.backward();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    if (sync->failed_in_communication()) job.fail("all_reduce of gradients", e);
    throw;  // the user's graph: unchanged
  }
  sync->after_backward();
  impl_->unsynced = false;
}

void DDPStrategy::set_gradient_sync(bool enabled) { impl_->sync_enabled = enabled; }

void DDPStrategy::before_optimizer_step(torch::optim::Optimizer& optimizer) {
  if (!impl_->set_up || !impl_->job || !impl_->unsynced) return;
  Job& job = impl_->ready("before_optimizer_step");
  std::vector<at::Tensor> params = impl_->params;
  if (params.empty()) {
    for (const auto& group : optimizer.param_groups()) {
      for (const auto& p : group.params()) {
        if (p.requires_grad()) params.push_back(p);
      }
    }
  }
  if (!params.empty()) {
    average_gradients(job, params, static_cast<size_t>(options_.bucket_cap_mb() * 1024 * 1024),
                      "all_reduce of accumulated gradients");
  }
  impl_->unsynced = false;
}

void DDPStrategy::barrier(const std::string& name) {
  // Gloo writes the results from its own thread, outside any InferenceMode:
  // they must be normal tensors even when called from an evaluation loop.
  c10::InferenceMode not_inference(false);
  const std::string op = "barrier '" + name + "'";
  Job& job = impl_->ready(op);
  c10d::BarrierOptions opts;
  opts.timeout = options_.timeout();
  job.wait(job.pg->barrier(opts), op);
}

at::Tensor DDPStrategy::broadcast(const at::Tensor& tensor, int64_t src) {
  // Gloo writes the results from its own thread, outside any InferenceMode:
  // they must be normal tensors even when called from an evaluation loop.
  c10::InferenceMode not_inference(false);
  const std::string op = c10::str("broadcast from rank ", src);
  Job& job = impl_->ready(op);
  LIGHTNING_CHECK(src >= 0 && src < job.world, "broadcast: src=", src,
                  " is not a rank (world size ", job.world, ").");
  auto t = communicable(tensor, "broadcast");
  std::vector<at::Tensor> tensors = {t};
  c10d::BroadcastOptions opts;
  opts.rootRank = src;
  opts.timeout = options_.timeout();
  c10::intrusive_ptr<c10d::Work> work;
  try {
    work = job.pg->broadcast(tensors, opts);
  } catch (const c10::Error& e) {
    LIGHTNING_FAIL("broadcast: ", short_what(e));
  }
  job.wait(work, op);
  return t;
}

at::Tensor DDPStrategy::all_reduce(const at::Tensor& tensor, const std::string& op) {
  // Gloo writes the results from its own thread, outside any InferenceMode:
  // they must be normal tensors even when called from an evaluation loop.
  c10::InferenceMode not_inference(false);
  const std::string name = c10::str("all_reduce (", op, ")");
  auto reduce = reduce_op(op);
  Job& job = impl_->ready(name);
  auto t = communicable(tensor, "all_reduce");
  if (op == "mean" && !at::isFloatingType(t.scalar_type()) && !at::isComplexType(t.scalar_type())) {
    t = t.to(at::typeMetaToScalarType(at::get_default_dtype()));
  }
  std::vector<at::Tensor> tensors = {t};
  c10d::AllreduceOptions opts;
  opts.reduceOp = reduce;
  opts.timeout = options_.timeout();
  c10::intrusive_ptr<c10d::Work> work;
  try {
    work = job.pg->allreduce(tensors, opts);
  } catch (const c10::Error& e) {
    LIGHTNING_FAIL("all_reduce of a ", t.scalar_type(), " tensor: ", short_what(e));
  }
  job.wait(work, name);
  if (op == "mean") t.div_(static_cast<double>(job.world));
  return t;
}

std::vector<at::Tensor> DDPStrategy::all_gather(const at::Tensor& tensor) {
  // Gloo writes the results from its own thread, outside any InferenceMode:
  // they must be normal tensors even when called from an evaluation loop.
  c10::InferenceMode not_inference(false);
  Job& job = impl_->ready("all_gather");
  auto t = communicable(tensor, "all_gather");
  // Shapes first: a mismatch would otherwise be a confusing transport error.
  {
    std::vector<int64_t> shape = {static_cast<int64_t>(t.scalar_type()), t.dim()};
    shape.insert(shape.end(), t.sizes().begin(), t.sizes().end());
    shape.resize(2 + 16, -1);
    auto mine = at::tensor(shape, at::kLong);
    std::vector<std::vector<at::Tensor>> out(1);
    for (int64_t r = 0; r < job.world; ++r) out[0].push_back(at::empty_like(mine));
    std::vector<at::Tensor> in = {mine};
    c10d::AllgatherOptions opts;
    opts.timeout = options_.timeout();
    job.wait(job.pg->allgather(out, in, opts), "all_gather (shapes)");
    for (int64_t r = 0; r < job.world; ++r) {
      if (at::equal(out[0][r], mine)) continue;
      auto theirs = out[0][r].contiguous();
      const int64_t* d = theirs.data_ptr<int64_t>();
      std::vector<int64_t> sizes(d + 2, d + 2 + std::clamp<int64_t>(d[1], 0, 16));
      LIGHTNING_FAIL("all_gather needs the same shape and dtype on every rank: rank ", job.rank,
                     " has ", t.sizes(), " ", t.scalar_type(), ", rank ", r, " has ",
                     c10::IntArrayRef(sizes), " ", static_cast<at::ScalarType>(d[0]), ".");
    }
  }
  std::vector<std::vector<at::Tensor>> out(1);
  for (int64_t r = 0; r < job.world; ++r) out[0].push_back(at::empty_like(t));
  std::vector<at::Tensor> in = {t};
  c10d::AllgatherOptions opts;
  opts.timeout = options_.timeout();
  c10::intrusive_ptr<c10d::Work> work;
  try {
    work = job.pg->allgather(out, in, opts);
  } catch (const c10::Error& e) {
    LIGHTNING_FAIL("all_gather of a ", t.scalar_type(), " tensor: ", short_what(e));
  }
  job.wait(work, "all_gather");
  return out[0];
}

std::string DDPStrategy::broadcast_string(const std::string& value, int64_t src) {
  // Gloo writes the results from its own thread, outside any InferenceMode:
  // they must be normal tensors even when called from an evaluation loop.
  c10::InferenceMode not_inference(false);
  const std::string op = c10::str("broadcast_string from rank ", src);
  Job& job = impl_->ready(op);
  LIGHTNING_CHECK(src >= 0 && src < job.world, "broadcast_string: src=", src,
                  " is not a rank (world size ", job.world, ").");
  c10d::BroadcastOptions opts;
  opts.rootRank = src;
  opts.timeout = options_.timeout();
  auto length = at::tensor({static_cast<int64_t>(value.size())}, at::kLong);
  std::vector<at::Tensor> first = {length};
  job.wait(job.pg->broadcast(first, opts), op);
  const int64_t n = length.item<int64_t>();
  if (n == 0) return "";
  auto bytes = at::empty({n}, at::kByte);
  if (job.rank == src) std::memcpy(bytes.data_ptr(), value.data(), value.size());
  std::vector<at::Tensor> second = {bytes};
  job.wait(job.pg->broadcast(second, opts), op);
  return std::string(static_cast<const char*>(bytes.data_ptr()), static_cast<size_t>(n));
}

void DDPStrategy::report_failure(const std::string& where, const std::string& what) {
  auto& job = impl_->job;
  if (!job) return;
  // An error raised by one of our collectives is already published (or came
  // from the store): only the first failure of a rank is reported.
  if (!job->failure.empty()) return;
  job->failure = c10::str("rank ", job->rank, " failed in ", where, ": ", what);
  job->publish(job->failure);
}

void DDPStrategy::teardown() {
  impl_->sync.reset();
  impl_->params.clear();
  impl_->names.clear();
  impl_->buffers.clear();
  auto job = std::move(impl_->job);
  impl_->set_up = false;
  if (!job || job->failure.empty()) return;  // the job stays for the next setup
  // After a failure the group is unusable: leave it now, so that the other
  // ranks stop waiting for this one.
  {
    std::lock_guard<std::mutex> lock(job_mutex());
    if (global_job() == job) global_job().reset();
  }
  job->finish();
}

}  // namespace lightning
