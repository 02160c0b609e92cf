// Private: the script launcher's bookkeeping that the DDP strategy consults
// (which launched ranks died, and how), and the process-exit sequence shared by
// the launcher and the DDP process group.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace lightning::detail {

/// The environment variable that marks processes started by launch_local_ranks
/// (set in rank 0 too); DistributedEnvironment::source is then "launcher".
inline constexpr const char* kLauncherMarker = "LIGHTNING_LAUNCHER";

/// True when this process launched local ranks (it is their parent, rank 0).
bool launched_local_ranks();

/// How launched rank `rank` ended ("rank 1 (pid 123) was killed by signal 9
/// (Killed)", "rank 1 (pid 123) exited with status 3"), or nullopt while it
/// runs or when it exited cleanly / was not launched by this process.
std::optional<std::string> local_rank_failure(int64_t rank);

/// Called (from a launcher thread) when a launched rank exits abnormally
/// (non-zero status or a signal, not killed by the launcher itself), with the
/// rank and the description above. The DDP strategy uses it to publish the
/// failure in the rendezvous store so every rank can name the dead one.
void set_local_rank_failure_callback(std::function<void(int64_t, const std::string&)> callback);

/// Registered by the DDP strategy: runs first in the exit sequence (closes the
/// process group, waits for the launched ranks, lets the store host linger).
void set_exit_hook(std::function<void()> hook);
/// Installs the process-exit sequence (atexit) once: the exit hook, then kills
/// launched ranks that are still running, and turns a launched rank's failure
/// into a non-zero exit status of this process.
void install_exit_handler();

/// A TCP port that was free on 127.0.0.1 a moment ago (bind port 0, read it back).
int find_free_port();

/// "signal 9 (Killed)" / "status 3" for a waitpid status.
std::string describe_wait_status(int status);

}  // namespace lightning::detail
