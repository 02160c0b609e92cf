// The one rank-zero rule for the library's own output outside the Trainer
// (detail::warn, warn_once; Lightning's rank_zero_warn): this process's
// global rank as its Strategy set it up, or, before any strategy did, as the
// environment that DDPStrategy reads says (torchrun's and the launcher's
// RANK, SLURM's SLURM_PROCID).
#pragma once

#include <cstdint>
#include <optional>

#include "lightning/export.h"

namespace lightning::detail {

/// Publishes this process's global rank: DDPStrategy::setup calls it with the
/// rank it derived from the environment. nullopt forgets it (for tests).
LIGHTNING_INTERNAL_API void publish_global_rank(std::optional<int64_t> rank);

/// The published rank; before one is, rank_from_environment(); else 0.
LIGHTNING_INTERNAL_API int64_t process_global_rank();

/// The global rank that DistributedEnvironment::detect() finds, without its
/// checks: RANK when WORLD_SIZE or RANK is set, else SLURM_PROCID when
/// SLURM_NTASKS > 1 outside an interactive allocation (SLURM_JOB_NAME "bash"
/// or "interactive"); nullopt when neither applies or the value is not an
/// integer.
LIGHTNING_INTERNAL_API std::optional<int64_t> rank_from_environment();

}  // namespace lightning::detail
